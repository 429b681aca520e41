"""`workbench monitor` from cron while the app server runs: the server holds the workspace, so the command hands
the run to the server's queue, which runs it; the command exits with the run's real code and the run is saved."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.e2e.conftest import AppServer, assert_page_clean, wait_for_app
from tests.helpers import seed_champion_workspace

ROOT = Path(__file__).resolve().parents[2]
FEB = ROOT / "sample_data" / "churn_2026_02.csv"
PROJECT = "Customer churn"


def _cli(home: Path, *args):
    env = dict(os.environ, PYTHONPATH=str(ROOT), DO_NOT_TRACK="1")
    return subprocess.run([sys.executable, "-m", "core.cli", "--home", str(home), *args], capture_output=True,
                          text=True, env=env, timeout=300, cwd=ROOT)


def test_monitor_from_cron_while_the_app_runs_is_run_by_the_server(tmp_path, browser):
    home = tmp_path / "ws"
    seed_champion_workspace(home)
    server = AppServer(home, tmp_path / "streamlit.log")
    try:
        server.wait_healthy()
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        page = context.new_page()
        page.console_errors, page.bad_responses = [], []
        page.goto(f"{server.url}/monitor")  # a visit opens the workspace in the server, and starts its queue
        wait_for_app(page)
        beat = home / "monitor_queue" / "server.json"
        deadline = time.time() + 30
        while not beat.is_file() and time.time() < deadline:
            time.sleep(0.2)
        assert json.loads(beat.read_text())["pid"] == server.proc.pid, server.log_text()

        t0 = time.monotonic()
        feb = _cli(home, "monitor", PROJECT, "--batch", str(FEB), "--label", "2026-02", "--wait", "240", "--json",
                   "--no-notify")
        took = time.monotonic() - t0
        assert feb.returncode == 1, feb.stderr + server.log_text()  # February drifts: an alert, from the real run
        out = json.loads(feb.stdout)
        assert out["ran_by"] == "app server" and out["server_pid"] == server.proc.pid and out["ingested"]
        assert out["batch"] == 2 and any(c["check"] == "data_drift" and c["status"] == "alert" for c in out["checks"])
        again = _cli(home, "monitor", PROJECT, "--batch", str(FEB), "--wait", "240", "--json", "--no-notify")
        assert again.returncode == 1 and json.loads(again.stdout)["already_loaded"], again.stderr

        page.reload()
        wait_for_app(page)
        page.get_by_text("Newest run").first.wait_for(timeout=30_000)
        assert "batch 2 · 2026-02" in page.get_by_text("Newest run").first.inner_text()
        assert_page_clean(page)
        context.close()
    finally:
        server.stop()

    from core.data.batches import list_batches
    from core.data.samples import open_workspace
    from core.monitor.policy import list_monitor_runs
    from core.project.projects import get_project
    from core.store.workspace import close_workspace

    ws = open_workspace(home, seed_samples=False)
    try:
        project = get_project(ws, PROJECT)
        runs = list_monitor_runs(ws, project.id)
        assert [r.batch_seq for r in runs] == [2, 2] and out["run_id"] in {r.id for r in runs}
        assert all(r.request_id and r.request_id.startswith("req_") for r in runs)
        assert [b.seq for b in list_batches(ws, project)] == [1, 2]  # the same file twice: ingested once
    finally:
        close_workspace(home)
    print(f"queued monitoring run answered in {took:.1f} s")
