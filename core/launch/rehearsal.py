"""Launch rehearsal: picks champion and challenger, replays their real decisions through a simulated rollout, keeps it.

Public API (the Launch page, the `workbench simulate` command, the registry's gate and the dashboard build on it):
- `list_contenders(ws, project) -> [Contender]`: registered versions (champion and challenger first), then saved
  runs with a model; `resolve_contender(ws, project, ref)` (a version or run id, "v2", "champion", or a label);
  `default_pair(ws, project) -> (champion, challenger)`: the registry's pair, else the champion against the best
  other run, else the best run challenging the next best.
- `ReplaySource(kind="test" | "window" | "dataset", ...)` and `build_replay(...)` live in `core.launch.replay`.
- `simulate_launch(ws, project, champion, challenger, source, spec, replay=None, peeking=None, save=True)
  -> Simulation`: builds the replay set (unless given), runs `core.launch.rollout.simulate_rollout`, adds the A/A peeking
  runs to an A/B test, and saves the result.
- `list_simulations(ws, project_id, strategy=None)` (newest first), `latest_simulation(...)`, `get_simulation(ws, id)`,
  `history_frame(sims)`; `demo_simulation(ws, project, seed=42)`: the demo story, a canary that catches a challenger
  degrading mid-rollout and rolls it back.

Record "simulation" (id "sim_<12 hex>", project_id). Payload (schema 1): strategy, verdict {decision, sentence},
champion_version_id, challenger_version_id (None for a plain run), champion / challenger (Contender dicts), source
(ReplaySource dict), replay (rows, source_label, outcome_label, primary_metric, is_binary, baseline_mean,
baseline_sd, has_groups, latency, notes), result (`RolloutResult.to_dict()`; an A/B test's frames add "peeking"),
examples (replay rows the models disagreed on), simulated (always True: every figure comes from replayed traffic).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from core.errors import NotFound, PermissionDenied, SpecInvalid, did_you_mean
from core.evaluate.report import ranking_metric
from core.launch.ab import simulate_peeking
from core.launch.replay import (
    SOURCE_KINDS,
    Contender,
    LaunchReplay,
    ReplaySource,
    build_replay,
    time_range,
)
from core.launch.rollout import STRATEGIES, simulate_rollout, validate_spec
from core.launch.sim import RolloutResult, RolloutSpec
from core.models.runs import get_run, list_runs
from core.project.criteria import metric_label
from core.registry import versions as registry
from core.store.workspace import Workspace, new_id

__all__ = ["SOURCE_KINDS", "Contender", "LaunchReplay", "ReplaySource", "Simulation", "build_replay",
           "default_pair", "demo_simulation", "get_simulation", "history_frame", "latest_simulation",
           "list_contenders", "list_simulations", "resolve_contender", "simulate_launch", "steps_from_table",
           "time_range"]

KIND = "simulation"
SCHEMA = 1
PEEKING_RUNS = 200
EXAMPLES_PER_CELL = 5
STRATEGY_LABELS = {s.key: s.label for s in STRATEGIES}


@dataclass(frozen=True)
class Simulation:
    """A saved (or just run) launch simulation, read back as the page and the CLI use it."""

    id: str | None
    project_id: str
    strategy: str
    decision: str
    sentence: str
    champion: Contender
    challenger: Contender
    source: ReplaySource
    replay: dict
    result: RolloutResult
    examples: pd.DataFrame = field(default_factory=pd.DataFrame)
    created_at: datetime | None = None

    @property
    def spec(self) -> RolloutSpec:
        return RolloutSpec.from_dict(self.result.spec)

    @property
    def is_rehearsal(self) -> bool:
        """Whether a problem was injected on purpose: a rehearsal of the safety net, never evidence about a model."""
        return bool((self.result.spec or {}).get("inject"))

    def to_dict(self) -> dict:
        """Returns the record's payload (JSON-ready)."""
        return {"schema": SCHEMA, "strategy": self.strategy,
                "verdict": {"decision": self.decision, "sentence": self.sentence},
                "champion_version_id": self.champion.version_id, "challenger_version_id": self.challenger.version_id,
                "champion": self.champion.to_dict(), "challenger": self.challenger.to_dict(),
                "source": self.source.to_dict(), "replay": _plain(self.replay), "result": self.result.to_dict(),
                "examples": [{k: _plain(v) for k, v in row.items()} for row in self.examples.to_dict("records")],
                "simulated": True, "rehearsal": self.is_rehearsal}

    @classmethod
    def from_record(cls, rec: dict) -> "Simulation":
        verdict = rec.get("verdict") or {}
        return cls(rec["id"], rec["project_id"], rec["strategy"], str(verdict.get("decision", "")),
                   str(verdict.get("sentence", "")), Contender.from_dict(rec["champion"]),
                   Contender.from_dict(rec["challenger"]), ReplaySource.from_dict(rec.get("source") or {}),
                   dict(rec.get("replay") or {}), RolloutResult.from_dict(rec["result"]),
                   pd.DataFrame(rec.get("examples") or []), rec.get("created_at"))


