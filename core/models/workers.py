"""Fits and scores one model on one fold (or the final fit): the unit of work a comparison spreads over both cores.

Large comparisons run their tasks in two worker processes (joblib's loky), each limited to one thread, so the two
cores stay busy without oversubscription and the Streamlit server's own thread keeps answering pages. The frames
are written once as Arrow files and read once per worker; small data runs in-process, where starting workers would
cost more than it saves.

Local workers die with their parent: each starts a watchdog that exits when the parent process is gone, and points
its stdout/stderr at /dev/null, so a killed command leaves no orphan holding its caller's pipe. Their frames and
joblib's memmaps live under the workspace (`scratch_dir()`), and folders of dead processes are swept.

On a Dask cluster (core.models.compute) the frames are scattered once per job to every worker and each task names
them; folds and tuning trials run through joblib's Dask backend; the final fits of models the catalog spreads over
the cluster run from this process: a random forest's trees through the same backend, XGBoost with `xgboost.dask`
on every training row. Their row caps do not apply there. A lost worker's tasks are retried by Dask; a job the
cluster cannot finish raises ComputeFailed, before anything is saved.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
import traceback
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import numpy as np
import pandas as pd

from core.catalog import model_entry
from core.models import compute
from core.models.metrics import compute_metrics
from core.models.pipeline import build_pipeline
from core.store.artifacts import dump_model
from core.store.workspace import new_id

log = logging.getLogger(__name__)

PROCESS_MIN_ROWS = 3_000  # below this, in-process is faster than starting worker processes
TRAIN_METRIC_ROWS = 2_000  # train-set metrics (for the gap) are measured on at most this many fitted rows
_Y = "__wb_y__"
_ROW = "_row"
_FRAMES: dict[str, dict] = {}
_DASK: dict[str, dict] = {}  # token -> {"client", "data": scattered future, "index": {id: (array, future)}}
_LOCK = threading.Lock()
DASK_TOKEN = "dask:"
WATCH_SECONDS = 0.5  # how often a local worker checks that its parent still lives


scratch_dir = compute.scratch_dir  # training copies under the workspace (kept here for callers)


def _worker_init(parent_pid: int) -> None:
    """Runs first in every local worker: let go of the parent's stdout/stderr, and exit when the parent dies."""
    try:
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 1)
        os.dup2(null, 2)
        os.close(null)
    except OSError:
        pass
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="workbench-parent-watch", daemon=True).start()


def _watch_parent(parent_pid: int) -> None:
    while True:
        if os.getppid() != parent_pid:
            os._exit(1)  # the parent is gone: a worker without it is an orphan holding memory and files
        time.sleep(WATCH_SECONDS)


def worker_count(n_rows: int, n_jobs: int | None = None) -> int:
    """Returns how many worker processes a comparison on n_rows should use (1 = in-process).

    On a Dask cluster: its worker threads, whatever the rows. Raises: ComputeUnavailable.
    """
    c = compute.client()
    if c is not None:
        return compute.threads(c)
    if n_jobs is None:
        env = os.environ.get("WORKBENCH_TRAIN_WORKERS")
        n_jobs = int(env) if env and env.isdigit() else (1 if n_rows < PROCESS_MIN_ROWS else 2)
    return max(1, min(int(n_jobs), os.cpu_count() or 1, 2))


@contextmanager
def shared_frames(X: pd.DataFrame, y: np.ndarray, val: pd.DataFrame | None, target: str,
                  n_workers: int, text: dict | None = None) -> Iterator[str]:
    """Makes the train (and validation) rows readable by tasks; yields the token tasks name them by.

    `text`: free-text n-gram counts shared by every text-reading model and fold (core.models.sharedtext).
    """
    data = {"X": X.reset_index(drop=True), "y": np.asarray(y)}
    if text:
        data["text"] = text
    if val is not None:
        data["Xv"] = val[list(X.columns)].reset_index(drop=True)
        data["yv"] = val[target].to_numpy() if data["y"].dtype != float else \
            pd.to_numeric(val[target], errors="coerce").to_numpy(dtype=float)
        data["rows_v"] = val[_ROW].to_numpy() if _ROW in val.columns else np.arange(len(val))
    c = compute.client()
    if c is not None:
        with _dask_frames(c, data) as token:
            yield token
        return
    folder = None
    if n_workers > 1:
        try:
            folder = tempfile.mkdtemp(prefix=f"wb_train_{os.getpid()}_", dir=scratch_dir())
            _write(folder, data)
        except Exception as err:  # noqa: BLE001 — columns Arrow cannot hold: train in-process instead
            log.info("training in-process: frames could not be shared with workers (%s)", err)
            shutil.rmtree(folder, ignore_errors=True)
            folder = None
    token = folder or f"mem:{new_id('frames')}"
    if folder is None:
        with _LOCK:
            _FRAMES[token] = data
    try:
        yield token
    finally:
        with _LOCK:
            _FRAMES.pop(token, None)
        if folder:
            shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def _dask_frames(c, data: dict) -> Iterator[str]:
    token = f"{DASK_TOKEN}{new_id('frames')}"
    future = ship(c, data)
    with _LOCK:
        _FRAMES[token] = data  # the app's own copy, for the fits it spreads over the cluster itself
        _DASK[token] = {"client": c, "data": future, "index": {}}
    try:
        yield token
    finally:
        with _LOCK:
            _FRAMES.pop(token, None)
            held = _DASK.pop(token, None)
        if held is not None:
            futures = [held["data"], *(f for _, f in held["index"].values())]
            try:
                c.cancel(futures)
            except Exception:  # noqa: BLE001 — a cluster already gone holds nothing
                pass


