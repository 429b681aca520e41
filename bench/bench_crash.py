"""Kill -9 during training, 30 times at random moments (issue 19, item 4): orphans, held pipes, temp copies.

The suite runs 10 rounds (tests/unit/test_crash_safety.py); this runs 30 with the harness in bench/crash.py and
prints, per outcome, how many rounds held.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

ROUNDS = 30


def main() -> None:
    from bench.crash import kill_rounds, workspace_tmp_after_sweep
    from core.data.samples import open_workspace
    from core.split.demo_seed import seed_demo_project
    from core.store.workspace import close_workspace

    home = Path(tempfile.mkdtemp(prefix="bench_crash_")) / "ws"
    ws = open_workspace(home, seed_samples=True)
    project = seed_demo_project(ws)
    close_workspace(home)
    rounds = kill_rounds(home, project.id, rounds=ROUNDS, seed=30, delay=(1.0, 8.0))
    n = len(rounds)
    print(f"{n} SIGKILLs of `workbench train` (main process only), 1-8 s into a 5-model comparison on 2 workers")
    print(f"  caller's read returned within 10 s: {sum(r['read_returned'] for r in rounds)}/{n}")
    print(f"  no process of the command left after 10 s: {sum(not r['orphans'] for r in rounds)}/{n}")
    print(f"  nothing left in $TMPDIR: {sum(not r['tmp_left'] for r in rounds)}/{n}")
    print(f"  slowest clean-up: {max(r['seconds_to_clean'] for r in rounds):.1f} s")
    left = workspace_tmp_after_sweep(home)
    print(f"  training copies under the workspace after the next sweep: {len(left)}")


if __name__ == "__main__":
    main()