# -- who takes part ----------------------------------------------------------------------------------------------------
def list_contenders(ws: Workspace, project) -> list[Contender]:
    """Lists the models a launch can compare: registered versions (champion, challenger, newest), then saved runs."""
    versions = []
    state = registry.registry_state(ws, project.id)
    for v in registry.list_versions(ws, project.id):
        aliases = tuple(state.aliases_of(v.id))
        if "archived" in aliases:
            continue
        tag = f" ({', '.join(aliases)})" if aliases else ""
        versions.append(Contender(v.id, v.run_id, f"{v.label} · {v.model_label}{tag}", v.model_label, v.id,
                                  aliases, v.threshold))
    rank = {"champion": 0, "challenger": 1}
    versions.sort(key=lambda c: min([rank.get(a, 2) for a in c.aliases] or [2]))

    metric, _ = ranking_metric(project)
    runs = [r for r in list_runs(ws, project.id) if r.is_ok and r.artifact is not None and r.task == project.task]
    runs.sort(key=lambda r: r.is_baseline)  # newest first, the baseline last
    return versions + [Contender(r.id, r.id, _run_label(r, metric), r.model_label, None, (), r.threshold)
                       for r in runs]


def _run_label(run, metric: str) -> str:
    value = run.validation_metrics.get(metric)
    score = f" · {metric_label(metric)} {value:.3f}" if isinstance(value, (int, float)) else ""
    cut = f" · threshold {run.threshold:.2f}" if run.threshold is not None else ""
    when = f" · {run.created_at:%d %b %H:%M}" if isinstance(run.created_at, datetime) else ""
    return f"{run.model_label}{' (baseline)' if run.is_baseline else ''}{score}{cut}{when} · run {run.id[-6:]}"


def resolve_contender(ws: Workspace, project, ref: str) -> Contender:
    """Returns the contender named by a version or run id, a version number ('v2') or its label. Raises: NotFound."""
    contenders = list_contenders(ws, project)
    text = str(ref).strip().lower()
    for c in contenders:
        if text in (c.ref.lower(), c.label.lower()) or (c.version_id and text == c.label.split(" ·")[0].lower()):
            return c
    for c in contenders:  # a model name such as "Logistic regression" picks its newest entry
        if text == c.model_label.lower() or text in c.aliases:
            return c
    names = [c.label.split(" ·")[0] for c in contenders] + [c.ref for c in contenders]
    raise NotFound(f"No model {ref!r} in project {project.name!r}.{did_you_mean(str(ref), names)} Give a version "
                   "such as 'v2', a run id, or 'champion'.")


def default_pair(ws: Workspace, project) -> tuple[Contender, Contender]:
    """Returns the registry's champion and challenger; else the champion against the best other run; else the best
    run (by the project's ranking metric on validation) challenging the next best.

    Raises:
        NotFound: the project has fewer than two saved models.
    """
    contenders = list_contenders(ws, project)
    champ = next((c for c in contenders if "champion" in c.aliases), None)
    chall = next((c for c in contenders if "challenger" in c.aliases), None)
    ranked = _ranked_runs(ws, project, [c for c in contenders if c.version_id is None])
    if champ is None:
        champ, chall = (ranked[1], ranked[0]) if len(ranked) > 1 else (None, None)
    elif chall is None:
        chall = next((c for c in ranked if c.run_id != champ.run_id), None)
    if champ is None or chall is None:
        raise NotFound(f"Project {project.name!r} has {len(contenders)} saved model(s); a launch compares two. Train "
                       "and compare models on the Train page first.")
    return champ, chall


