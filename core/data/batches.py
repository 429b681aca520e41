"""A project's data timeline: the original dataset plus batches appended later, each with its lineage.

Public API (monitoring, retraining and the dashboard build on it):
- `list_batches(ws, project) -> [Batch]` oldest first; batch 1 is the project's own dataset ("original"), even
  before anything was appended (it is written on the first append).
- `append_batch(ws, project, path, label=None, by="", mapping=None, as_of=None) -> AppendResult`: stages the file,
  compares its columns with batch 1 and loads it in one DuckDB transaction, cast to batch 1's column types in its
  column order, so batches stack. Any difference (missing, extra or retyped columns, unseen categories) raises
  `BatchSchemaDiffers` with the exact list and loads nothing, unless `mapping` (a `ColumnMapping`) says what to do
  with each difference. A file whose SHA-256 is already a batch of this project is not loaded twice. A file
  without the target column loads as an unlabelled batch.
- `window_dataset(ws, project, batch_ids) -> DatasetInfo`: the batches stacked into one dataset (reused when the
  same batches were stacked before), whose lineage names the batches and their row ranges.
- `get_batch(ws, project, ref)`, `batch_of_dataset(ws, project, dataset_id)`.

Record "batch" (id "bat_<project id>_<seq:04d>", append-only, project_id): seq, label, dataset_id, source_file,
file_sha256, rows, as_of (ISO date the batch describes), added_at, added_by, labelled, mapping, notes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from core.data.ingest import _csv_options, _source_sql, preview_upload
from core.data.staging import stage_path, stage_upload
from core.errors import FileRefused, NameInvalid, NotFound, SchemaMismatch, SpecInvalid
from core.store.workspace import ColumnInfo, DatasetInfo, Workspace, new_id, now_utc, quote_ident

KIND = "batch"
SCHEMA = 1
MAX_CATEGORIES = 50  # reference columns with more distinct values are not checked for unseen categories
_EXAMPLES = 5

__all__ = ["AppendResult", "Batch", "BatchSchemaDiffers", "ColumnMapping", "SchemaDiff", "append_batch",
           "append_upload", "batch_of_dataset", "get_batch", "list_batches", "window_dataset"]


@dataclass(frozen=True)
class Batch:
    id: str
    project_id: str
    seq: int
    label: str
    dataset_id: str
    source_file: str
    file_sha256: str
    rows: int
    as_of: str
    added_at: str
    added_by: str
    labelled: bool = True
    mapping: dict = field(default_factory=dict)
    notes: tuple = ()

    @property
    def name(self) -> str:
        return f"Batch {self.seq} · {self.label}"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_record(cls, rec: dict) -> "Batch":
        return cls(id=rec["id"], project_id=rec["project_id"], seq=int(rec["seq"]), label=rec["label"],
                   dataset_id=rec["dataset_id"], source_file=rec.get("source_file", ""),
                   file_sha256=rec.get("file_sha256", ""), rows=int(rec.get("rows", 0)), as_of=rec.get("as_of", ""),
                   added_at=str(rec.get("added_at", "")), added_by=rec.get("added_by", ""),
                   labelled=bool(rec.get("labelled", True)), mapping=dict(rec.get("mapping") or {}),
                   notes=tuple(rec.get("notes") or ()))


@dataclass(frozen=True)
class ColumnMapping:
    """What to do with each difference between a new file and batch 1; anything not named here stops the load."""

    rename: dict = field(default_factory=dict)          # file column -> batch-1 column
    drop: tuple = ()                                    # extra file columns to leave out
    fill: tuple = ()                                    # missing batch-1 columns to load as empty
    cast: tuple = ()                                    # retyped columns: values that do not convert load as empty
    accept_categories: tuple = ()                       # columns whose unseen categories are accepted

    def to_dict(self) -> dict:
        return {"rename": dict(self.rename), "drop": list(self.drop), "fill": list(self.fill),
                "cast": list(self.cast), "accept_categories": list(self.accept_categories)}

    @classmethod
    def from_dict(cls, d: dict | None) -> "ColumnMapping":
        d = d or {}
        return cls(rename=dict(d.get("rename") or {}), drop=tuple(d.get("drop") or ()), fill=tuple(d.get("fill") or ()),
                   cast=tuple(d.get("cast") or ()), accept_categories=tuple(d.get("accept_categories") or ()))

    @property
    def is_empty(self) -> bool:
        return not (self.rename or self.drop or self.fill or self.cast or self.accept_categories)


@dataclass(frozen=True)
class SchemaDiff:
    """Exactly how a file differs from batch 1: each list holds column names, or dicts with examples."""

    missing: tuple = ()       # batch-1 columns the file lacks
    extra: tuple = ()         # file columns batch 1 does not have
    retyped: tuple = ()       # {"column", "expected", "bad_values", "examples"}
    unseen: tuple = ()        # {"column", "values", "rows"}: categories batch 1 never had
    unlabelled: bool = False  # the target column is missing (allowed: the batch loads without labels)

    @property
    def is_same(self) -> bool:
        return not (self.missing or self.extra or self.retyped or self.unseen)

    def lines(self) -> list[str]:
        out = []
        if self.missing:
            out.append("missing column(s): " + ", ".join(map(repr, self.missing)))
        if self.extra:
            out.append("extra column(s): " + ", ".join(map(repr, self.extra)))
        for r in self.retyped:
            out.append(f"{r['column']!r} should hold {r['expected']} values, but {r['bad_values']:,} do not "
                       f"(e.g. {', '.join(map(repr, r['examples']))})")
        for u in self.unseen:
            out.append(f"{u['column']!r} has categories batch 1 never had: {', '.join(map(repr, u['values']))} "
                       f"({u['rows']:,} rows)")
        return out

    def to_dict(self) -> dict:
        return {"missing": list(self.missing), "extra": list(self.extra), "retyped": list(self.retyped),
                "unseen": list(self.unseen), "unlabelled": self.unlabelled}


class BatchSchemaDiffers(SchemaMismatch):
    """A new batch does not match batch 1's columns; `diff` says exactly how. Nothing was loaded."""

    def __init__(self, message: str, diff: SchemaDiff):
        super().__init__(message)
        self.diff = diff


