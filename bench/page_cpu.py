"""Server CPU per page: one session opens each page `REPEATS` times on the demo workspace; the server process's CPU
time (Linux /proc) is read around each page's runs. Load-independent where the load test's wall times are not.

Run: `python -m bench.page_cpu` (env PAGE_CPU_REPEATS, default 5).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

from bench.loadtest import PAGES, ROOT, Session, _cpu_seconds, _prepare

REPEATS = int(os.environ.get("PAGE_CPU_REPEATS", "5"))


async def _measure(url: str, project_id: str, pid: int) -> dict[str, float]:
    import websockets

    session = Session(url, project_id)
    out = {}
    host = url.removeprefix("http://")
    async with websockets.connect(f"ws://{host}/_stcore/stream", subprotocols=["streamlit"], origin=url,
                                  max_size=2**26) as ws:
        for _ in range(2):  # warm: the first visit fills the shared caches and sets the widgets' defaults; this client
            for page in PAGES:  # sends no widget values back, so from the second visit on widgets show their defaults
                await session.run_page(ws, page)
        for page in PAGES:
            before = _cpu_seconds(pid)
            for _ in range(REPEATS):
                await session.run_page(ws, page)
            out[page or "home"] = (_cpu_seconds(pid) - before) / REPEATS
    before = _cpu_seconds(pid)
    await asyncio.sleep(5)
    out["(idle, per 1 s)"] = (_cpu_seconds(pid) - before) / 5
    return out


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from tests.e2e.conftest import AppServer

    home = Path(tempfile.mkdtemp(prefix="page_cpu_")) / "ws"
    project_id = _prepare(home)
    server = AppServer(home, home.parent / "streamlit.log")
    try:
        server.wait_healthy()
        per_page = asyncio.run(_measure(server.url, project_id, server.proc.pid))
    finally:
        server.stop()
    print(f"{'page':<12} {'server CPU per warm run':>24}")
    for page, seconds in sorted(per_page.items(), key=lambda kv: -kv[1]):
        print(f"{page:<12} {1000 * seconds:>21.0f} ms")
    print(f"{'mean':<12} {1000 * sum(per_page.values()) / len(per_page):>21.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
