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
    out = {"project_id": result.project_id, "seconds": round(result.seconds, 1), "steps": result.steps}
    if args.json:
        return out
    return f"Demo ready in {result.seconds:.0f} s: " + "; ".join(result.steps) + "."