@dataclass(frozen=True)
class AppendResult:
    batch: Batch
    already_loaded: bool = False
    diff: SchemaDiff = field(default_factory=SchemaDiff)
    notes: tuple = ()


# -- reading -----------------------------------------------------------------------------------------------------------
def _batch_id(project_id: str, seq: int) -> str:
    return f"bat_{project_id}_{seq:04d}"


def _original(ws: Workspace, project) -> Batch:
    info = ws.dataset(project.dataset_id)
    created = info.created_at.isoformat(timespec="seconds") if isinstance(info.created_at, datetime) else str(
        info.created_at or "")
    return Batch(id=_batch_id(project.id, 1), project_id=project.id, seq=1, label="original", dataset_id=info.id,
                 source_file=info.source_file, file_sha256=info.content_hash, rows=info.rows,
                 as_of=_latest_date(ws, info) or created[:10],
                 added_at=created, added_by="", labelled=bool(project.target) and project.target in info.column_names)


def _latest_date(ws: Workspace, info: DatasetInfo) -> str | None:
    """The newest date in the data (the day the original dataset describes up to), or None without date columns."""
    dates = [c.name for c in info.columns if c.kind == "datetime"]
    if not dates:
        return None
    expr = ", ".join(f"max(TRY_CAST({quote_ident(c)} AS DATE))" for c in dates)
    value = ws.read_rows(f"SELECT greatest({expr}) FROM {quote_ident(info.table)}", frames=())[0][0]  # dataset only
    return value.isoformat()[:10] if value is not None else None


def list_batches(ws: Workspace, project) -> list[Batch]:
    """Returns the project's batches, oldest first; batch 1 is its own dataset."""
    saved = sorted((Batch.from_record(r) for r in ws.list_records(KIND, project_id=project.id)), key=lambda b: b.seq)
    if not saved or saved[0].seq != 1:
        saved.insert(0, _original(ws, project))
    return saved


