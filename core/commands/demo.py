"""CLI: build the complete sample story (`make demo`)."""

from __future__ import annotations

from core.commands import workspace_for
from core.share.demo import build_demo


def register(sub) -> None:
    p = sub.add_parser("demo", help="build the demo story: five models, the best one promoted through the gate, "
                                    "two new monthly batches with monitoring alerts, a retrained challenger judged "
                                    "on fresh data and promoted, an honest canary and a labelled what-if rollback")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=demo)


def demo(args):
    import sys

    ws = workspace_for(args, seed_samples=True)
    last = [0.0]

    def progress(frac, text):
        if frac is not None:
            last[0] = frac
        print(f"[{last[0]:4.0%}] {text}", file=sys.stderr, flush=True)

    result = build_demo(ws, progress=progress)
    steps = [*result.steps, _alerts_step(ws, result.project_id)]
    out = {"project_id": result.project_id, "seconds": round(result.seconds, 1), "steps": [s for s in steps if s]}
    if args.json:
        return out
    return f"Demo ready in {result.seconds:.0f} s: " + "; ".join(out["steps"]) + "."


def _alerts_step(ws, project_id: str) -> str:
    """How the demo's alerts stand: those raised on the first champion close as superseded when it is replaced."""
    from collections import Counter

    from core.monitor.alertlog import OPEN, SUPERSEDED, list_alerts

    alerts = list_alerts(ws, project_id)
    if not alerts:
        return ""
    why = Counter((a["model"] or "no model", a["closed_why"]) for a in alerts if a["state"] == SUPERSEDED)
    still = sum(a["state"] == OPEN for a in alerts)
    closed = "; ".join(f"{n} on {model} {text}" for (model, text), n in why.items())
    return (f"{len(alerts)} alert{'s' if len(alerts) != 1 else ''} in the log, {still} open"
            + (f" ({closed}, kept in the log)" if closed else ""))
