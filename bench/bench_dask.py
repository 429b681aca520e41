"""Dask backend on the 1,000,000-row benchmark table: comparison, XGBoost, worker scaling and batch scoring.

Each step runs in a fresh process (bench.measure). The comparison is the default one (every classification model,
5-fold CV, final fit scored on validation) on `local` and on `dask-local` with 2 workers; on the cluster random
forest and XGBoost train on every row, so its best ROC-AUC can differ. XGBoost alone: its final fit through
`xgboost.dask` on all training rows against the local model. Scaling: the per-task part of a comparison (logistic
regression, decision tree, k-NN; folds spread over workers) on 1 and 2 workers. From the comparison's measured task
times: what a larger cluster would change (it cannot finish before its longest task, nor faster than the summed
task time over its workers).

Batch scoring: 1M rows with a registered logistic regression (the bench table has a 100,000-value customer id, so
its target encoder is the heavy part), written to a formula-safe CSV, on 2 workers against scoring here. The check
against the schema (DuckDB aggregates, core.release.inputschema) runs once first, as the Score page does when the file is chosen; then two scoring jobs: the
first on a fresh cluster (its workers load the model file), the second warm (the headline). The app process's
peak memory is that of a process that opens the workspace and scores (targets: >= 200,000 rows/s, <= 600 MB).

Sizes: BENCH_DASK_ROWS (default 1,000,000) for the comparisons, which take long on two shared cores;
BENCH_DASK_SCORE_ROWS (default 1,000,000) for batch scoring; BENCH_DASK_SKIP=compare,xgb,scaling,score skips steps.
    .venv/bin/python -m bench dask                                   # everything on 1M rows
    BENCH_DASK_ROWS=100000 .venv/bin/python -m bench dask            # comparisons on 100k rows, scoring on 1M
"""

from __future__ import annotations

import os
import tempfile

from bench.measure import measure

ROWS = int(os.environ.get("BENCH_DASK_ROWS", "1000000"))
SCORE_ROWS = int(os.environ.get("BENCH_DASK_SCORE_ROWS", "1000000"))
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
                            "folds": len(r.fold_metrics or []), "auc": r.validation_metrics.get("roc_auc"),
                            "error": r.error}} for r in result.runs}}
"""

SCORE_SETUP = """
import os, warnings
warnings.filterwarnings("ignore")
os.environ["WORKBENCH_COMPUTE"] = {compute!r}
os.environ["WORKBENCH_HOME"] = {home!r}
from core.data.samples import open_workspace
from core.registry.versions import get_version
from core.models import compute
import core.release.scoring, sklearn.linear_model, sklearn.preprocessing  # the libraries' import is not scoring
ws = open_workspace({home!r}, seed_samples=False)
version = get_version(ws, {version!r})
_c = compute.client()
if _c is not None:  # a running cluster's workers have imported them too
    _c.run(lambda: __import__("core.release.scoring") and __import__("sklearn.linear_model") and None)
"""

SCORE = """
import time
from core.release.scoring import check_input, score
out = os.path.join({home!r}, "scored.csv")
began, cpu = time.perf_counter(), time.process_time()
report = check_input(ws, version, "bench")
extra["check"] = time.perf_counter() - began
extra["check_cpu"] = time.process_time() - cpu
for name in ("first", "warm"):
    began, cpu, wall = time.perf_counter(), time.process_time(), time.time()
    result = score(ws, version, "bench", report=report, out=out)
    extra[name] = time.perf_counter() - began
    extra[name + "_app_cpu"] = time.process_time() - cpu
    extra[name + "_tasks"] = [dict(t, started=t["started"] - wall) for t in result.tasks]  # seconds into the job
extra["rows"] = result.summary["rows"]
extra["csv_mb"] = os.path.getsize(out) / 1e6
"""


def _register(home: str) -> str:
    code = SETUP.format(compute="local", home=home, rows=SCORE_ROWS) + """
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


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} (1 / 5 min) on {os.cpu_count()} cores"


def _larger_cluster(m) -> str:
    """What more workers would change, from the comparison's measured task times (cv folds + final fit per model)."""
    tasks = []
    for v in m.extra["models"].values():
        if v["error"] or not v["seconds"]:
            continue
        final = min(v["fit"] or 0.0, v["seconds"])
        folds = max(v["folds"], 1)
        tasks += [final] + [(v["seconds"] - final) / folds] * folds
    total, longest = sum(tasks), max(tasks)
    workers = m.extra["workers"] or 1
    lines = [f"  larger cluster: {len(tasks)} tasks, {total:.0f} task-seconds in all, the longest {longest:.0f} s; "
             f"measured on {workers} worker(s): {m.seconds:.0f} s"]
    for w in (4, 8, 16, 32):
        lines.append(f"    {w:>2} workers: at least {max(total / w, longest):6.0f} s "
                     f"({'bound by the longest task' if longest >= total / w else 'bound by the summed task time'})")
    lines.append(f"    beyond about {total / longest:.0f} workers the longest single task sets the time; splitting it "
                 "(trees across workers, xgboost.dask) is what helps then")
    return "\n".join(lines)


