"""Batch scoring: checks new rows against a version's input schema, then predicts them in batches with progress.

- `capture_schema(ws, run, split) -> dict` records, at registration, the columns a model reads: name, kind, the
  DuckDB and pandas types seen in training, and the category values of the training rows.
- `check_input(ws, version, source) -> SchemaReport` reads the rows once and lists every problem: missing columns
  and values of the wrong type block scoring; extra columns and categories the model never saw are tolerated
  (the encoder groups them with the rare values) and explained with counts.
- `score(ws, version, source, progress=None) -> ScoreResult`: the predicted class, the score and the decision at
  the version's saved threshold, streamed in batches of `BATCH_ROWS`.
- `load_scoring_file(ws, data, filename) -> DatasetInfo` loads an uploaded file as a dataset (or finds the same
  file already loaded), so new rows are typed by the same reader as the training data.
A source is a dataset (id or name) or a pandas DataFrame.

On a Dask cluster (core.models.compute) a dataset is scored partition by partition: DuckDB writes the rows as
Parquet partitions of `BATCH_ROWS` under the workspace, the model goes to the cluster once, and each worker reads
and scores its partitions (a dask-local worker reads the file itself; a remote one receives the partition's Parquet
bytes) and returns the predictions; the app never sends the workspace file anywhere. The output is the same frame,
in the same row order, as scoring here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.data.ingest import ingest_upload
from core.errors import AlreadyLoaded, SchemaMismatch, did_you_mean
from core.models import compute
from core.models.preprocess import as_text
from core.project.criteria import format_class
from core.release.gate import predict_frame
from core.registry.versions import load_version_model
from core.split.splitting import split_frames
from core.store.workspace import DatasetInfo, Workspace, quote_ident

BATCH_ROWS = 50_000
MAX_CATEGORY_VALUES = 2_000  # beyond this many training values a column is not checked for unseen ones
EXAMPLES = 3
Progress = Callable[[float, str], None]
_TRUE = frozenset({"true", "yes", "y", "1", "t", "1.0"})
_FALSE = frozenset({"false", "no", "n", "0", "f", "0.0"})
_KIND_WORDS = {"number": "numbers", "datetime": "dates", "boolean": "yes/no values"}


@dataclass(frozen=True)
class Finding:
    level: str  # "error" blocks scoring | "tolerated" is explained and scoring goes on
    kind: str  # missing | extra | type | unseen | empty
    column: str | None
    message: str
    count: int = 0


@dataclass(frozen=True)
class SchemaReport:
    rows: int
    findings: tuple[Finding, ...] = ()

    @property
    def is_blocking(self) -> bool:
        return any(f.level == "error" for f in self.findings)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    @property
    def tolerated(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "tolerated"]


@dataclass(frozen=True)
class ScoreResult:
    frame: pd.DataFrame  # row, id columns, predicted_class, score, decision (or prediction for regression)
    report: SchemaReport
    seconds: float
    summary: dict = field(default_factory=dict)


# -- the schema, captured at registration ------------------------------------------------------------------------------
def capture_schema(ws: Workspace, run, split) -> dict:
    """Returns the input schema of a run's model: its columns with kinds, types and training category values."""
    info = ws.dataset(run.dataset_id)
    kinds, dtypes = info.kinds(), {c.name: c.dtype for c in info.columns}
    train = split_frames(ws, split, parts=("train",), columns=list(run.features))["train"]
    columns = []
    for name in run.features:
        col = {"name": name, "kind": kinds.get(name, "text"), "dtype": dtypes.get(name, ""),
               "pandas_dtype": str(train[name].dtype), "categories": None, "categories_truncated": False}
        if col["kind"] == "category":
            seen = sorted(set(as_text(train[[name]]).ravel().tolist()))
            col["categories"] = seen[:MAX_CATEGORY_VALUES]
            col["categories_truncated"] = len(seen) > MAX_CATEGORY_VALUES
        columns.append(col)
    return {"schema": 1, "target": run.target, "task": run.task, "features": list(run.features),
            "id_columns": [c.name for c in info.columns if c.kind == "id"], "columns": columns}


# -- reading the rows in batches ---------------------------------------------------------------------------------------
def _source_columns(ws: Workspace, source: Any) -> list[str]:
    if isinstance(source, pd.DataFrame):
        return [str(c) for c in source.columns]
    return ws.dataset(source).column_names


