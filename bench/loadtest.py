"""`make loadtest`: concurrent sessions drive a running server over Streamlit's own websocket protocol.

Each simulated session opens the pages a team uses (Home, dashboard, data, profile, split, evaluate, registry, drift,
launch) for a bounded number of rounds, then creates a split with the Split page's button (a real write through the
UI). It reports the time from request to "script finished" (p50 / p95 / max, per page and overall), counts exception
boxes and protocol errors, the server's CPU per page run and its peak memory, and afterwards checks in the workspace
that every write landed. Everything stays on 127.0.0.1. Before the scenarios one visitor opens every page once on
the freshly started server (the cold start after a restart: imports, models loaded, caches filled), timed apart.

Two load models, both run by default and printed apart (LOADTEST_SCENARIOS=team,stress):
- team: people read a page before they open the next, a think time drawn uniformly from LOADTEST_THINK seconds
  (default 1-3) after every page; the targets (p95 <= 1.5 s, p50 <= 0.5 s at 20 sessions; p95 <= 3 s at 50) are
  judged on this one;
- stress: no think time, every session asks for its next page the moment the last one finished (a worst case no
  team produces: 20 people clicking without reading).
Env: LOADTEST_SESSIONS (20), LOADTEST_ROUNDS (2), LOADTEST_THINK ("1-3"), LOADTEST_SEED (7).
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SESSIONS = int(os.environ.get("LOADTEST_SESSIONS", "20"))
ROUNDS = int(os.environ.get("LOADTEST_ROUNDS", "2"))
PAGES = ("", "dashboard", "data", "profile", "split", "evaluate", "registry", "drift", "launch")
TIMEOUT_S = 120
TARGET_P95_S, TARGET_P50_S = 1.5, 0.5   # at 20 sessions (issue 18)
TARGET_P95_50_S = 3.0                   # at 50 sessions: p95 only


def _think_range(text: str) -> tuple[float, float]:
    low, _, high = text.partition("-")
    low_s = float(low)
    return low_s, float(high or low)


THINK_S = _think_range(os.environ.get("LOADTEST_THINK", "1-3"))


@dataclass(frozen=True)
class Scenario:
    name: str
    think_s: tuple[float, float]  # uniform (low, high) seconds after each page; (0, 0) = none

    def describe(self, sessions: int) -> str:
        low, high = self.think_s
        think = f"think time {low:g}-{high:g} s uniform after every page" if high > 0 else "no think time"
        return f"{self.name}: {sessions} sessions, {think}, {ROUNDS} rounds of {len(PAGES)} pages + 1 write each"


SCENARIOS = {"team": Scenario("team", THINK_S), "stress": Scenario("stress", (0.0, 0.0))}


class Session:
    def __init__(self, url: str, project_id: str, query: str = "", think_s: tuple[float, float] = (0.0, 0.0),
                 seed: int = 0):
        self.url, self.project_id, self.query = url, project_id, query
        self.think_s = think_s
        self._rng = random.Random(seed)
        self.times: list[float] = []
        self.by_page: dict[str, list[float]] = {}
        self.exceptions: list[str] = []
        self.buttons: dict[str, str] = {}

    async def run_page(self, ws, page: str, widget_states=None) -> None:
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        msg = BackMsg()
        msg.rerun_script.query_string = f"project={self.project_id}" + (f"&{self.query}" if self.query else "")
        msg.rerun_script.page_name = page
        if widget_states is not None:
            msg.rerun_script.widget_states.CopyFrom(widget_states)
        started = time.perf_counter()
        await ws.send(msg.SerializeToString())
        self.buttons = {}
        while True:
            raw = await asyncio.wait_for(ws.recv(), TIMEOUT_S)
            fwd = ForwardMsg()
            fwd.ParseFromString(raw)
            kind = fwd.WhichOneof("type")
            if kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                el = fwd.delta.new_element
                which = el.WhichOneof("type")
                if which == "exception":
                    self.exceptions.append(f"{page}: {el.exception.message[:200]}")
                elif which == "button":
                    self.buttons[el.button.label] = el.button.id
            elif kind == "script_finished":
                if fwd.script_finished in (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR):
                    elapsed = time.perf_counter() - started
                    self.times.append(elapsed)
                    name = (page or "home") + (" (write)" if widget_states is not None else "")
                    self.by_page.setdefault(name, []).append(elapsed)
                    return

    async def click(self, ws, page: str, label: str, widget_id: str | None = None) -> None:
        """Presses a button by its label, or sends a press for any widget id (a forged event)."""
        from streamlit.proto.WidgetStates_pb2 import WidgetStates

        states = WidgetStates()
        state = states.widgets.add()
        state.id = widget_id or self.buttons[label]
        state.trigger_value = True
        await self.run_page(ws, page, states)

    async def think(self) -> None:
        """Reads the page, as a person does before the next click (nothing when the scenario has no think time)."""
        low, high = self.think_s
        if high > 0:
            await asyncio.sleep(self._rng.uniform(low, high))

    async def main(self) -> None:
        import websockets

        host = self.url.removeprefix("http://")
        if self.think_s[1] > 0:  # people do not arrive in the same millisecond
            await asyncio.sleep(self._rng.uniform(0, self.think_s[1]))
        async with websockets.connect(f"ws://{host}/_stcore/stream", subprotocols=["streamlit"],
                                      origin=self.url, max_size=2**26) as ws:
            for _ in range(ROUNDS):
                for page in PAGES:
                    await self.run_page(ws, page)
                    await self.think()
            await self.run_page(ws, "split")
            await self.think()
            await self.click(ws, "split", "Create split")


def _prepare(home: Path, attempts: int = 3) -> str:
    """Builds the demo project in `home`, or copies one built before when LOADTEST_DEMO_COPY names a folder (it is
    filled on the first run: the demo takes minutes to build, a copy seconds; artifact checksums name relative paths,
    so a copied workspace loads). The demo's canary judges latency measured live, so on a busy machine it can roll
    back and the gate refuses the promotion; then the demo is built again in a fresh folder (said so)."""
    import shutil

    saved = os.environ.get("LOADTEST_DEMO_COPY")
    if saved:
        saved_ws, saved_id = Path(saved) / "ws", Path(saved) / "project_id.txt"
        if saved_id.is_file():
            shutil.copytree(saved_ws, home)
            print(f"  demo workspace copied from {saved}", flush=True)
            return saved_id.read_text().strip()
        project_id = _build_demo(home, attempts)
        shutil.rmtree(saved_ws, ignore_errors=True)
        shutil.copytree(home, saved_ws)
        saved_id.write_text(project_id)
        return project_id
    return _build_demo(home, attempts)


def _build_demo(home: Path, attempts: int) -> str:
    import shutil

    from core.data.samples import open_workspace
    from core.errors import WorkbenchError
    from core.share.demo import build_demo
    from core.store.workspace import close_workspace

    for attempt in range(1, attempts + 1):
        ws = open_workspace(home, seed_samples=True)
        try:
            return build_demo(ws).project_id
        except WorkbenchError as err:
            if attempt == attempts:
                raise
            print(f"  the demo could not be built ({err}); building it again in a fresh folder", flush=True)
        finally:
            close_workspace(home)
        shutil.rmtree(home, ignore_errors=True)
    raise AssertionError("unreachable")


async def _drive(url: str, project_id: str, scenario: Scenario, sessions: int = SESSIONS,
                 seed: int = 7) -> list[Session]:
    runs = [Session(url, project_id, think_s=scenario.think_s, seed=seed * 1000 + i) for i in range(sessions)]
    results = await asyncio.gather(*(s.main() for s in runs), return_exceptions=True)
    for s, r in zip(runs, results):
        if isinstance(r, BaseException):
            s.exceptions.append(f"protocol: {type(r).__name__}: {r}")
    return runs


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))] if ordered else float("nan")


def page_table(sessions: list[Session]) -> str:
    """p50 / p95 / max script time per page, over every session's runs of it (slowest p95 first)."""
    by_page: dict[str, list[float]] = {}
    for s in sessions:
        for page, values in s.by_page.items():
            by_page.setdefault(page, []).extend(values)
    rows = sorted(by_page.items(), key=lambda kv: -_quantile(kv[1], 0.95))
    lines = [f"  {'page':<18} {'runs':>5} {'p50 s':>7} {'p95 s':>7} {'max s':>7}"]
    lines += [f"  {page:<18} {len(v):>5} {statistics.median(v):>7.2f} {_quantile(v, 0.95):>7.2f} {max(v):>7.2f}"
              for page, v in rows]
    return "\n".join(lines)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), the load-independent measure of the server's work."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def _peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return float("nan")


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} / {fifteen:.1f} (1 / 5 / 15 min) on {os.cpu_count()} cores"


