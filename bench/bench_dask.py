"""Dask backend on the 1,000,000-row benchmark table: comparison, XGBoost, worker scaling and batch scoring.

Each step runs in a fresh process (bench.measure). The comparison is the default one (every classification model,
5-fold CV, final fit scored on validation) on `local` and on `dask-local` with 2 workers; on the cluster random
forest and XGBoost train on every row, so its best ROC-AUC can differ. XGBoost alone: its final fit through
`xgboost.dask` on all training rows against the local model. Scaling: the per-task part of a comparison (logistic
regression, decision tree, k-NN; folds spread over workers) on 1 and 2 workers. Batch scoring: 1M rows with a
registered model, partition by partition on 2 workers, against scoring here; the app process's peak memory is
measured in a process that only opens the workspace and scores (target: >= 200,000 rows/s, <= 600 MB).
Sizes: BENCH_DASK_ROWS (default 1,000,000); BENCH_DASK_SKIP=compare,xgb,scaling,score skips steps.
"""

from __future__ import annotations

import os
import tempfile

from bench.measure import measure

ROWS = int(os.environ.get("BENCH_DASK_ROWS", "1000000"))
SKIP = set(filter(None, os.environ.get("BENCH_DASK_SKIP", "").split(",")))
TARGET_ROWS_S, TARGET_MB = 200_000, 600

SETUP = """
import os, warnings
warnings.filterwarnings("ignore")
os.environ["WORKBENCH_COMPUTE"] = {compute!r}
os.environ["WORKBENCH_HOME"] = {home!r}
from bench.datagen import ensure_table
from core.catalog import ModelSpec, models_for
from core.data.ingest import ingest_path
from core.project.projects import create_project
from core.split.splitting import split_frames, split_project
from core.split.spec import SplitSpec
from core.data.samples import open_workspace
from core.models import compute
ws = open_workspace({home!r}, seed_samples=False)
info = ingest_path(ws, ensure_table({rows}), name="bench").dataset
project = create_project(ws, "bench", info.id, "target", task="binary")
split = split_project(ws, project, SplitSpec("stratified", seed=42))
frames = split_frames(ws, split, ("train", "validation"), with_row_id=True)
train, val = frames["train"], frames["validation"]
kinds = info.kinds()
compute.client()  # a dask-local cluster starts before the clock
"""

COMPARE = """
from core.models.training import compare
result = compare(train, val, "target", "binary", {keys}, kinds, cv=5, seed=42, positive_class=project.positive_class,
                 primary_metric="roc_auc")
extra["workers"] = result.workers
extra["models"] = {{r.key: {{"seconds": r.total_seconds, "fit": r.fit_seconds, "rows": r.train_rows,
                            "auc": r.validation_metrics.get("roc_auc"), "error": r.error}} for r in result.runs}}
"""

SCORE_SETUP = """
import os, warnings
warnings.filterwarnings("ignore")
os.environ["WORKBENCH_COMPUTE"] = {compute!r}
os.environ["WORKBENCH_HOME"] = {home!r}
from core.data.samples import open_workspace
from core.registry.versions import get_version
from core.models import compute
ws = open_workspace({home!r}, seed_samples=False)
version = get_version(ws, {version!r})
from core.registry.versions import load_version_model
load_version_model(ws, version)  # the libraries' import (seconds) is not scoring
_c = compute.client()
if _c is not None:  # a running cluster's workers have imported them too
    _c.run(lambda: __import__("core.release.gate") and __import__("sklearn.linear_model") and None)
"""

SCORE = """
from core.release.scoring import score
result = score(ws, version, "bench")
extra["rows"] = len(result.frame)
"""


def _register(home: str) -> str:
    code = SETUP.format(compute="local", home=home, rows=ROWS) + """
from core.models.runs import train_and_save
from core.release.actions import register_run
from core.models.runs import list_runs
train_and_save(ws, project, split, ["logreg"], cv=0)
run = next(r for r in list_runs(ws, project.id) if r.model_key == "logreg")
v = register_run(ws, run.id, note="bench", by="bench")
extra["version"] = v.id
"""
    return measure("train and register logistic regression", code, "pass", timeout=3600).extra["version"]


