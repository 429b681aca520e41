"""Monitoring requests handed to the running app server: `workbench monitor` queues, the server drains.

DuckDB lets one process open a workspace, so while the app server holds it a cron job cannot. The command then
writes a request into `WORKBENCH_HOME/monitor_queue/` and waits; the server's drainer thread (started once per
server process by pages/_services.py) runs it with the same code the command runs itself (`execute`) and writes the
result back. Public API:
- `execute(ws, project_ref, batch_path=None, ...) -> dict`: append the batch (if any), run the policy's checks, save
  the run, send the alerts; the result the command prints (exit_code 0 / 1 / 2). Used by both sides.
- `server_alive(home) -> dict | None`: the heartbeat of a server draining this workspace's queue, if any.
- `submit(home, project, batch_path=None, ...) -> Request`, `wait_result(home, request, timeout) -> dict`
  (raises QueueTimeout after withdrawing a request nobody took).
- `Drainer(ws)`: the server side, `drain_once()` (tests) and `start()` (a daemon thread; `start_drainer(ws)` starts
  one per workspace per process). It also runs the policies scheduled in the app (core.monitor.schedule).

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

from core.data.batches import ColumnMapping, append_batch, get_batch
from core.errors import WorkbenchError, WorkspaceLocked
from core.monitor.cron import parse_cron
from core.monitor.notify import deliver
from core.monitor.policy import find_run_by_request, get_policy, monitor_lock, run_monitor
from core.project.projects import get_project, list_projects
from core.store.workspace import Workspace, new_id, now_utc

log = logging.getLogger(__name__)

SCHEMA = 1
FOLDER = "monitor_queue"
POLL = 1.0                 # seconds between looks at the queue (a directory listing: cheap)
BEAT = 2.0                 # seconds between heartbeats
STALE = 20.0               # a heartbeat older than this means no server drains the queue
LOCK_WAIT = 120.0          # how long the server waits for another monitor run to finish
KEEP_RESULTS = 24 * 3600   # results nobody collected are swept after a day
_NAME = re.compile(r"^(\d{1,20})_((?:req|sch)_[0-9a-zA-Z_]{6,80})\.json$")


class QueueTimeout(WorkspaceLocked):
    """No app server answered a monitoring request in time."""


@dataclass(frozen=True)
class Request:
    id: str
    file: Path      # where the request waits
    key: str | None


def _dirs(home: str | Path) -> dict[str, Path]:
    root = Path(home) / FOLDER
    return {"root": root, **{n: root / n for n in ("requests", "files", "working", "results", "rejected")}}


def _ensure(home) -> dict[str, Path]:
    d = _dirs(home)
    for p in d.values():
        p.mkdir(parents=True, exist_ok=True)
    return d


def _write_json(path: Path, data: dict) -> None:
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
        beat = json.loads((_dirs(home)["root"] / "server.json").read_text(encoding="utf-8"))
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

    d = _ensure(home)
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
    _write_json(path, payload)
    return Request(rid, path, key)


def wait_result(home: str | Path, request: Request, timeout: float, poll: float = 0.25,
                shown: float | None = None) -> dict:
    """Waits for the server's answer; withdraws the request when nobody took it in time.

    Raises: QueueTimeout (nobody took it: nothing ran; or the server took it and has not finished).
    """
    d = _dirs(home)
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
    d = _dirs(home)
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


# -- the server's side -----------------------------------------------------------------------------------------------
class Drainer:
    """Drains one workspace's queue: claim a request, run it (`execute`), write its result."""

    def __init__(self, ws: Workspace, schedule: bool = True):
        self.ws, self.home = ws, Path(ws.home)
        self.schedule = schedule
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._slots: set[str] = set()
        self._last_minute: datetime | None = None
        self.started_at = now_utc().isoformat(timespec="seconds")

    # lifecycle
    def start(self) -> "Drainer":
        self.requeue_leftovers()
        self.beat()
        for target, name in ((self._beat_loop, "workbench-monitor-heartbeat"), (self._loop, "workbench-monitor-queue")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def requeue_leftovers(self) -> int:
        """Puts back the requests a server killed mid-run left in working/ (one server per workspace: it is dead)."""
        d = _ensure(self.home)
        moved = 0
        for leftover in sorted(d["working"].glob("*.json")):
            try:
                os.replace(leftover, d["requests"] / leftover.name)
                moved += 1
            except OSError:
                log.exception("Could not requeue %s", leftover)
        return moved

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(5)
        try:
            _write_json(_dirs(self.home)["root"] / "server.json", {"pid": os.getpid(), "host": socket.gethostname(),
                                                                  "beat": time.time(), "stopped": True})
        except OSError:
            pass

    def beat(self) -> None:
        _write_json(_dirs(self.home)["root"] / "server.json",
                    {"pid": os.getpid(), "host": socket.gethostname(), "beat": time.time(),
                     "started_at": self.started_at})

    def _alive(self) -> bool:
        return not self._stop.is_set() and self.home.is_dir()

    def _beat_loop(self) -> None:
        while self._alive():
            try:
                self.beat()
            except OSError:
                log.exception("The monitoring queue heartbeat could not be written")
            self._stop.wait(BEAT)

    def _loop(self) -> None:
        last_sweep = 0.0
        while self._alive():
            try:
                self.drain_once()
                if self.schedule:
                    self.run_schedules()
                if time.time() - last_sweep > 600:
                    self.sweep()
                    last_sweep = time.time()
            except Exception:  # noqa: BLE001 — the drainer must outlive any one bad request or a full disk
                log.exception("The monitoring queue could not be drained")
            self._stop.wait(POLL)

    # work
    def pending(self) -> list[Path]:
        return sorted(p for p in _dirs(self.home)["requests"].glob("*.json") if not p.name.startswith("."))

    def drain_once(self) -> int:
        """Runs every waiting request once; returns how many requests were answered."""
        d = _ensure(self.home)
        answered = 0
        for path in self.pending():
            if not path.exists():
                continue
            claimed = self._claim(d, path)
            if claimed is None:
                continue
            req = self._parse(d, claimed)
            if req is None:
                answered += 1
                continue
            group = [(claimed, req)]
            if req["key"]:  # the same batch queued twice while waiting: one run answers both
                for other in self.pending():
                    twin = self._peek(other)
                    if twin and twin.get("key") == req["key"] and (c := self._claim(d, other)) is not None:
                        if (parsed := self._parse(d, c)) is not None:
                            group.append((c, parsed))
            result = self._run(d, req)
            for c, r in group:
                _write_json(d["results"] / f"{r['request_id']}.json",
                            {**result, "request_id": r["request_id"],
                             "joined": None if r is req else req["request_id"]})
                c.unlink(missing_ok=True)
                if r is not req:
                    shutil.rmtree(d["files"] / r["request_id"], ignore_errors=True)
                answered += 1
        return answered

    def _claim(self, d: dict, path: Path) -> Path | None:
        target = d["working"] / path.name
        try:
            os.replace(path, target)
        except FileNotFoundError:
            return None  # withdrawn by its command, or claimed already
        return target

    @staticmethod
    def _peek(path: Path) -> dict | None:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _parse(self, d: dict, path: Path) -> dict | None:
        """Returns a checked request, or answers and sets aside a garbage or expired one (None)."""
        m = _NAME.match(path.name)
        rid = m.group(2) if m else None
        try:
            req = json.loads(path.read_text(encoding="utf-8"))
            why = _invalid(req, rid, d)
        except (OSError, ValueError) as err:
            req, why = None, f"not a readable request ({type(err).__name__})"
        if why is None and float(req["deadline"]) < time.time():
            self._answer_error(d, rid, "The command that sent this request stopped waiting before it was taken, "
                                       "so it was not run.", expired=True)
            path.unlink(missing_ok=True)
            shutil.rmtree(d["files"] / rid, ignore_errors=True)
            return None
        if why is None:
            return req
        log.warning("Monitoring request %s set aside: %s", path.name, why)
        try:
            os.replace(path, d["rejected"] / path.name)
            (d["rejected"] / f"{path.name}.why").write_text(why + "\n", encoding="utf-8")
        except OSError:
            path.unlink(missing_ok=True)
        if rid:
            self._answer_error(d, rid, f"The monitoring request could not be read ({why}); nothing was run. Run the "
                                       "command again.")
            shutil.rmtree(d["files"] / rid, ignore_errors=True)
        return None

    def _answer_error(self, d: dict, rid: str | None, message: str, expired: bool = False) -> None:
        if rid:
            _write_json(d["results"] / f"{rid}.json", {"request_id": rid, "exit_code": 2, "status": "error",
                                                       "error": message, "expired": expired})

    def _run(self, d: dict, req: dict) -> dict:
        batch = req.get("batch")
        path = d["root"] / batch["file"] if batch else None
        ran_by = {"ran_by": "app server", "server_pid": os.getpid()}
        try:
            if path is not None and _sha256(path) != batch["sha256"]:
                raise WorkbenchError("The batch file in the queue is not the file that was sent (its SHA-256 "
                                     "differs); nothing was loaded. Run the command again.")
            with monitor_lock(self.home, LOCK_WAIT):
                out = execute(self.ws, req["project"], path, label=req.get("label"), as_of=req.get("as_of"),
                              mapping=ColumnMapping.from_dict(req.get("mapping")), by=req.get("by") or "",
                              notify=bool(req.get("notify", True)), request_id=req["request_id"])
            return {**out, **ran_by, "error": None}
        except WorkbenchError as err:
            return {"exit_code": 2, "status": "error", "error": str(err), **ran_by}
        except Exception as err:  # noqa: BLE001 — an error result (exit 2), logged; never an alert, never a hang
            log.exception("Monitoring request %s failed", req.get("request_id"))
            return {"exit_code": 2, "status": "error", **ran_by,
                    "error": f"The monitoring run failed unexpectedly ({type(err).__name__}: {err})."}
        finally:
            if path is not None:
                shutil.rmtree(path.parent, ignore_errors=True)

    def run_schedules(self, now: datetime | None = None) -> list[str]:
        """Runs the policies scheduled in the app whose cron slot is this minute (server local time), once each."""
        now = (now or datetime.now()).replace(second=0, microsecond=0)
        if now == self._last_minute:
            return []  # the queue is polled every second; the schedule has minutes
        self._last_minute = now
        done = []
        for project in list_projects(self.ws):
            policy = get_policy(self.ws, project.id)
            if not policy.run_in_app:
                continue
            try:
                if not parse_cron(policy.schedule).matches(now):
                    continue
            except WorkbenchError:
                continue
            slot = f"sch_{project.id}_{now:%Y%m%d%H%M}"
            if slot in self._slots or find_run_by_request(self.ws, project.id, slot):
                continue
            self._slots.add(slot)
            try:
                with monitor_lock(self.home, LOCK_WAIT):
                    execute(self.ws, project.id, by="schedule (app server)", request_id=slot)
                done.append(slot)
            except WorkbenchError as err:
                log.warning("The scheduled monitoring run of %s failed: %s", project.name, err)
        return done

    def sweep(self, max_age: float = KEEP_RESULTS) -> None:
        """Removes results nobody collected, staged files whose request is gone, and stray temporary files."""
        d = _dirs(self.home)
        cutoff = time.time() - max_age
        live = {(_NAME.match(p.name) or [None, None, None])[2] for p in
                [*d["requests"].glob("*.json"), *d["working"].glob("*.json")]}
        for p in [*d["results"].iterdir(), *d["rejected"].iterdir(), *d["requests"].glob(".tmp_*")]:
            try:
                if p.stat().st_mtime < cutoff or (p.name.startswith(".tmp_") and p.stat().st_mtime < time.time() - 3600):
                    p.unlink()
            except OSError:
                pass
        for folder in d["files"].iterdir():
            try:
                if folder.name not in live and folder.stat().st_mtime < time.time() - 3600:
                    shutil.rmtree(folder, ignore_errors=True)
            except OSError:
                pass


def _invalid(req, rid: str | None, d: dict) -> str | None:
    """Why a request cannot be run, or None."""
    if rid is None:
        return "its file name is not a request's"
    if not isinstance(req, dict) or req.get("schema") != SCHEMA:
        return "not a monitoring request of this version"
    if req.get("request_id") != rid:
        return "its id does not match its file name"
    if not isinstance(req.get("project"), str) or not req["project"].strip() or len(req["project"]) > 200:
        return "no project named"
    try:
        float(req.get("deadline"))
    except (TypeError, ValueError):
        return "no deadline"
    batch = req.get("batch")
    if batch is not None:
        if not isinstance(batch, dict) or not all(isinstance(batch.get(k), str) for k in ("file", "name", "sha256")):
            return "its batch is not described"
        where = (d["root"] / batch["file"]).resolve()
        if where.parent != (d["files"] / rid).resolve() or not where.is_file():
            return "its batch file is not in the queue"  # never load a file from anywhere else on disk
    return None


def _safe_name(name: str) -> str:
    """The batch's file name for its copy in the queue: letters, digits, dot, dash and underscore only."""
    clean = re.sub(r"[^A-Za-z0-9._-]", "_", Path(name).name).lstrip(".")[:120]
    return clean or "batch.csv"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


_DRAINERS: dict[Path, Drainer] = {}
_DRAINERS_LOCK = threading.Lock()


def start_drainer(ws: Workspace, schedule: bool = True) -> Drainer:
    """Starts the workspace's drainer in this process, once."""
    key = Path(ws.home).resolve()
    with _DRAINERS_LOCK:
        drainer = _DRAINERS.get(key)
        if drainer is None or not any(t.is_alive() for t in drainer._threads):
            drainer = _DRAINERS[key] = Drainer(ws, schedule=schedule).start()
    return drainer
