"""The alert log: every alert a monitoring run raised (what fired, its evidence, the batch) and who acknowledged it.

Alerts live inside their monitoring run (one record, so a run and its alerts land together); an acknowledgement is
record "alert_ack" (id "ack_<alert id>", append-only: acknowledged once, by one person, with a note).
`list_alerts(ws, project_id)` newest first, `open_alerts(ws, project_id)`, `acknowledge_alert(ws, project_id,
alert_id, by, note="")`.
"""

from __future__ import annotations

import re

from core.errors import NameInvalid, NotFound, SpecInvalid
from core.monitor.policy import list_monitor_runs
from core.store.workspace import Workspace, now_utc

ACK = "alert_ack"


def _ack_id(alert_id: str) -> str:
    return "ack_" + re.sub(r"[^A-Za-z0-9_:]", "_", alert_id)[:120]


def list_alerts(ws: Workspace, project_id: str) -> list[dict]:
    """Returns every alert of the project, newest first, each with `acknowledged_by`, `acknowledged_at`, `note`."""
    acks = {r["alert_id"]: r for r in ws.list_records(ACK, project_id=project_id)}
    out = []
    for run in list_monitor_runs(ws, project_id):
        for a in run.alerts:
            ack = acks.get(a["id"])
            out.append({**a, "run_id": run.id, "model": run.version_label,
                        "acknowledged_by": ack["by"] if ack else None, "acknowledged_at": ack["at"] if ack else None,
                        "note": ack.get("note", "") if ack else ""})
    return out


def open_alerts(ws: Workspace, project_id: str) -> list[dict]:
    """Returns the alerts nobody has acknowledged yet, newest first."""
    return [a for a in list_alerts(ws, project_id) if not a["acknowledged_by"]]


def acknowledge_alert(ws: Workspace, project_id: str, alert_id: str, by: str, note: str = "") -> dict:
    """Records who acknowledged an alert. Raises: NotFound, SpecInvalid (no name, already acknowledged)."""
    ws.require_editor()
    by = " ".join("".join(ch for ch in str(by or "") if ch.isprintable()).split())[:80]
    if not by:
        raise SpecInvalid("Type your name to acknowledge the alert, so the log says who looked at it.")
    alert = next((a for a in list_alerts(ws, project_id) if a["id"] == alert_id), None)
    if alert is None:
        raise NotFound(f"There is no alert {alert_id!r} in this project's log.")
    if alert["acknowledged_by"]:
        raise SpecInvalid(f"This alert was already acknowledged by {alert['acknowledged_by']} at "
                          f"{alert['acknowledged_at']}.")
    payload = {"alert_id": alert_id, "by": by, "at": now_utc().isoformat(timespec="seconds"),
               "note": " ".join(str(note or "").split())[:500]}
    try:
        return ws.append_record(ACK, _ack_id(alert_id), payload, project_id=project_id)
    except NameInvalid:
        raise SpecInvalid("Someone acknowledged this alert at the same moment; reload to see who.") from None
