"""CLI: retrain the champion's recipe on a window of batches, gate it on the newest batch, then decide."""

from __future__ import annotations

import getpass

from core.commands import workspace_for


def register(sub) -> None:
    p = sub.add_parser("retrain", help="retrain the champion's recipe on a window of batches and gate the "
                                       "challenger on the newest labelled batch")
    p.add_argument("project")
    p.add_argument("--window", choices=("all", "rolling", "latest"),
                   help="training window (default: the project's retrain settings, as exported in its YAML spec)")
    p.add_argument("--latest", type=int, metavar="N", help="with --window latest: how many batches")
    p.add_argument("--days", type=int, help="with --window rolling: how many days before the holdout")
    p.add_argument("--spec", metavar="FILE", help="take the window and the gate's decision from this YAML spec's "
                                                  "retrain section (from `workbench export`), and apply that decision")
    p.add_argument("--apply-gate", action="store_true",
                   help="record the decision the retrain settings ask for (gate.on_pass / gate.on_fail)")
    p.add_argument("--save", action="store_true", help="save the window (and --spec's gate) as the project's "
                                                       "retrain settings")
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

    from dataclasses import replace
    from pathlib import Path

    from core.errors import FileRefused
    from core.project.projects import get_project
    from core.release.retrain import retrain
    from core.release.retrain_policy import RetrainPolicy, apply_gate, get_retrain_policy, save_retrain_policy
    from core.share.spec import load_spec

    ws = workspace_for(args)
    project = get_project(ws, args.project)
    if args.spec:
        path = Path(args.spec)
        if not path.is_file():
            raise FileRefused(f"There is no spec at {str(path)!r}. Check the path.")
        policy = RetrainPolicy.from_spec(load_spec(path.read_text(encoding="utf-8")).get("retrain"))
    else:
        policy = get_retrain_policy(ws, project.id)
    changes = {k: v for k, v in (("window", args.window), ("latest_n", args.latest), ("rolling_days", args.days))
               if v is not None}
    policy = RetrainPolicy.from_spec(replace(policy, **changes).to_spec())  # checks --latest / --days too
    if args.save:
        save_retrain_policy(ws, project.id, policy)
    by = args.by or getpass.getuser()
    r = retrain(ws, project, policy.spec(), by=by,
                progress=lambda f, t: print(f"  {t}", file=sys.stderr, flush=True))
    if args.spec or args.apply_gate:
        r = apply_gate(ws, r, policy, by)
    out = _summary(r)
    if args.json:
        return out
    lines = [r.holdout.get("sentence", ""), f"Gate: {'passed' if r.gate_passed else 'FAILED'}"]
    lines += [f"  {c['status']:<8} {c['check']}: {c['evidence']}" for c in out["gate"]]
    if r.decision:
        lines.append(f"Decision (retrain settings): {r.decision['action']} — {r.decision['reason']}")
    if not r.decision or r.decision["action"] == "keep":
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