def _source_rows(ws: Workspace, source: Any) -> int:
    return len(source) if isinstance(source, pd.DataFrame) else ws.dataset(source).rows


def _batches(ws: Workspace, source: Any, columns: list[str], batch_rows: int) -> Iterator[pd.DataFrame]:
    if isinstance(source, pd.DataFrame):
        for start in range(0, len(source), batch_rows):
            yield source.iloc[start:start + batch_rows][columns].reset_index(drop=True)
        return
    info: DatasetInfo = ws.dataset(source)
    select = ", ".join(quote_ident(c) for c in columns) or "rowid"
    with ws.cursor() as cur:
        reader = cur.sql(f"SELECT {select} FROM {quote_ident(info.table)} ORDER BY rowid").to_arrow_reader(batch_rows)
        for batch in reader:
            yield batch.to_pandas()


# -- checking ----------------------------------------------------------------------------------------------------------
def check_input(ws: Workspace, version, source: Any, batch_rows: int = BATCH_ROWS) -> SchemaReport:
    """Checks rows against a version's schema: missing, extra and mistyped columns, unseen categories, empty cells."""
    schema = version.schema
    have = _source_columns(ws, source)
    expected = [c["name"] for c in schema["columns"]]
    findings: list[Finding] = []
    missing = [c for c in expected if c not in have]
    if missing:
        for name in missing:
            findings.append(Finding("error", "missing", name, f"Column {name!r} is missing; the model needs it."
                                    f"{did_you_mean(name, [h for h in have if h not in expected])} Add it to the "
                                    "file (empty cells are allowed) and load it again.", 0))
    ids = [c for c in schema.get("id_columns", []) if c in have and c not in expected]
    ignored = [c for c in have if c not in expected and c not in ids]
    if ids or ignored:
        parts = []
        if ignored:
            parts.append(f"{len(ignored)} column(s) the model does not use are ignored: {_names(ignored)}"
                         + (" (including the outcome it predicts)" if schema.get("target") in ignored else ""))
        if ids:
            parts.append(f"identifier column(s) {_names(ids)} are copied to the output so you can match rows")
        text = "; ".join(parts) + "."
        findings.append(Finding("tolerated", "extra", None, text[0].upper() + text[1:], len(ignored) + len(ids)))
    present = [c for c in schema["columns"] if c["name"] in have]
    tally = {c["name"]: {"bad": 0, "bad_examples": {}, "unseen": {}, "empty": 0} for c in present}
    rows = 0
    for batch in _batches(ws, source, [c["name"] for c in present], batch_rows):
        rows += len(batch)
        for col in present:
            _tally(batch[col["name"]], col, tally[col["name"]])
    for col in present:
        findings += _column_findings(col, tally[col["name"]])
    return SchemaReport(rows=rows if present else _source_rows(ws, source), findings=tuple(findings))


def _names(names: list[str], limit: int = 8) -> str:
    return ", ".join(map(repr, names[:limit])) + (" …" if len(names) > limit else "")


def _tally(values: pd.Series, col: dict, t: dict) -> None:
    filled = values.notna()
    t["empty"] += int((~filled).sum())
    kind = col["kind"]
    if kind == "number":
        bad = filled & pd.to_numeric(values, errors="coerce").isna()
    elif kind == "datetime":
        bad = filled & pd.to_datetime(values, errors="coerce", utc=True, format="mixed").isna()
    elif kind == "boolean" and not (pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values)):
        text = values.astype(str).str.strip().str.lower()
        bad = filled & ~text.isin(_TRUE | _FALSE) & ~values.map(lambda v: isinstance(v, (bool, np.bool_)))
    elif kind == "category" and col.get("categories") is not None and not col.get("categories_truncated"):
        text = pd.Series(as_text(_conform_category(values.to_frame(), col)).ravel())
        unseen = text[filled.to_numpy() & ~text.isin(set(col["categories"])).to_numpy()]
        for value, n in unseen.value_counts().items():
            t["unseen"][value] = t["unseen"].get(value, 0) + int(n)
        return
    else:
        return
    t["bad"] += int(bad.sum())
    for value in values[bad].astype(str).unique()[:EXAMPLES]:
        if len(t["bad_examples"]) < EXAMPLES:
            t["bad_examples"][value] = True