def get_batch(ws: Workspace, project, ref: str | int) -> Batch:
    """Returns a batch by id, number or label. Raises: NotFound."""
    batches = list_batches(ws, project)
    for b in batches:
        if ref in (b.id, b.label, str(b.seq)) or (isinstance(ref, int) and b.seq == ref):
            return b
    raise NotFound(f"Project {project.name!r} has no batch {ref!r}; it has "
                   + ", ".join(f"{b.seq} ({b.label})" for b in batches) + ".")


def batch_of_dataset(ws: Workspace, project, dataset_id: str) -> Batch | None:
    """Returns the batch stored as this dataset, or None."""
    return next((b for b in list_batches(ws, project) if b.dataset_id == dataset_id), None)


# -- appending ---------------------------------------------------------------------------------------------------------
def append_batch(ws: Workspace, project, path: str | Path, label: str | None = None, by: str = "",
                 mapping: ColumnMapping | None = None, as_of: str | None = None) -> AppendResult:
    """Appends a file on disk as the project's next batch. Raises: BatchSchemaDiffers, FileRefused, CsvUnreadable."""
    staged = stage_path(Path(path))
    try:
        return _append(ws, project, staged, label, by, mapping, as_of)
    finally:
        staged.discard()


def append_upload(ws: Workspace, project, data: bytes, filename: str, label: str | None = None, by: str = "",
                  mapping: ColumnMapping | None = None, as_of: str | None = None) -> AppendResult:
    """Appends uploaded bytes as the project's next batch (the Monitoring page). Raises: as append_batch."""
    staged = stage_upload(ws, data, filename)
    try:
        return _append(ws, project, staged, label, by, mapping, as_of)
    finally:
        staged.discard()


def _append(ws, project, staged, label, by, mapping, as_of) -> AppendResult:
    ws.require_editor()
    mapping = mapping or ColumnMapping()
    batches = list_batches(ws, project)
    twin = next((b for b in batches if b.file_sha256 == staged.sha256), None)
    if twin is not None:
        return AppendResult(twin, already_loaded=True, notes=(f"This file is already {twin.name}; nothing was "
                                                              "loaded twice.",))
    if staged.fmt not in ("csv", "parquet"):
        raise FileRefused(f"{staged.original_name!r} is a {staged.fmt.upper()} file; batches load from CSV or "
                          "Parquet. Save it as CSV and append that.")
    reference = ws.dataset(batches[0].dataset_id)
    dataset_hash = hashlib.sha256(f"batch:{project.id}:{staged.sha256}".encode()).hexdigest()
    label = " ".join(str(label or Path(staged.original_name).stem).split())[:60] or f"batch {len(batches) + 1}"
    as_of = _as_of(as_of)
    existing = ws.dataset_by_hash(dataset_hash)  # loaded by an append that was killed before its record landed
    if existing is not None:
        diff, notes = SchemaDiff(unlabelled=not _labelled(ws, existing, project)), ()
        info = existing
    else:
        preview = preview_upload(ws, staged)
        info, diff, notes = _load(ws, project, reference, preview, mapping, label, dataset_hash)
    batch = _record(ws, project, info, staged, label, by, mapping, as_of, diff, notes, len(batches))
    return AppendResult(batch, diff=diff, notes=notes)


def _as_of(text: str | None) -> str:
    if not text:
        return now_utc().date().isoformat()
    try:
        return date.fromisoformat(str(text)[:10]).isoformat()
    except ValueError:
        raise SpecInvalid(f"{text!r} is not a date; give the day the batch describes as YYYY-MM-DD.") from None


def _labelled(ws: Workspace, info: DatasetInfo, project) -> bool:
    if not project.target:
        return False
    q = quote_ident(project.target)
    return bool(ws.read_rows(f"SELECT count({q}) FROM {quote_ident(info.table)}")[0][0])


