"""Profiles each page's script run under AppTest on a fresh demo workspace: cold (first session) and warm (a second
session, as a teammate opening the same page), printing the slowest functions of this code base per page.

Run: `python -m bench.profile_pages [page ...]` (pages by file stem, e.g. 08_evaluate). Tells where the load test's
time goes before any caching is changed.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = ("00_home", "13_dashboard", "02_data", "03_profile", "06_split", "08_evaluate", "09_registry", "11_drift",
         "12_launch")


def _profile(path: str, project_id: str) -> tuple[float, str]:
    from streamlit.testing.v1 import AppTest
    from streamlit.testing.v1.local_script_runner import LocalScriptRunner

    prof = cProfile.Profile()
    original = LocalScriptRunner._run_script_thread

    def profiled(self):  # the script runs in its own thread, which cProfile only sees from inside
        prof.enable()
        try:
            original(self)
        finally:
            prof.disable()

    at = AppTest.from_file(path, default_timeout=300)
    at.session_state.project_id = project_id
    LocalScriptRunner._run_script_thread = profiled
    started = time.perf_counter()
    try:
        at.run()
    finally:
        LocalScriptRunner._run_script_thread = original
    elapsed = time.perf_counter() - started
    if at.exception:
        print(f"  exception on {path}: {at.exception[0].message[:300]}")
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out).sort_stats("cumulative")
    stats.print_stats(r"/(core|pages|plotly/express|streamlit/elements)/", 16)
    return elapsed, out.getvalue()


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    home = Path(tempfile.mkdtemp(prefix="profile_pages_")) / "ws"
    os.environ["WORKBENCH_HOME"] = str(home)
    from core.data.samples import open_workspace
    from core.share.demo import build_demo

    project_id = build_demo(open_workspace(home, seed_samples=True)).project_id
    for stem in argv or PAGES:
        path = str(ROOT / "pages" / f"{stem}.py")
        cold, text = _profile(path, project_id)
        warm, warm_text = _profile(path, project_id)
        print(f"== {stem}: cold {cold:.2f} s, warm (second session) {warm:.2f} s")
        print("\n".join(line for line in warm_text.splitlines() if "/work/" in line or "ncalls" in line
                        or "function calls" in line))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
