"""View-models of the monitoring loop for the Monitoring page and the dashboard: plain frames and dicts, no Streamlit.

- `batch_timeline(ws, project) -> DataFrame`: one row per data batch (number, label, as-of day, rows, labels, file,
  hash, added when and by whom) with the newest monitoring status of that batch for the current champion (or,
  marked so, for an earlier one).
- `health_matrix(ws, project_id) -> DataFrame`: one row per monitoring run (oldest first), one column per check,
  cells "healthy" | "alert" | "not-run" | "error", and which champion the run checked ("current" | "earlier" |
  "none").
- `monitoring_status(ws, project) -> dict`: the current status is about the CURRENT champion: its newest run, or
  "not checked" (with the newest run of an earlier champion as `previous`) right after a promotion or rollback;
  open alerts (only those about the live champion can be open: core.monitor.alertlog closes the others as
  superseded), batches, and batches newer than the champion's newest check.
- `alert_table(ws, project_id) -> DataFrame`: the alert log, newest first, with how each alert stands.
"""

from __future__ import annotations

import pandas as pd

from core.data.batches import describe, list_batches
from core.monitor.alertlog import OPEN, SUPERSEDED, list_alerts
from core.monitor.policy import CHECKS, MonitorRun, list_monitor_runs
from core.registry.versions import champion
from core.store.workspace import Workspace

STATUS_ICONS = {"healthy": "Healthy", "alert": "ALERT", "not-run": "not run", "error": "ERROR", "never run": "Never run",
                "not checked": "Not checked"}
CHAMPION_MARKS = {"current": "current champion", "earlier": "earlier champion", "none": "no champion"}


def _current_id(ws: Workspace, project_id: str) -> str | None:
    current = champion(ws, project_id)
    return current.id if current else None


def _checked(run: MonitorRun, current_id: str | None) -> str:
    """Which champion a run checked: the current one, an earlier one, or none (no champion at the time)."""
    if run.version_id is None:
        return "none"
    return "current" if run.version_id == current_id else "earlier"


def batch_timeline(ws: Workspace, project) -> pd.DataFrame:
    """One row per batch, oldest first, with the status of its newest monitoring run for the current champion.

    '' when never checked; a batch checked only while an earlier champion served says so ("alert · v1, earlier
    champion"), so a promotion never makes an old verdict look like the new model's.
    """
    current_id = _current_id(ws, project.id)
    latest: dict[str, str] = {}
    for run in reversed(list_monitor_runs(ws, project.id)):
        if run.version_id == current_id:
            latest[run.batch_id] = run.status
        elif latest.get(run.batch_id, "") == "" or "·" in latest[run.batch_id]:
            latest[run.batch_id] = f"{run.status} · {run.version_label or 'no model'}, earlier champion"
    rows = [{**describe(b), "monitoring": latest.get(b.id, "")} for b in list_batches(ws, project)]
    return pd.DataFrame(rows, columns=["batch", "label", "as_of", "rows", "labelled", "file", "sha256", "added_at",
                                       "added_by", "monitoring", "dataset_id", "id"])


def health_matrix(ws: Workspace, project_id: str) -> pd.DataFrame:
    """One row per run, oldest first: when, batch, model, which champion it was, overall status, one column per check."""
    current_id = _current_id(ws, project_id)
    rows = []
    for run in reversed(list_monitor_runs(ws, project_id)):
        row = {"run": run.id, "at": run.started_at.replace("T", " "), "batch": f"{run.batch_seq} · {run.batch_label}",
               "model": run.version_label or "—", "champion": _checked(run, current_id), "status": run.status}
        for key, label in CHECKS.items():
            check = run.check(key)
            row[label] = check.status if check else "not-run"
        rows.append(row)
    return pd.DataFrame(rows, columns=["run", "at", "batch", "model", "champion", "status", *CHECKS.values()])


def _run_summary(run: MonitorRun) -> dict:
    return {"status": run.status, "at": run.started_at, "batch": f"{run.batch_seq} · {run.batch_label}",
            "batch_seq": run.batch_seq, "model": run.version_label,
            "alerting_checks": [c.label for c in run.checks if c.status == "alert"], "run_id": run.id}


def monitoring_status(ws: Workspace, project) -> dict:
    """The project's monitoring at a glance, about the current champion.

    `status` is the newest run that checked the current champion (no champion: runs without one), or "not checked"
    when every run checked an earlier champion (then `previous` describes the newest of those); `checked` says
    which. `unchecked_batches`: batches newer than the one the current champion's newest run checked.
    """
    runs = list_monitor_runs(ws, project.id)
    current = champion(ws, project.id)
    current_id = current.id if current else None
    mine = next((r for r in runs if r.version_id == current_id), None)
    other = runs[0] if runs and runs[0] is not mine else None
    batches = list_batches(ws, project)
    alerts = list_alerts(ws, project.id)
    base = {"open_alerts": sum(a["state"] == OPEN for a in alerts),
            "superseded_alerts": sum(a["state"] == SUPERSEDED for a in alerts), "alerts": len(alerts),
            "runs": len(runs), "batches": len(batches),
            "champion": current.label if current else None, "champion_id": current_id,
            "checked": mine is not None,
            "previous": _run_summary(other) if other is not None and other.version_id != current_id else None,
            "unchecked_batches": [b.seq for b in batches if b.seq > mine.batch_seq] if mine else []}
    if mine is not None:
        return {**_run_summary(mine), **base}
    return {"status": "not checked" if runs else "never run", "at": None, "batch": None, "batch_seq": None,
            "model": current.label if current else None, "alerting_checks": [], "run_id": None, **base}


def alert_table(ws: Workspace, project_id: str) -> pd.DataFrame:
    """The alert log, newest first: when, the model it was about, what fired on which batch, how it stands ("open",
    "acknowledged", "superseded by v2's promotion") with who closed it and when, then the evidence."""
    rows = [{"at": a["at"].replace("T", " ")[:16], "batch": f"{a['batch_seq']} · {a['batch_label']}",
             "model": a.get("model") or "no model", "check": CHECKS.get(a["check"], a["check"]),
             "status": a["closed_why"] or a["state"], "closed_by": a["closed_by"] or "",
             "closed_at": (a["closed_at"] or "").replace("T", " ")[:16], "evidence": a["evidence"], "note": a["note"],
             "title": a["title"], "id": a["id"], "state": a["state"]}
            for a in list_alerts(ws, project_id)]
    return pd.DataFrame(rows, columns=["at", "model", "title", "status", "closed_by", "closed_at", "evidence", "note",
                                       "batch", "check", "id", "state"])
