"""Training on a real Dask cluster (2 worker processes on 127.0.0.1): same answers, lost workers, lost scheduler.

One LocalCluster serves the module; the scheduler-loss test starts its own, since it ends it.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pandas as pd
import pytest

from core.catalog import ModelSpec
from core.models import compute
from core.models.training import TrainingCancelled, compare

MODELS = ["logreg", "tree", ModelSpec("rf", {"n_estimators": 20}), ModelSpec("xgb", {"n_estimators": 50})]


def _synthetic(n: int = 800, seed: int = 0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n), "noise": rng.normal(size=n),
                       "plan": rng.choice(["basic", "plus", "pro"], size=n), "_row": np.arange(n)})
    logit = 1.5 * df["x1"] - df["x2"] + (df["plan"] == "pro") + rng.normal(0, 1, n)
    df["y"] = np.where(logit > 0.3, "yes", "no")
    cut = int(n * 0.75)
    columns = {"x1": "number", "x2": "number", "noise": "number", "plan": "category", "y": "category"}
    return df.iloc[:cut].reset_index(drop=True), df.iloc[cut:].reset_index(drop=True), columns


@pytest.fixture(scope="module")
def cluster():
    saved = os.environ.get("WORKBENCH_COMPUTE")
    os.environ["WORKBENCH_COMPUTE"] = "dask-local:2"
    try:
        yield compute.client()
    finally:
        compute.close_all()
        if saved is None:
            os.environ.pop("WORKBENCH_COMPUTE", None)
        else:
            os.environ["WORKBENCH_COMPUTE"] = saved


def _local(monkeypatch, *args, **kw):
    with monkeypatch.context() as m:
        m.setenv("WORKBENCH_COMPUTE", "local")
        return compare(*args, **kw)


def _metrics(result) -> dict:
    return {r.key: (r.validation_metrics, r.fold_metrics, r.error) for r in result.runs}


def test_settings_are_read_from_the_environment_and_secrets_and_refused_plainly(tmp_path, monkeypatch):
    monkeypatch.delenv("WORKBENCH_COMPUTE", raising=False)
    monkeypatch.setenv("WORKBENCH_SECRETS", str(tmp_path / "none.toml"))
    assert compute.current_config().is_local
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[compute]\nbackend = "dask-local"\nworkers = 3\n')
    monkeypatch.setenv("WORKBENCH_SECRETS", str(secrets))
    assert compute.configured() == compute.ComputeConfig("dask-local", workers=3)
    monkeypatch.setenv("WORKBENCH_COMPUTE", "tcp://10.1.2.3:8786")
    assert compute.configured().address == "tcp://10.1.2.3:8786"  # the environment wins over secrets.toml
    compute.use_local()
    try:
        assert compute.current_config().is_local and compute.is_fallback()
    finally:
        compute.use_local(False)
    for bad in ("dask-local:0", "spark://x", "tls://h:8786", "tcp://"):
        with pytest.raises(compute.ComputeUnavailable):
            compute.parse(bad)


def test_the_cli_refuses_a_mistyped_compute_setting(capsys, tmp_path, monkeypatch):
    from core.cli import main

    monkeypatch.setenv("WORKBENCH_COMPUTE", "local")  # main() sets both; monkeypatch puts them back
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    assert main(["--compute", "dask-lokal", "--home", str(tmp_path / "ws"), "datasets"]) == 2
    assert not (tmp_path / "ws").exists()  # refused before the workspace was opened
    assert "not a compute setting" in capsys.readouterr().err


def test_an_unreachable_scheduler_is_a_plain_message_and_nothing_runs(monkeypatch):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("WORKBENCH_COMPUTE", f"tcp://127.0.0.1:{port}")
    monkeypatch.setattr(compute, "CONNECT_SECONDS", 1)
    train, val, columns = _synthetic(200)
    started = time.perf_counter()
    with pytest.raises(compute.ComputeUnavailable, match="did not answer.*run the job on this machine"):
        compare(train, val, "y", "binary", ["logreg"], columns, cv=2, positive_class="yes")
    assert time.perf_counter() - started < 30
    info = compute.describe()
    assert info["workers"] is None and "did not answer" in info["error"]


def test_local_and_dask_local_give_the_same_leaderboard(cluster, monkeypatch):
    train, val, columns = _synthetic()
    local = _local(monkeypatch, train, val, "y", "binary", MODELS, columns, cv=2, seed=7, positive_class="yes")
    dask = compare(train, val, "y", "binary", MODELS, columns, cv=2, seed=7, positive_class="yes")
    a, b = _metrics(local), _metrics(dask)
    for key in ("dummy", "logreg", "tree"):  # deterministic models: identical to the last digit
        assert a[key] == b[key], key
    # The forest's trees are identical; its probabilities are sums over trees in thread-completion order, so the
    # last bits can differ (locally too, between two runs with n_jobs=2).
    assert a["rf"][0] == pytest.approx(b["rf"][0], rel=1e-9, abs=1e-12)
    for fa, fb in zip(a["rf"][1], b["rf"][1]):
        assert fa == pytest.approx(fb, rel=1e-9, abs=1e-12)
    assert a["xgb"][1] == b["xgb"][1]  # XGBoost's folds run as ordinary tasks: identical too
    # Its final fit runs on xgboost.dask, whose distributed histograms differ slightly from one machine's.
    gap = abs(a["xgb"][0]["roc_auc"] - b["xgb"][0]["roc_auc"])
    assert gap < 0.02, gap
    rf = dask.run("rf")
    assert rf.versions["compute"] == "dask-local" and rf.versions["compute_workers"] == "2"
    assert rf.versions["distributed"] and local.run("rf").versions["compute"] == "local"
    assert any("xgboost.dask" in n for n in dask.run("xgb").notes)
    assert dask.run("xgb").model_bytes  # the booster went back into an ordinary pipeline that saves safely


def test_the_row_cap_of_spread_models_does_not_apply_on_a_cluster(cluster, monkeypatch):
    import dataclasses

    import core.models.workers as workers
    from core.catalog import model_entry

    capped = dataclasses.replace(model_entry("rf"), max_rows=500)  # the final fit runs here, so this cap is seen
    monkeypatch.setattr(workers, "model_entry", lambda key: capped if key == "rf" else model_entry(key))
    train, val, columns = _synthetic(1000)
    result = compare(train, val, "y", "binary", [ModelSpec("rf", {"n_estimators": 20})], columns, cv=2,
                     positive_class="yes")
    assert result.run("rf").train_rows == len(train)  # all 750 rows, past the 500-row cap
    monkeypatch.setenv("WORKBENCH_COMPUTE", "local")
    local = compare(train, val, "y", "binary", [ModelSpec("rf", {"n_estimators": 20})], columns, cv=2,
                    positive_class="yes")
    assert local.run("rf").train_rows == 500


def test_a_worker_killed_mid_job_has_its_tasks_retried_elsewhere(cluster, monkeypatch):
    train, val, columns = _synthetic()
    models = ["logreg", "tree"]
    local = _local(monkeypatch, train, val, "y", "binary", models, columns, cv=4, seed=3, positive_class="yes")
    pids = list(cluster.run(os.getpid).values())
    killed = []

    def progress(fraction, text):
        if not killed:
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    result = compare(train, val, "y", "binary", models, columns, cv=4, seed=3, positive_class="yes",
                     progress=progress)
    assert killed
    assert _metrics(result) == _metrics(local)  # every fold finished, on the surviving or restarted worker
    deadline = time.monotonic() + 30
    while len(cluster.nthreads()) < 2 and time.monotonic() < deadline:  # the nanny restarts it for later tests
        time.sleep(0.2)


def test_cancel_stops_the_tasks_on_the_cluster(cluster):
    train, val, columns = _synthetic()
    cancel = threading.Event()
    with pytest.raises(TrainingCancelled):
        compare(train, val, "y", "binary", ["logreg", "tree", "knn"], columns, cv=5,
                positive_class="yes", progress=lambda f, t: cancel.set(), cancel=cancel)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if not any(cluster.processing().values()) and not cluster.futures:
            break
        time.sleep(0.2)
    assert not any(cluster.processing().values()), cluster.processing()


def test_a_lost_scheduler_fails_the_job_plainly_and_saves_nothing(tmp_path, monkeypatch):
    from distributed import LocalCluster

    from core.data.samples import open_workspace
    from core.models.runs import list_runs, train_and_save
    from core.split.demo_seed import seed_demo_project
    from core.split.splitting import list_splits
    from core.store.workspace import close_workspace

    with compute.plain_main():  # a page test before this one leaves its script as __main__
        own = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None)
    try:
        monkeypatch.setenv("WORKBENCH_COMPUTE", own.scheduler_address)
        monkeypatch.setattr(compute, "CONNECT_SECONDS", 2)
        ws = open_workspace(tmp_path / "ws")
        project = seed_demo_project(ws)
        split = list_splits(ws, project.id)[0]
        gone = []

        def progress(fraction, text):
            if not gone and fraction is not None and fraction < 1:
                gone.append(True)
                threading.Thread(target=lambda: own.sync(own.scheduler.close)).start()

        with pytest.raises(compute.ComputeFailed, match="Nothing was saved") as failed:
            train_and_save(ws, project, split, ["logreg", "tree"], cv=3, progress=progress)
        assert gone, failed.value
        with pytest.raises((compute.ComputeUnavailable, compute.ComputeFailed)):  # the next job: plainly refused
            train_and_save(ws, project, split, ["logreg"], cv=2)
        assert list_runs(ws, project.id) == []
        close_workspace(tmp_path / "ws")
    finally:
        compute.close_all()
        own.close()


def test_batch_scoring_on_the_cluster_matches_scoring_here(cluster, trained_workspace, monkeypatch, tmp_path):
    from core.data.exporting import safe_csv_bytes
    from core.registry.versions import get_version
    from core.release.scoring import PREVIEW_ROWS, score
    from core.models.workers import scratch_dir

    monkeypatch.setenv("WORKBENCH_COMPUTE", "local")
    t = trained_workspace(["dummy", "logreg"], register=("logreg",))
    try:
        version = get_version(t.ws, t.versions["logreg"])
        here = score(t.ws, version, "churn_next_month", batch_rows=700)
        written = score(t.ws, version, "churn_next_month", batch_rows=700, out=str(tmp_path / "here.csv"))
        monkeypatch.setenv("WORKBENCH_COMPUTE", "dask-local:2")
        seen = []
        there = score(t.ws, version, "churn_next_month", batch_rows=700, progress=lambda f, m: seen.append(m))
        streamed = score(t.ws, version, "churn_next_month", batch_rows=700, out=str(tmp_path / "there.csv"))
        monkeypatch.setattr("core.release.scoring._same_host", lambda: False)  # as for a remote cluster: bytes
        remote = score(t.ws, version, "churn_next_month", batch_rows=700, out=str(tmp_path / "remote.csv"))
        assert (tmp_path / "remote.csv").read_bytes() == (tmp_path / "here.csv").read_bytes()
        assert remote.summary == here.summary
        pd.testing.assert_frame_equal(here.frame, there.frame)
        assert here.summary == there.summary == written.summary == streamed.summary and "Dask cluster" in seen[-1]
        whole = safe_csv_bytes(here.frame)
        # The CSV composed partition by partition (here, and on the workers) is the CSV of the whole frame.
        assert (tmp_path / "here.csv").read_bytes() == whole == (tmp_path / "there.csv").read_bytes()
        assert len(here.frame) > 2 * 700 and len(streamed.frame) == min(PREVIEW_ROWS, len(here.frame))
        pd.testing.assert_frame_equal(streamed.frame, here.frame.head(PREVIEW_ROWS))
        assert len(streamed.tasks) == -(-len(here.frame) // 700)  # each partition's time on its worker
        # A warm job spreads its partitions over every worker (Dask alone would queue them where the model is).
        assert {t["worker"] for t in streamed.tasks} == set(compute.client().nthreads())
        assert not [n for n in os.listdir(scratch_dir()) if "_score_" in n]  # partitions are swept
    finally:
        t.close()


def test_a_receipt_made_locally_reruns_exactly_on_the_cluster_and_says_so(cluster, trained_workspace, monkeypatch):
    from core.models.receipts import load_receipt, receipt_json, rerun
    from core.registry.versions import get_version

    monkeypatch.setenv("WORKBENCH_COMPUTE", "local")
    t = trained_workspace(["dummy", "logreg"], register=("logreg",))
    try:
        receipt = load_receipt(receipt_json(get_version(t.ws, t.versions["logreg"]).receipt))
        assert receipt["libraries"]["compute"] == "local"
        monkeypatch.setenv("WORKBENCH_COMPUTE", "dask-local:2")
        result = rerun(t.ws, receipt)
        assert result.is_exact, result.metrics
        assert "Trained on local" in " ".join(result.notes) and "re-run on dask-local with 2 workers (a different " \
            "backend)" in " ".join(result.notes)
        assert not any("Library versions differ" in n for n in result.notes)
    finally:
        t.close()


def test_a_worker_restarted_by_its_nanny_does_not_rerun_the_page_script(cluster, tmp_path, monkeypatch):
    """Inside Streamlit `__main__` is the page script; a spawned process would run it again (and open the workspace
    the server holds). The first start is covered by plain_main; this is the nanny's restart after a SIGKILL."""
    import sys
    import types

    marker = tmp_path / "page_script_ran"
    script = tmp_path / "page.py"
    script.write_text(f"import pathlib\npathlib.Path({str(marker)!r}).write_text(__name__)\n")
    page = types.ModuleType("__main__")
    page.__file__ = str(script)  # what Streamlit's script runner leaves in sys.modules while a page runs
    monkeypatch.setitem(sys.modules, "__main__", page)
    cluster = compute.client()  # the module's cluster, or the one started since a test closed it (same config)
    before = set(cluster.run(os.getpid).values())
    os.kill(sorted(before)[0], signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.3)
        try:
            now = set(cluster.run(os.getpid).values())
        except Exception:  # noqa: BLE001 — the killed worker is still being replaced
            continue
        if len(now) == 2 and now != before:
            break
    assert len(now) == 2 and now != before, "the nanny did not restart the killed worker"
    assert cluster.submit(lambda: 1 + 1, pure=False).result() == 2
    assert not marker.exists(), f"the restarted worker ran the page script ({marker.read_text()})"
    # The statistical profiler stays off on the restarted worker too (it cost a quarter of scoring's worker CPU).
    profiling = cluster.run(lambda: __import__("dask").config.get("distributed.worker.profile.enabled"))
    assert set(profiling.values()) == {False}, profiling


def test_the_workers_of_a_dask_local_cluster_do_not_run_the_statistical_profiler(cluster):
    cluster = compute.client()
    profiling = cluster.run(lambda: __import__("dask").config.get("distributed.worker.profile.enabled"))
    assert len(profiling) == 2 and set(profiling.values()) == {False}, profiling
    # Nor with the nanny's MALLOC_TRIM_THRESHOLD_, which page-faults every large array in afresh (scoring: +50% CPU).
    trim = cluster.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
    assert set(trim.values()) == {None}, trim
