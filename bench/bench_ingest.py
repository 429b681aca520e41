"""Ingest 1M rows: the workspace's full path against bare DuckDB-to-disk and pandas.read_csv, in one run.

Each method runs BENCH_INGEST_REPEATS times (default 3), interleaved (ours, bare, pandas, ours, ...), each in a fresh
process; the ratios use each method's fastest run, the usual way to read timings on a shared machine (noise only adds
time), and the median ratio is printed beside it. Run: `python -m bench.bench_ingest`.
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


def _once(path, tmp: str, i: int):
    ours = measure(
        "workspace ingest (stage, sniff, preview, load, catalog)",
        f"from core.data.samples import open_workspace\nfrom core.data.ingest import ingest_path\n"
        f"ws = open_workspace({tmp + f'/ws{i}'!r}, seed_samples=False)\n",
        f"r = ingest_path(ws, {str(path)!r}, name='bench')\nextra['rows'] = r.dataset.rows\n"
        f"ws._con.execute('CHECKPOINT')\n")
    bare = measure(
        "bare DuckDB read_csv -> on-disk table + checkpoint",
        f"import duckdb\ncon = duckdb.connect({tmp + f'/bare{i}.duckdb'!r})\n",
        f"con.execute('CREATE TABLE t AS SELECT * FROM read_csv(?)', [{str(path)!r}])\ncon.execute('CHECKPOINT')\n")
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
    print(f"benchmark table: {ROWS:,} rows, {size_mb:.0f} MB CSV ({path}); {REPEATS} interleaved runs of each, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    try:
        runs = [_once(path, tmp, i) for i in range(REPEATS)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ours, bare, pandas = (min((r[k] for r in runs), key=lambda m: m.seconds) for k in range(3))
    for m in (ours, bare, pandas):
        print(m.line(size_mb))
    ratios = [r[0].seconds / r[1].seconds for r in runs]
    print(f"ratio ours / bare DuckDB:   {ours.seconds / bare.seconds:5.2f}x   (target <= 1.20x; fastest runs; "
          f"median of paired runs {statistics.median(ratios):.2f}x)")
    print(f"speed-up vs pandas:         {pandas.seconds / ours.seconds:5.2f}x   (target >= 1.60x)")
    print(f"peak memory ours:           {max(r[0].peak_mb for r in runs):5.0f} MB (target <= 600 MB, largest run)")
    print(f"load average after:         {os.getloadavg()[0]:.1f}")
    assert all(r[0].extra["rows"] == ROWS for r in runs), [r[0].extra for r in runs]


if __name__ == "__main__":
    main()
