"""Background jobs, so a page never freezes while models train: one heavy job runs at a time, the rest wait in line.

`start_job(fn, *args, name=..., heavy=True, **kw) -> Job` runs `fn` in a daemon thread. When `fn` accepts
`progress` and / or `cancel` keyword arguments, the job passes its own: `progress(fraction, text)` updates
`Job.progress`, and `cancel` is a `threading.Event` set by `Job.cancel()`. Heavy jobs (training) take the one heavy
slot of the process in turn, since two of them would fight over two cores; `Job.queue_position` says how many wait
ahead. A `WorkbenchError` becomes `Job.error` as it is; anything else is logged with its traceback and reported with
a calm generic message. `get_job(job_id)` finds a job from any session (the registry is process-wide).
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.errors import WorkbenchError
from core.store.workspace import new_id

log = logging.getLogger(__name__)

KEEP_SECONDS = 3600  # finished jobs stay readable this long
QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"


@dataclass(eq=False)
class Job:
    """One background task: its state, progress, result or error, and a way to cancel it."""

    id: str
    name: str
    heavy: bool = True
    state: str = QUEUED
    fraction: float = 0.0
    text: str = "Waiting to start…"
    result: Any = None
    error: str | None = None
    created_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    cancel_event: threading.Event = field(default_factory=threading.Event)

    @property
    def progress(self) -> tuple[float, str]:
        """(fraction done between 0 and 1, what is happening) — a waiting job names its place in line."""
        position = self.queue_position
        if position:
            return 0.0, f"Waiting for {position} other training job(s) to finish first."
        return self.fraction, self.text

    @property
    def done(self) -> bool:
        return self.state in (DONE, FAILED, CANCELLED)

    @property
    def queue_position(self) -> int | None:
        """How many heavy jobs run or wait ahead of this one (None once it runs)."""
        with _COND:
            if self.id not in _QUEUE:
                return None
            return _QUEUE.index(self.id) + (1 if _RUNNING[0] else 0)

    def report(self, fraction: float | None, text: str) -> None:
        """Updates the progress (called by the job's function); a fraction of None keeps the last one."""
        if fraction is not None:
            self.fraction = max(0.0, min(1.0, float(fraction)))
        self.text = str(text)

    def cancel(self) -> None:
        """Asks the job to stop at its next check; a waiting job is dropped from the line at once."""
        self.cancel_event.set()
        with _COND:
            if self.id in _QUEUE:
                _QUEUE.remove(self.id)
                self._finish(CANCELLED, error="Cancelled before it started.")
                _COND.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Blocks until the job is done (tests and the CLI); returns whether it finished in time."""
        end = None if timeout is None else time.monotonic() + timeout
        while not self.done:
            if end is not None and time.monotonic() > end:
                return False
            time.sleep(0.05)
        return True

    def _finish(self, state: str, result: Any = None, error: str | None = None) -> None:
        self.result, self.error, self.state = result, error, state
        self.finished_at = time.time()
        if state == DONE:
            self.fraction, self.text = 1.0, "Done."


_JOBS: dict[str, Job] = {}
_QUEUE: list[str] = []  # heavy jobs waiting, oldest first
_RUNNING: list[str | None] = [None]  # the heavy job holding the slot
_COND = threading.Condition()


def start_job(fn: Callable[..., Any], *args: Any, name: str = "", heavy: bool = True, **kw: Any) -> Job:
    """Starts fn(*args, **kw) in a background thread and returns its Job at once."""
    job = Job(id=new_id("job"), name=name or getattr(fn, "__name__", "job"), heavy=heavy)
    accepted = _accepted(fn)
    if "progress" in accepted and "progress" not in kw:
        kw["progress"] = job.report
    if "cancel" in accepted and "cancel" not in kw:
        kw["cancel"] = job.cancel_event
    with _COND:
        _prune()
        _JOBS[job.id] = job
        if heavy:
            _QUEUE.append(job.id)
    threading.Thread(target=_run, args=(job, fn, args, kw), name=f"workbench-{job.id}", daemon=True).start()
    return job


def get_job(job_id: str | None) -> Job | None:
    """Returns a job by id (None when unknown or long finished)."""
    with _COND:
        return _JOBS.get(job_id) if job_id else None


def list_jobs() -> list[Job]:
    """Returns the jobs this process knows, newest first."""
    with _COND:
        return sorted(_JOBS.values(), key=lambda j: j.created_at, reverse=True)


def _accepted(fn) -> set[str]:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return set()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return {"progress", "cancel"}
    return set(params)


def _run(job: Job, fn, args, kw) -> None:
    if job.heavy:
        with _COND:
            while job.id in _QUEUE and (_RUNNING[0] is not None or _QUEUE[0] != job.id):
                _COND.wait(timeout=0.5)
            if job.id not in _QUEUE:  # cancelled while waiting
                return
            _QUEUE.remove(job.id)
            _RUNNING[0] = job.id
    job.state, job.text = RUNNING, "Starting…"
    try:
        result = fn(*args, **kw)
    except WorkbenchError as err:
        cancelled = job.cancel_event.is_set() and type(err).__name__ == "TrainingCancelled"
        job._finish(CANCELLED if cancelled else FAILED, error=str(err))
    except Exception:  # noqa: BLE001 — a background failure must reach the page as a message, not kill the thread
        log.exception("background job %s (%s) failed", job.id, job.name)
        job._finish(FAILED, error="Something went wrong while this ran; the details are in the server log. "
                                  "Try again, or try fewer models or rows.")
    else:
        job._finish(DONE, result=result)
    finally:
        if job.heavy:
            with _COND:
                if _RUNNING[0] == job.id:
                    _RUNNING[0] = None
                _COND.notify_all()


def _prune() -> None:
    cutoff = time.time() - KEEP_SECONDS
    for job_id in [k for k, j in _JOBS.items() if j.done and (j.finished_at or 0) < cutoff]:
        _JOBS.pop(job_id, None)