def _record(ws, project, info, staged, label, by, mapping, as_of, diff, notes, n_before) -> Batch:
    original = list_batches(ws, project)[0]
    if not ws.get_record(KIND, original.id):
        try:
            ws.append_record(KIND, original.id, _payload(original), project_id=project.id)
        except NameInvalid:
            pass  # another session wrote it first
    for _ in range(20):  # append-only ids: two sessions appending together both land, one after the other
        seq = max(b.seq for b in list_batches(ws, project)) + 1
        batch = Batch(id=_batch_id(project.id, seq), project_id=project.id, seq=seq, label=label, dataset_id=info.id,
                      source_file=staged.original_name, file_sha256=staged.sha256, rows=info.rows, as_of=as_of,
                      added_at=now_utc().isoformat(timespec="seconds"), added_by=str(by or "")[:80],
                      labelled=not diff.unlabelled, mapping=mapping.to_dict(), notes=tuple(notes))
        try:
            ws.append_record(KIND, batch.id, _payload(batch), project_id=project.id)
            return batch
        except NameInvalid:
            continue
    raise SpecInvalid("Too many batches were appended at the same moment. Append this file again.")


def _payload(b: Batch) -> dict:
    d = b.to_dict()
    for k in ("id", "project_id"):
        d.pop(k)
    d["notes"] = list(b.notes)
    return {"schema": SCHEMA, **d}


def _load(ws: Workspace, project, reference: DatasetInfo, preview, mapping: ColumnMapping, label: str,
          dataset_hash: str) -> tuple[DatasetInfo, SchemaDiff, tuple]:
    """Stages the file as text, compares it with batch 1, and only then creates the batch table; all or nothing."""
    staged = preview.staged
    file_cols = [c.name for c in preview.columns]
    for src, dst in mapping.rename.items():
        if src not in file_cols:
            raise SpecInvalid(f"The mapping renames {src!r}, but the file has no such column "
                              f"(it has {', '.join(map(repr, file_cols[:12]))}).")
        if dst not in reference.column_names:
            raise SpecInvalid(f"The mapping renames {src!r} to {dst!r}, but batch 1 has no column {dst!r}.")
    as_ref = {mapping.rename.get(c, c): c for c in file_cols if c not in mapping.drop}
    stage, table = new_id("stage"), new_id("t")
    if staged.fmt == "csv":
        source = f"read_csv(?, {_csv_options(preview.delimiter, preview.has_header, '.', file_cols)}, all_varchar=true)"
    else:
        source = _source_sql(preview, {}, False)
    with ws.transaction() as cur:
        cur.execute(f"CREATE TABLE {quote_ident(stage)} AS SELECT * FROM {source}", [str(staged.path)])
        missing = [c for c in reference.column_names if c not in as_ref]
        unlabelled = bool(project.target) and project.target in missing
        extra = [c for c in file_cols if c not in mapping.drop and mapping.rename.get(c, c) not in reference.column_names]
        retyped, unseen = [], []
        exprs = []
        comma = preview.decimal_separator == ","
        for col in reference.columns:
            if col.name not in as_ref:
                exprs.append(f"CAST(NULL AS {col.dtype}) AS {quote_ident(col.name)}")
                continue
            expr = _cast_expr(quote_ident(as_ref[col.name]), col, comma)
            exprs.append(f"{expr} AS {quote_ident(col.name)}")
            bad = _bad_values(cur, stage, quote_ident(as_ref[col.name]), expr)
            if bad[0] and col.name not in mapping.cast:
                retyped.append({"column": col.name, "expected": _family(col), "bad_values": bad[0],
                                "examples": bad[1]})
        if not retyped and not extra and not [m for m in missing if m not in mapping.fill and m != project.target]:
            unseen = _unseen(cur, stage, reference, as_ref, exprs, mapping, project)
        diff = SchemaDiff(missing=tuple(m for m in missing if m != project.target),
                          extra=tuple(extra), retyped=tuple(retyped), unseen=tuple(unseen), unlabelled=unlabelled)
        blocking = SchemaDiff(missing=tuple(m for m in diff.missing if m not in mapping.fill), extra=diff.extra,
                              retyped=diff.retyped, unseen=tuple(u for u in unseen if u["column"] not in
                                                                 mapping.accept_categories or u["column"] == project.target))
        if not blocking.is_same:
            raise BatchSchemaDiffers(
                f"{staged.original_name!r} does not match batch 1 ({reference.name!r}), so nothing was loaded: "
                + "; ".join(blocking.lines()) + ". Fix the file, or append it with a mapping that says what to do "
                "with each difference.", diff)
        cur.execute(f"CREATE TABLE {quote_ident(table)} AS SELECT {', '.join(exprs)} FROM {quote_ident(stage)} "
                    "ORDER BY rowid")
        cur.execute(f"DROP TABLE {quote_ident(stage)}")
        name = _free_name(cur, f"{project.name} · {label}")
        notes = []
        if unlabelled:
            notes.append(f"No {project.target!r} column: this batch has no labels, so performance is checked when a "
                         "labelled batch arrives.")
        if not mapping.is_empty:
            notes.append("Loaded with a mapping: " + json.dumps(mapping.to_dict()))
        ds_id = ws.register_table(cur, name=name, table_name=table, source_file=staged.original_name,
                                  content_hash=dataset_hash, columns=list(reference.columns),
                                  size_bytes=staged.size_bytes,
                                  lineage={"source": staged.original_name, "file_sha256": staged.sha256,
                                           "batch_of": project.id, "reference_dataset": reference.id,
                                           "mapping": mapping.to_dict(), "diff": diff.to_dict()})
    return ws.dataset(ds_id), diff, tuple(notes)