def _column_findings(col: dict, t: dict) -> list[Finding]:
    name, kind, out = col["name"], col["kind"], []
    if t["bad"]:
        shown = ", ".join(repr(v[:30]) for v in t["bad_examples"])
        out.append(Finding("error", "type", name, f"Column {name!r} should hold {_KIND_WORDS.get(kind, kind)}, but "
                           f"{t['bad']:,} row(s) hold something else, such as {shown}. Fix those cells or leave them "
                           "empty (the model fills in empty cells as it did in training), then load the file again.",
                           t["bad"]))
    if t["unseen"]:
        top = sorted(t["unseen"].items(), key=lambda kv: -kv[1])
        total = sum(t["unseen"].values())
        shown = ", ".join(f"{v[:30]!r} in {n:,} row(s)" for v, n in top[:EXAMPLES])
        out.append(Finding("tolerated", "unseen", name, f"Column {name!r} has {len(top)} value(s) the model never saw "
                           f"in training ({shown}{' …' if len(top) > EXAMPLES else ''}; {total:,} row(s) in all). The "
                           "model treats them like the rare values it grouped in training; predictions for those rows "
                           "are less certain.", total))
    if t["empty"]:
        how = {"number": "the training median", "datetime": "the training median",
               "boolean": "the most common training value"}.get(kind, "a '(missing)' category")
        out.append(Finding("tolerated", "empty", name, f"Column {name!r} has {t['empty']:,} empty cell(s); the model "
                           f"fills them with {how}, as in training.", t["empty"]))
    return out


def _conform_category(frame: pd.DataFrame, col: dict) -> pd.DataFrame:
    """Gives a category column the pandas type it had in training, so 3 and 3.0 name the same category."""
    name, trained = col["name"], col.get("pandas_dtype", "")
    s = frame[name]
    if trained.startswith(("int", "Int")) and pd.api.types.is_float_dtype(s):
        whole = s.dropna()
        if (whole == np.round(whole)).all():
            frame = frame.copy()
            frame[name] = s.astype("Int64")
    elif trained == "float64" and pd.api.types.is_integer_dtype(s):
        frame = frame.copy()
        frame[name] = s.astype("float64")
    return frame


def _conform(batch: pd.DataFrame, schema: dict) -> pd.DataFrame:
    out = batch.copy()
    for col in schema["columns"]:
        name = col["name"]
        if col["kind"] == "number":
            out[name] = pd.to_numeric(out[name], errors="coerce").astype(float)
        elif col["kind"] == "category":
            out[name] = _conform_category(out[[name]], col)[name]
    return out


# -- scoring -----------------------------------------------------------------------------------------------------------
def score(ws: Workspace, version, source: Any, *, progress: Progress | None = None, batch_rows: int = BATCH_ROWS,
          report: SchemaReport | None = None) -> ScoreResult:
    """Predicts every row in batches: class, score and the decision at the version's threshold.

    Raises: SchemaMismatch (missing columns, wrong types), ArtifactRejected (tampered model file).
    """
    started = time.perf_counter()
    report = report or check_input(ws, version, source, batch_rows)
    if report.is_blocking:
        raise SchemaMismatch(" ".join(f.message for f in report.errors[:5]))
    model = load_version_model(ws, version)
    schema = version.schema
    ids = [c for c in schema.get("id_columns", []) if c in _source_columns(ws, source) and c not in version.features]
    total, done, parts = max(report.rows, 1), 0, []
    c = None if isinstance(source, pd.DataFrame) else compute.client()
    if c is not None:
        parts = _score_on_cluster(c, ws, version, source, model, ids, batch_rows, progress, report.rows)
    else:
        for batch in _batches(ws, source, ids + list(version.features), batch_rows):
            parts.append(_score_batch(model, version, ids, batch, done))
            done += len(batch)
            if progress:
                progress(min(done / total, 1.0), f"Scored {done:,} of {report.rows:,} rows")
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["row"])
    return ScoreResult(frame, report, time.perf_counter() - started, _summary(version, frame))


