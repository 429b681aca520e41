"""Batch scoring: checks new rows against a version's input schema, then predicts them in batches with progress.

- `capture_schema` (at registration) and `check_input(ws, version, source) -> SchemaReport` (before scoring) live in
  core.release.inputschema and are importable from here too.
- `score(ws, version, source, progress=None, out=None) -> ScoreResult`: the predicted class, the score and the
  decision at the version's saved threshold, in partitions of up to `BATCH_ROWS` rows. With `out` (a path) the rows
  go to a formula-safe CSV there, partition by partition, and the result holds the first `PREVIEW_ROWS` only, so a
  file of millions of rows never sits in memory; without it the result holds every row.
- `load_scoring_file(ws, data, filename) -> DatasetInfo` loads an uploaded file as a dataset (or finds the same
  file already loaded), so new rows are typed by the same reader as the training data.
A source is a dataset (id or name) or a pandas DataFrame.

Each partition is scored the same way wherever it runs (`_score_part`): text category columns are read as Arrow
dictionaries (pandas Categoricals), the model's category encoders transform each distinct value once
(core.models.distinct, same numbers), and the partition's CSV rows are composed where it was scored
(core.data.exporting), each class label once. On a Dask cluster (core.models.compute) DuckDB writes the rows as
Parquet partitions under the workspace, the model goes to the cluster once, the partitions go round the workers'
threads, and each worker reads and scores its partitions
(a dask-local worker reads the file itself and writes its CSV part next to it; a remote one receives the Parquet
bytes and returns the CSV bytes); the app appends the parts in row order to `out` and keeps only the counts for the
summary and the preview rows. The workspace file never leaves the app. The output is the same, byte for byte, as
scoring here.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.data.exporting import safe_csv_bytes
from core.data.ingest import ingest_upload
from core.errors import AlreadyLoaded, SchemaMismatch
from core.models import compute
from core.models.distinct import for_scoring
from core.project.criteria import format_class
from core.release.gate import predict_frame
from core.release.inputschema import (  # noqa: F401 — capture_schema, Finding: imported from here by callers
    CHECK_ROWS, Finding, SchemaReport, capture_schema, check_input, conform_category)
from core.store.artifacts import load_model
from core.store.workspace import DatasetInfo, Workspace, quote_ident

BATCH_ROWS = 250_000  # rows per partition at most: fewer, larger calls amortise each encoder's per-call work
MIN_BATCH_ROWS = 20_000  # a file is cut into at least PARTS partitions, but none smaller than this
PARTS = 4
PREVIEW_ROWS = 200
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class ScoreResult:
    frame: pd.DataFrame  # row, id columns, predicted_class, score, decision (or prediction for regression);
    report: SchemaReport  # every row, or with `out` the first PREVIEW_ROWS (the file has them all)
    seconds: float
    summary: dict = field(default_factory=dict)
    path: str | None = None  # the formula-safe CSV written, when scored with `out`
    tasks: tuple = ()  # on a cluster, each partition's seconds on its worker: model (load), read, score, cpu;
    # and where and when (wall clock) it started: worker, started


# -- reading the rows in batches ---------------------------------------------------------------------------------------
def _source_columns(ws: Workspace, source: Any) -> list[str]:
    if isinstance(source, pd.DataFrame):
        return [str(c) for c in source.columns]
    return ws.dataset(source).column_names


def _batches(ws: Workspace, source: Any, columns: list[str], batch_rows: int,
             ids: tuple[str, ...] = (), categories: tuple[str, ...] = ()) -> Iterator[pd.DataFrame]:
    if isinstance(source, pd.DataFrame):
        for start in range(0, len(source), batch_rows):
            yield source.iloc[start:start + batch_rows][columns].reset_index(drop=True)
        return
    info: DatasetInfo = ws.dataset(source)
    select = ", ".join(quote_ident(c) for c in columns) or "rowid"
    with ws.cursor() as cur:
        # File order without sorting the table first: DuckDB scans a table in insertion order (its default
        # preserve_insertion_order), and dataset tables are written once, so that is rowid order.
        reader = cur.sql(f"SELECT {select} FROM {quote_ident(info.table)}").to_arrow_reader(batch_rows)
        for batch in reader:
            yield _to_pandas(batch, ids, categories)


def _to_pandas(table, ids, categories=(), use_threads: bool = True) -> pd.DataFrame:
    """Arrow rows as pandas; identifier columns of integers stay integers when some are empty (Int64, not float), so
    every partition writes them alike. The `categories` columns of text become pandas Categoricals (Arrow
    dictionaries): each distinct value is one Python string, and the category encoders encode the distinct values
    by their codes (core.models.distinct), the same numbers as the strings give."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for name in categories:
        i = table.schema.get_field_index(name)
        if i >= 0 and _is_text_type(table.schema.field(i).type):
            table = table.set_column(i, name, pc.dictionary_encode(table.column(i)))
    frame = table.to_pandas(use_threads=use_threads)
    for name in ids:
        column = table.column(name)
        if pa.types.is_integer(column.type) and column.null_count:
            frame[name] = column.to_pandas(types_mapper=lambda t: pd.Int64Dtype() if pa.types.is_integer(t) else None)
    return frame


