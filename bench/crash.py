"""Kill -9 harness for training: SIGKILL `workbench train` at random moments, then check what it left behind.

Used by tests/unit/test_crash_safety.py (about 10 kills) and bench/bench_crash.py (30). Each round starts the CLI as
a caller would, reading its stdout and stderr through pipes, kills only the main process (as the OOM killer or a
`kill -9 PID` does, not its whole group), then asserts, within `GRACE_S` seconds: the caller's reads return (no
survivor holds the pipes), no process of the command's group is left, and no training copy stays in $TMPDIR or,
after the next sweep, under the workspace.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GRACE_S = 10.0


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_all(pipe, out: list) -> None:
    out.append(pipe.read())


def kill_rounds(home: Path, project_id: str, rounds: int, seed: int = 0, models: str = "logreg,tree,rf,xgb,knn",
                delay=(1.0, 5.0)) -> list[dict]:
    """Runs `rounds` kill -9 rounds; returns one dict per round (delay, read_returned, orphans, tmp_left)."""
    rng = random.Random(seed)
    tmpdir = Path(home) / "caller_tmp"
    tmpdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "TMPDIR": str(tmpdir), "WORKBENCH_COMPUTE": "local", "PYTHONPATH": str(ROOT)}
    results = []
    for r in range(rounds):
        wait = rng.uniform(*delay)
        child = subprocess.Popen([sys.executable, "-m", "core.cli", "--home", str(home), "train", project_id,
                                  "--models", models, "--cv", "5", "--json"], cwd=ROOT, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        outs: list = []
        readers = [threading.Thread(target=_read_all, args=(p, outs), daemon=True) for p in (child.stdout, child.stderr)]
        for t in readers:
            t.start()
        time.sleep(wait)
        killed_at = time.monotonic()
        try:
            os.kill(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        child.wait()
        for t in readers:
            t.join(max(0.0, GRACE_S - (time.monotonic() - killed_at)))
        read_returned = not any(t.is_alive() for t in readers)
        while _group_alive(child.pid) and time.monotonic() - killed_at < GRACE_S:
            time.sleep(0.1)
        orphans = _group_alive(child.pid)
        if orphans:  # clean up for the next round; the round has already failed
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for p in (child.stdout, child.stderr):
            p.close()
        results.append({"round": r + 1, "delay": round(wait, 2), "read_returned": read_returned, "orphans": orphans,
                        "tmp_left": sorted(os.listdir(tmpdir)),
                        "seconds_to_clean": round(time.monotonic() - killed_at, 2)})
    return results


def workspace_tmp_after_sweep(home: Path) -> list[str]:
    """The training copies left under the workspace once the next run has swept those of dead processes."""
    code = ("from core.models.workers import scratch_dir; import os; "
            "print('\\n'.join(n for n in os.listdir(scratch_dir()) if n.startswith(('wb_train_', 'joblib_'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "WORKBENCH_HOME": str(home), "PYTHONPATH": str(ROOT)})
    return [n for n in out.stdout.split() if n]
