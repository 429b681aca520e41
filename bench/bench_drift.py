"""Drift verdict: our drift table against a plain Evidently DataDriftPreset run, same frames, same `make bench` run.

Data: the benchmark table (bench/datagen.py) as reference and its drifted copy as current, 50k and 500k rows, the 20
columns besides the row number. Each step runs in a fresh process; reading the CSVs and importing the libraries
(scipy for us, evidently for Evidently: ~5 s) happen before the clock starts. Evidently gets the frames as they are
(its own column inference); we get the kinds the workspace would record. Evidently's time is `Report.run` only,
without drawing its HTML, so the ratio is a lower bound.
"""

from __future__ import annotations

import os
import time

from bench.datagen import CATEGORICAL_COLUMNS, NUMERIC_COLUMNS, ensure_table
from bench.measure import measure

SIZES = tuple(int(s) for s in os.environ.get("BENCH_DRIFT_SIZES", "50000,500000").split(","))
TARGET_S = {50_000: 1.5, 500_000: 6.0}
MIN_SPEEDUP = 5.0
# Columns the generator really shifts (the target's positive share moves with its inputs) and those it keeps.
SHIFTED = ("age", "income", "wait_time", "score", "visits", "z", "z_corr", "load", "share_pct", "heavy_tail",
           "amount", "region", "flag", "target")
STABLE = ("code", "segment", "channel", "product", "customer_id")
KINDS = {**{c: "numeric" for c in NUMERIC_COLUMNS}, **{c: "categorical" for c in CATEGORICAL_COLUMNS},
         "event_ts": "datetime", "target": "categorical"}

LOAD = """
import pandas as pd
ref = pd.read_csv({ref!r}, parse_dates=["event_ts"]).drop(columns=["id"])
cur = pd.read_csv({cur!r}, parse_dates=["event_ts"]).drop(columns=["id"])
KINDS = {kinds!r}
"""
OURS_SETUP = "import scipy.stats, scipy.spatial.distance, scipy.special\nfrom core.monitor.checks import *\n"
OURS = """
r = check_drift({reference}, cur, {columns}{options})
extra["drift"] = {{c.column: bool(c.drift) for c in r.compared}}
extra["excluded"] = [c.column for c in r.columns if c.excluded]
extra["share"] = r.drift_share
extra["verdict"] = r.verdict
"""
EVIDENTLY_SETUP = """
from evidently import Report
from evidently.presets import DataDriftPreset
from core.monitor.evidently_report import summarize_snapshot
"""
EVIDENTLY = """
snapshot = Report([DataDriftPreset()], include_tests=True).run(cur, ref)
columns = summarize_snapshot(snapshot)["columns"]
extra["drift"] = {name: v["drift"] for name, v in columns.items()}
extra["methods"] = sorted({v["method"] for v in columns.values()})
"""


def main() -> None:
    for n in SIZES:
        ref, cur = ensure_table(n), ensure_table(n, drifted=True)
        load = LOAD.format(ref=str(ref.resolve()), cur=str(cur.resolve()), kinds=KINDS)
        print(f"\n{n:,} vs {n:,} rows, 20 columns ({len(SHIFTED)} really shifted, {len(STABLE)} not)")
        ours = measure("ours: sound statistics (default), from frames", load + OURS_SETUP,
                       OURS.format(reference="ref", columns="KINDS", options=""))
        parity = measure("ours: Evidently parity, from frames", load + OURS_SETUP,
                         OURS.format(reference="ref", columns="KINDS",
                                     options=", DriftOptions(method='evidently-default')"))
        cached = measure("ours: with a saved reference summary", load + OURS_SETUP
                         + "summary = summarize_reference(ref, KINDS)\n",
                         OURS.format(reference="summary", columns="None", options=""))
        calibrated = measure("ours: calibrated + BH (option)", load + OURS_SETUP,
                             OURS.format(reference="ref", columns="KINDS",
                                         options=", DriftOptions(calibrated=True, bh=True)"))
        evidently = measure("Evidently DataDriftPreset (plain)", load + EVIDENTLY_SETUP, EVIDENTLY, timeout=3600)
        for m in (ours, parity, cached, calibrated, evidently):
            print(f"  {m.line()}")
        target = TARGET_S.get(n)
        speedup = evidently.seconds / ours.seconds
        status = "ok" if (target is None or ours.seconds <= target) and speedup >= MIN_SPEEDUP else "MISSED"
        print(f"  ours {ours.seconds:.2f} s (target <= {target} s), Evidently {evidently.seconds:.2f} s: "
              f"{speedup:.1f}x faster (target >= {MIN_SPEEDUP:.0f}x)  {status}")
        _agreement(ours.extra["drift"], evidently.extra["drift"], calibrated.extra["drift"])
        print(f"  left out by us (with the reason in the table): {', '.join(ours.extra['excluded'])}")
        print(f"  our verdict: {ours.extra['verdict']}")
        print(f"  Evidently's methods: {', '.join(evidently.extra['methods'])}")
    false_alarms()


