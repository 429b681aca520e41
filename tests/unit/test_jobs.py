"""Background jobs: results, progress, cancel, errors as messages, and one heavy job at a time."""

from __future__ import annotations

import logging
import threading
import time

from core.errors import SpecInvalid
from core.jobs import CANCELLED, DONE, FAILED, get_job, start_job


def test_a_job_runs_in_the_background_and_reports_progress():
    gate = threading.Event()

    def work(n, progress=None):
        progress(0.5, "half way")
        gate.wait(5)
        return n * 2

    job = start_job(work, 21, name="double")
    deadline = time.monotonic() + 5
    while job.progress != (0.5, "half way") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert job.progress == (0.5, "half way") and not job.done  # the caller was never blocked
    gate.set()
    assert job.wait(5) and job.state == DONE and job.result == 42 and job.error is None
    assert get_job(job.id) is job and get_job("job_unknown") is None


def test_cancel_reaches_the_function_and_ends_as_cancelled():
    from core.models.training import TrainingCancelled

    def work(cancel=None):
        while not cancel.is_set():
            time.sleep(0.01)
        raise TrainingCancelled("Training was cancelled; nothing was saved.")

    job = start_job(work)
    time.sleep(0.05)
    job.cancel()
    assert job.wait(5) and job.state == CANCELLED and "cancelled" in job.error


def test_errors_become_messages(caplog):
    def refuses():
        raise SpecInvalid("Give three shares. Type them again.")

    def crashes():
        raise KeyError("internal detail")

    a, b = start_job(refuses), start_job(crashes)
    with caplog.at_level(logging.ERROR, logger="core.jobs"):
        assert a.wait(5) and b.wait(5)
    assert a.state == FAILED and a.error == "Give three shares. Type them again."
    assert b.state == FAILED and "internal detail" not in b.error and "server log" in b.error
    assert any("internal detail" in r.exc_text for r in caplog.records if r.exc_text)


def test_heavy_jobs_wait_in_line_and_say_where_they_are():
    release = threading.Event()
    order = []

    def first():
        order.append("first")
        release.wait(5)

    def second():
        order.append("second")

    a = start_job(first, heavy=True)
    deadline = time.monotonic() + 5
    while not order and time.monotonic() < deadline:
        time.sleep(0.01)
    b = start_job(second, heavy=True)
    c = start_job(second, heavy=True)
    light = start_job(lambda: "quick", heavy=False)
    assert light.wait(5) and light.result == "quick"  # light jobs never queue
    assert b.queue_position == 1 and c.queue_position == 2
    assert "Waiting for 2 other" in c.progress[1]
    c.cancel()
    assert c.state == CANCELLED and c.done
    release.set()
    assert a.wait(5) and b.wait(5)
    assert order == ["first", "second"]
