"""CLI: `workbench monitor PROJECT [--batch FILE]` runs the monitoring policy headless (cron, systemd, Airflow).

Exit codes: 0 healthy, 1 alert, 2 error (a check failed to run, the workspace is busy, bad input).
"""

from __future__ import annotations

import getpass
import sys
import time

from core.commands import workspace_for
from core.errors import WorkbenchError, WorkspaceLocked


def register(sub) -> None:
    p = sub.add_parser("monitor", help="ingest a new batch (optional) and run the project's monitoring checks; "
                                       "exit 0 healthy, 1 alert, 2 error")
    p.add_argument("project", help="project id or name")
    p.add_argument("--batch", help="a CSV or Parquet file to append as the project's next batch first")
    p.add_argument("--label", help="batch label, e.g. 2026-03 (default: the file name)")
    p.add_argument("--as-of", help="the day the batch describes, YYYY-MM-DD (default: today)")
    p.add_argument("--wait", type=float, default=0.0,
                   help="seconds to wait when another monitor run (or program) holds the workspace")
    p.add_argument("--no-notify", action="store_true", help="do not send the alert notifications")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=monitor)

    p = sub.add_parser("alerts", help="list a project's alert log, or acknowledge an alert")
    p.add_argument("project")
    p.add_argument("--ack", metavar="ALERT_ID", help="acknowledge this alert")
    p.add_argument("--by", help="who acknowledges (default: the login name)")
    p.add_argument("--note", default="")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=alerts)


def _open(args, wait: float):
    deadline = time.monotonic() + wait
    while True:
        try:
            return workspace_for(args, seed_samples=False)
        except WorkspaceLocked:
            if time.monotonic() >= deadline:
                raise WorkspaceLocked("The workspace is busy: another program (the app server, or another monitor "
                                      "run) has it open. Run the check from the Monitoring page, stop that program, "
                                      "or pass --wait SECONDS.") from None
            time.sleep(0.5)


def monitor(args):
    from core.commands.data import append_from_args
    from core.monitor.notify import deliver
    from core.monitor.policy import get_policy, monitor_lock, run_monitor
    from core.project.projects import get_project
    from core.store.workspace import default_home

    home = args.home or default_home()
    try:
        with monitor_lock(home, args.wait):
            ws = _open(args, args.wait)
            project = get_project(ws, args.project)
            appended = None
            if args.batch:
                appended = append_from_args(ws, project, args.batch, args)
            batch = appended.batch if appended else None
            run = run_monitor(ws, project, batch, by=getpass.getuser())
            sent = [] if args.no_notify else deliver(ws, run, get_policy(ws, project.id).channels, project.name)
    except WorkbenchError:
        raise
    except Exception as err:  # cron reads the exit code: an unexpected failure is an error (2), never an alert (1)
        print(f"error: the monitoring run failed unexpectedly ({type(err).__name__}: {err})", file=sys.stderr)
        raise SystemExit(2) from None
    out = {"run_id": run.id, "status": run.status, "exit_code": run.exit_code, "batch": run.batch_seq,
           "batch_label": run.batch_label, "model": run.version_label,
           "ingested": bool(appended and not appended.already_loaded),
           "checks": [{"check": c.key, "status": c.status, "evidence": c.evidence} for c in run.checks],
           "alerts": [a["id"] for a in run.alerts],
           "notifications": [{"channel": s["channel"]["name"], "ok": s["ok"], "attempts": len(s["attempts"])}
                             for s in sent]}
    if args.json:
        import json

        print(json.dumps(out, default=str, indent=2))
    else:
        lines = [f"{project.name} · batch {run.batch_seq} ({run.batch_label}) · {run.status.upper()}"
                 + (f" · model {run.version_label}" if run.version_label else "")]
        if appended is not None:
            lines.append(f"  batch: {'already loaded, not ingested twice' if appended.already_loaded else 'ingested'}")
        lines += [f"  {c.status:<8} {c.label}: {c.evidence}" for c in run.checks]
        lines += [f"  notified {s['channel']['name']}: {'ok' if s['ok'] else 'FAILED'}" for s in sent]
        print("\n".join(lines))
    if run.exit_code:
        raise SystemExit(run.exit_code)
    return None


def alerts(args):
    from core.monitor.alertlog import acknowledge_alert, list_alerts
    from core.project.projects import get_project

    ws = workspace_for(args, seed_samples=False)
    project = get_project(ws, args.project)
    if args.ack:
        acknowledge_alert(ws, project.id, args.ack, args.by or getpass.getuser(), args.note)
    rows = list_alerts(ws, project.id)
    if args.json:
        return rows
    if not rows:
        return "No alerts yet."
    return "\n".join(f"{a['at']}  batch {a['batch_seq']}  {a['title']}  "
                     f"[{'ack ' + a['acknowledged_by'] if a['acknowledged_by'] else 'OPEN'}]  {a['id']}" for a in rows)