def _ranked_runs(ws: Workspace, project, contenders: list[Contender]) -> list[Contender]:
    """Orders run contenders best first by the metric the Train page ranks with; the baseline goes last."""
    metric, higher = ranking_metric(project)

    def key(c: Contender):
        run = get_run(ws, c.run_id)
        value = run.validation_metrics.get(metric)
        value = value if isinstance(value, (int, float)) and math.isfinite(value) else -math.inf
        return run.is_baseline, -value if higher else value

    return sorted(contenders, key=key)


# -- simulating --------------------------------------------------------------------------------------------------------
def simulate_launch(ws: Workspace, project, champion: Contender, challenger: Contender, source: ReplaySource,
                    spec: RolloutSpec, replay: LaunchReplay | None = None, peeking: pd.DataFrame | None = None,
                    save: bool = True) -> Simulation:
    """Replays both models through one rollout strategy, judges it and (unless told not to) saves it.

    Raises:
        SpecInvalid: a rollout or replay choice out of range, or the same model on both sides.
        SchemaMismatch, ArtifactRejected, NotFound: the replay rows or a model file cannot be used.
        PermissionDenied: saving from a read-only view.
    """
    if champion.run_id == challenger.run_id:
        raise SpecInvalid(f"The champion and the challenger are the same model ({champion.model_label}). "
                          "Choose two different models to compare.")
    validate_spec(spec)  # refuse a bad choice before loading and scoring both models, not after
    if save and not ws.is_editor:
        raise PermissionDenied("This is a read-only view, so a simulation cannot be saved here. Ask the analyst who "
                               "shared it to run one.")
    if replay is None:
        replay = build_replay(ws, project, champion, challenger, source)
    result = simulate_rollout(replay.replay, spec)
    result.notes = list(replay.notes) + result.notes
    if spec.strategy == "ab":
        if peeking is None:
            peeking = simulate_peeking(replay.replay, spec, runs=PEEKING_RUNS)
        result.frames["peeking"] = peeking
    sim = Simulation(new_id("sim") if save else None, project.id, spec.strategy, result.verdict.decision,
                     result.verdict.sentence, champion, challenger, source, replay.info(), result,
                     _disagreement_examples(result, replay.examples))
    if save:
        rec = ws.put_record(KIND, sim.id, sim.to_dict(), project_id=project.id)
        sim = Simulation.from_record(rec)
    return sim


def steps_from_table(rows: list[dict]) -> tuple[tuple, tuple | None]:
    """Turns the canary table's rows ({"share": %, "days": n}) into the spec's steps and step days.

    Days left empty on every step share half the run evenly between the steps below 100 % (the spec's default).

    Raises:
        SpecInvalid: a row with no share, or days given for some steps below 100 % but not all.
    """
    def blank(v) -> bool:
        return v is None or (isinstance(v, float) and math.isnan(v))

    rows = [r for r in rows if not all(blank(v) for v in r.values())]
    steps, days = [], []
    for i, r in enumerate(rows, start=1):
        share, d = r.get("share"), r.get("days")
        if blank(share):
            raise SpecInvalid(f"Canary step {i} has no traffic share. Type a share in % or delete the row.")
        steps.append(int(share) if float(share).is_integer() else float(share))
        if float(share) < 100:
            days.append(None if blank(d) else d)
    if all(d is None for d in days):
        return tuple(steps), None
    for i, d in enumerate(days, start=1):
        if d is None or not float(d).is_integer():
            raise SpecInvalid(f"Canary step {i} ({steps[i - 1]:g} %) needs a whole number of days, or leave the days "
                              "of every step empty to share half the run between them.")
    return tuple(steps), tuple(int(d) for d in days)


def _disagreement_examples(result: RolloutResult, examples: pd.DataFrame) -> pd.DataFrame:
    """Keeps the replay rows the shadow's disagreement matrix points to (a few per cell)."""
    cells = result.frames.get("disagreements")
    if cells is None or cells.empty or examples.empty:
        return pd.DataFrame()
    rows = [r for ids in cells["example_rows"] for r in list(ids)[:EXAMPLES_PER_CELL]]
    return examples.set_index("row").loc[sorted(set(rows))].reset_index()


