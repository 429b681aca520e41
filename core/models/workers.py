"""Fits and scores one model on one fold (or the final fit): the unit of work a comparison spreads over both cores.

Large comparisons run their tasks in two worker processes (joblib's loky), each limited to one thread, so the two
cores stay busy without oversubscription and the Streamlit server's own thread keeps answering pages. The frames
are written once as Arrow files and read once per worker; small data runs in-process, where starting workers would
cost more than it saves.
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
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from core.catalog import model_entry
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
_LOCK = threading.Lock()


def worker_count(n_rows: int, n_jobs: int | None = None) -> int:
    """Returns how many worker processes a comparison on n_rows should use (1 = in-process)."""
    if n_jobs is None:
        env = os.environ.get("WORKBENCH_TRAIN_WORKERS")
        n_jobs = int(env) if env and env.isdigit() else (1 if n_rows < PROCESS_MIN_ROWS else 2)
    return max(1, min(int(n_jobs), os.cpu_count() or 1, 2))


@contextmanager
def shared_frames(X: pd.DataFrame, y: np.ndarray, val: pd.DataFrame | None, target: str,
                  n_workers: int) -> Iterator[str]:
    """Makes the train (and validation) rows readable by tasks; yields the token tasks name them by."""
    data = {"X": X.reset_index(drop=True), "y": np.asarray(y)}
    if val is not None:
        data["Xv"] = val[list(X.columns)].reset_index(drop=True)
        data["yv"] = val[target].to_numpy() if data["y"].dtype != float else \
            pd.to_numeric(val[target], errors="coerce").to_numpy(dtype=float)
        data["rows_v"] = val[_ROW].to_numpy() if _ROW in val.columns else np.arange(len(val))
    folder = None
    if n_workers > 1:
        try:
            folder = tempfile.mkdtemp(prefix="wb_train_")
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
    with _LOCK:
        for old in [k for k in _FRAMES if not k.startswith("mem:")]:
            _FRAMES.pop(old)  # a worker keeps one comparison's frames at a time
        _FRAMES[token] = data
    return data


def task(ctx, spec, model_index: int, fold: int | None, n_jobs: int | None) -> dict:
    """Describes one unit of work: fit `spec` on a CV fold's training part (or on all rows when fold is None)."""
    fit_idx, eval_idx = ctx.folds[fold] if fold is not None else (None, None)
    return {"source": ctx.source, "spec": spec, "model": model_index, "fold": fold, "n_jobs": n_jobs,
            "columns": ctx.columns, "features": ctx.features, "task": ctx.task, "target": ctx.target, "seed": ctx.seed,
            "classes": ctx.classes, "positive_class": ctx.positive_class, "fit_idx": fit_idx, "eval_idx": eval_idx}


def run_tasks(tasks: list[dict], n_workers: int, cancel=None) -> Iterator[tuple[int, dict]]:
    """Runs tasks (in workers when their frames live in files), yielding (index, result) as each one finishes."""
    if not tasks:
        return
    if n_workers <= 1 or tasks[0]["source"].startswith("mem:"):
        for i, t in enumerate(tasks):
            if cancel is not None and cancel.is_set():
                return
            yield i, run_task(t)
        return
    from joblib import Parallel, delayed

    gen = Parallel(n_jobs=n_workers, backend="loky", return_as="generator_unordered", pre_dispatch="n_jobs")(
        delayed(_indexed)(i, t) for i, t in enumerate(tasks))
    try:
        for i, out in gen:
            yield i, out
            if cancel is not None and cancel.is_set():
                return
    finally:
        with warnings.catch_warnings():  # closing early (cancel) makes joblib warn that queued tasks were dropped
            warnings.simplefilter("ignore")
            gen.close()


def _indexed(i: int, t: dict) -> tuple[int, dict]:
    return i, run_task(t)


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
    data = _frames(t["source"])
    X, y = data["X"], data["y"]
    entry = model_entry(t["spec"].key)
    is_final = t["fold"] is None
    fit_idx = np.arange(len(y)) if is_final else t["fit_idx"]
    used = _sample(fit_idx, entry.max_rows, t["seed"])
    notes = []
    if len(used) < len(fit_idx):
        notes.append(f"Trained on a seeded random sample of {entry.max_rows:,} of {len(fit_idx):,} training rows, "
                     "its row limit to keep training time reasonable" + ("." if is_final else " (each CV fold too)."))
    pipe = build_pipeline(t["spec"], t["columns"], t["task"], t["seed"], target=t["target"], n_jobs=t["n_jobs"])
    X_fit = X.iloc[used]
    started = time.perf_counter()
    pipe.fit(X_fit, y[used])
    fit_seconds = time.perf_counter() - started
    out: dict[str, Any] = {"notes": notes, "fit_seconds": fit_seconds, "train_rows": len(used)}
    if not is_final:
        pred, scores, kind = predict_scores(pipe, X.iloc[t["eval_idx"]], t["task"], t["positive_class"])
        out["metrics"] = _metrics(t, y[t["eval_idx"]], pred, scores, kind)
        return out
    if "Xv" in data:
        started = time.perf_counter()
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