def _is_text_type(arrow_type) -> bool:
    import pyarrow as pa

    return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)


def _category_columns(version) -> list[str]:
    """The features the version's schema calls categories: read as Categoricals when they hold text."""
    return [c["name"] for c in version.schema["columns"] if c["kind"] == "category" and c["name"] in version.features]


def _conform(batch: pd.DataFrame, schema: dict) -> pd.DataFrame:
    """The features with the types they had in training (numbers as floats, categories as their training type).
    Columns that already have it are not copied."""
    out = batch.copy(deep=False)
    for col in schema["columns"]:
        name = col["name"]
        if name not in out:
            continue
        if col["kind"] == "number":
            if out[name].dtype != np.float64:
                out[name] = pd.to_numeric(out[name], errors="coerce").astype(float)
        elif col["kind"] == "category":
            out[name] = conform_category(out[[name]], col)[name]
    return out


# -- scoring -----------------------------------------------------------------------------------------------------------
def score(ws: Workspace, version, source: Any, *, progress: Progress | None = None, batch_rows: int | None = None,
          report: SchemaReport | None = None, out: str | None = None) -> ScoreResult:
    """Predicts every row in partitions: class, score and the decision at the version's threshold.

    With `out` the rows are written there as formula-safe CSV (the result's frame is the first PREVIEW_ROWS).
    Raises: SchemaMismatch (missing columns, wrong types), ArtifactRejected (tampered model file), ComputeFailed.
    """
    started = time.perf_counter()
    report = report or check_input(ws, version, source, batch_rows or CHECK_ROWS)
    if report.is_blocking:
        raise SchemaMismatch(" ".join(f.message for f in report.errors[:5]))
    schema = version.schema
    ids = [c for c in schema.get("id_columns", []) if c in _source_columns(ws, source) and c not in version.features]
    rows = report.rows
    c = None if isinstance(source, pd.DataFrame) else compute.client()
    size = batch_rows or partition_rows(rows, compute.threads(c) if c is not None else 1)
    collected = _Collected(version, ids, out)
    model_file = ws.read_artifact(version.artifact)  # its SHA-256 and keyed checksum are checked on every job
    try:
        if c is not None:
            # The file goes to the workers, which load it with the same safe loader: the app never unpacks the
            # model for a cluster job.
            _score_on_cluster(c, ws, version, source, model_file, ids, size, progress, rows, collected)
        else:
            model = scoring_model(model_file)
            done = 0
            for batch in _batches(ws, source, ids + list(version.features), size, tuple(ids),
                                  tuple(_category_columns(version))):
                collected.add(_score_part(model, version, ids, batch, done, out is not None))
                done += len(batch)
                if progress:
                    progress(min(done / max(rows, 1), 1.0), f"Scored {done:,} of {rows:,} rows")
        frame = collected.finish()
    except BaseException:
        collected.abandon()
        raise
    return ScoreResult(frame, report, time.perf_counter() - started, collected.summary(), out,
                       tuple(collected.task_seconds))


