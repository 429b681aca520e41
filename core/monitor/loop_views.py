"""View-models of the monitoring loop for the Monitoring page and the dashboard: plain frames and dicts, no Streamlit.

- `batch_timeline(ws, project) -> DataFrame`: one row per data batch (number, label, as-of day, rows, labels, file,
  hash, added when and by whom) with the newest monitoring status of that batch.
- `health_matrix(ws, project_id) -> DataFrame`: one row per monitoring run (oldest first), one column per check,
  cells "healthy" | "alert" | "not-run" | "error".
- `monitoring_status(ws, project) -> dict`: the current status (newest run), open alerts and batches counted.
- `alert_table(ws, project_id) -> DataFrame`: the alert log, newest first.
"""

from __future__ import annotations

import pandas as pd

from core.data.batches import describe, list_batches
from core.monitor.alertlog import list_alerts, open_alerts
from core.monitor.policy import CHECKS, list_monitor_runs
from core.store.workspace import Workspace

STATUS_ICONS = {"healthy": "Healthy", "alert": "ALERT", "not-run": "not run", "error": "ERROR", "never run": "Never run"}


def batch_timeline(ws: Workspace, project) -> pd.DataFrame:
    """One row per batch, oldest first, with the status of its newest monitoring run ('' when never checked)."""
    latest: dict[str, str] = {}
    for run in reversed(list_monitor_runs(ws, project.id)):
        latest[run.batch_id] = run.status
    rows = [{**describe(b), "monitoring": latest.get(b.id, "")} for b in list_batches(ws, project)]
    return pd.DataFrame(rows, columns=["batch", "label", "as_of", "rows", "labelled", "file", "sha256", "added_at",
                                       "added_by", "monitoring", "dataset_id", "id"])


def health_matrix(ws: Workspace, project_id: str) -> pd.DataFrame:
    """One row per run, oldest first: when, batch, model, overall status and one column per check."""
    rows = []
    for run in reversed(list_monitor_runs(ws, project_id)):
        row = {"run": run.id, "at": run.started_at.replace("T", " "), "batch": f"{run.batch_seq} · {run.batch_label}",
               "model": run.version_label or "—", "status": run.status}
        for key, label in CHECKS.items():
            check = run.check(key)
            row[label] = check.status if check else "not-run"
        rows.append(row)
    return pd.DataFrame(rows, columns=["run", "at", "batch", "model", "status", *CHECKS.values()])


def monitoring_status(ws: Workspace, project) -> dict:
    """The project's monitoring at a glance: newest run's status and time, open alerts, batches and runs."""
    runs = list_monitor_runs(ws, project.id)
    newest = runs[0] if runs else None
    return {"status": newest.status if newest else "never run", "at": newest.started_at if newest else None,
            "batch": f"{newest.batch_seq} · {newest.batch_label}" if newest else None,
            "model": newest.version_label if newest else None, "open_alerts": len(open_alerts(ws, project.id)),
            "runs": len(runs), "batches": len(list_batches(ws, project)),
            "alerting_checks": [c.label for c in newest.checks if c.status == "alert"] if newest else []}


def alert_table(ws: Workspace, project_id: str) -> pd.DataFrame:
    """The alert log, newest first: when, batch, check, evidence, who acknowledged it."""
    rows = [{"at": a["at"].replace("T", " "), "batch": f"{a['batch_seq']} · {a['batch_label']}", "check": a["check"],
             "title": a["title"], "evidence": a["evidence"], "model": a.get("model", ""),
             "acknowledged_by": a["acknowledged_by"] or "", "note": a["note"], "id": a["id"]}
            for a in list_alerts(ws, project_id)]
    return pd.DataFrame(rows, columns=["at", "batch", "check", "title", "evidence", "model", "acknowledged_by",
                                       "note", "id"])
