"""Ingest 1M rows: the workspace's full path against bare DuckDB-to-disk and pandas.read_csv, in one run.

Each method runs BENCH_INGEST_REPEATS times (default 3), interleaved (ours, bare, pandas, ours, ...), each in a fresh
process. The ratio that judges the target is the median of the paired runs (ours / the bare run beside it, so both
saw the same load); the ratio of each method's fastest run is printed beside it (noise only adds time), and so is
the ratio of CPU seconds (user + system, all threads), which a busy machine inflates far less than wall time. The
load average is printed before and after. BENCH_INGEST_PANDAS=0 leaves pandas out (quicker runs while tuning).
Run: `python -m bench ingest` (or `python -m bench.bench_ingest`).
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile

from bench.datagen import ensure_table
from bench.measure import measure

ROWS = int(os.environ.get("BENCH_INGEST_ROWS", "1000000"))
REPEATS = max(1, int(os.environ.get("BENCH_INGEST_REPEATS", "3")))
WITH_PANDAS = os.environ.get("BENCH_INGEST_PANDAS", "1") != "0"
_CPU_START = "import resource as _res\n_cpu0 = sum(_res.getrusage(_res.RUSAGE_SELF)[:2])\n"
_CPU_END = "extra['cpu'] = sum(_res.getrusage(_res.RUSAGE_SELF)[:2]) - _cpu0\n"


def _once(path, tmp: str, i: int):
    ours = measure(
        "workspace ingest (stage, sniff, preview, load, catalog)",
        f"from core.data.samples import open_workspace\nfrom core.data.ingest import ingest_path\n"
        f"ws = open_workspace({tmp + f'/ws{i}'!r}, seed_samples=False)\n" + _CPU_START,
        f"r = ingest_path(ws, {str(path)!r}, name='bench')\nextra['rows'] = r.dataset.rows\n"
        f"ws._con.execute('CHECKPOINT')\n" + _CPU_END)
    bare = measure(
        "bare DuckDB read_csv -> on-disk table + checkpoint",
        f"import duckdb\ncon = duckdb.connect({tmp + f'/bare{i}.duckdb'!r})\n" + _CPU_START,
        f"con.execute('CREATE TABLE t AS SELECT * FROM read_csv(?)', [{str(path)!r}])\ncon.execute('CHECKPOINT')\n"
        + _CPU_END)
    pandas = None
    if WITH_PANDAS:
        pandas = measure("pandas.read_csv (stores nothing)", "import pandas as pd\n",
                         f"df = pd.read_csv({str(path)!r})\nextra['rows'] = len(df)\n")
    shutil.rmtree(tmp + f"/ws{i}", ignore_errors=True)
    for leftover in (f"/bare{i}.duckdb", f"/bare{i}.duckdb.wal"):
        if os.path.exists(tmp + leftover):
            os.remove(tmp + leftover)
    return ours, bare, pandas


def main() -> None:
    path = ensure_table(ROWS)
    size_mb = path.stat().st_size / 2**20
    tmp = tempfile.mkdtemp(prefix="bench_ingest_")
    load_before = os.getloadavg()[0]
    print(f"benchmark table: {ROWS:,} rows, {size_mb:.0f} MB CSV ({path}); {REPEATS} interleaved runs of each, "
          f"load average {load_before:.1f} on {os.cpu_count()} cores")
    try:
        runs = [_once(path, tmp, i) for i in range(REPEATS)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    fastest = [min((r[k] for r in runs), key=lambda m: m.seconds) for k in range(3 if WITH_PANDAS else 2)]
    for m in fastest:
        print(m.line(size_mb))
    ours, bare = fastest[0], fastest[1]
    paired = [r[0].seconds / r[1].seconds for r in runs]
    cpu = [r[0].extra["cpu"] / r[1].extra["cpu"] for r in runs]
    print(f"paired runs ours / bare:    {', '.join(f'{x:.2f}x' for x in paired)} (wall); "
          f"{', '.join(f'{x:.2f}x' for x in cpu)} (CPU seconds)")
    print(f"ratio ours / bare DuckDB:   {statistics.median(paired):5.2f}x   (target <= 1.20x; median of paired runs; "
          f"fastest runs {ours.seconds / bare.seconds:.2f}x; CPU seconds {statistics.median(cpu):.2f}x)")
    if WITH_PANDAS:
        print(f"speed-up vs pandas:         {fastest[2].seconds / ours.seconds:5.2f}x   (target >= 1.60x)")
    print(f"peak memory ours:           {max(r[0].peak_mb for r in runs):5.0f} MB (target <= 600 MB, largest run)")
    print(f"load average:               {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    assert all(r[0].extra["rows"] == ROWS for r in runs), [r[0].extra for r in runs]


if __name__ == "__main__":
    main()