def _family(col: ColumnInfo) -> str:
    t = col.dtype.upper()
    if t.startswith(("DATE", "TIMESTAMP")):
        return "date"
    if t == "BOOLEAN":
        return "yes/no"
    if t.startswith("VARCHAR"):
        return "text"
    return "number" if not t.startswith(("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT")) else "whole-number"


def _cast_expr(src: str, col: ColumnInfo, comma: bool) -> str:
    t = col.dtype.upper()
    if t.startswith("VARCHAR"):
        return f"CAST({src} AS VARCHAR)"
    text = f"trim(CAST({src} AS VARCHAR))"
    if comma and _family(col) in ("number", "whole-number"):
        text = f"replace({text}, ',', '.')"
    if t in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"):
        # "12.0" is a whole number written by another tool; "12.5" is not, and is reported as a bad value
        num = f"TRY_CAST({text} AS DOUBLE)"
        return f"(CASE WHEN {num} = round({num}) THEN CAST({num} AS {col.dtype}) END)"
    return f"TRY_CAST({text} AS {col.dtype})"


def _bad_values(cur, stage: str, src: str, expr: str) -> tuple[int, list[str]]:
    """Counts values present in the file that do not convert to batch 1's type."""
    where = f"{src} IS NOT NULL AND trim(CAST({src} AS VARCHAR)) <> '' AND ({expr}) IS NULL"
    n = cur.execute(f"SELECT count(*) FROM {quote_ident(stage)} WHERE {where}").fetchall()[0][0]
    if not n:
        return 0, []
    ex = cur.execute(f"SELECT DISTINCT CAST({src} AS VARCHAR) FROM {quote_ident(stage)} WHERE {where} "
                     f"LIMIT {_EXAMPLES}").fetchall()
    return int(n), [str(r[0])[:40] for r in ex]


