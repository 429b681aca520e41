"""CLI: retrain the champion's recipe on a window of batches, gate it on the newest batch, then decide."""

from __future__ import annotations

import getpass

from core.commands import workspace_for


def register(sub) -> None:
    p = sub.add_parser("retrain", help="retrain the champion's recipe on a window of batches and gate the "
                                       "challenger on the newest labelled batch")
    p.add_argument("project")
    p.add_argument("--window", choices=("all", "rolling", "latest"), default="all")
    p.add_argument("--latest", type=int, default=1, metavar="N", help="with --window latest: how many batches")
    p.add_argument("--days", type=int, default=60, help="with --window rolling: how many days before the holdout")
    p.add_argument("--by", help="who retrains (default: the login name)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=retrain_cmd)

    p = sub.add_parser("decide", help="promote, keep testing or discard a retrained challenger")
    p.add_argument("project")
    p.add_argument("decision", choices=("promote", "keep", "discard"))
    p.add_argument("--retrain", help="retrain id (default: the pending one)")
    p.add_argument("--reason", default="")
    p.add_argument("--override", help="promote although the gate failed, for this written reason")
    p.add_argument("--by")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=decide_cmd)


def _summary(r) -> dict:
    return {"retrain_id": r.id, "champion": r.champion_version_id, "challenger": r.challenger_version_id,
            "train_batches": [b["seq"] for b in r.train_batches], "holdout_batch": r.holdout_batch["seq"],
            "holdout": r.holdout.get("sentence"), "challenger_wins": r.challenger_wins, "gate_passed": r.gate_passed,
            "gate": [{"check": c["label"], "status": c["status"], "evidence": c["evidence"]}
                     for c in r.gate.get("checks") or ()], "notes": list(r.notes), "decision": r.decision}


def retrain_cmd(args):
    import sys

    from core.project.projects import get_project
    from core.release.retrain import RetrainSpec, retrain

    ws = workspace_for(args)
    project = get_project(ws, args.project)
    spec = RetrainSpec(window=args.window, latest_n=args.latest, rolling_days=args.days)
    r = retrain(ws, project, spec, by=args.by or getpass.getuser(),
                progress=lambda f, t: print(f"  {t}", file=sys.stderr, flush=True))
    out = _summary(r)
    if args.json:
        return out
    lines = [r.holdout.get("sentence", ""), f"Gate: {'passed' if r.gate_passed else 'FAILED'}"]
    lines += [f"  {c['status']:<8} {c['check']}: {c['evidence']}" for c in out["gate"]]
    lines.append(f"Decide with: workbench decide {project.name!r} promote|keep|discard --reason ...")
    return "\n".join(lines)


def decide_cmd(args):
    from core.errors import SpecInvalid
    from core.project.projects import get_project
    from core.release.retrain import decide_retrain, pending_challenger

    ws = workspace_for(args)
    project = get_project(ws, args.project)
    rid = args.retrain or getattr(pending_challenger(ws, project.id), "id", None)
    if not rid:
        raise SpecInvalid(f"Project {project.name!r} has no retrained challenger waiting for a decision.")
    r = decide_retrain(ws, rid, args.decision, by=args.by or getpass.getuser(), reason=args.reason,
                       override_reason=args.override)
    return _summary(r) if args.json else f"Recorded: {args.decision} {r.challenger_version_id} ({r.decision['reason'] or 'no reason given'})."
