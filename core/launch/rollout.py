"""Launch simulator: replays champion and challenger through a shadow, A/B or canary rollout and judges the result.

The strategies are declared here as entries (settings, checks and the function that runs each), and run in their own
modules: shadow and A/B in `core/launch/ab.py`, the canary with
its guardrails in `core/launch/canary.py`; the shared types and the traffic draw in `core/launch/sim.py`; the
statistics in `core/stats/abtests.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from core.errors import unknown
from core.launch.ab import check_ab, check_shadow, run_ab, run_shadow
from core.launch.canary import check_canary, run_canary
from core.launch.sim import (
    SHARED_SETTINGS,
    ReplayData,
    RolloutResult,
    RolloutSpec,
    Setting,
    Traffic,
    check_spec,
    draw_traffic,
)

_DEFAULT = RolloutSpec()
ALPHAS = (0.01, 0.05, 0.10)


@dataclass(frozen=True)
class StrategyEntry:
    """A launch strategy a user can pick: a stable key, a label, one sentence for non-experts, its own settings (over
    the shared `SHARED_SETTINGS`), the checks it adds to the shared ones, and the function that runs it."""

    key: str
    label: str
    description: str
    run: Callable[[ReplayData, RolloutSpec, Traffic], RolloutResult]
    validate: Callable[[RolloutSpec], None]  # raises SpecInvalid; runs after the shared checks
    params: tuple[Setting, ...] = ()


STRATEGIES = (
    StrategyEntry("shadow", "Shadow",
                  "Both models score every request but only the current model's decisions count: no user is at risk.",
                  run_shadow, check_shadow),
    StrategyEntry("ab", "A/B test",
                  "Traffic is split between the models and a statistical test decides which one does better.",
                  run_ab, check_ab,
                  (Setting("split", "Challenger's share of traffic (%)", _DEFAULT.split, 0.05, 0.95, 0.05, scale=100,
                           widget="slider", help="Share of the requests the challenger answers."),
                   Setting("alpha", "Significance level", _DEFAULT.alpha, choices=ALPHAS,
                           choice_labels=tuple(f"{a:g} ({1 - a:.0%} confidence)" for a in ALPHAS), widget="choice",
                           help="How surprising a difference must be before the test calls it real."))),
    StrategyEntry("canary", "Canary",
                  "The new model gets a small, growing share of traffic and is rolled back when a guardrail breaks.",
                  run_canary, check_canary,
                  (Setting("steps", "Traffic shares (%) and days per step", _DEFAULT.steps, widget="schedule",
                           help="Traffic shares in % and the days each step lasts; with the days left empty, half the "
                                "run is shared evenly between the steps below 100 %, which then runs to day {days}. A "
                                "failed guardrail rolls back to 0 %; too little data pauses for a person."),
                   Setting("failure_limit", "Failures allowed per step", _DEFAULT.failure_limit, 0, 10, 1,
                           help="Argo Rollouts' failureLimit: failed measurements a guardrail may have before the "
                                "step fails."))),
)
STRATEGY_KEYS = tuple(s.key for s in STRATEGIES)


def strategy_entry(key: str) -> StrategyEntry:
    """Returns a launch strategy by key. Raises: NotFound."""
    for s in STRATEGIES:
        if s.key == key:
            return s
    raise unknown("launch strategy", key, STRATEGY_KEYS)


def shared_setting(name: str) -> Setting:
    """Returns one of the settings every strategy shares (traffic per day, days, seed) by its spec field."""
    return next(s for s in SHARED_SETTINGS if s.name == name)


def validate_spec(spec: RolloutSpec) -> None:
    """Checks a spec's choices for consistency and range: the shared checks, then the strategy's own.

    Raises:
        SpecInvalid: with a message naming the bad choice and what to pick instead.
    """
    check_spec(spec, STRATEGY_KEYS)
    strategy_entry(spec.strategy).validate(spec)


def simulate_rollout(replay: ReplayData, spec: RolloutSpec) -> RolloutResult:
    """Simulates one launch strategy on the replay set and returns its charts' data and a verdict.

    Raises:
        SpecInvalid: a choice in the spec is out of range or inconsistent.
        SchemaMismatch: the replay arrays do not line up.
    """
    validate_spec(spec)
    replay = replay.checked()
    traffic, notes = draw_traffic(replay, spec)
    result = strategy_entry(spec.strategy).run(replay, spec, traffic)
    result.notes = notes + result.notes
    return result
