"""Launch simulator: replays champion and challenger through a shadow, A/B or canary rollout and judges the result.

The strategies are declared here and run in their own modules: shadow and A/B in `core/launch/ab.py`, the canary with
its guardrails in `core/launch/canary.py`; the shared types and the traffic draw in `core/launch/sim.py`; the
statistics in `core/stats/abtests.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.launch.ab import run_ab, run_shadow
from core.launch.canary import plan_steps, run_canary
from core.launch.sim import (
    ReplayData,
    RolloutResult,
    RolloutSpec,
    check_spec,
    draw_traffic,
)


@dataclass(frozen=True)
class StrategyEntry:
    """A launch strategy a user can pick: a stable key, a label and one sentence for non-experts."""

    key: str
    label: str
    description: str


STRATEGIES = (
    StrategyEntry("shadow", "Shadow",
                  "Both models score every request but only the current model's decisions count: no user is at risk."),
    StrategyEntry("ab", "A/B test",
                  "Traffic is split between the models and a statistical test decides which one does better."),
    StrategyEntry("canary", "Canary",
                  "The new model gets a small, growing share of traffic and is rolled back when a guardrail breaks."),
)


def validate_spec(spec: RolloutSpec) -> None:
    """Checks a spec's choices for consistency and range.

    Raises:
        SpecInvalid: with a message naming the bad choice and what to pick instead.
    """
    check_spec(spec, tuple(s.key for s in STRATEGIES))
    if spec.strategy == "canary":
        plan_steps(spec)


def simulate_rollout(replay: ReplayData, spec: RolloutSpec) -> RolloutResult:
    """Simulates one launch strategy on the replay set and returns its charts' data and a verdict.

    Raises:
        SpecInvalid: a choice in the spec is out of range or inconsistent.
        SchemaMismatch: the replay arrays do not line up.
    """
    validate_spec(spec)
    replay = replay.checked()
    traffic, notes = draw_traffic(replay, spec)
    if spec.strategy == "canary":
        result = run_canary(replay, spec, traffic)
    else:
        result = (run_shadow if spec.strategy == "shadow" else run_ab)(replay, spec, traffic)
    result.notes = notes + result.notes
    return result