def _same_host() -> bool:
    """Whether the workers share this machine's disk (dask-local): they read partitions from files, not bytes."""
    return compute.current_config().mode == compute.DASK_LOCAL


_MODELS: dict[str, Any] = {}  # the last models loaded for scoring, by their file's SHA-256: loading takes seconds
_MODELS_KEPT = 2
_MODELS_LOCK = threading.Lock()


def scoring_model(model_file: bytes):
    """The model in a (checked) model file, loaded once and kept for the next partitions and files scored with it:
    here, and on each Dask worker. Loading goes through core.store.artifacts (trusted types only) every time the
    file is new; the file itself is read and checked by the workspace on every scoring job."""
    import hashlib

    key = hashlib.sha256(model_file).hexdigest()
    with _MODELS_LOCK:
        model = _MODELS.get(key)
    if model is None:
        model = for_scoring(load_model(model_file))
        with _MODELS_LOCK:
            _MODELS[key] = model
            while len(_MODELS) > _MODELS_KEPT:
                _MODELS.pop(next(iter(_MODELS)))
    return model


KEEP_OUTPUTS = 8  # scored files kept per server process for download; older ones are removed


def output_file(ws: Workspace, stem: str = "scored") -> str:
    """A new path for a scored CSV, under the workspace's scratch folder (`stem` is a generated id, never user text).

    The newest KEEP_OUTPUTS files stay for their download buttons; the folder goes when this process is gone (swept
    with the training copies, core.models.compute.scratch_dir)."""
    from core.store.workspace import new_id

    folder = os.path.join(compute.scratch_dir(ws.home), f"wb_train_{os.getpid()}_scored")
    os.makedirs(folder, exist_ok=True)
    files = sorted((os.path.join(folder, n) for n in os.listdir(folder)), key=os.path.getmtime)
    for old in files[:max(0, len(files) - KEEP_OUTPUTS + 1)]:
        try:
            os.unlink(old)
        except OSError:
            pass
    return os.path.join(folder, f"{new_id(stem)}.csv")