AA_RUNS = int(os.environ.get("BENCH_AA_RUNS", "400"))  # about 25 min on a quiet 2-core machine


def false_alarms() -> None:
    """The A/A grid: every stable case at every size, each test the verdict uses, with its observed rate."""
    from core.monitor import aa

    print(f"\nA/A false alarms at alpha 0.05 ({AA_RUNS} stable pairs per cell; limit 0.07)")
    cases = [("categorical", name, aa.categories(p)) for name, p in aa.CATEGORY_CASES.items()]
    cases += [("numeric", name, aa.numbers(g)) for name, g in aa.NUMBER_CASES.items()]
    worst = 0.0
    for label, method, calibrated, sizes in (
            ("sound", "sound", False, aa.SIZES),
            ("Evidently p-value tests, calibrated", "p-value", True, aa.SIZES[:5]),
            ("Evidently distances, calibrated", "distance", True, aa.SIZES[:5]),
            ("Evidently p-value tests as Evidently runs them", "p-value", False, aa.SIZES)):
        for kind, name, sampler in cases:
            for n_ref, n_cur in sizes:
                started = time.perf_counter()
                runs = AA_RUNS if not calibrated else max(AA_RUNS // 4, 100)
                r = aa.simulate(sampler, kind, n_ref, n_cur, runs, method=method, calibrated=calibrated,
                                seed=n_ref * 7 + n_cur)
                if label != "Evidently p-value tests as Evidently runs them":
                    worst = max(worst, r.rate)
                print(f"  {label:46s} {name:36s} {n_ref:>7,}/{n_cur:<7,} {r.test:16s} {r.rate:6.3f}"
                      f"  ({time.perf_counter() - started:.1f} s)", flush=True)
    print(f"  worst rate of the tests the verdict may use: {worst:.3f} "
          f"({'ok' if worst <= 0.07 else 'MISSED'} against 0.07)")


def _agreement(ours: dict, theirs: dict, calibrated: dict) -> None:
    same = [c for c in SHIFTED if ours.get(c) == theirs.get(c)]
    differ = [f"{c} (ours {ours.get(c)}, Evidently {theirs.get(c)})" for c in SHIFTED if c not in same]
    print(f"  shifted columns, same verdict as Evidently: {len(same)}/{len(SHIFTED)}"
          + (f"; differ: {', '.join(differ)}" if differ else ""))
    flagged = [c for c in SHIFTED if ours.get(c)]
    print(f"  shifted columns flagged: ours {len(flagged)}/{len(SHIFTED)}, Evidently "
          f"{sum(bool(theirs.get(c)) for c in SHIFTED)}/{len(SHIFTED)}, calibrated "
          f"{sum(bool(calibrated.get(c)) for c in SHIFTED)}/{len(SHIFTED)}")
    print(f"  stable columns flagged: ours {[c for c in STABLE if ours.get(c)]}, Evidently "
          f"{[c for c in STABLE if theirs.get(c)]}, calibrated {[c for c in STABLE if calibrated.get(c)]}")


if __name__ == "__main__":
    main()