def _unseen(cur, stage, reference: DatasetInfo, as_ref, exprs, mapping, project) -> list[dict]:
    out = []
    by_name = dict(zip(reference.column_names, exprs))
    for col in reference.columns:
        is_target = col.name == project.target and project.task in ("binary", "multiclass")
        if col.name not in as_ref or not (col.kind == "category" or is_target):
            continue
        q, ref_t = quote_ident(col.name), quote_ident(reference.table)
        n_ref = cur.execute(f"SELECT count(DISTINCT {q}) FROM {ref_t}").fetchall()[0][0]
        if n_ref > MAX_CATEGORIES:
            continue
        expr = by_name[col.name].rsplit(" AS ", 1)[0]
        rows = cur.execute(
            f"SELECT v, count(*) FROM (SELECT {expr} AS v FROM {quote_ident(stage)}) WHERE v IS NOT NULL AND v NOT IN "
            f"(SELECT {q} FROM {ref_t} WHERE {q} IS NOT NULL) GROUP BY v ORDER BY 2 DESC, 1").fetchall()
        if rows:
            out.append({"column": col.name, "values": [str(r[0])[:40] for r in rows[:_EXAMPLES]],
                        "rows": int(sum(r[1] for r in rows))})
    return out


def _free_name(cur, wanted: str) -> str:
    base = " ".join(wanted.split())[:80]
    name, i = base, 2
    while cur.execute("SELECT 1 FROM wb_datasets WHERE name = ?", [name]).fetchall():
        name, i = f"{base[:74]} ({i})", i + 1
    return name


# -- stacking ----------------------------------------------------------------------------------------------------------
def window_dataset(ws: Workspace, project, batch_ids: list[str]) -> DatasetInfo:
    """Stacks batches (oldest first) into one dataset for training; the same batches give the same dataset.

    Raises: SpecInvalid (no batches), NotFound.
    """
    if not batch_ids:
        raise SpecInvalid("Choose at least one batch to train on.")
    chosen = sorted((get_batch(ws, project, b) for b in batch_ids), key=lambda b: b.seq)
    if len(chosen) == 1:
        return ws.dataset(chosen[0].dataset_id)
    infos = [ws.dataset(b.dataset_id) for b in chosen]
    digest = hashlib.sha256(("window:" + ",".join(i.content_hash for i in infos)).encode()).hexdigest()
    existing = ws.dataset_by_hash(digest)
    if existing is not None:
        return existing
    reference = infos[0]
    cols = ", ".join(quote_ident(c) for c in reference.column_names)
    table = new_id("t")
    parts, first = [], 0
    with ws.transaction() as cur:
        for i, (b, info) in enumerate(zip(chosen, infos)):
            select = f"SELECT {cols} FROM {quote_ident(info.table)} ORDER BY rowid"
            if i == 0:
                cur.execute(f"CREATE TABLE {quote_ident(table)} AS {select}")
            else:
                cur.execute(f"INSERT INTO {quote_ident(table)} {select}")
            parts.append({"batch_id": b.id, "seq": b.seq, "label": b.label, "first_row": first, "rows": info.rows})
            first += info.rows
        label = f"batches {chosen[0].seq}–{chosen[-1].seq}" if [b.seq for b in chosen] == list(
            range(chosen[0].seq, chosen[-1].seq + 1)) else "batches " + ", ".join(str(b.seq) for b in chosen)
        ds_id = ws.register_table(cur, name=_free_name(cur, f"{project.name} · {label}"), table_name=table,
                                  source_file="", content_hash=digest, columns=list(reference.columns),
                                  lineage={"window_of": project.id, "batches": parts})
    return ws.dataset(ds_id)


def dataset_batches(ws: Workspace, project, dataset_id: str) -> list[str]:
    """Returns the ids of the batches a dataset holds (a batch itself, or a stacked window); [] when unknown."""
    info = ws.dataset(dataset_id)
    if info.lineage.get("window_of") == project.id:
        return [p["batch_id"] for p in info.lineage.get("batches") or ()]
    own = batch_of_dataset(ws, project, dataset_id)
    return [own.id] if own else []


def describe(b: Batch) -> dict[str, Any]:
    """One row of the batch timeline, for tables and JSON."""
    return {"batch": b.seq, "label": b.label, "as_of": b.as_of, "rows": b.rows, "labelled": b.labelled,
            "file": b.source_file, "sha256": b.file_sha256[:12], "added_at": b.added_at, "added_by": b.added_by,
            "dataset_id": b.dataset_id, "id": b.id}
