"""CLI: `workbench monitor PROJECT [--batch FILE]` runs the monitoring policy headless (cron, systemd, Airflow).

Exit codes: 0 healthy, 1 alert, 2 error (a check failed to run, the workspace is busy, bad input). While the app
server holds the workspace, the command queues the run for the server (core.monitor.queue), waits for its result
(--wait) and exits with its code.
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
    p.add_argument("--wait", type=float, default=600.0,
                   help="seconds to wait for the workspace: behind another monitor run, or for the running app "
                        "server to run the checks (default 600)")
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


def monitor(args):
    """Runs the checks here, or hands them to the app server when it holds the workspace (core.monitor.queue)."""
    from core.data.batches import ColumnMapping
    from core.monitor.queue import execute, server_alive, submit, wait_result
    from core.monitor.policy import monitor_lock
    from core.store.workspace import default_home

    home = args.home or default_home()
    by = getattr(args, "by", None) or getpass.getuser()
    deadline = time.monotonic() + max(0.0, args.wait)
    out = None
    try:
        while out is None:
            if server_alive(home):
                request = submit(home, args.project, args.batch, label=args.label, as_of=args.as_of,
                                 mapping=ColumnMapping(), by=by, notify=not args.no_notify,
                                 wait=max(1.0, deadline - time.monotonic()))
                out = wait_result(home, request, max(1.0, deadline - time.monotonic()), shown=args.wait)
                break
            with monitor_lock(home, max(0.0, deadline - time.monotonic())):
                try:
                    ws = workspace_for(args, seed_samples=False)
                except WorkspaceLocked:
                    ws = None  # held by another program; if it is the app server, its heartbeat appears shortly
                if ws is not None:
                    out = execute(ws, args.project, args.batch, label=args.label, as_of=args.as_of, by=by,
                                  notify=not args.no_notify)
                    out["ran_by"] = "this command"
                    break
            if time.monotonic() >= deadline:
                raise WorkspaceLocked("The workspace is busy: another program (a DuckDB tool, or a Workbench server "
                                      "too old to take queued checks) has it open. Stop that program, or pass a "
                                      "longer --wait SECONDS.")
            time.sleep(0.5)
    except WorkbenchError:
        raise
    except Exception as err:  # cron reads the exit code: an unexpected failure is an error (2), never an alert (1)
        print(f"error: the monitoring run failed unexpectedly ({type(err).__name__}: {err})", file=sys.stderr)
        raise SystemExit(2) from None
    if out.get("error"):
        print(f"error: {out['error']}", file=sys.stderr)
        raise SystemExit(2)
    if args.json:
        import json

        print(json.dumps(out, default=str, indent=2))
    else:
        lines = [f"{out['project']} · batch {out['batch']} ({out['batch_label']}) · {out['status'].upper()}"
                 + (f" · model {out['model']}" if out["model"] else "")
                 + (" · run by the app server" if out.get("ran_by") == "app server" else "")]
        if args.batch:
            lines.append(f"  batch: {'already loaded, not ingested twice' if out['already_loaded'] else 'ingested'}")
        lines += [f"  {c['status']:<8} {c['label']}: {c['evidence']}" for c in out["checks"]]
        lines += [f"  notified {s['channel']}: {'ok' if s['ok'] else 'FAILED'}" for s in out["notifications"]]
        print("\n".join(lines))
    if out["exit_code"]:
        raise SystemExit(out["exit_code"])
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
                     f"[{'OPEN' if a['state'] == 'open' else a['closed_why'] + ' by ' + str(a['closed_by'])}]  "
                     f"{a['id']}" for a in rows)
