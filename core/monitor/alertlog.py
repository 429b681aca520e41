"""The alert log: every alert a monitoring run raised (what fired, its evidence, the batch), and how it was closed.

Alerts live inside their monitoring run (one record, so a run and its alerts land together). An alert is closed in
one of two ways, and stays in the log either way (nothing is ever deleted):
- acknowledged: record "alert_ack" (id "ack_<alert id>", append-only: acknowledged once, by one person, with a note);
- superseded: the model it was about stopped being the champion (a promotion or a rollback in the registry ledger
  after the run). The ledger entry is the record: its who and when are the closure's, its version names the new
  champion ("superseded by v2's promotion"). Derived at read time from the two append-only logs, so workspaces
  saved before this rule read the same way. An alert raised while no model was champion is superseded by the first
  promotion after it.
`list_alerts(ws, project_id)` newest first, each with `state` ("open" | "acknowledged" | "superseded") and
`closed_by`, `closed_at`, `closed_why`; `open_alerts(ws, project_id)`; `acknowledge_alert(ws, project_id, alert_id,
by, note="")`.
"""

from __future__ import annotations

import re

from core.errors import NameInvalid, NotFound, SpecInvalid
from core.monitor.policy import MonitorRun, list_monitor_runs
from core.registry.versions import LedgerEntry, ledger
from core.store.workspace import Workspace, now_utc

ACK = "alert_ack"
OPEN, ACKNOWLEDGED, SUPERSEDED = "open", "acknowledged", "superseded"
_CHANGES_CHAMPION = ("promote", "rollback")


def _ack_id(alert_id: str) -> str:
    return "ack_" + re.sub(r"[^A-Za-z0-9_:]", "_", alert_id)[:120]


def superseding_entry(run: MonitorRun, entries: list[LedgerEntry]) -> LedgerEntry | None:
    """The first ledger entry after `run` that made another version champion, or None while its model still serves.

    "After" is by the ledger position the run recorded; runs saved before it was kept compare times (an entry in the
    same second as the run counts as after: the run read the champion before the change, else it would name the
    new one)."""
    for e in entries:
        if e.action not in _CHANGES_CHAMPION:
            continue
        later = e.seq > run.ledger_seq if run.ledger_seq is not None else str(e.at) >= run.started_at[:19]
        if later and (e.champion_after or e.version_id) != run.version_id:
            return e
    return None


def _why(e: LedgerEntry) -> str:
    return (f"superseded by v{e.version_number}'s promotion" if e.action == "promote"
            else f"superseded by the rollback to v{e.version_number}")


def list_alerts(ws: Workspace, project_id: str) -> list[dict]:
    """Returns every alert of the project, newest first, with how it stands.

    Each alert dict has its run's fields plus `run_id`, `model`, `version_id`, `state`, `closed_by`, `closed_at`,
    `closed_why` (the first closure: an acknowledgement or a supersession, whichever came first) and
    `acknowledged_by`, `acknowledged_at`, `note` (the acknowledgement, also when it came after the supersession).
    """
    acks = {r["alert_id"]: r for r in ws.list_records(ACK, project_id=project_id)}
    entries = ledger(ws, project_id)
    out = []
    for run in list_monitor_runs(ws, project_id):
        gone = superseding_entry(run, entries)
        for a in run.alerts:
            ack = acks.get(a["id"])
            closures = []
            if ack:
                closures.append((str(ack["at"]), ACKNOWLEDGED, ack["by"], "acknowledged"))
            if gone is not None:
                closures.append((str(gone.at), SUPERSEDED, gone.by, _why(gone)))
            first = min(closures) if closures else None
            out.append({**a, "run_id": run.id, "model": run.version_label, "version_id": run.version_id,
                        "state": first[1] if first else OPEN, "closed_at": first[0] if first else None,
                        "closed_by": first[2] if first else None, "closed_why": first[3] if first else "",
                        "acknowledged_by": ack["by"] if ack else None, "acknowledged_at": ack["at"] if ack else None,
                        "note": ack.get("note", "") if ack else ""})
    return out


def open_alerts(ws: Workspace, project_id: str) -> list[dict]:
    """Returns the alerts still open: nobody acknowledged them and the model they are about is still champion."""
    return [a for a in list_alerts(ws, project_id) if a["state"] == OPEN]


def acknowledge_alert(ws: Workspace, project_id: str, alert_id: str, by: str, note: str = "") -> dict:
    """Records who acknowledged an alert.

    Raises: NotFound, SpecInvalid (no name, already acknowledged, or closed when its model stopped being champion).
    """
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
    if alert["state"] == SUPERSEDED:
        raise SpecInvalid(f"This alert about {alert['model'] or 'no model'} is already closed: "
                          f"{alert['closed_why']} ({alert['closed_by']}, {alert['closed_at']}). It stays in the log; "
                          "there is nothing left to acknowledge.")
    payload = {"alert_id": alert_id, "by": by, "at": now_utc().isoformat(timespec="seconds"),
               "note": " ".join(str(note or "").split())[:500]}
    try:
        return ws.append_record(ACK, _ack_id(alert_id), payload, project_id=project_id)
    except NameInvalid:
        raise SpecInvalid("Someone acknowledged this alert at the same moment; reload to see who.") from None