def _splits(home: Path, project_id: str) -> int:
    from core.data.samples import open_workspace
    from core.split.splitting import list_splits
    from core.store.workspace import close_workspace

    n = len(list_splits(open_workspace(home, seed_samples=False), project_id))
    close_workspace(home)
    return n


async def _first_visits(url: str, project_id: str) -> Session:
    """One visitor opens each page once on the freshly started server: what the first visitor after a restart waits
    for (imports, models loaded, shared caches filled). Timed and printed apart; the scenarios run after it."""
    import websockets

    visitor = Session(url, project_id)
    host = url.removeprefix("http://")
    async with websockets.connect(f"ws://{host}/_stcore/stream", subprotocols=["streamlit"], origin=url,
                                  max_size=2**26) as ws:
        for page in PAGES:
            await visitor.run_page(ws, page)
    return visitor


def cold_start(server, project_id: str) -> bool:
    print(f"\ncold start: one visitor opens each page once on the freshly started server ({_load()})", flush=True)
    visitor = asyncio.run(_first_visits(server.url, project_id))
    print("  " + ", ".join(f"{page} {values[0]:.1f} s" for page, values in visitor.by_page.items())
          + f"; {sum(visitor.times):.1f} s in all")
    print(f"  errors: {len(visitor.exceptions)}" + "".join(f"\n    {e}" for e in visitor.exceptions[:10]))
    return not visitor.exceptions