def main() -> None:
    print(f"dask-local = LocalCluster on 127.0.0.1, 1 thread per worker; {_load()}")
    print(f"comparisons on {ROWS:,} rows (BENCH_DASK_ROWS), batch scoring on {SCORE_ROWS:,} rows "
          "(BENCH_DASK_SCORE_ROWS); benchmark table stratified 70/15/15")
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
        print("  (seconds: each model's folds + final fit, summed over workers)")
        print(_larger_cluster(dask))
        print(f"  {_load()}")
    if "xgb" not in SKIP:
        local = _compare("XGBoost, local (2 threads)", "local", "['xgb']")
        dask = _compare("XGBoost, final fit via xgboost.dask (2 workers)", "dask-local:2", "['xgb']")
        a, b = local.extra["models"]["xgb"], dask.extra["models"]["xgb"]
        print(local.line())
        print(dask.line())
        print(f"  final fit {a['fit']:.1f} s on {a['rows']:,} rows locally vs {b['fit']:.1f} s on {b['rows']:,} rows "
              f"with xgboost.dask ({b['fit'] / a['fit']:.2f}x); validation ROC-AUC {a['auc']:.4f} vs {b['auc']:.4f} "
              f"({b['auc'] - a['auc']:+.4f})")
        print(f"  {_load()}")
    if "scaling" not in SKIP:
        keys = "['logreg', 'tree', 'knn']"
        one = _compare("per-task comparison, dask-local 1 worker", "dask-local:1", keys)
        two = _compare("per-task comparison, dask-local 2 workers", "dask-local:2", keys)
        print(one.line())
        print(two.line())
        print(f"  speed-up 1 -> 2 workers: {one.seconds / two.seconds:.2f}x (ideal 2x on two free cores)")
        print(f"  {_load()}")
    if "score" not in SKIP:
        home = tempfile.mkdtemp(prefix="bench_dask_score_")
        version = _register(home)
        here = measure("batch scoring, local", SCORE_SETUP.format(compute="local", home=home, version=version),
                       SCORE.format(home=home), timeout=3600)
        load_here = _load()
        there = measure("batch scoring, dask-local (2 workers)",
                        SCORE_SETUP.format(compute="dask-local:2", home=home, version=version),
                        SCORE.format(home=home), timeout=3600)
        for m, load in ((here, load_here), (there, _load())):
            x = m.extra
            print(f"{m.label:<44} peak {m.peak_mb:7.0f} MB  check {x['check']:5.1f} s ({x['check_cpu']:.1f} CPU-s); first job {x['first']:5.1f} s "
                  f"({x['rows'] / x['first']:>9,.0f} rows/s); warm {x['warm']:5.1f} s "
                  f"({x['rows'] / x['warm']:>9,.0f} rows/s, app CPU {x['warm_app_cpu']:.1f} s); {load}")
        x, rows = there.extra, there.extra["rows"]
        rate = rows / x["warm"]
        print(f"  dask warm: {rate:,.0f} rows/s (target >= {TARGET_ROWS_S:,}: "
              f"{'ok' if rate >= TARGET_ROWS_S else 'UNDER'}); app peak {there.peak_mb:.0f} MB (target <= {TARGET_MB}: "
              f"{'ok' if there.peak_mb <= TARGET_MB else 'OVER'}); {here.extra['warm'] / x['warm']:.2f}x the local "
              f"speed; end to end with the check {rows / (x['check'] + x['warm']):,.0f} rows/s; "
              f"CSV {x['csv_mb']:.0f} MB")
        tasks = x["warm_tasks"]
        if tasks:
            busy = sum(t["read"] + t["score"] for t in tasks)
            app = x["warm_app_cpu"]
            print(f"  larger cluster: {len(tasks)} partitions, {busy:.1f} worker-seconds in all "
                  f"({rows / busy:,.0f} rows/s per worker), the app {app:.1f} CPU-s (DuckDB writes the partitions, "
                  f"appends the CSV parts: at most {rows / max(app, 1e-9):,.0f} rows/s however many workers)")
            for w in (4, 8, 16):
                print(f"    {w:>2} workers: about {min(w * rows / busy, rows / max(app, 1e-9)):>10,.0f} rows/s "
                      f"(with enough partitions: {SCORE_ROWS:,} rows make {len(tasks)})")
            names = {w: f"w{i}" for i, w in enumerate(sorted({t["worker"] for t in tasks}))}
            print("  warm job, per partition (worker: start-end s into the job, CPU-s): " + "; ".join(
                f"{names[t['worker']]}: {t['started']:.1f}-{t['started'] + t['model'] + t['read'] + t['score']:.1f}"
                f" ({t['cpu']:.2f})" for t in tasks))
            cpu = sum(t.get("cpu", 0.0) for t in tasks)
            floor = max((cpu + app) / 2, app, max(t.get("cpu", 0.0) for t in tasks))
            print(f"  CPU time (less sensitive to the shared machine's load): workers {cpu:.1f} CPU-s "
                  f"({rows / max(cpu, 1e-9):,.0f} rows per CPU-s), app {app:.1f} CPU-s; on two free cores the warm "
                  f"job needs at least {floor:.1f} s = {rows / floor:,.0f} rows/s (projected, not measured)")


if __name__ == "__main__":
    main()