def _score_batch(model, version, ids: list[str], batch: pd.DataFrame, done: int) -> pd.DataFrame:
    """Scores one batch of rows (here or on a Dask worker); `done` rows came before it, for the row numbers."""
    preds = predict_frame(model, version, _conform(batch, version.schema))
    part = batch[ids].copy() if ids else pd.DataFrame(index=batch.index)
    part.insert(0, "row", np.arange(done + 1, done + len(batch) + 1))
    if version.task == "regression":
        part["prediction"] = preds["y_pred"].to_numpy(dtype=float)
    elif version.task == "binary":
        neg = next(c for c in version.classes if c != version.positive_class)
        most_likely = np.where(preds["score"].to_numpy() >= 0.5, version.positive_class, neg)
        part["predicted_class"] = _format_classes(most_likely)
        part["score"] = preds["score"].to_numpy(dtype=float)
        part["decision"] = _format_classes(preds["y_pred"].to_numpy())
    else:
        proba = preds[[f"proba_{c}" for c in version.classes]].to_numpy(dtype=float)
        part["predicted_class"] = _format_classes(preds["y_pred"].to_numpy())
        part["score"] = proba.max(axis=1)
        part["decision"] = part["predicted_class"]
    return part


def _format_classes(values) -> list:
    """format_class of every value, computed once per distinct class (a batch holds a handful of classes)."""
    values = pd.Series(values, dtype=object)
    labels = {v: format_class(v) for v in pd.unique(values).tolist()}
    return values.map(labels).tolist()


def _score_on_cluster(c, ws: Workspace, version, source: Any, model, ids: list[str], batch_rows: int,
                      progress: Progress | None, rows: int) -> list[pd.DataFrame]:
    import os
    import shutil
    import tempfile

    from core.models.workers import scratch_dir, ship

    info: DatasetInfo = ws.dataset(source)
    columns = ids + list(version.features)
    select = ", ".join(quote_ident(c) for c in columns)
    folder = tempfile.mkdtemp(prefix=f"wb_train_{os.getpid()}_score_", dir=scratch_dir(ws.home))
    same_host = compute.current_config().mode == compute.DASK_LOCAL
    futures = []
    try:
        held = ship(c, (model, version, ids))
        starts = list(range(0, info.rows, batch_rows))
        for k, start in enumerate(starts):
            path = os.path.join(folder, f"part_{k:05d}.parquet")
            target = path.replace("'", "''")  # a generated path under the workspace, never user text
            with ws.cursor() as cur:
                cur.execute(f"COPY (SELECT {select} FROM {quote_ident(info.table)} WHERE rowid >= {int(start)} AND "
                            f"rowid < {int(start + batch_rows)} ORDER BY rowid) TO '{target}' (FORMAT parquet)")
            payload = path if same_host else _read_bytes(path)
            futures.append(c.submit(_score_partition, payload, held, start, pure=False, retries=2,
                                    key=f"wb-score-{k}-{os.path.basename(folder)}"))
        results, done = [], 0
        for future in futures:  # in row order; the workers score ahead of this loop
            results.append(future.result())
            done += len(results[-1])
            if progress:
                progress(min(done / max(rows, 1), 1.0), f"Scored {done:,} of {rows:,} rows on the Dask cluster")
        return results
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


def _score_partition(payload, held, start: int) -> pd.DataFrame:
    """Runs on a Dask worker: reads one Parquet partition (a path on this machine, or its bytes) and scores it."""
    import io

    import pyarrow.parquet as pq

    model, version, ids = held
    batch = pq.read_table(io.BytesIO(payload) if isinstance(payload, bytes) else payload).to_pandas()
    return _score_batch(model, version, ids, batch, start)


def _summary(version, frame: pd.DataFrame) -> dict:
    out: dict[str, Any] = {"rows": len(frame), "threshold": version.threshold}
    if version.task == "binary" and len(frame):
        label = format_class(version.positive_class)
        flagged = int((frame["decision"] == label).sum())
        out.update(positive_label=label, flagged=flagged, flagged_share=flagged / len(frame))
    elif version.task == "multiclass" and len(frame):
        out["class_counts"] = frame["decision"].value_counts().to_dict()
    elif len(frame):
        out["mean_prediction"] = float(frame["prediction"].mean())
    return out


def load_scoring_file(ws: Workspace, data: bytes, filename: str) -> DatasetInfo:
    """Loads an uploaded CSV / Parquet / Excel file as a dataset to score, or returns the same file if loaded before.

    Raises: CsvUnreadable, FileRefused, NameInvalid.
    """
    try:
        return ingest_upload(ws, data, filename, name=ws.unique_name(filename)).dataset
    except AlreadyLoaded as err:
        return ws.dataset(err.dataset_id)
