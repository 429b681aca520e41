"""Ingest 1M rows: the workspace's full path against bare DuckDB-to-disk and pandas.read_csv, in one run."""

from __future__ import annotations

import os
import shutil
import tempfile

from bench.datagen import ensure_table
from bench.measure import measure

ROWS = int(os.environ.get("BENCH_INGEST_ROWS", "1000000"))


def main() -> None:
    path = ensure_table(ROWS)
    size_mb = path.stat().st_size / 2**20
    tmp = tempfile.mkdtemp(prefix="bench_ingest_")
    print(f"benchmark table: {ROWS:,} rows, {size_mb:.0f} MB CSV ({path})")
    try:
        ours = measure(
            "workspace ingest (stage, sniff, preview, load, catalog)",
            f"from core.data.samples import open_workspace\nfrom core.data.ingest import ingest_path\n"
            f"ws = open_workspace({tmp + '/ws'!r}, seed_samples=False)\n",
            f"r = ingest_path(ws, {str(path)!r}, name='bench')\nextra['rows'] = r.dataset.rows\n"
            f"ws._con.execute('CHECKPOINT')\n")
        bare = measure(
            "bare DuckDB read_csv -> on-disk table + checkpoint",
            f"import duckdb\ncon = duckdb.connect({tmp + '/bare.duckdb'!r})\n",
            f"con.execute('CREATE TABLE t AS SELECT * FROM read_csv(?)', [{str(path)!r}])\ncon.execute('CHECKPOINT')\n")
        pandas = measure("pandas.read_csv (stores nothing)", "import pandas as pd\n",
                         f"df = pd.read_csv({str(path)!r})\nextra['rows'] = len(df)\n")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for m in (ours, bare, pandas):
        print(m.line(size_mb))
    print(f"ratio ours / bare DuckDB:   {ours.seconds / bare.seconds:5.2f}x   (target <= 1.20x)")
    print(f"speed-up vs pandas:         {pandas.seconds / ours.seconds:5.2f}x   (target >= 1.60x)")
    print(f"peak memory ours:           {ours.peak_mb:5.0f} MB (target <= 600 MB)")
    assert ours.extra["rows"] == ROWS, ours.extra


if __name__ == "__main__":
    main()
