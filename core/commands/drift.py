"""CLI: check whether a current dataset drifted from a reference dataset, and save the report."""

from __future__ import annotations

from pathlib import Path

from core.commands import workspace_for
from core.errors import SpecInvalid
from core.monitor.checks import METHODS, DriftOptions
from core.monitor.evidently_report import MAX_REPORT_ROWS
from core.monitor.model import find_model
from core.monitor.reports import (
    SourceSpec,
    check_summary,
    current_user,
    run_check,
    save_drift_report,
)
from core.project.projects import get_project, list_projects


def register(sub) -> None:
    p = sub.add_parser("drift", help="compare a current dataset with a reference dataset, column by column")
    p.add_argument("reference", help="reference dataset name or id (e.g. the data the model was trained on)")
    p.add_argument("current", help="current dataset name or id (e.g. last month's batch)")
    p.add_argument("--project", help="project the report belongs to (default: the one project on REFERENCE)")
    p.add_argument("--model", metavar="VERSION",
                   help="version number, alias (champion) or run id whose predictions to compare too")
    p.add_argument("--method", choices=list(METHODS), default="sound",
                   help="tests per column (default: sound two-sample tests; evidently-default: Evidently parity)")
    p.add_argument("--calibrated", action="store_true",
                   help="thresholds calibrated on the reference itself (beyond Evidently)")
    p.add_argument("--bh", action="store_true",
                   help="Benjamini-Hochberg correction across the columns' p-values (beyond Evidently)")
    p.add_argument("--html", metavar="FILE", help="also write Evidently's self-contained report to FILE (slower)")
    p.add_argument("--no-save", action="store_true", help="do not save the report in the workspace")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=drift)


def _project(ws, args, reference_id: str):
    if args.project:
        return get_project(ws, args.project)
    on_reference = [p for p in list_projects(ws) if p.dataset_id == reference_id]
    if len(on_reference) == 1:
        return on_reference[0]
    if args.model:
        raise SpecInvalid("--model needs the project it belongs to; name it with --project.")
    return None


def drift(args):
    ws = workspace_for(args)
    reference = SourceSpec("dataset", ws.dataset(args.reference).id)
    current = SourceSpec("dataset", ws.dataset(args.current).id)
    project = _project(ws, args, reference.dataset_id)
    model = find_model(ws, project, args.model) if args.model else None
    options = DriftOptions(method=args.method, calibrated=args.calibrated, bh=True if args.bh else None)
    check = run_check(ws, reference, current, options, project=project, model=model, with_report=bool(args.html),
                      report_rows=MAX_REPORT_ROWS)
    if not args.no_save:
        save_drift_report(ws, check, project.id if project else None, by=f"{current_user()} (CLI)")
    out = check_summary(check) | {"project": project.name if project else None, "html": None}
    if args.html and check.report is not None:
        path = Path(args.html)
        path.write_text(check.report.html, encoding="utf-8")
        out["html"] = str(path.resolve())
    if args.json:
        return out
    lines = [out["verdict"], f"Reference: {out['reference']} ({out['n_reference']:,} rows) · current: "
             f"{out['current']} ({out['n_current']:,} rows)"]
    lines += [f"  {row['column']}: {row['method']}, drift {row['drift']} ({row['effect']})"
              for row in out["columns"] if row["drift"] == "yes"]
    lines += [f"  note: {n}" for n in out["notes"]]
    if out["report_error"]:
        lines.append(f"  Evidently's report: {out['report_error']}")
    if out["html"]:
        lines.append(f"Evidently's report: {out['html']}")
    if out["report_id"]:
        lines.append(f"Saved as {out['report_id']}.")
    return "\n".join(lines)
