"""The monitoring queue: `workbench monitor` hands its run to the app server holding the workspace, which drains it
with the same code; duplicates run once, garbage is set aside, nobody draining means exit 2; plus the app schedule."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[2]
FEB = ROOT / "sample_data" / "churn_2026_02.csv"


def _queue(home) -> Path:
    return Path(home.home) / "monitor_queue"


def test_a_request_is_drained_by_the_server_with_the_same_code(home):
    from core.monitor.policy import list_monitor_runs
    from core.monitor.drainer import Drainer
    from core.monitor.queue import submit, wait_result

    ws = home.ws
    req = submit(home.home, "Customer churn", FEB, label="2026-02", by="cron", notify=False)
    assert req.file.is_file() and (_queue(home) / "files" / req.id / FEB.name).is_file()
    assert Drainer(ws, schedule=False).drain_once() == 1
    out = wait_result(home.home, req, timeout=5)
    assert out["exit_code"] == 1 and out["status"] == "alert" and out["ingested"] and out["batch"] == 2
    assert out["ran_by"] == "app server" and out["server_pid"] == os.getpid()
    run = list_monitor_runs(ws, home.project_id)[0]
    assert run.id == out["run_id"] and run.request_id == req.id and run.by == "cron"
    # the command collected its answer: nothing is left behind in the queue
    left = [p for p in _queue(home).rglob("*") if p.is_file() and p.name != "server.json"]
    assert left == []


def test_the_same_batch_queued_twice_runs_once_and_answers_both(home):
    from core.data.batches import list_batches
    from core.monitor.policy import list_monitor_runs
    from core.monitor.drainer import Drainer
    from core.monitor.queue import submit, wait_result

    ws = home.ws
    first = submit(home.home, "Customer churn", FEB, notify=False)
    second = submit(home.home, "customer churn", FEB, notify=False)  # same project, same file: same key
    other = submit(home.home, "Customer churn", None, notify=False)  # no batch: its own run
    assert first.key == second.key and other.key is None
    assert Drainer(ws, schedule=False).drain_once() == 3
    a, b, c = (wait_result(home.home, r, timeout=5) for r in (first, second, other))
    assert a["run_id"] == b["run_id"] != c["run_id"] and b["joined"] == first.id and a["joined"] is None
    assert len(list_monitor_runs(ws, home.project_id)) == 2
    assert [x.seq for x in list_batches(ws, home.project)] == [1, 2]  # ingested once
    again = submit(home.home, "Customer churn", FEB, notify=False)  # later, the same file: checked, not loaded
    Drainer(ws, schedule=False).drain_once()
    out = wait_result(home.home, again, timeout=5)
    assert out["already_loaded"] and not out["ingested"] and out["batch"] == 2


def test_garbage_stale_and_foreign_requests_are_set_aside_with_a_clear_answer(home, tmp_path):
    from core.monitor.policy import list_monitor_runs
    from core.monitor.drainer import Drainer
    from core.monitor.queue import Request, submit, wait_result

    ws = home.ws
    q = _queue(home)
    (q / "requests").mkdir(parents=True, exist_ok=True)
    (q / "requests" / "123_req_aaaaaaaaaaaa.json").write_text("{not json")
    (q / "requests" / "hello.json").write_text("{}")
    secret = tmp_path / "elsewhere.csv"
    secret.write_text("a,b\n1,2\n")
    (q / "requests" / "124_req_bbbbbbbbbbbb.json").write_text(json.dumps(
        {"schema": 1, "request_id": "req_bbbbbbbbbbbb", "project": "Customer churn", "deadline": time.time() + 60,
         "batch": {"file": str(secret), "name": "x.csv", "sha256": "0" * 64}}))
    expired = submit(home.home, "Customer churn", FEB, wait=0)
    time.sleep(0.01)
    unknown = submit(home.home, "No such project", None)
    assert Drainer(ws, schedule=False).drain_once() == 5
    garbage = wait_result(home.home, Request("req_aaaaaaaaaaaa", q / "gone", None), timeout=1)
    assert garbage["exit_code"] == 2 and "could not be read" in garbage["error"]
    foreign = wait_result(home.home, Request("req_bbbbbbbbbbbb", q / "gone", None), timeout=1)
    assert "not in the queue" in foreign["error"]
    stale = wait_result(home.home, expired, timeout=1)
    assert stale["exit_code"] == 2 and stale["expired"] and "not run" in stale["error"]
    missing = wait_result(home.home, unknown, timeout=1)
    assert missing["exit_code"] == 2 and "No such project" in missing["error"]
    assert sorted(p.name for p in (q / "rejected").glob("*.json")) == ["123_req_aaaaaaaaaaaa.json",
                                                                     "124_req_bbbbbbbbbbbb.json", "hello.json"]
    assert list_monitor_runs(ws, home.project_id) == []  # nothing ran, nothing was loaded
    assert not list((q / "requests").iterdir()) and not list((q / "files").iterdir())


def test_a_request_left_by_a_killed_server_is_answered_from_its_run_not_run_twice(home):
    from core.monitor.policy import list_monitor_runs
    from core.monitor.drainer import Drainer
    from core.monitor.queue import execute, submit, wait_result

    ws = home.ws
    req = submit(home.home, "Customer churn", FEB, notify=False)
    working = _queue(home) / "working" / req.file.name
    os.replace(req.file, working)  # claimed by a server ...
    landed = execute(ws, "Customer churn", _queue(home) / "files" / req.id / FEB.name, request_id=req.id,
                     notify=False)  # ... whose run was saved before it was killed
    late = json.loads(working.read_text())
    working.write_text(json.dumps({**late, "deadline": time.time() - 1}))  # restarted after its command gave up
    drainer = Drainer(ws, schedule=False)
    assert drainer.requeue_leftovers() == 1 and drainer.drain_once() == 1
    out = wait_result(home.home, req, timeout=5)
    assert out["run_id"] == landed["run_id"] and not out.get("expired")
    assert len(list_monitor_runs(ws, home.project_id)) == 1


def test_nobody_draining_means_exit_2_with_what_to_do_and_nothing_left_queued(home):
    from core.monitor.queue import QueueTimeout, submit, wait_result

    ws = home.ws  # this process holds the workspace, as the app server would
    req = submit(home.home, "Customer churn", FEB)
    with pytest.raises(QueueTimeout, match="not taken within 0.3 s: no app server.*Nothing was run"):
        wait_result(home.home, req, timeout=0.3)
    assert not req.file.exists() and not (_queue(home) / "files" / req.id).exists()
    env = dict(os.environ, PYTHONPATH=str(ROOT), DO_NOT_TRACK="1")

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "core.cli", "--home", str(home.home), "monitor",
                               "Customer churn", "--batch", str(FEB), *args], capture_output=True, text=True,
                              env=env, timeout=120, cwd=ROOT)

    busy = cli("--wait", "1")  # held, and no server heartbeat: another program has it
    assert busy.returncode == 2 and "busy" in busy.stderr and "Traceback" not in busy.stderr
    (_queue(home) / "server.json").write_text(json.dumps({"pid": os.getpid(), "host": os.uname().nodename,
                                                          "beat": time.time()}))
    silent = cli("--wait", "2")  # a server says it is there but never drains
    assert silent.returncode == 2 and "did not take the monitoring request within 2 s" in silent.stderr, silent.stderr
    assert f"app server (pid {os.getpid()})" in silent.stderr and "Nothing was run" in silent.stderr
    assert not list((_queue(home) / "requests").glob("*.json"))
    assert ws.frame(home.project.dataset_id, limit=1) is not None  # the holder was never disturbed


def test_a_policy_scheduled_in_the_app_runs_once_per_slot(home):
    from core.monitor.policy import MonitorPolicy, list_monitor_runs, save_policy
    from core.monitor.drainer import Drainer

    ws = home.ws
    drainer = Drainer(ws, schedule=True)
    save_policy(ws, home.project_id, MonitorPolicy(schedule="30 6 * * 1-5"))
    assert drainer.run_schedules(datetime(2026, 12, 1, 6, 30)) == []  # not switched on for the app
    save_policy(ws, home.project_id, MonitorPolicy(schedule="30 6 * * 1-5", run_in_app=True))
    assert drainer.run_schedules(datetime(2026, 12, 1, 6, 29)) == []
    assert drainer.run_schedules(datetime(2026, 12, 5, 6, 30)) == []  # a Saturday
    done = drainer.run_schedules(datetime(2026, 12, 1, 6, 30, 40))
    assert done == [f"sch_{home.project_id}_202612010630"]
    assert Drainer(ws).run_schedules(datetime(2026, 12, 1, 6, 30, 55)) == []  # a restarted server: still once
    runs = list_monitor_runs(ws, home.project_id)
    assert len(runs) == 1 and runs[0].by == "schedule (app server)" and runs[0].request_id == done[0]


@pytest.mark.parametrize("text, message", [
    ("daily", "five fields"), ("61 * * * *", "minute field '61'.*0-59"), ("0 6 * * mon-xyz", "day of week"),
    ("*/0 * * * *", "out of range"), ("0 25 * * *", "hour field")])
def test_bad_schedules_name_the_field(text, message):
    from core.errors import SpecInvalid
    from core.monitor.cron import parse_cron

    with pytest.raises(SpecInvalid, match=message):
        parse_cron(text)


def test_cron_schedules_fire_when_cron_would():
    from core.monitor.cron import parse_cron

    daily = parse_cron("0 6 * * *")
    assert daily.matches(datetime(2026, 3, 1, 6, 0)) and not daily.matches(datetime(2026, 3, 1, 6, 1))
    assert daily.next_after(datetime(2026, 3, 1, 6, 0)) == datetime(2026, 3, 2, 6, 0)
    office = parse_cron("*/15 9-17 * * mon-fri")
    assert office.next_after(datetime(2026, 12, 5, 18, 0)) == datetime(2026, 12, 7, 9, 0)  # Saturday -> Monday
    either = parse_cron("0 0 1 * sun")  # both day fields restricted: the 1st OR a Sunday
    assert either.matches(datetime(2026, 12, 1, 0, 0)) and either.matches(datetime(2026, 12, 6, 0, 0))
    assert not either.matches(datetime(2026, 12, 2, 0, 0))
    assert parse_cron("0 0 * * 7").matches(datetime(2026, 12, 6, 0, 0))  # 7 is Sunday too


def test_a_command_killed_while_waiting_leaves_a_run_that_completes_once(home):
    import signal

    from core.monitor.policy import list_monitor_runs
    from core.monitor.drainer import Drainer

    ws = home.ws
    (_queue(home) / "server.json").parent.mkdir(parents=True, exist_ok=True)
    (_queue(home) / "server.json").write_text(json.dumps({"pid": os.getpid(), "host": os.uname().nodename,
                                                          "beat": time.time()}))
    env = dict(os.environ, PYTHONPATH=str(ROOT), DO_NOT_TRACK="1")
    proc = subprocess.Popen([sys.executable, "-m", "core.cli", "--home", str(home.home), "monitor", "Customer churn",
                             "--batch", str(FEB), "--wait", "120", "--no-notify"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not list((_queue(home) / "requests").glob("*.json")) and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    drainer = Drainer(ws, schedule=False)
    assert drainer.drain_once() == 1 and drainer.drain_once() == 0
    (run,) = list_monitor_runs(ws, home.project_id)
    assert run.batch_seq == 2 and run.finished_at and run.request_id.startswith("req_")
    (result,) = (_queue(home) / "results").glob("*.json")  # nobody collects it: swept after a day
    drainer.sweep(max_age=0)
    assert not result.exists() and not list((_queue(home) / "files").iterdir())
