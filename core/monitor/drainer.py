"""The server side of the monitoring queue (core.monitor.queue): claim each request, run it, write its result.

`Drainer(ws)`: `drain_once()` (tests), `start()` (a heartbeat thread and a drain thread, daemons), `stop()`,
`requeue_leftovers()` (requests a killed server left in working/), `run_schedules(now)` (policies with `run_in_app`
whose cron slot is this minute, once per slot: the run's request id names the slot), `sweep()`.
`start_drainer(ws)` starts one per workspace per process (pages/_services.py calls it from the router).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import threading
import time
from datetime import datetime
from pathlib import Path

from core.data.batches import ColumnMapping
from core.errors import WorkbenchError
from core.monitor.cron import parse_cron
from core.monitor.policy import find_run_by_request, get_policy, monitor_lock
from core.monitor.queue import (BEAT, KEEP_RESULTS, LOCK_WAIT, POLL, REQUEST_NAME, SCHEMA, ensure_dirs, execute,
                                file_sha256, queue_dirs, write_json)
from core.project.projects import get_project, list_projects
from core.store.workspace import Workspace, now_utc

log = logging.getLogger(__name__)


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
        d = ensure_dirs(self.home)
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
            write_json(queue_dirs(self.home)["root"] / "server.json", {"pid": os.getpid(), "host": socket.gethostname(),
                                                                  "beat": time.time(), "stopped": True})
        except OSError:
            pass

    def beat(self) -> None:
        write_json(queue_dirs(self.home)["root"] / "server.json",
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
        return sorted(p for p in queue_dirs(self.home)["requests"].glob("*.json") if not p.name.startswith("."))

    def drain_once(self) -> int:
        """Runs every waiting request once; returns how many requests were answered."""
        d = ensure_dirs(self.home)
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
                write_json(d["results"] / f"{r['request_id']}.json",
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
        m = REQUEST_NAME.match(path.name)
        rid = m.group(2) if m else None
        try:
            req = json.loads(path.read_text(encoding="utf-8"))
            why = _invalid(req, rid, d)
        except (OSError, ValueError) as err:
            req, why = None, f"not a readable request ({type(err).__name__})"
        if why is None and float(req["deadline"]) < time.time() and not self._landed(req):
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

    def _landed(self, req: dict) -> bool:
        """True when a run answering this request was saved (by a server killed before it wrote the result)."""
        try:
            return find_run_by_request(self.ws, get_project(self.ws, req["project"]).id, req["request_id"]) is not None
        except WorkbenchError:
            return False

    def _answer_error(self, d: dict, rid: str | None, message: str, expired: bool = False) -> None:
        if rid:
            write_json(d["results"] / f"{rid}.json", {"request_id": rid, "exit_code": 2, "status": "error",
                                                       "error": message, "expired": expired})

    def _run(self, d: dict, req: dict) -> dict:
        batch = req.get("batch")
        path = d["root"] / batch["file"] if batch else None
        ran_by = {"ran_by": "app server", "server_pid": os.getpid()}
        try:
            if path is not None and file_sha256(path) != batch["sha256"]:
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
        d = queue_dirs(self.home)
        cutoff = time.time() - max_age
        live = {(REQUEST_NAME.match(p.name) or [None, None, None])[2] for p in
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
