"""CLI: rehearse a launch offline (shadow, A/B or canary) and list the saved simulations."""

from __future__ import annotations

from core.commands import workspace_for
from core.errors import SpecInvalid
from core.launch.rehearsal import (
    ReplaySource,
    default_pair,
    list_simulations,
    resolve_contender,
    simulate_launch,
)
from core.launch.rollout import STRATEGY_KEYS
from core.launch.sim import RolloutSpec
from core.project.projects import get_project

_DEFAULT = RolloutSpec()  # one set of defaults for core, this CLI and the Launch page


def register(sub) -> None:
    p = sub.add_parser("simulate", help="simulate a shadow, A/B or canary launch of a challenger on replayed data")
    p.add_argument("project", help="project name or id")
    p.add_argument("--strategy", choices=STRATEGY_KEYS, required=True)
    p.add_argument("--champion", help="version ('v2', 'champion'), run id or model name (default: the registry's "
                                      "champion, else the second-best run)")
    p.add_argument("--challenger", help="as --champion (default: the registry's challenger, else the best run)")
    p.add_argument("--replay", default="test", help="'test' (the test split), or a dataset name or id with the target")
    p.add_argument("--time-column", help="date column bounding a time window of --replay (default dataset: the "
                                         "project's)")
    p.add_argument("--start", help="first day of the time window, e.g. 2025-10-01")
    p.add_argument("--end", help="first day after the time window")
    p.add_argument("--days", type=int, default=_DEFAULT.days)
    p.add_argument("--traffic", type=int, default=_DEFAULT.traffic_per_day,
                   help="requests per day (default %(default)s)")
    p.add_argument("--split", type=float, default=_DEFAULT.split, help="challenger's share of an A/B test")
    p.add_argument("--steps", default=",".join(map(str, _DEFAULT.steps)),
                   help="canary traffic shares in %%, ending at 100")
    p.add_argument("--step-days", help="days per canary step below 100 %%: one number, or one per step")
    p.add_argument("--inject", help="a problem to rehearse: KIND:DAY[:AMOUNT], KIND one of degrade, drift, imbalance")
    p.add_argument("--seed", type=int, default=_DEFAULT.seed)
    p.add_argument("--no-save", action="store_true", help="print the result without saving it")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=simulate)

    ls = sub.add_parser("simulations", help="list a project's saved launch simulations")
    ls.add_argument("project", help="project name or id")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=list_)


def _numbers(text: str, what: str, cast=float) -> tuple:
    try:
        return tuple(cast(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise SpecInvalid(f"{what} takes numbers separated by commas, e.g. 1,5,10,25,50,100, not {text!r}.") from None


def parse_inject(text: str | None) -> dict | None:
    """Turns 'degrade:8' or 'drift:5:0.4' into the spec's injected problem. Raises: SpecInvalid."""
    if not text:
        return None
    parts = text.split(":")
    try:
        out = {"kind": parts[0].strip(), "day": int(parts[1])}
        if len(parts) > 2:
            out["amount"] = float(parts[2])
    except (IndexError, ValueError):
        raise SpecInvalid(f"--inject takes KIND:DAY or KIND:DAY:AMOUNT, e.g. degrade:8 or drift:5:0.4, "
                          f"not {text!r}.") from None
    if len(parts) > 3:
        raise SpecInvalid(f"--inject takes at most three parts (KIND:DAY:AMOUNT), not {text!r}.")
    return out


def _spec(args):
    steps = tuple(int(s) if float(s).is_integer() else s for s in _numbers(args.steps, "--steps"))
    step_days = None
    if args.step_days:
        days = _numbers(args.step_days, "--step-days", int)
        step_days = days[0] if len(days) == 1 else days
    return RolloutSpec(args.strategy, days=args.days, traffic_per_day=args.traffic, split=args.split, steps=steps,
                       step_days=step_days, inject=parse_inject(args.inject), seed=args.seed)


def _source(args):
    if args.replay == "test" and not args.time_column:
        return ReplaySource("test")
    dataset = None if args.replay == "test" else args.replay
    if args.time_column:
        return ReplaySource("window", dataset=dataset, time_column=args.time_column, start=args.start, end=args.end)
    return ReplaySource("dataset", dataset=dataset)


def describe(sim) -> dict:
    """Returns a simulation as plain data: verdict, who, on what, the figures and the chart-ready frames."""
    return {"id": sim.id, "project_id": sim.project_id, "strategy": sim.strategy, "simulated": True,
            "verdict": {"decision": sim.decision, "sentence": sim.sentence},
            "champion": sim.champion.to_dict(), "challenger": sim.challenger.to_dict(),
            "replay": sim.replay, "spec": sim.result.spec, "summary": sim.result.summary,
            "notes": sim.result.notes, "frames": sim.result.to_dict()["frames"], "created_at": sim.created_at}


def simulate(args):
    ws = workspace_for(args)
    project = get_project(ws, args.project)
    spec, source = _spec(args), _source(args)
    champion, challenger = (None, None)
    if not (args.champion and args.challenger):
        champion, challenger = default_pair(ws, project)
    champion = resolve_contender(ws, project, args.champion) if args.champion else champion
    challenger = resolve_contender(ws, project, args.challenger) if args.challenger else challenger
    sim = simulate_launch(ws, project, champion, challenger, source, spec, save=not args.no_save)
    if args.json:
        return describe(sim)
    saved = f" (saved as {sim.id})" if sim.id else " (not saved)"
    return (f"Simulated {sim.strategy} launch{saved}: {sim.challenger.label} against {sim.champion.label}, "
            f"on {sim.replay['source_label']}.\n{sim.decision.upper()}: {sim.sentence}")


def list_(args):
    ws = workspace_for(args)
    sims = list_simulations(ws, get_project(ws, args.project).id)
    if args.json:
        return [{k: v for k, v in describe(s).items() if k != "frames"} for s in sims]
    if not sims:
        return "No simulations yet. Run one with: workbench simulate PROJECT --strategy canary"
    return "\n".join(f"{s.created_at:%Y-%m-%d %H:%M}  {s.strategy:<7} {s.decision:<13} {s.id}  {s.sentence}"
                     for s in sims)
