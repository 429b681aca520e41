"""`workbench monitor`: the policy's checks on a batch, one complete run or none, exit codes, one run at a time,
the alert log, and an alert that reaches a local webhook."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import webhook_sink

ROOT = Path(__file__).resolve().parents[2]
FEB = ROOT / "sample_data" / "churn_2026_02.csv"


def _cli(home: Path, *args, timeout=240):
    env = dict(os.environ, PYTHONPATH=str(ROOT), DO_NOT_TRACK="1")
    return subprocess.run([sys.executable, "-m", "core.cli", "--home", str(home), *args], capture_output=True,
                          text=True, env=env, timeout=timeout, cwd=ROOT)


def test_a_drifted_batch_raises_alerts_and_a_stable_one_is_healthy(home, tmp_path):
    from core.data.batches import append_batch
    from core.monitor.alertlog import acknowledge_alert, list_alerts, open_alerts
    from core.monitor.policy import MonitorPolicy, list_monitor_runs, monitor_timeline, run_monitor, save_policy
    from core.errors import SpecInvalid

    ws, project = home.ws, home.project
    feb = append_batch(ws, project, FEB, label="2026-02").batch
    run = run_monitor(ws, project, feb, by="cron")
    assert run.status == "alert" and run.exit_code == 1 and run.version_label == "v1"
    assert run.check("data_drift").status == "alert" and "monthly_charges" in run.check("data_drift").details["drifted"]
    perf = run.check("performance")
    assert perf.details["rows"] == 3000 and "Recall" in perf.evidence and "needs ≥ 0.7" in perf.evidence
    assert run.check("prediction_drift").status in ("alert", "healthy")
    # a batch drawn from the champion's own world: nothing drifts
    same = ws.frame(project.dataset_id).sample(1500, random_state=0)
    path = tmp_path / "same.csv"
    same.to_csv(path, index=False)
    stable = append_batch(ws, project, path, label="resample").batch
    policy = save_policy(ws, project.id, MonitorPolicy(checks={"data_drift": True, "data_quality": True,
                                                               "prediction_drift": True, "performance": False,
                                                               "fairness": False}))
    calm = run_monitor(ws, project, stable, policy=policy)
    assert calm.status == "healthy" and calm.exit_code == 0, [c.evidence for c in calm.checks]
    assert calm.check("performance").status == "not-run"
    assert [r.id for r in list_monitor_runs(ws, project.id)] == [calm.id, run.id]
    from core.monitor.loop_views import batch_timeline, health_matrix, monitoring_status

    status = monitoring_status(ws, project)
    assert status["status"] == "healthy" and status["runs"] == 2 and status["batches"] == 3
    matrix = health_matrix(ws, project.id)
    assert matrix["batch"].tolist() == ["2 · 2026-02", "3 · resample"] and matrix["Data drift"].tolist() == [
        "alert", "healthy"]
    assert batch_timeline(ws, project)["monitoring"].tolist() == ["", "alert", "healthy"]
    timeline = monitor_timeline(ws, project.id)
    assert list(timeline["batch"].unique()) == [2, 3] and len(timeline) == 10
    alerts = list_alerts(ws, project.id)
    assert "data_drift" in {a["check"] for a in alerts} and all(a["batch_seq"] == 2 for a in alerts)
    acknowledge_alert(ws, project.id, alerts[0]["id"], "ana", "looking into the price rise")
    assert len(open_alerts(ws, project.id)) == len(alerts) - 1
    assert next(a for a in list_alerts(ws, project.id) if a["id"] == alerts[0]["id"])["acknowledged_by"] == "ana"
    with pytest.raises(SpecInvalid, match="already acknowledged"):
        acknowledge_alert(ws, project.id, alerts[0]["id"], "bo")
    with pytest.raises(SpecInvalid, match="not a cron schedule"):
        save_policy(ws, project.id, MonitorPolicy(schedule="daily"))


def test_cli_exit_codes_no_double_ingest_and_a_webhook_alert(home):
    from core.monitor.policy import MonitorPolicy, save_policy

    server = webhook_sink()
    got = server.received
    save_policy(home.ws, home.project_id, MonitorPolicy(channels=({"kind": "webhook", "secret": "team_hook"},)))
    home.close()
    os.environ["WORKBENCH_ALERT_TEAM_HOOK"] = f"http://127.0.0.1:{server.server_address[1]}/x"
    try:
        first = _cli(home.home, "monitor", "Customer churn", "--batch", str(FEB), "--label", "2026-02", "--json")
        again = _cli(home.home, "monitor", "Customer churn", "--batch", str(FEB), "--json")
    finally:
        del os.environ["WORKBENCH_ALERT_TEAM_HOOK"]
        server.shutdown()
    assert first.returncode == 1, first.stderr
    out = json.loads(first.stdout)
    assert out["status"] == "alert" and out["ingested"] and out["notifications"] == [
        {"channel": "team_hook", "ok": True, "attempts": 1}]
    assert again.returncode == 1 and not json.loads(again.stdout)["ingested"]
    assert json.loads(again.stdout)["batch"] == 2  # the same file is still batch 2, not a new batch 3
    assert len(got) == 2 and got[0]["workbench"]["batch"] == 2 and "Data drift" in got[0]["text"]
    bad = _cli(home.home, "monitor", "No such project")
    assert bad.returncode == 2 and "error:" in bad.stderr and "Traceback" not in bad.stderr


def test_a_second_monitor_run_waits_or_says_the_workspace_is_busy(home):
    from core.monitor.policy import monitor_lock

    home.close()
    with monitor_lock(home.home):
        busy = _cli(home.home, "monitor", "Customer churn", "--wait", "0", timeout=60)
    assert busy.returncode == 2 and "busy" in busy.stderr
    released = time.monotonic()
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; sys.path.insert(0, sys.argv[1]);"
                               "from core.monitor.policy import monitor_lock\n"
                               "with monitor_lock(sys.argv[2]):\n    print('held', flush=True); time.sleep(2)",
                               str(ROOT), str(home.home)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    waited = _cli(home.home, "monitor", "Customer churn", "--wait", "60", "--json")
    holder.wait(10)
    assert waited.returncode in (0, 1), waited.stderr  # it queued behind the holder, then ran
    assert time.monotonic() - released >= 2


def test_sigkill_at_any_point_leaves_a_complete_run_or_none(home):
    from core.data.batches import list_batches
    from core.monitor.policy import CHECKS, list_monitor_runs

    home.close()
    env = dict(os.environ, PYTHONPATH=str(ROOT), DO_NOT_TRACK="1")
    for delay in (2.5, 6.0, 9.0):
        proc = subprocess.Popen([sys.executable, "-m", "core.cli", "--home", str(home.home), "monitor",
                                 "Customer churn", "--batch", str(FEB), "--no-notify"], env=env, cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        ws = home.ws
        runs = list_monitor_runs(ws, home.project_id)
        assert all(len(r.checks) == len(CHECKS) and r.finished_at and r.status in ("healthy", "alert", "error")
                   for r in runs)
        assert len([b for b in list_batches(ws, home.project) if b.source_file == FEB.name]) <= 1
        home.close()
    done = _cli(home.home, "monitor", "Customer churn", "--batch", str(FEB), "--no-notify", "--json")
    assert done.returncode == 1, done.stderr
    ws = home.ws
    assert [b.seq for b in list_batches(ws, home.project)] == [1, 2]
    assert pd.Series([r.batch_seq for r in list_monitor_runs(ws, home.project_id)]).eq(2).all()
