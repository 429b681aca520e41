"""CLI: register versions, promote past the launch gate, roll back, read the ledger, score files, receipts and specs."""

from __future__ import annotations

import getpass
from pathlib import Path

from core.commands import workspace_for
from core.errors import FileRefused, NotFound
from core.models.receipts import build_receipt, load_receipt, rerun
from core.models.runs import get_run
from core.project.projects import get_project
from core.registry.versions import get_version, ledger, list_versions
from core.release.actions import (
    archive_version,
    promote,
    register_run,
    rollback,
    set_challenger,
)
from core.release.scoring import load_scoring_file, score
from core.share.spec import export_yaml, load_spec, run_spec


def _by_default() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def register(sub) -> None:
    p = sub.add_parser("register", help="register a saved run as the next model version of its project")
    p.add_argument("run", help="run id")
    p.add_argument("--note", default="")
    p.add_argument("--by", default=None, help="your name (default: the login name)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=register_cmd)

    p = sub.add_parser("versions", help="list a project's model versions")
    p.add_argument("project", help="project name or id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=versions_cmd)

    p = sub.add_parser("promote", help="run the launch gate and make a version champion")
    p.add_argument("version", help="version id, or PROJECT:NUMBER such as 'Customer churn:2'")
    p.add_argument("--override-reason", help="promote past a failed gate, for this written reason")
    p.add_argument("--why", default="")
    p.add_argument("--by", default=None)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=promote_cmd)

    p = sub.add_parser("rollback", help="make the previous (or an earlier) champion champion again")
    p.add_argument("project", help="project name or id")
    p.add_argument("--to", help="version to return to (default: the previous champion)")
    p.add_argument("--why", default="")
    p.add_argument("--by", default=None)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=rollback_cmd)

    for name, help_ in (("challenger", "mark a version as the challenger"), ("archive", "archive a version")):
        p = sub.add_parser(name, help=help_)
        p.add_argument("version", help="version id, or PROJECT:NUMBER")
        if name == "archive":
            p.add_argument("--restore", action="store_true", help="bring an archived version back")
        p.add_argument("--why", default="")
        p.add_argument("--by", default=None)
        p.add_argument("--json", action="store_true")
        p.set_defaults(func=alias_cmd, action=name)

    p = sub.add_parser("ledger", help="every alias change of a project: when, by whom, why, with the gate")
    p.add_argument("project", help="project name or id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=ledger_cmd)

    p = sub.add_parser("score", help="score a CSV with a model version (CSV out, safe for spreadsheets)")
    p.add_argument("version", help="version id, or PROJECT:NUMBER")
    p.add_argument("file", help="CSV, gzipped CSV, Parquet or Excel file with the model's columns")
    p.add_argument("--out", required=True, help="where to write the predictions (CSV)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=score_cmd)

    p = sub.add_parser("receipt", help="print the receipt of a version or a run (JSON)")
    p.add_argument("ref", help="version id, PROJECT:NUMBER, or run id")
    p.set_defaults(func=receipt_cmd, json=True)

    p = sub.add_parser("rerun", help="retrain from a receipt and report whether the metrics match exactly")
    p.add_argument("receipt", help="receipt JSON file")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=rerun_cmd)

    p = sub.add_parser("export", help="print a project as a declarative YAML spec")
    p.add_argument("project", help="project name or id")
    p.set_defaults(func=export_cmd)

    p = sub.add_parser("run", help="run a project spec headless: ingest, project, split, train, register the best")
    p.add_argument("spec", help="YAML spec from `workbench export`")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_cmd)


def resolve_version(ws, ref: str):
    """Returns a version by id or by 'PROJECT:NUMBER' (name or id, number with or without 'v'). Raises: NotFound."""
    try:
        return get_version(ws, ref)
    except NotFound:
        pass
    project_ref, sep, number = str(ref).rpartition(":")
    if sep and number.lower().lstrip("v").isdigit():
        project = get_project(ws, project_ref)
        for v in list_versions(ws, project.id):
            if v.number == int(number.lower().lstrip("v")):
                return v
        raise NotFound(f"Project {project.name!r} has no version {number}. Its versions: "
                       f"{', '.join(v.label for v in list_versions(ws, project.id)) or 'none yet'}.")
    raise NotFound(f"No model version {ref!r}. Give a version id, or the project and number such as "
                   "'Customer churn:2'.")


def _version_dict(v) -> dict:
    return {"id": v.id, "number": v.number, "project_id": v.project_id, "run_id": v.run_id, "model": v.model_label,
            "aliases": list(v.aliases), "threshold": v.threshold, "metrics": v.metrics, "note": v.note,
            "registered_by": v.registered_by, "registered_at": v.registered_at, "content_hash": v.content_hash,
            "is_intact": v.is_intact, "gate_passed": (v.gate or {}).get("passed")}