def partition_rows(rows: int, workers: int = 1) -> int:
    """Rows per partition for a file of `rows`: at least PARTS partitions and two per worker (work for every one,
    and one ready when it finishes), each between MIN_BATCH_ROWS and BATCH_ROWS."""
    parts = max(PARTS, 2 * workers)
    return int(min(BATCH_ROWS, max(MIN_BATCH_ROWS, -(-rows // parts))))


def _score_part(model, version, ids: list[str], batch: pd.DataFrame, done: int, as_csv: bool) -> dict:
    """Scores one partition (here or on a Dask worker): its counts for the summary, its first rows for the preview,
    and either its rows as a frame or their CSV (with the header when it is the first partition)."""
    frame = _score_batch(model, version, ids, batch, done)
    part = {"rows": len(frame), "head": _plain(frame.head(PREVIEW_ROWS)), "tally": _tally_part(version, frame)}
    if as_csv:
        part["csv"] = safe_csv_bytes(frame, header=done == 0)  # labels written once per class (Categoricals)
    else:
        part["frame"] = _plain(frame)
    return part


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """The scored rows as callers see them: class labels as text (object columns), not Categoricals."""
    labels = [c for c in ("predicted_class", "decision") if c in frame and isinstance(frame[c].dtype,
                                                                                      pd.CategoricalDtype)]
    if not labels:
        return frame
    return frame.assign(**{c: np.asarray(frame[c].array, dtype=object) for c in labels})


def _tally_part(version, frame: pd.DataFrame) -> dict:
    if version.task == "binary":
        return {"flagged": int((frame["decision"] == format_class(version.positive_class)).sum())}
    if version.task == "multiclass":
        decision = pd.Series(np.asarray(frame["decision"].array, dtype=object))
        return {"classes": {k: int(v) for k, v in decision.value_counts(sort=False).items()}}
    values = frame["prediction"].to_numpy(dtype=float)
    return {"sum": float(np.nansum(values)), "count": int(np.count_nonzero(~np.isnan(values)))}


class _Collected:
    """What the app keeps of the partitions, in row order: the CSV appended to `out` (or the frames), the counts
    and the preview rows."""

    def __init__(self, version, ids: list[str], out: str | None):
        self.version, self.ids, self.out = version, ids, out
        self.rows, self.frames, self.heads, self.tallies, self.task_seconds = 0, [], [], [], []
        self.fh = open(out, "wb", buffering=0) if out else None  # parts arrive whole: no buffer to copy through

    def add(self, part: dict) -> None:
        if self.fh is not None:
            csv_part = part["csv"]
            if isinstance(csv_part, str):  # a path: a dask-local worker wrote the part next to its input
                _append_file(csv_part, self.fh)
                os.unlink(csv_part)
            else:
                _write_all(self.fh, csv_part)
        else:
            self.frames.append(part["frame"])
        if self.rows < PREVIEW_ROWS:
            self.heads.append(part["head"])
        self.rows += part["rows"]
        self.tallies.append(part["tally"])
        if "seconds" in part:
            self.task_seconds.append(part["seconds"])

    def finish(self) -> pd.DataFrame:
        if self.fh is not None:
            if not self.rows:  # no rows: the header alone
                _write_all(self.fh, safe_csv_bytes(_empty_output(self.version, self.ids)))
            self.fh.close()
            self.fh = None
            parts = self.heads
        else:
            parts = self.frames
        if not parts:
            return _empty_output(self.version, self.ids) if self.out else pd.DataFrame(columns=["row"])
        frame = pd.concat(parts, ignore_index=True)
        return frame.head(PREVIEW_ROWS) if self.out else frame

    def abandon(self) -> None:
        """Nothing half-written stays: the output file goes with a failed job."""
        if self.fh is not None:
            self.fh.close()
            self.fh = None
            try:
                os.unlink(self.out)
            except OSError:
                pass

    def summary(self) -> dict:
        version, n = self.version, self.rows
        out: dict[str, Any] = {"rows": n, "threshold": version.threshold}
        if version.task == "binary" and n:
            flagged = sum(t["flagged"] for t in self.tallies)
            out.update(positive_label=format_class(version.positive_class), flagged=flagged, flagged_share=flagged / n)
        elif version.task == "multiclass" and n:
            counts: dict = {}
            for t in self.tallies:
                for k, v in t["classes"].items():
                    counts[k] = counts.get(k, 0) + v
            out["class_counts"] = dict(sorted(counts.items(), key=lambda kv: -kv[1]))
        elif n:
            count = sum(t["count"] for t in self.tallies)
            out["mean_prediction"] = sum(t["sum"] for t in self.tallies) / count if count else float("nan")
        return out


def _write_all(sink, data: bytes) -> None:
    """Writes all of `data` to an unbuffered file, which may take fewer bytes per call."""
    view = memoryview(data)
    while view:
        view = view[sink.write(view):]


def _append_file(path: str, sink) -> None:
    """Appends a file to an unbuffered binary file, in the kernel when it can (no copy through this process)."""
    with open(path, "rb") as src:
        size = os.fstat(src.fileno()).st_size
        try:
            done = 0
            while done < size:
                n = os.copy_file_range(src.fileno(), sink.fileno(), size - done)
                if n == 0:
                    break
                done += n
            if done == size:
                return
        except (AttributeError, OSError):  # no copy_file_range (an older kernel, another OS, another filesystem)
            pass
        src.seek(done)
        shutil.copyfileobj(src, sink, 1 << 20)


def _empty_output(version, ids: list[str]) -> pd.DataFrame:
    names = ["row", *ids] + (["prediction"] if version.task == "regression" else
                             ["predicted_class", "score", "decision"])
    return pd.DataFrame({n: pd.Series(dtype=float if n in ("score", "prediction") else object) for n in names})


def _score_batch(model, version, ids: list[str], batch: pd.DataFrame, done: int) -> pd.DataFrame:
    """Scores one batch of rows; `done` rows came before it, for the row numbers. Class labels are Categoricals
    (each distinct class formatted once); `_plain` gives them as text."""
    preds = predict_frame(model, version, _conform(batch, version.schema))
    part = batch[ids].copy() if ids else pd.DataFrame(index=batch.index)
    part.insert(0, "row", np.arange(done + 1, done + len(batch) + 1))
    if version.task == "regression":
        part["prediction"] = preds["y_pred"].to_numpy(dtype=float)
    elif version.task == "binary":
        neg = next(c for c in version.classes if c != version.positive_class)
        # np.where(score >= 0.5, positive, negative), formatted: the two labels np.where's result type gives them
        two = _class_labels(np.where(np.array([True, False]), version.positive_class, neg))
        codes = np.where(preds["score"].to_numpy() >= 0.5, 0, 1).astype(np.int8)
        part["predicted_class"] = pd.Categorical.from_codes(two.codes[codes], dtype=two.dtype)
        part["score"] = preds["score"].to_numpy(dtype=float)
        part["decision"] = _class_labels(preds["y_pred"].to_numpy())
    else:
        proba = preds[[f"proba_{c}" for c in version.classes]].to_numpy(dtype=float)
        part["predicted_class"] = _class_labels(preds["y_pred"].to_numpy())
        part["score"] = proba.max(axis=1)
        part["decision"] = part["predicted_class"]
    return part


def _class_labels(values) -> pd.Categorical:
    """format_class of every value, computed once per distinct class (a batch holds a handful of classes), as a
    Categorical of the labels (two classes may read alike: one category then)."""
    values = np.asarray(values)
    if values.dtype.kind in "biuf":  # numbers and booleans: hashed as they are, as their Python values group
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
    else:
        codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=False)
    labels = np.empty(len(uniques), dtype=object)
    labels[:] = [format_class(v) for v in uniques.tolist()]
    same, names = pd.factorize(labels)
    return pd.Categorical.from_codes(same[codes] if len(labels) else np.zeros(0, dtype=np.int8),
                                     categories=pd.Index(names, dtype=object))


def _score_on_cluster(c, ws: Workspace, version, source: Any, model_file: bytes, ids: list[str], batch_rows: int,
                      progress: Progress | None, rows: int, collected: _Collected) -> None:
    import tempfile

    from core.models.workers import scratch_dir, ship

    info: DatasetInfo = ws.dataset(source)
    columns = ids + list(version.features)
    select = ", ".join(quote_ident(c) for c in columns)
    folder = tempfile.mkdtemp(prefix=f"wb_train_{os.getpid()}_score_", dir=scratch_dir(ws.home))
    same_host = _same_host()
    as_csv = collected.out is not None
    futures = []
    try:
        # Dask runs a task where its inputs are: with the model held by one worker, every partition would queue
        # there while the others wait for it to be copied from that busy worker. So the partitions go round the
        # workers' threads (any other worker takes them if one is gone), and on this machine each worker gets its
        # own copy of the model file now, before the first partition is written (on a remote cluster the file
        # leaves this machine once, and the workers copy it from each other).
        slots = [w for w, n in sorted(c.nthreads().items()) for _ in range(max(1, n))] or [None]
        shared = ship(c, (model_file, version, ids), slots[0])  # the model goes to the cluster once per job
        held = {w: shared if w == slots[0] or not same_host else ship(c, (model_file, version, ids), w)
                for w in dict.fromkeys(slots)}
        # On the same disk the file is neither compressed nor dictionary-encoded: this process writes every
        # partition in turn, so its CPU bounds the job however many workers there are (250k rows: 0.31 -> 0.22
        # CPU-s here, +0.03 on the worker, which builds the dictionaries of its category columns as it reads).
        copy_options = "COMPRESSION uncompressed, DICTIONARY_SIZE_LIMIT 1" if same_host else "COMPRESSION snappy"
        starts = list(range(0, info.rows, batch_rows))
        for k, start in enumerate(starts):
            path = os.path.join(folder, f"part_{k:05d}.parquet")
            target = path.replace("'", "''")  # a generated path under the workspace, never user text
            with ws.cursor() as cur:
                # Rows in file order without a sort (see _batches: a table scan keeps insertion order, and a range
                # of rowids keeps it too), so DuckDB streams each partition instead of holding it to sort it.
                cur.execute(f"COPY (SELECT {select} FROM {quote_ident(info.table)} WHERE rowid >= {int(start)} AND "
                            f"rowid < {int(start + batch_rows)}) TO '{target}' (FORMAT parquet, {copy_options})")
            payload = path if same_host else _read_bytes(path)
            if not same_host:
                os.unlink(path)
            worker = slots[k % len(slots)]
            where = {"workers": [worker], "allow_other_workers": True} if worker else {}
            futures.append(c.submit(_score_partition, payload, held[worker], start, as_csv, pure=False, retries=2,
                                    key=f"wb-score-{k}-{os.path.basename(folder)}", **where))
        for future in futures:  # in row order; the workers score ahead of this loop
            collected.add(future.result())
            future.release()  # the worker lets go of the partition's result as soon as it is written
            if progress:
                progress(min(collected.rows / max(rows, 1), 1.0),
                         f"Scored {collected.rows:,} of {rows:,} rows on the Dask cluster")
    except Exception as err:  # noqa: BLE001 — a lost cluster is one plain message; model errors keep their type
        if compute.is_cluster_error(err) or isinstance(err, (OSError, TimeoutError)):
            failed = compute.cluster_error(err, "scoring")
            compute.forget(c)
            raise failed from None
        raise
    finally:
        try:
            c.cancel(futures)
        except Exception:  # noqa: BLE001 — a cluster already gone holds nothing
            pass
        shutil.rmtree(folder, ignore_errors=True)


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def _score_partition(payload, held, start: int, as_csv: bool) -> dict:
    """Runs on a Dask worker: reads one Parquet partition (a path on this machine, or its bytes) and scores it; a
    partition read from a path writes its CSV next to it and returns that path, so the rows cross no socket."""
    import io

    import pyarrow.parquet as pq

    model_file, version, ids = held
    began, cpu, started = time.perf_counter(), time.process_time(), time.time()
    model = scoring_model(model_file)
    loaded = time.perf_counter()
    # One thread, as the worker has: Arrow's pool would only contend with the other worker for the cores. Category
    # columns of text are read as dictionaries, as the rows scored here are (_to_pandas).
    source = io.BytesIO(payload) if isinstance(payload, bytes) else payload
    categories = _category_columns(version)
    schema = pq.read_schema(source)
    text = [c for c in categories if c in schema.names and _is_text_type(schema.field(c).type)]
    table = pq.read_table(source, use_threads=False, read_dictionary=text)
    batch = _to_pandas(table, ids, categories, use_threads=False)
    read = time.perf_counter()
    part = _score_part(model, version, ids, batch, start, as_csv)
    if as_csv and isinstance(payload, str):
        path = payload[:-len(".parquet")] + ".csv"
        with open(path, "wb") as fh:
            fh.write(part["csv"])
        part["csv"] = path
        os.unlink(payload)
    part["seconds"] = {"model": loaded - began, "read": read - loaded, "score": time.perf_counter() - read,
                       "cpu": time.process_time() - cpu,  # the worker process's CPU time on this partition
                       "started": started, "worker": _worker_address()}
    return part


def _worker_address() -> str | None:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):  # not on a Dask worker
        return None


def load_scoring_file(ws: Workspace, data: bytes, filename: str) -> DatasetInfo:
    """Loads an uploaded CSV / Parquet / Excel file as a dataset to score, or returns the same file if loaded before.

    Raises: CsvUnreadable, FileRefused, NameInvalid.
    """
    try:
        return ingest_upload(ws, data, filename, name=ws.unique_name(filename)).dataset
    except AlreadyLoaded as err:
        return ws.dataset(err.dataset_id)