def run_scenario(server, home: Path, project_id: str, scenario: Scenario) -> tuple[bool, list[Session]]:
    """Drives one scenario against the running server and prints its lines; returns (no errors, the sessions).
    Writes are counted once the server has stopped (its DuckDB file is locked while it runs)."""
    print(f"\n{scenario.describe(SESSIONS)}", flush=True)
    print(f"  before: {_load()}")
    cpu_before = _cpu_seconds(server.proc.pid)
    started = time.perf_counter()
    sessions = asyncio.run(_drive(server.url, project_id, scenario, seed=int(os.environ.get("LOADTEST_SEED", "7"))))
    wall = time.perf_counter() - started
    cpu = _cpu_seconds(server.proc.pid) - cpu_before
    times = sorted(t for s in sessions for t in s.times)
    errors = [e for s in sessions for e in s.exceptions]
    p50, p95 = (statistics.median(times), _quantile(times, 0.95)) if times else (float("nan"), float("nan"))
    print(f"  {len(times)} page views in {wall:.1f} s ({len(times) / wall:.1f} per second)")
    print(f"  page script time: p50 {p50:.2f} s, p95 {p95:.2f} s, max {times[-1] if times else float('nan'):.2f} s")
    print(f"  server CPU: {cpu:.1f} s in all, {1000 * cpu / max(len(times), 1):.0f} ms per page view, "
          f"{100 * cpu / wall / (os.cpu_count() or 1):.0f}% of the machine; server peak memory so far "
          f"{_peak_rss_mb(server.proc.pid):.0f} MB")
    print(f"  after: {_load()}")
    print(page_table(sessions))
    if scenario.think_s[1] > 0:
        verdict = lambda ok: "met" if ok else "MISSED"  # noqa: E731
        if SESSIONS > 20:
            print(f"  target at {SESSIONS} sessions (the 50-session one): p95 {p95:.2f} s <= {TARGET_P95_50_S} s "
                  f"{verdict(p95 <= TARGET_P95_50_S)}")
        else:
            print(f"  targets at {SESSIONS} sessions: p95 {p95:.2f} s <= {TARGET_P95_S} s "
                  f"{verdict(p95 <= TARGET_P95_S)}, p50 {p50:.2f} s <= {TARGET_P50_S} s {verdict(p50 <= TARGET_P50_S)}")
    print(f"  errors: {len(errors)}" + "".join(f"\n    {e}" for e in errors[:10]))
    return not errors, sessions


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from tests.e2e.conftest import AppServer

    names = [n.strip() for n in os.environ.get("LOADTEST_SCENARIOS", "team,stress").split(",") if n.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        print(f"unknown scenario(s) {unknown}; choose from {sorted(SCENARIOS)}")
        return 2
    home = Path(tempfile.mkdtemp(prefix="loadtest_")) / "ws"
    print(f"preparing the demo workspace in {home} …", flush=True)
    project_id = _prepare(home)
    before = _splits(home, project_id)
    server = AppServer(home, home.parent / "streamlit.log")
    results = []
    try:
        server.wait_healthy()
        warm = cold_start(server, project_id)
        for name in names:
            results.append(run_scenario(server, home, project_id, SCENARIOS[name]))
    finally:
        server.stop()
    after = _splits(home, project_id)
    wanted = SESSIONS * len(names)
    print(f"\nwrites: {after - before} of {wanted} splits created landed in the workspace")
    ok = warm and all(r[0] for r in results) and after - before == wanted
    print("loadtest", "PASSED" if ok else "FAILED", "(errors and writes; the timing targets are printed above)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