def register_cmd(args):
    v = register_run(workspace_for(args), args.run, note=args.note, by=args.by or _by_default())
    return _version_dict(v) if args.json else f"Registered {v.label} of project {v.project_id} ({v.model_label}): {v.id}"


def versions_cmd(args):
    ws = workspace_for(args)
    versions = list_versions(ws, get_project(ws, args.project).id)
    if args.json:
        return [_version_dict(v) for v in versions]
    if not versions:
        return "No versions yet. Register a run with: workbench register RUN_ID"
    return "\n".join(f"{v.label:<5} {v.model_label:<28} {', '.join(v.aliases) or '-':<20} {v.id}" for v in versions)


def _gate_lines(gate: dict | None) -> list[str]:
    return [f"  [{c['status']}] {c['label']}: {c['evidence']}" for c in (gate or {}).get("checks", [])]


def promote_cmd(args):
    ws = workspace_for(args)
    v = resolve_version(ws, args.version)
    entry = promote(ws, v.id, by=args.by or _by_default(), why=args.why, override_reason=args.override_reason)
    if args.json:
        return entry.__dict__
    head = f"{v.label} is now champion" + (" (past a failed gate, by override)" if entry.override else "")
    return "\n".join([head + ".", *_gate_lines(entry.gate)])


def rollback_cmd(args):
    ws = workspace_for(args)
    project = get_project(ws, args.project)
    to = resolve_version(ws, args.to).id if args.to else None
    entry = rollback(ws, project.id, by=args.by or _by_default(), to_version_id=to, why=args.why)
    return entry.__dict__ if args.json else f"Rolled back: v{entry.version_number} is champion again ({entry.why})."


def alias_cmd(args):
    ws = workspace_for(args)
    v = resolve_version(ws, args.version)
    by = args.by or _by_default()
    if args.action == "challenger":
        entry = set_challenger(ws, v.id, by=by, why=args.why)
    else:
        entry = archive_version(ws, v.id, by=by, why=args.why, archived=not args.restore)
    return entry.__dict__ if args.json else f"{entry.action}: {v.label} ({entry.why})"


def ledger_cmd(args):
    ws = workspace_for(args)
    entries = ledger(ws, get_project(ws, args.project).id)
    if args.json:
        return [e.__dict__ for e in entries]
    if not entries:
        return "The ledger is empty: nothing registered or promoted yet."
    return "\n".join(f"{e.seq:>4} {e.at}  {e.action:<10} v{e.version_number:<3} by {e.by}: {e.why}"
                     for e in entries)


def score_cmd(args):
    ws = workspace_for(args)
    v = resolve_version(ws, args.version)
    path = Path(args.file)
    if not path.is_file():
        raise FileRefused(f"There is no file at {str(path)!r}. Check the path.")
    info = load_scoring_file(ws, path.read_bytes(), path.name)
    result = score(ws, v, info.id, out=args.out)  # written partition by partition, never all in memory
    notes = [f.message for f in result.report.tolerated]
    rows = result.summary["rows"]
    if args.json:
        return {"rows": rows, "out": args.out, "summary": result.summary, "notes": notes}
    return "\n".join([f"Scored {rows:,} rows with {v.label} into {args.out}.", *notes])


def receipt_cmd(args):
    ws = workspace_for(args)
    try:
        return resolve_version(ws, args.ref).receipt
    except NotFound:
        return build_receipt(ws, get_run(ws, args.ref))


def rerun_cmd(args):
    path = Path(args.receipt)
    if not path.is_file():
        raise FileRefused(f"There is no receipt at {str(path)!r}. Check the path.")
    result = rerun(workspace_for(args), load_receipt(path.read_bytes()))
    if args.json:
        return result.to_dict()
    diffs = [r for r in result.metrics if not r["matches"]]
    lines = [("Exact: " if result.is_exact else "Not exact: ") + " ".join(result.notes)]
    lines += [f"  {r['set']} {r['metric']}: receipt {r['original']!r}, re-run {r['rerun']!r}" for r in diffs[:20]]
    return "\n".join(lines)


def export_cmd(args):
    return export_yaml(workspace_for(args), args.project)


def run_cmd(args):
    path = Path(args.spec)
    if not path.is_file():
        raise FileRefused(f"There is no spec at {str(path)!r}. Check the path.")
    out = run_spec(workspace_for(args, seed_samples=False), load_spec(path.read_text(encoding="utf-8")),
                   base_dir=path.parent)
    if args.json:
        return out
    lines = [f"Project {out['project']!r} on dataset {out['dataset']!r}: {out['dataset_note']}"]
    lines += [f"  {r['model']:<28} {out['metric']} {r[out['metric']]}" + (f"  failed: {r['error']}" if r["error"] else "")
              for r in out["runs"]]
    lines.append(f"Registered the best run as v{out['version']} ({out['version_id']}).")
    return "\n".join(lines)