def _compare(label: str, compute: str, keys: str):
    home = tempfile.mkdtemp(prefix="bench_dask_")
    return measure(label, SETUP.format(compute=compute, home=home, rows=ROWS), COMPARE.format(keys=keys),
                   timeout=7200)


def _best(m) -> tuple[str, float]:
    ok = {k: v for k, v in m.extra["models"].items() if not v["error"] and v["auc"] is not None}
    key = max(ok, key=lambda k: ok[k]["auc"])
    return key, ok[key]["auc"]


def main() -> None:
    print(f"{ROWS:,}-row benchmark table, stratified 70/15/15; dask-local = LocalCluster on 127.0.0.1, 1 thread per "
          f"worker, on {os.cpu_count()} cores")
    if "compare" not in SKIP:
        keys = "[m.key for m in models_for('binary')]"
        local = _compare("default comparison, local", "local", keys)
        dask = _compare("default comparison, dask-local (2 workers)", "dask-local:2", keys)
        print(local.line())
        print(dask.line())
        (lk, la), (dk, da) = _best(local), _best(dask)
        print(f"  time dask/local {dask.seconds / local.seconds:.2f}x; best ROC-AUC local {la:.4f} ({lk}), dask "
              f"{da:.4f} ({dk}), difference {da - la:+.4f}")
        print(f"  {'model':<10} {'local s':>9} {'rows':>9} {'AUC':>7}   {'dask s':>9} {'rows':>9} {'AUC':>7}")
        for key, a in local.extra["models"].items():
            b = dask.extra["models"].get(key, {})
            print(f"  {key:<10} {a['seconds'] or 0:>9.1f} {a['rows'] or 0:>9,} {a['auc'] or 0:>7.4f}   "
                  f"{b.get('seconds') or 0:>9.1f} {b.get('rows') or 0:>9,} {b.get('auc') or 0:>7.4f}")
        print("  (seconds: each model's folds + final fit, summed over workers; per-task times say what more workers "
              "would change: the comparison cannot finish before its longest single task)")
    if "xgb" not in SKIP:
        local = _compare("XGBoost, local (2 threads)", "local", "['xgb']")
        dask = _compare("XGBoost, final fit via xgboost.dask (2 workers)", "dask-local:2", "['xgb']")
        a, b = local.extra["models"]["xgb"], dask.extra["models"]["xgb"]
        print(local.line())
        print(dask.line())
        print(f"  final fit {a['fit']:.1f} s on {a['rows']:,} rows locally vs {b['fit']:.1f} s on {b['rows']:,} rows "
              f"with xgboost.dask ({b['fit'] / a['fit']:.2f}x); validation ROC-AUC {a['auc']:.4f} vs {b['auc']:.4f} "
              f"({b['auc'] - a['auc']:+.4f})")
    if "scaling" not in SKIP:
        keys = "['logreg', 'tree', 'knn']"
        one = _compare("per-task comparison, dask-local 1 worker", "dask-local:1", keys)
        two = _compare("per-task comparison, dask-local 2 workers", "dask-local:2", keys)
        print(one.line())
        print(two.line())
        print(f"  speed-up 1 -> 2 workers: {one.seconds / two.seconds:.2f}x")
    if "score" not in SKIP:
        home = tempfile.mkdtemp(prefix="bench_dask_score_")
        version = _register(home)
        here = measure("batch scoring, local", SCORE_SETUP.format(compute="local", home=home, version=version), SCORE,
                       timeout=3600)
        there = measure("batch scoring, dask-local (2 workers)",
                        SCORE_SETUP.format(compute="dask-local:2", home=home, version=version), SCORE, timeout=3600)
        for m in (here, there):
            rate = m.extra["rows"] / m.seconds
            print(f"{m.line()}  {rate:>10,.0f} rows/s")
        rate = there.extra["rows"] / there.seconds
        print(f"  dask: {rate:,.0f} rows/s (target >= {TARGET_ROWS_S:,}: {'ok' if rate >= TARGET_ROWS_S else 'UNDER'}); "
              f"app peak {there.peak_mb:.0f} MB (target <= {TARGET_MB}: {'ok' if there.peak_mb <= TARGET_MB else 'OVER'})"
              f"; {here.seconds / there.seconds:.2f}x the local speed")


if __name__ == "__main__":
    main()
