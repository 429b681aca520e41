"""A server killed with SIGKILL in the middle of a write leaves a workspace that opens, with nothing half-written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from core.data.ingest import ingest_upload
from core.store.workspace import close_workspace
from core.data.samples import open_workspace

ROOT = Path(__file__).resolve().parents[2]


def _big_csv(path: Path, rows: int) -> None:
    with open(path, "w") as fh:
        fh.write("id,value,label\n")
        chunk = "".join(f"{i},{i * 0.5},{'abc'[i % 3]}\n" for i in range(100_000))
        for _ in range(rows // 100_000):
            fh.write(chunk)


@pytest.mark.parametrize("kill_after", [0.4, 1.0])
def test_sigkill_during_ingest_loses_nothing_committed(tmp_path, kill_after):
    home = tmp_path / "ws"
    ws = open_workspace(home, seed_samples=False)
    ingest_upload(ws, b"city,sales\nOslo,10\nLima,20\n", "before.csv")
    ws.put_record("project", "p1", {"name": "kept"})
    close_workspace(home)
    big = tmp_path / "big.csv"
    _big_csv(big, 3_000_000)
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(ROOT)!r})
        from core.data.samples import open_workspace
        from core.data.ingest import ingest_path
        ws = open_workspace({str(home)!r}, seed_samples=False)
        print("started", flush=True)
        ingest_path(ws, {str(big)!r}, name="big")
        print("finished", flush=True)
    """)], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "started"
    time.sleep(kill_after)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()

    ws = open_workspace(home, seed_samples=False)
    names = [d.name for d in ws.datasets()]
    assert "before" in names and ws.frame("before")["sales"].tolist() == [10, 20]
    assert ws.get_record("project", "p1")["name"] == "kept"
    if "big" in names:  # the kill came after the commit: then it must be complete
        assert ws.dataset("big").rows == 3_000_000
    else:  # no catalog entry, and no orphan table shown anywhere
        assert all(d.name != "big" for d in ws.datasets())
    ingest_upload(ws, b"after\n1\n", "after.csv")  # still writable
    close_workspace(home)


def test_sigkill_during_training_leaves_only_complete_runs(tmp_path):
    from core.split.demo_seed import seed_demo_project
    from core.models.runs import list_runs, load_run_model

    home = tmp_path / "ws"
    ws = open_workspace(home, seed_samples=True)
    project = seed_demo_project(ws)
    close_workspace(home)
    child = subprocess.Popen([sys.executable, "-m", "core.cli", "--home", str(home), "train", project.id,
                              "--models", "logreg,tree,rf,xgb,knn", "--cv", "5", "--json"], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(6)
    # The whole process group, as a service manager kills a server: its fold workers go with it (killed alone, the
    # main process leaves idle workers behind until their idle timeout).
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    ws = open_workspace(home, seed_samples=False)
    for run in list_runs(ws, project.id):  # whatever was committed is whole: its model loads and matches its hash
        if not run.error:
            assert load_run_model(ws, run.id) is not None
    assert ws.dataset("churn").rows == 6000
    close_workspace(home)


def test_kill_9_during_training_leaves_no_orphan_no_held_pipe_and_no_temp_copies(tmp_path):
    """Issue 19, item 4: ten SIGKILLs of the main process at random moments of a comparison on two workers."""
    from bench.crash import kill_rounds, workspace_tmp_after_sweep
    from core.split.demo_seed import seed_demo_project

    home = tmp_path / "ws"
    ws = open_workspace(home, seed_samples=True)
    project = seed_demo_project(ws)
    close_workspace(home)
    rounds = kill_rounds(home, project.id, rounds=10, seed=19, delay=(2.0, 5.0))
    assert all(r["read_returned"] for r in rounds), rounds  # a caller reading the output is never left hanging
    assert not any(r["orphans"] for r in rounds), rounds  # workers and trackers die with their parent within 10 s
    assert all(r["tmp_left"] == [] for r in rounds), rounds  # nothing in $TMPDIR
    assert workspace_tmp_after_sweep(home) == []  # the workspace's training copies of dead runs are swept