def ship(c, value, worker: str | None = None):
    """Sends value to the cluster once, as a task that returns it: the scheduler keeps that task, so when the worker
    holding the value dies it is rebuilt elsewhere (scattered data would be lost for good, and Dask's memory
    manager drops the extra copies a broadcast makes). With `worker` (an address) it is held there first, and
    elsewhere when that worker is gone."""
    where = {"workers": [worker], "allow_other_workers": True} if worker else {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "large object in the task graph": sent once per job, on purpose
            return c.submit(_held, value, key=new_id("wb-data"), pure=False, **where)
    except Exception as err:  # noqa: BLE001 — the cluster dropped while receiving the rows
        raise compute.cluster_error(err) from None


def _held(value):
    return value


def _write(folder: str, data: dict) -> None:
    import pyarrow as pa
    import pyarrow.feather as feather

    train = data["X"].copy()
    train[_Y] = data["y"]
    feather.write_feather(pa.Table.from_pandas(train, preserve_index=False), os.path.join(folder, "train.arrow"))
    if "Xv" in data:
        val = data["Xv"].copy()
        val[_Y], val[_ROW + "_wb"] = data["yv"], data["rows_v"]
        feather.write_feather(pa.Table.from_pandas(val, preserve_index=False), os.path.join(folder, "val.arrow"))
    if data.get("text"):
        from core.models.sharedtext import save_counts

        save_counts(data["text"], folder)  # this process's own counts, for its workers (no pickle)


def _frames(token: str) -> dict:
    with _LOCK:
        data = _FRAMES.get(token)
    if data is not None:
        return data
    import pyarrow.feather as feather

    train = feather.read_table(os.path.join(token, "train.arrow")).to_pandas()
    data = {"X": train.drop(columns=[_Y]), "y": train[_Y].to_numpy()}
    path = os.path.join(token, "val.arrow")
    if os.path.exists(path):
        val = feather.read_table(path).to_pandas()
        data.update(Xv=val.drop(columns=[_Y, _ROW + "_wb"]), yv=val[_Y].to_numpy(), rows_v=val[_ROW + "_wb"].to_numpy())
    from core.models.sharedtext import load_counts

    text = load_counts(token)
    if text is not None:
        data["text"] = text
    with _LOCK:
        for old in [k for k in _FRAMES if not k.startswith("mem:")]:
            _FRAMES.pop(old)  # a worker keeps one comparison's frames at a time
        _FRAMES[token] = data
    return data


def record_backend(result) -> None:
    """Records on every run of a comparison where it ran: backend, worker count and the compute library versions."""
    fields = compute.stamp()
    for run in result.runs:
        run.versions = {**run.versions, **fields}


def task(ctx, spec, model_index: int, fold: int | None, n_jobs: int | None) -> dict:
    """Describes one unit of work: fit `spec` on a CV fold's training part (or on all rows when fold is None)."""
    fit_idx, eval_idx = ctx.folds[fold] if fold is not None else (None, None)
    return {"source": ctx.source, "spec": spec, "model": model_index, "fold": fold, "n_jobs": n_jobs,
            "columns": ctx.columns, "features": ctx.features, "task": ctx.task, "target": ctx.target, "seed": ctx.seed,
            "classes": ctx.classes, "positive_class": ctx.positive_class, "fit_idx": fit_idx, "eval_idx": eval_idx}


def _drain(gen, cancel) -> Iterator[tuple[int, dict]]:
    """Yields a joblib result generator's (index, result) pairs until it ends or `cancel` is set, then closes it."""
    try:
        for i, out in gen:
            yield i, out
            if cancel is not None and cancel.is_set():
                return
    finally:
        with warnings.catch_warnings():  # closing early (cancel) makes joblib warn that queued tasks were dropped
            warnings.simplefilter("ignore")
            gen.close()


def run_tasks(tasks: list[dict], n_workers: int, cancel=None) -> Iterator[tuple[int, dict]]:
    """Runs tasks (in workers when their frames live in files), yielding (index, result) as each one finishes."""
    if not tasks:
        return
    if tasks[0]["source"].startswith(DASK_TOKEN):
        yield from _run_dask(tasks, cancel)
        return
    if n_workers <= 1 or tasks[0]["source"].startswith("mem:"):
        for i, t in enumerate(tasks):
            if cancel is not None and cancel.is_set():
                return
            yield i, run_task(t)
        return
    from joblib import Parallel, delayed

    gen = Parallel(n_jobs=n_workers, backend="loky", return_as="generator_unordered", pre_dispatch="n_jobs",
                   temp_folder=scratch_dir(), initializer=_worker_init, initargs=(os.getpid(),))(
        delayed(_indexed)(i, t) for i, t in enumerate(tasks))
    yield from _drain(gen, cancel)


def map_calls(fn, items: list[tuple], n_workers: int) -> list:
    """Returns [fn(*item) for item in items], computed by the comparison's local worker processes when it has two
    (the same reusable pool its tasks run in, so starting it overlaps this work); in-process otherwise."""
    if n_workers <= 1 or compute.client() is not None or len(items) < 2:
        return [fn(*item) for item in items]
    from joblib import Parallel, delayed

    return Parallel(n_jobs=n_workers, backend="loky", temp_folder=scratch_dir(), initializer=_worker_init,
                    initargs=(os.getpid(),))(delayed(fn)(*item) for item in items)


def _indexed(i: int, t: dict) -> tuple[int, dict]:
    return i, run_task(t)


def _spread(t: dict) -> str:
    """How a task uses the cluster: "" (one task on one worker), or the catalog's way of spreading a final fit."""
    return model_entry(t["spec"].key).on_cluster if t["fold"] is None else ""


def _run_dask(tasks: list[dict], cancel) -> Iterator[tuple[int, dict]]:
    from joblib import Parallel, delayed, parallel_config

    token = tasks[0]["source"]
    with _LOCK:
        held = _DASK[token]
    c = held["client"]
    single = [i for i, t in enumerate(tasks) if not _spread(t)]
    before = set(c.futures)
    try:
        if single and compute.threads(c) < 2:
            # joblib runs a one-thread backend sequentially in this process: submit to the one worker directly.
            futures = [(i, c.submit(_dask_task, i, _slim(tasks[i]), held["data"], *_index_futures(held, tasks[i]),
                                    key=new_id("wb-task"), pure=False)) for i in single]
            for i, future in futures:
                yield future.result()
                if cancel is not None and cancel.is_set():
                    return
        elif single:
            with parallel_config(backend="dask", client=c):
                gen = Parallel(return_as="generator_unordered")(
                    delayed(_dask_task)(i, _slim(tasks[i]), held["data"], *_index_futures(held, tasks[i]))
                    for i in single)
                yield from _drain(gen, cancel)
        for i in (i for i, t in enumerate(tasks) if _spread(t)):
            if cancel is not None and cancel.is_set():
                return
            yield i, run_task({**tasks[i], "client": c})
        if c.status != "running":  # results may have arrived before the scheduler went: the job is not whole
            raise ConnectionError("scheduler gone")
    except Exception as err:  # noqa: BLE001 — model failures come back as results; what is raised is the cluster
        if compute.is_cluster_error(err) or isinstance(err, (OSError, TimeoutError)):
            failed = compute.cluster_error(err)
            compute.forget(c)
            raise failed from None
        raise
    finally:
        # Cancel stops the job's queued and running tasks on the cluster, not only their results here.
        kept = {held["data"].key, *(f.key for _, f in held["index"].values())}  # the job's data, reused by trials
        mine = [k for k in set(c.futures) - before - kept]
        if mine:
            from distributed import Future

            try:
                c.cancel([Future(k, c) for k in mine])
            except Exception:  # noqa: BLE001 — a cluster already gone holds nothing
                pass


def _slim(t: dict) -> dict:
    return {**t, "fit_idx": None, "eval_idx": None}


def _index_futures(held: dict, t: dict) -> tuple:
    """The fold's row numbers, scattered once per job (the same arrays serve every tuning trial)."""
    out = []
    for arr in (t["fit_idx"], t["eval_idx"]):
        if arr is None:
            out.append(None)
            continue
        key = id(arr)
        with _LOCK:
            got = held["index"].get(key)
        if got is None:
            got = (arr, ship(held["client"], arr))
            with _LOCK:
                held["index"][key] = got  # keeping the array keeps its id unique for the job
        out.append(got[1])
    return tuple(out)


def _resolved(*values):
    """Dask resolves futures nested in a joblib batch for some clients only; fetch any left (seceding meanwhile)."""
    from distributed import Future

    if not any(isinstance(v, Future) for v in values):
        return values
    from distributed import get_worker, worker_client

    try:
        get_worker()
    except ValueError:  # not on a worker (a sequential fallback here): fetch from the cluster directly
        try:
            return tuple(v.result() if isinstance(v, Future) else v for v in values)
        except Exception as err:  # noqa: BLE001
            raise compute.ClusterDataLost(f"the rows of this job did not reach the worker ({type(err).__name__})") \
                from None

    try:
        with worker_client() as wc:
            return tuple(wc.gather(v) if isinstance(v, Future) else v for v in values)
    except Exception as err:  # noqa: BLE001 — the data is gone with its scheduler: the job stops, not the model
        raise compute.ClusterDataLost(f"the rows of this job did not reach the worker ({type(err).__name__})") from None


def _dask_task(i: int, t: dict, data: dict, fit_idx, eval_idx) -> tuple[int, dict]:
    """Runs on a Dask worker: the frames and fold rows arrive as data shipped once per job, resolved by Dask."""
    data, fit_idx, eval_idx = _resolved(data, fit_idx, eval_idx)
    if not isinstance(data, dict) or any(a is not None and not isinstance(a, np.ndarray) for a in (fit_idx, eval_idx)):
        raise compute.ClusterDataLost("the rows of this job did not reach the worker")
    from joblib import parallel_config

    # A model's own joblib calls stay on this worker's thread instead of sending nested tasks back to the cluster.
    with parallel_config(backend="threading", n_jobs=1):
        return i, run_task({**t, "data": data, "fit_idx": fit_idx, "eval_idx": eval_idx})


def run_task(t: dict) -> dict:
    """Fits and scores one task; any failure comes back as {"error": message}, never raised."""
    started, cpu = time.perf_counter(), time.process_time()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = _fit_and_score(t)
        out["warnings"] = _warning_notes(caught)
        out["task_seconds"] = time.perf_counter() - started
        out["cpu_seconds"] = time.process_time() - cpu
        return out
    except MemoryError:
        return {"error": "it ran out of memory. Choose a lighter model or fewer rows."}
    except Exception as err:  # noqa: BLE001 — one model's failure is reported on its row; the others go on
        if t.get("client") is not None and compute.is_cluster_error(err):
            raise  # the cluster failed, not the model: the whole job stops (see _run_dask)
        log.debug("model %s failed:\n%s", t["spec"].key, traceback.format_exc())
        text = " ".join(str(err).split())[:300] or type(err).__name__
        return {"error": text, "traceback": traceback.format_exc(limit=5)}


def _warning_notes(caught) -> list[str]:
    from sklearn.exceptions import ConvergenceWarning

    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        return ["It did not fully converge (it stopped at its iteration limit), so its scores may be below what "
                "it could reach."]
    return []


def _sample(idx: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    if limit is None or len(idx) <= limit:
        return idx
    return np.sort(np.random.default_rng(seed).choice(idx, size=limit, replace=False))


def _fit_and_score(t: dict) -> dict:
    data = t.get("data") or _frames(t["source"])
    X, y = data["X"], data["y"]
    entry = model_entry(t["spec"].key)
    is_final = t["fold"] is None
    fit_idx = np.arange(len(y)) if is_final else t["fit_idx"]
    on_cluster = t["source"].startswith(DASK_TOKEN)
    limit = None if on_cluster and entry.on_cluster else entry.max_rows
    used = _sample(fit_idx, limit, t["seed"])
    notes = []
    if len(used) < len(fit_idx):
        notes.append(f"Trained on a seeded random sample of {entry.max_rows:,} of {len(fit_idx):,} training rows, "
                     "its row limit to keep training time reasonable" + ("." if is_final else " (each CV fold too)."))
    spread = entry.on_cluster if is_final and t.get("client") is not None else ""
    pipe = build_pipeline(t["spec"], t["columns"], t["task"], t["seed"], target=t["target"],
                          n_jobs=-1 if spread == "trees" else t["n_jobs"])
    X_fit = X.iloc[used]
    shared = None
    if data.get("text") and entry.reads_text:
        from core.models.sharedtext import share

        shared = share(pipe, data["text"], used)  # text counted once per comparison, TF-IDF fitted on `used` only
    started = time.perf_counter()
    if spread == "xgboost.dask":
        from core.models.distributed import fit_xgboost_dask

        fit_xgboost_dask(pipe, X_fit, y[used], t["task"], t["client"])
        notes.append("Trained on the Dask cluster with xgboost.dask, on every training row.")
    elif spread == "trees":
        from joblib import parallel_config

        with parallel_config(backend="dask", client=t["client"]):  # the trees are built across the workers
            pipe.fit(X_fit, y[used])
        pipe.named_steps["model"].set_params(n_jobs=entry.fixed.get("n_jobs"))
        notes.append("Its trees were built across the Dask cluster's workers, on every training row.")
    else:
        pipe.fit(X_fit, y[used])
    fit_seconds = time.perf_counter() - started
    out: dict[str, Any] = {"notes": notes, "fit_seconds": fit_seconds, "train_rows": len(used)}
    if not is_final:
        pred, scores, kind = predict_scores(pipe, X.iloc[t["eval_idx"]], t["task"], t["positive_class"])
        out["metrics"] = _metrics(t, y[t["eval_idx"]], pred, scores, kind)
        return out
    if "Xv" in data:
        started = time.perf_counter()
        with shared.validation_rows() if shared else nullcontext():
            pred, scores, kind = predict_scores(pipe, data["Xv"], t["task"], t["positive_class"])
        out["predict_ms_per_1k"] = (time.perf_counter() - started) / max(len(pred), 1) * 1e6
        out["metrics"] = _metrics(t, data["yv"], pred, scores, kind)
        out["predictions"] = _prediction_frame(data["rows_v"], data["yv"], pred, scores, t, pipe)
    else:
        out["metrics"] = {}
    check = _sample(used, TRAIN_METRIC_ROWS, t["seed"] + 1)
    started = time.perf_counter()
    pred, scores, kind = predict_scores(pipe, X.iloc[check], t["task"], t["positive_class"])
    out.setdefault("predict_ms_per_1k", (time.perf_counter() - started) / max(len(pred), 1) * 1e6)
    out["train_metrics"] = _metrics(t, y[check], pred, scores, kind)
    out["score_kind"] = kind
    if shared:
        shared.finish(X_fit)  # the saved model holds the fitted vectorizers and predicts from raw text
    out["model_bytes"] = dump_model(pipe)
    out["pipeline"] = pipe
    return out


def predict_scores(pipe, X: pd.DataFrame, task: str, positive_class: Any = None):
    """Returns (predicted labels, scores, score kind): binary scores are the positive class's, multiclass one column
    per class; models without probabilities get their decision score squashed to 0–1 ("margin")."""
    if task == "regression":
        return np.asarray(pipe.predict(X), dtype=float), None, None
    classes = np.asarray(pipe.classes_)
    if hasattr(pipe, "predict_proba"):
        proba, kind = np.asarray(pipe.predict_proba(X), dtype=float), "probability"
    else:
        margin, kind = np.asarray(pipe.decision_function(X), dtype=float), "margin"
        if margin.ndim == 1:
            s = 1.0 / (1.0 + np.exp(-margin))
            proba = np.column_stack([1 - s, s])
        else:
            e = np.exp(margin - margin.max(axis=1, keepdims=True))
            proba = e / e.sum(axis=1, keepdims=True)
    if len(classes) == 2:
        pos = 1 if positive_class is None else int(np.flatnonzero(classes == positive_class)[0])
        score = proba[:, pos]
        return np.where(score >= 0.5, classes[pos], classes[1 - pos]), score, kind
    return classes[np.argmax(proba, axis=1)], proba, kind


def _metrics(t: dict, y_true, pred, scores, kind) -> dict:
    return compute_metrics(t["task"], y_true, pred, scores, t["classes"], t["positive_class"],
                           has_probabilities=kind == "probability")


def _prediction_frame(rows, y_true, pred, scores, t: dict, pipe) -> pd.DataFrame:
    df = pd.DataFrame({"_row": np.asarray(rows, dtype=np.int64), "y_true": y_true, "y_pred": pred})
    if scores is not None and np.ndim(scores) == 1:
        df["score"] = scores
    elif scores is not None:
        for j, c in enumerate(np.asarray(pipe.classes_).tolist()):
            df[f"proba_{c}"] = scores[:, j]
    return df