def demo_simulation(ws: Workspace, project, seed: int = 42) -> Simulation:
    """Simulates the demo story: a canary whose challenger starts to degrade on day 6 is caught and rolled back.

    Raises:
        NotFound: the project has fewer than two saved models.
    """
    champion, challenger = default_pair(ws, project)
    # Enough traffic that even the 1 % step measures every guardrail (the fairness gap needs 30 cases per group).
    spec = RolloutSpec("canary", days=20, traffic_per_day=50_000, steps=(1, 5, 10, 25, 50, 100), step_days=2,
                       inject={"kind": "degrade", "day": 6, "amount": 0.5}, seed=seed)
    return simulate_launch(ws, project, champion, challenger, ReplaySource("test"), spec)


# -- saved simulations -------------------------------------------------------------------------------------------------
def list_simulations(ws: Workspace, project_id: str, strategy: str | None = None) -> list[Simulation]:
    """Lists a project's saved simulations, newest first, optionally of one strategy."""
    out = []
    for rec in ws.list_records(KIND, project_id=project_id):
        if strategy is None or rec.get("strategy") == strategy:
            out.append(Simulation.from_record(rec))
    return out


@dataclass(frozen=True)
class SimulationVerdict:
    """What a saved simulation decided, without its charts' data: for the launch gate, Home and the dashboard."""

    id: str
    strategy: str
    decision: str
    sentence: str
    champion_version_id: str | None
    challenger_version_id: str | None
    created_at: datetime | None = None
    is_rehearsal: bool = False      # a problem was injected: it shows the safety net works, not how the model does


def simulation_verdicts(ws: Workspace, project_id: str, *,
                        challenger_version_id: str | None = None) -> list[SimulationVerdict]:
    """Lists the verdicts of a project's saved simulations, newest first (only one challenger's when given)."""
    out = []
    for rec in ws.list_records(KIND, project_id=project_id):
        verdict = rec.get("verdict") or {}
        rehearsal = bool(rec.get("rehearsal", ((rec.get("result") or {}).get("spec") or {}).get("inject")))
        item = SimulationVerdict(rec["id"], str(rec.get("strategy") or ""), str(verdict.get("decision") or ""),
                                 str(verdict.get("sentence") or ""), rec.get("champion_version_id"),
                                 rec.get("challenger_version_id"), rec.get("created_at"), rehearsal)
        if challenger_version_id is None or item.challenger_version_id == challenger_version_id:
            out.append(item)
    return out


def latest_simulation(ws: Workspace, project_id: str, strategy: str | None = None) -> Simulation | None:
    """Returns the project's newest saved simulation (of one strategy when given), or None."""
    sims = list_simulations(ws, project_id, strategy)
    return sims[0] if sims else None


def get_simulation(ws: Workspace, simulation_id: str) -> Simulation:
    """Returns a saved simulation by id. Raises: NotFound."""
    rec = ws.get_record(KIND, simulation_id)
    if rec is None:
        raise NotFound(f"No saved simulation {simulation_id!r}. It may have been deleted; run the simulation again.")
    return Simulation.from_record(rec)


def history_frame(sims: list[Simulation]) -> pd.DataFrame:
    """Returns one line per saved simulation for the History table."""
    return pd.DataFrame([{"when": s.created_at, "strategy": STRATEGY_LABELS.get(s.strategy, s.strategy),
                          "champion": s.champion.label.split(" · run ")[0],
                          "challenger": s.challenger.label.split(" · run ")[0], "verdict": s.decision,
                          "evidence": s.sentence, "replay": s.replay.get("source_label", ""), "id": s.id}
                         for s in sims],
                        columns=["when", "strategy", "champion", "challenger", "verdict", "evidence", "replay", "id"])


def _plain(v):
    """Makes a value JSON-ready: NaN and infinity become None, numpy and pandas scalars plain Python."""
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_plain(x) for x in v]
    if v is None or pd.isna(v):
        return None
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if isinstance(v, np.generic):
        v = v.item()
    return None if isinstance(v, float) and not math.isfinite(v) else v
