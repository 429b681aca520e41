"""Monitoring requests handed to the running app server: `workbench monitor` queues, the server drains.

DuckDB lets one process open a workspace, so while the app server holds it a cron job cannot. The command then
writes a request into `WORKBENCH_HOME/monitor_queue/` and waits; the server's drainer thread (started once per
server process by pages/_services.py, core.monitor.drainer) runs it with the same code the command runs itself (`execute`) and writes the
result back. Public API:
- `execute(ws, project_ref, batch_path=None, ...) -> dict`: append the batch (if any), run the policy's checks, save
  the run, send the alerts; the result the command prints (exit_code 0 / 1 / 2). Used by both sides.
- `server_alive(home) -> dict | None`: the heartbeat of a server draining this workspace's queue, if any.
- `submit(home, project, batch_path=None, ...) -> Request`, `wait_result(home, request, timeout) -> dict`
  (raises QueueTimeout after withdrawing a request nobody took).
- `queue_status(home, policy)`: one sentence for the Monitoring page.
The server side (claim, run, answer; the in-app schedule) is core.monitor.drainer.

Files: `requests/<ns>_<request id>.json` (written under a temporary name, then renamed, so a reader never sees half a
request), `files/<request id>/<file name>` (the batch, copied before the request appears; its SHA-256 is checked
again before loading), `working/` (claimed by a rename, so exactly one side runs a request), `results/<id>.json`,
`rejected/` (garbage, with the reason), `server.json` (heartbeat). Reliability: requests with the same idempotency key
(project + batch SHA-256) that are waiting together are answered by ONE run; the run record carries the request id, so
a request a killed server left in `working/` is answered from its run when that landed, and run again otherwise
(the batch is never ingested twice: core.data.batches skips a file it already holds).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from core.data.batches import ColumnMapping, append_batch
from core.errors import WorkbenchError, WorkspaceLocked
from core.monitor.cron import parse_cron
from core.monitor.notify import deliver
from core.monitor.policy import find_run_by_request, get_policy, run_monitor
from core.project.projects import get_project
from core.store.workspace import Workspace, new_id, now_utc

log = logging.getLogger(__name__)

SCHEMA = 1
FOLDER = "monitor_queue"
POLL = 1.0                 # seconds between looks at the queue (a directory listing: cheap)
BEAT = 2.0                 # seconds between heartbeats
STALE = 20.0               # a heartbeat older than this means no server drains the queue
LOCK_WAIT = 120.0          # how long the server waits for another monitor run to finish
KEEP_RESULTS = 24 * 3600   # results nobody collected are swept after a day
REQUEST_NAME = re.compile(r"^(\d{1,20})_((?:req|sch)_[0-9a-zA-Z_]{6,80})\.json$")


class QueueTimeout(WorkspaceLocked):
    """No app server answered a monitoring request in time."""


@dataclass(frozen=True)
class Request:
    id: str
    file: Path      # where the request waits
    key: str | None


def queue_dirs(home: str | Path) -> dict[str, Path]:
    root = Path(home) / FOLDER
    return {"root": root, **{n: root / n for n in ("requests", "files", "working", "results", "rejected")}}


def ensure_dirs(home) -> dict[str, Path]:
    d = queue_dirs(home)
    for p in d.values():
        p.mkdir(parents=True, exist_ok=True)
    return d


def write_json(path: Path, data: dict) -> None:
    """Writes a JSON file so that readers see the old file, or the whole new one, never a part."""
    tmp = path.parent / f".tmp_{path.name}_{os.getpid()}_{threading.get_ident()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, default=str)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def idempotency_key(project: str, batch_sha256: str | None) -> str | None:
    """Requests with the same key waiting together are answered by one run: the same project and batch file."""
    if not batch_sha256:
        return None
    return hashlib.sha256(f"{project.strip().lower()}\0{batch_sha256}".encode()).hexdigest()


# -- the shared run --------------------------------------------------------------------------------------------------
def execute(ws: Workspace, project_ref: str, batch_path: str | Path | None = None, *, label: str | None = None,
            as_of: str | None = None, mapping: ColumnMapping | None = None, by: str = "", notify: bool = True,
            request_id: str | None = None) -> dict:
    """Appends the batch (if any), runs every check of the project's policy, saves the run and sends its alerts.

    Returns what `workbench monitor` prints. Raises: WorkbenchError (bad project, file or mapping).
    """
    project = get_project(ws, project_ref)
    appended = None
    if batch_path is not None:
        appended = append_batch(ws, project, batch_path, label=label, by=by, mapping=mapping, as_of=as_of)
    run = find_run_by_request(ws, project.id, request_id) if request_id else None
    rerun = run is None
    if run is None:
        batch = appended.batch if appended else None
        run = run_monitor(ws, project, batch, by=by, request_id=request_id)
    sent = deliver(ws, run, get_policy(ws, project.id).channels, project.name) if notify and rerun else []
    return {"run_id": run.id, "status": run.status, "exit_code": run.exit_code, "project": project.name,
            "batch": run.batch_seq, "batch_label": run.batch_label, "model": run.version_label,
            "ingested": bool(appended and not appended.already_loaded),
            "already_loaded": bool(appended and appended.already_loaded),
            "checks": [{"check": c.key, "label": c.label, "status": c.status, "evidence": c.evidence}
                       for c in run.checks],
            "alerts": [a["id"] for a in run.alerts],
            "notifications": [{"channel": s["channel"]["name"], "ok": s["ok"], "attempts": len(s["attempts"])}
                              for s in sent]}


# -- the command's side ----------------------------------------------------------------------------------------------
def server_alive(home: str | Path) -> dict | None:
    """Returns the heartbeat of the app server draining this workspace's queue, or None when none is."""
    try:
        beat = json.loads((queue_dirs(home)["root"] / "server.json").read_text(encoding="utf-8"))
        age = time.time() - float(beat["beat"])
        pid = int(beat["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if age > STALE or beat.get("stopped"):
        return None
    if beat.get("host") == socket.gethostname():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None  # killed without a word: its heartbeat file stayed behind
        except PermissionError:
            pass  # alive, someone else's
    return beat


def submit(home: str | Path, project: str, batch_path: str | Path | None = None, *, label: str | None = None,
           as_of: str | None = None, mapping: ColumnMapping | None = None, by: str = "", notify: bool = True,
           wait: float = 600.0) -> Request:
    """Queues a monitoring request: copies the batch into the queue first, then writes the request in one rename."""
    from core.errors import FileRefused

    d = ensure_dirs(home)
    rid = new_id("req")
    batch = None
    if batch_path is not None:
        src = Path(batch_path)
        if not src.is_file():
            raise FileRefused(f"There is no file at {str(src)!r}. Check the path.")
        folder = d["files"] / rid
        folder.mkdir()
        dest = folder / _safe_name(src.name)
        digest = hashlib.sha256()
        with open(src, "rb") as fin, open(dest, "wb") as fout:
            while chunk := fin.read(1 << 20):
                digest.update(chunk)
                fout.write(chunk)
            fout.flush()
            os.fsync(fout.fileno())
        batch = {"file": f"files/{rid}/{dest.name}", "name": src.name, "sha256": digest.hexdigest()}
    key = idempotency_key(project, batch and batch["sha256"])
    payload = {"schema": SCHEMA, "request_id": rid, "key": key, "project": str(project), "batch": batch,
               "label": label, "as_of": as_of, "mapping": (mapping or ColumnMapping()).to_dict(),
               "by": str(by or "")[:80], "notify": bool(notify),
               "submitted_at": now_utc().isoformat(timespec="seconds"), "deadline": time.time() + max(0.0, wait),
               "pid": os.getpid(), "host": socket.gethostname()}
    path = d["requests"] / f"{time.time_ns()}_{rid}.json"
    write_json(path, payload)
    return Request(rid, path, key)


def wait_result(home: str | Path, request: Request, timeout: float, poll: float = 0.25,
                shown: float | None = None) -> dict:
    """Waits for the server's answer; withdraws the request when nobody took it in time.

    Raises: QueueTimeout (nobody took it: nothing ran; or the server took it and has not finished).
    """
    d = queue_dirs(home)
    result = d["results"] / f"{request.id}.json"
    deadline = time.monotonic() + max(0.0, timeout)
    try:
        while True:
            if result.is_file():
                return _collect(d, request, result)
            if time.monotonic() >= deadline:
                break
            time.sleep(poll)
    except BaseException:  # Ctrl-C: take the request back if it has not started, so nothing runs behind our back
        _withdraw(d, request)
        raise
    if _withdraw(d, request):
        server = server_alive(home)
        said = f"{shown if shown is not None else timeout:g}"
        if server:
            raise QueueTimeout(
                f"The app server (pid {server['pid']}) holds the workspace but did not take the monitoring request "
                f"within {said} s (another monitoring run may still be going). Nothing was run or loaded. Run the "
                "command again with a longer --wait, or run the checks from the Monitoring page.")
        raise QueueTimeout(
            f"The workspace is held by another program and the monitoring request was not taken within {said} s: "
            "no app server is draining the queue (none is running, or it is older than this version). Nothing was "
            "run or loaded. Stop the program holding the workspace and run the command again, or restart the app "
            "server and open it once in a browser, so it runs queued checks.")
    if result.is_file():
        return _collect(d, request, result)
    raise QueueTimeout(
        f"The app server started this monitoring run (request {request.id}) but it did not finish within "
        f"{shown if shown is not None else timeout:g} s. It will still complete and appear on the Monitoring page; run the command again with a "
        "longer --wait to read its result.")


def _collect(d: dict, request: Request, result: Path) -> dict:
    data = json.loads(result.read_text(encoding="utf-8"))
    result.unlink(missing_ok=True)
    shutil.rmtree(d["files"] / request.id, ignore_errors=True)
    return data


def _withdraw(d: dict, request: Request) -> bool:
    """Takes a request back; False when the server had claimed it already (then it runs to the end)."""
    try:
        request.file.unlink()
    except FileNotFoundError:
        return False
    shutil.rmtree(d["files"] / request.id, ignore_errors=True)
    return True


def queue_status(home: str | Path, policy=None, now: datetime | None = None) -> str:
    """One sentence for the Monitoring page: is a server taking `workbench monitor` runs, and the in-app schedule."""
    d = queue_dirs(home)
    waiting = len([p for p in d["requests"].glob("*.json")]) if d["requests"].is_dir() else 0
    server = server_alive(home)
    text = ("This app server runs `workbench monitor` commands (cron, systemd) for this workspace while it holds it"
            if server else "No app server is taking queued `workbench monitor` runs right now")
    text += f"; {waiting} waiting." if waiting else "."
    if policy is not None and policy.run_in_app:
        try:
            nxt = parse_cron(policy.schedule).next_after(now or datetime.now())
            text += f" Scheduled in the app ({policy.schedule}): next run {nxt:%Y-%m-%d %H:%M} server time."
        except WorkbenchError:
            pass
    return text


def _safe_name(name: str) -> str:
    """The batch's file name for its copy in the queue: letters, digits, dot, dash and underscore only."""
    clean = re.sub(r"[^A-Za-z0-9._-]", "_", Path(name).name).lstrip(".")[:120]
    return clean or "batch.csv"


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
