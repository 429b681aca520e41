"""Profiles a real server's warm reruns, router included: where a page run's CPU goes (Streamlit, the router, pages).

A server runs in a child process with cProfile on in every script run (keyed by page) and on the event-loop thread;
one session opens each page once (warm-up, not profiled), then PROFILE_REPEATS more times; the child writes its profiles when
stopped and this prints the top functions per page (cumulative) and of the event loop.

Run: `python -m bench.profile_server [page ...]` (pages as the load test names them: "", dashboard, evaluate, ...).
Env: PROFILE_REPEATS (default 5), PROFILE_TOP (default 25), PROFILE_FILTER (a regex on file paths, default all),
PROFILE_WRITES=1 (on the split page, press "Create split" after each view: the load test's write and its rerun).
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import os
import pstats
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPEATS = int(os.environ.get("PROFILE_REPEATS", "5"))
TOP = int(os.environ.get("PROFILE_TOP", "25"))
WRITES = os.environ.get("PROFILE_WRITES", "") == "1"  # split: also press "Create split" after each view


def _serve(out_dir: str, port: str) -> None:
    """The child: a Streamlit server with a profiler per script run, writing one .prof per page when stopped."""
    from streamlit.runtime.scriptrunner import script_runner
    from streamlit.web import bootstrap

    lock = threading.Lock()
    by_page: dict[str, cProfile.Profile] = {}
    original = script_runner.ScriptRunner._run_script

    seen: dict[str, int] = {}

    def profiled(self, rerun_data):
        page = rerun_data.page_name or "home"
        with lock:
            # The two warm-up runs (imports, caches filled; widgets at their defaults from the second on, as this client
            # sends no widget values back) are not what a teammate's rerun costs.
            seen[page] = seen.get(page, 0) + 1
            if seen[page] <= 2:
                return original(self, rerun_data)
            prof = by_page.setdefault(page, cProfile.Profile())
        prof.enable()
        try:
            return original(self, rerun_data)
        finally:
            prof.disable()

    script_runner.ScriptRunner._run_script = profiled
    loop_prof = cProfile.Profile()
    loop_prof.enable()
    flags = {"server_port": int(port), "server_address": "127.0.0.1", "server_headless": True}
    from streamlit import config

    main_script = str(ROOT / "streamlit_app.py")
    config._main_script_path = main_script
    bootstrap.load_config_options(flag_options=flags)
    try:
        bootstrap.run(main_script, False, [], flags)
    finally:
        loop_prof.disable()
        loop_prof.dump_stats(os.path.join(out_dir, "_event_loop.prof"))
        with lock:
            for page, prof in by_page.items():
                prof.dump_stats(os.path.join(out_dir, f"{page}.prof"))


async def _drive(url: str, project_id: str, pages: tuple[str, ...]) -> None:
    import websockets

    from bench.loadtest import Session

    session = Session(url, project_id)
    host = url.removeprefix("http://")
    async with websockets.connect(f"ws://{host}/_stcore/stream", subprotocols=["streamlit"], origin=url,
                                  max_size=2**26) as ws:
        for _ in range(2):
            for page in pages:
                await session.run_page(ws, page)  # warm-up: fills the shared caches, imports
        for page in pages:
            for _ in range(REPEATS):
                await session.run_page(ws, page)
                if page == "split" and WRITES:  # the load test's write: the Split page's button, and its rerun
                    await session.click(ws, "split", "Create split")
    if session.exceptions:
        print("exceptions:", *session.exceptions, sep="\n  ")


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    if argv[:1] == ["--serve"]:
        _serve(argv[1], argv[2])
        return 0
    import urllib.request

    from bench.loadtest import PAGES, _prepare
    from tests.e2e.conftest import _free_port

    pages = tuple(argv) or PAGES
    home = Path(tempfile.mkdtemp(prefix="profile_server_")) / "ws"
    project_id = _prepare(home)
    out_dir = str(home.parent / "prof")
    os.makedirs(out_dir)
    port = str(_free_port())
    env = dict(os.environ, WORKBENCH_HOME=str(home), DO_NOT_TRACK="1", STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    log = open(home.parent / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "bench.profile_server", "--serve", out_dir, port], cwd=ROOT,
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(180):
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        asyncio.run(_drive(url, project_id, pages))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        log.close()
    pattern = os.environ.get("PROFILE_FILTER", "")
    for name in sorted(os.listdir(out_dir)):
        stats = pstats.Stats(os.path.join(out_dir, name), stream=(buf := io.StringIO()))
        runs = REPEATS if name != "_event_loop.prof" else 1
        total = stats.total_tt
        print(f"\n== {name[:-5]}: {total:.2f} s over {runs} run(s), {1000 * total / runs:.0f} ms per run")
        stats.sort_stats("cumulative").print_stats(*([pattern] if pattern else []), TOP)
        print("\n".join(line for line in buf.getvalue().splitlines()[6:] if line.strip()))
        buf.seek(0)
        buf.truncate()
        stats.sort_stats("tottime").print_stats(*([pattern] if pattern else []), TOP // 2)
        print("  -- by own time --")
        print("\n".join(line for line in buf.getvalue().splitlines()[6:] if line.strip()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
