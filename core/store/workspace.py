"""One user's datasets, records and artifacts, stored in a single DuckDB database on disk."""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from core.errors import (
    AlreadyLoaded,
    ArtifactRejected,
    InUse,
    NameInvalid,
    PermissionDenied,
    WorkspaceLocked,
    unknown,
)
from core.store import integrity
from core.store.readcache import MAX_FRAME_CELLS, ReadCache

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
ROW_ID = "_row"  # stable row id of every dataset row: DuckDB's rowid, datasets are never updated in place

_DDL = """
CREATE TABLE IF NOT EXISTS wb_meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS wb_datasets (
    id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, table_name VARCHAR NOT NULL, source_file VARCHAR,
    content_hash VARCHAR NOT NULL, n_rows BIGINT, size_bytes BIGINT, created_at TIMESTAMP, columns JSON,
    lineage JSON, schema_version INTEGER);
CREATE TABLE IF NOT EXISTS wb_records (
    kind VARCHAR NOT NULL, id VARCHAR NOT NULL, project_id VARCHAR, created_at TIMESTAMP, updated_at TIMESTAMP,
    payload JSON, PRIMARY KEY (kind, id));
CREATE TABLE IF NOT EXISTS wb_frames (key VARCHAR PRIMARY KEY, table_name VARCHAR NOT NULL, created_at TIMESTAMP);
"""


def quote_ident(name: str) -> str:
    """Quotes an identifier for DuckDB, doubling embedded quotes: the one way a name enters SQL text."""
    return '"' + str(name).replace('"', '""') + '"'


def now_utc() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def new_id(prefix: str) -> str:
    """Returns a fresh opaque id such as 'ds_3f9a1c2b7d4e'."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    dtype: str  # DuckDB type, e.g. BIGINT, DOUBLE, VARCHAR, DATE
    kind: str  # number | category | text | datetime | boolean | id

    @property
    def is_numeric(self) -> bool:
        return self.kind == "number"


@dataclass(frozen=True)
class DatasetInfo:
    id: str
    name: str
    table: str
    columns: tuple[ColumnInfo, ...]
    rows: int
    size_bytes: int
    content_hash: str
    source_file: str
    created_at: datetime
    lineage: dict = field(default_factory=dict)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> ColumnInfo:
        for c in self.columns:
            if c.name == name:
                return c
        raise unknown("column", name, self.column_names, where=self.name)

    def kinds(self) -> dict[str, str]:
        return {c.name: c.kind for c in self.columns}


@dataclass(frozen=True)
class ArtifactRef:
    path: str  # relative to the workspace's artifacts folder
    sha256: str

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ArtifactRef":
        return cls(path=d["path"], sha256=d["sha256"])


class Workspace:
    """One user's tables, splits, records and artifacts, stored in a single DuckDB database."""

    def __init__(self, home: Path, *, role: str = "editor", _con: duckdb.DuckDBPyConnection | None = None):
        self.home = Path(home)
        self.role = role
        self.scope: str | None = None  # a share-link viewer's one project; None: the whole workspace
        self.db_path = self.home / "workspace.duckdb"
        self.artifacts = self.home / "artifacts"
        self.staging = self.home / "staging"
        self._memo = ReadCache()
        if _con is not None:
            self._con = _con
            self._lock = threading.Lock()
            return
        for folder in (self.home, self.artifacts, self.staging):
            folder.mkdir(parents=True, exist_ok=True)
        self._con = _connect(self.db_path)
        self._lock = threading.Lock()
        _sweep_staging(self.staging)
        try:
            integrity.key_legacy_artifacts(self.home, self.artifacts)
        except OSError:  # no secret folder we may write: reads then refuse unkeyed artifacts, which fails closed
            log.exception("The artifacts of %s could not be given keyed checksums", self.home)
        with self.cursor() as cur:
            cur.execute(_DDL)
            cur.execute("INSERT OR IGNORE INTO wb_meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])

    # -- connections -------------------------------------------------------------------------------------------
    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Yields a fresh cursor that is closed afterwards; Streamlit sessions run on separate threads.

        A cursor may write anything, so closing it drops the whole memo of catalogue reads (core.store.readcache),
        and may read anything, so a tracked build that opens one depends on every write.
        """
        self._memo.note(None)
        with self._write_cursor(None) as cur:
            yield cur

    @contextmanager
    def _write_cursor(self, *tags: str) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor for the store's own writes: closing it drops the memo entries of `tags` (None: all of them)."""
        real = tuple(t for t in tags if t is not None)
        try:
            with self._read_cursor() as cur:
                yield cur
        finally:
            self._memo.bump(*real)

    @contextmanager
    def _read_cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._lock:
            cur = self._con.cursor()
        try:
            yield cur
        finally:
            cur.close()

    def _memo_rows(self, sql: str, params: Sequence[Any], tag: str | None) -> list[tuple]:
        """read_rows for the catalogue queries of this class, memoised until a write of `tag` (or any write)."""
        return self._memo.get(("rows", sql, tuple(params)), lambda: self._rows(sql, params), tag)

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Yields a cursor inside a transaction: all of its writes land, or none do."""
        with self._transaction(None) as cur:
            yield cur

    @contextmanager
    def _transaction(self, tag: str | None) -> Iterator[duckdb.DuckDBPyConnection]:
        self.require_editor()
        with self._write_cursor(tag) as cur:
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    def as_role(self, role: str, *, scope: str | None = None) -> "Workspace":
        """Returns a view of the same workspace acting for `role` ('editor' or 'viewer').

        `scope` (viewers only) is the one project the view may read: datasets that no record of that project names,
        other projects' records, and frames and artifacts that belong to them are then invisible, as if they did not
        exist. An empty scope reads nothing. Pages get theirs from the session's share token, never from a widget.
        """
        if role != "viewer" and scope is not None:
            raise PermissionDenied("Only a read-only view can be limited to one project.")
        view = copy.copy(self)
        view.role = role
        view.scope = scope
        return view

    @property
    def is_editor(self) -> bool:
        return self.role == "editor"

    def require_editor(self) -> None:
        """Refuses a viewer: every core function that writes calls this first (the store's own writes do too).

        Raises: PermissionDenied.
        """
        if self.role != "editor":
            raise PermissionDenied("This is a read-only view, so nothing can be changed here. Ask the analyst who shared it.")

    @property
    def generation(self) -> int:
        """A number that changes after every write to this workspace (of any kind): key caches of derived views
        by it."""
        return self._memo.generation

    def track_reads(self):
        """A context in which this thread's reads are recorded (core.store.readcache.Reads): its `stamp` tells
        `unchanged_since` whether a write has changed any of them since."""
        return self._memo.track()

    def unchanged_since(self, stamp: tuple) -> bool:
        """Whether nothing that the tracked reads of `stamp` read has been written since."""
        return self._memo.still_true(stamp)

    def close(self) -> None:
        self._con.close()

    # -- internal read-only SQL for core modules ----------------------------------------------------------------
    # Raw SQL may read anything, so a tracked build (track_reads) that runs some depends on every write, unless the
    # caller names what it reads: `frames=(key, ...)` says the query reads only dataset tables (written once) and the
    # stored frames of those keys.
    def read(self, sql: str, params: Sequence[Any] = (), *, frames: Sequence[str] | None = None) -> pd.DataFrame:
        """Runs an internal query (identifiers quoted with quote_ident, values bound) and returns a frame."""
        self._note_raw(frames)
        return self._df(sql, params)

    def read_arrow(self, sql: str, params: Sequence[Any] = (), *, frames: Sequence[str] | None = None):
        self._note_raw(frames)
        with self._read_cursor() as cur:
            return cur.sql(sql, params=list(params)).to_arrow_table()

    def read_rows(self, sql: str, params: Sequence[Any] = (), *, frames: Sequence[str] | None = None) -> list[tuple]:
        self._note_raw(frames)
        return self._rows(sql, params)

    def _note_raw(self, frames: Sequence[str] | None) -> None:
        if frames is None:
            self._memo.note(None)
            return
        self._memo.note(self._datasets_tag)
        for key in frames:
            self._memo.note(f"frame:{key}")

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._read_cursor() as cur:
            return cur.execute(sql, list(params)).fetchall()

    def _df(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        with self._read_cursor() as cur:
            return cur.execute(sql, list(params)).df()

    # -- datasets ---------------------------------------------------------------------------------------------------
    def _in_scope(self, alias: str = "") -> tuple[str, list]:
        """SQL condition (and its parameters) that keeps what this view may read: everything, or one project's."""
        if self.scope is None:
            return "TRUE", []
        pre = f"{alias}." if alias else ""
        if alias:  # a dataset: some record of the project names it (its project, splits, runs, drift reports)
            return (f"EXISTS (SELECT 1 FROM wb_records r WHERE r.project_id = ? AND r.kind <> 'share' "
                    f"AND contains(CAST(r.payload AS VARCHAR), {pre}id))"), [self.scope]
        return "project_id = ?", [self.scope]

    @property
    def _datasets_tag(self) -> str | None:
        # A scoped viewer's catalogue also depends on which records name a dataset: any write can change it.
        return "datasets" if self.scope is None else None

    def datasets(self) -> list[DatasetInfo]:
        """Lists the workspace's datasets (a scoped viewer: its project's), newest first."""
        cond, params = self._in_scope("d")
        rows = self._memo_rows(f"SELECT {_DS_COLS_D} FROM wb_datasets d WHERE {cond} ORDER BY created_at DESC, name",
                               params, self._datasets_tag)
        return [_dataset_from_row(r) for r in rows]

    def dataset(self, ref: str) -> DatasetInfo:
        """Returns a dataset by id or by name (exactly, case included). Raises: NotFound."""
        cond, params = self._in_scope("d")
        rows = self._memo_rows(f"SELECT {_DS_COLS_D} FROM wb_datasets d WHERE (id = ? OR name = ?) AND {cond} "
                               "ORDER BY id = ? DESC", [ref, ref, *params, ref], self._datasets_tag)
        if not rows:
            raise unknown("dataset", ref, [d.name for d in self.datasets()])
        return _dataset_from_row(rows[0])

    def dataset_by_hash(self, content_hash: str) -> DatasetInfo | None:
        cond, params = self._in_scope("d")
        rows = self.read_rows(f"SELECT {_DS_COLS_D} FROM wb_datasets d WHERE content_hash = ? AND {cond}",
                              [content_hash, *params])
        return _dataset_from_row(rows[0]) if rows else None

    def unique_name(self, wanted: str) -> str:
        """Returns `wanted` cleaned, or with a numeric suffix when the name is taken."""
        base = clean_dataset_name(wanted)
        taken = {d.name for d in self.datasets()}
        name, i = base, 2
        while name in taken:
            name, i = f"{base}_{i}", i + 1
        return name

    def frame(self, ref: str, columns: Sequence[str] | None = None, *, row_ids: Sequence[int] | None = None,
              limit: int | None = None, with_row_id: bool = False) -> pd.DataFrame:
        """Returns a dataset (or some of its columns / rows) as a pandas frame, in file order."""
        return self._select(ref, columns, row_ids, limit, with_row_id).to_pandas()

    def arrow(self, ref: str, columns: Sequence[str] | None = None, *, row_ids: Sequence[int] | None = None,
              limit: int | None = None, with_row_id: bool = False):
        """Like frame(), as a pyarrow Table (five times cheaper than pandas for large data)."""
        return self._select(ref, columns, row_ids, limit, with_row_id)

    def _select(self, ref, columns, row_ids, limit, with_row_id):
        info = self.dataset(ref)
        names = list(columns) if columns is not None else info.column_names
        for n in names:
            info.column(n)
        cols = ", ".join(quote_ident(n) for n in names)
        select = f"rowid AS {ROW_ID}" + (", " + cols if cols else "") if with_row_id else (cols or "rowid AS " + ROW_ID)
        sql = f"SELECT {select} FROM {quote_ident(info.table)}"
        self._memo.note(self._datasets_tag)  # a dataset's table is written once; only an untagged write changes it
        with self._read_cursor() as cur:
            if row_ids is not None:
                import pyarrow as pa

                ids = pa.table({"rid": pa.array(list(map(int, row_ids)), type=pa.int64())})
                cur.register("wb_row_ids", ids)
                sql += " WHERE rowid IN (SELECT rid FROM wb_row_ids)"
            sql += " ORDER BY rowid"
            if limit is not None:
                sql += f" LIMIT {int(limit)}"
            return cur.sql(sql).to_arrow_table()

    def register_table(self, cur: duckdb.DuckDBPyConnection, *, name: str, table_name: str, source_file: str,
                       content_hash: str, columns: Sequence[ColumnInfo], lineage: dict | None = None,
                       size_bytes: int | None = None) -> str:
        """Records a freshly created table in the catalog, inside the caller's transaction. Raises: AlreadyLoaded."""
        dup = cur.execute("SELECT id, name FROM wb_datasets WHERE content_hash = ?", [content_hash]).fetchall()
        if dup:
            raise AlreadyLoaded(f"This data is already in the workspace as {dup[0][1]!r}; nothing was loaded twice.",
                                dataset_id=dup[0][0])
        if cur.execute("SELECT 1 FROM wb_datasets WHERE name = ?", [name]).fetchall():
            raise NameInvalid(f"A dataset named {name!r} already exists. Choose another name.")
        n_rows = cur.execute(f"SELECT count(*) FROM {quote_ident(table_name)}").fetchall()[0][0]
        ds_id = new_id("ds")
        cur.execute(
            "INSERT INTO wb_datasets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [ds_id, name, table_name, source_file, content_hash, n_rows, size_bytes or 0, now_utc(),
             json.dumps([asdict(c) for c in columns]), json.dumps(lineage or {}), SCHEMA_VERSION],
        )
        return ds_id

    def store_frame(self, name: str, df: pd.DataFrame, *, kinds: dict[str, str], source_file: str = "",
                    lineage: dict | None = None) -> DatasetInfo:
        """Stores a pandas frame as a new dataset with the given column kinds (a missing one is text).

        Callers infer kinds first: `core.data.ingest.add_frame` is the one entry point for frames.
        Raises: AlreadyLoaded, NameInvalid.
        """
        name = clean_dataset_name(name)
        content_hash = frame_hash(df)
        table = new_id("t")
        with self.transaction() as cur:
            cur.register("wb_incoming", df)
            cur.execute(f"CREATE TABLE {quote_ident(table)} AS SELECT * FROM wb_incoming")
            cur.unregister("wb_incoming")
            dtypes = dict(cur.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? "
                "ORDER BY ordinal_position", [table]).fetchall())
            columns = [ColumnInfo(str(c), dtypes[str(c)], kinds.get(str(c), "text")) for c in df.columns]
            ds_id = self.register_table(cur, name=name, table_name=table, source_file=source_file,
                                        content_hash=content_hash, columns=columns, lineage=lineage,
                                        size_bytes=int(df.memory_usage(deep=True).sum()))
        return self.dataset(ds_id)

    def rename_dataset(self, ref: str, new_name: str) -> DatasetInfo:
        """Renames a dataset. Raises: NotFound, NameInvalid."""
        info = self.dataset(ref)
        name = clean_dataset_name(new_name)
        with self.transaction() as cur:
            if cur.execute("SELECT 1 FROM wb_datasets WHERE name = ? AND id <> ?", [name, info.id]).fetchall():
                raise NameInvalid(f"A dataset named {name!r} already exists. Choose another name.")
            cur.execute("UPDATE wb_datasets SET name = ? WHERE id = ?", [name, info.id])
        return self.dataset(info.id)

    def dependents(self, dataset_id: str) -> list[dict]:
        """Lists the records (projects, splits, reports, …) whose payload names this dataset, with their project."""
        cond, params = self._in_scope()
        rows = self.read_rows("SELECT kind, id, payload, project_id FROM wb_records "
                              f"WHERE contains(CAST(payload AS VARCHAR), ?) AND {cond}", [dataset_id, *params])
        return [{"kind": k, "id": i, "name": json.loads(p).get("name", i), "project_id": pid} for k, i, p, pid in rows]

    def delete_dataset(self, ref: str, *, force: bool = False) -> None:
        """Deletes a dataset. Raises: InUse when other objects depend on it (unless force), NotFound."""
        info = self.dataset(ref)
        deps = self.dependents(info.id)
        if deps and not force:
            listed = ", ".join(f"{d['kind']} {d['name']!r}" for d in deps[:5])
            raise InUse(f"Dataset {info.name!r} is used by {len(deps)} saved object(s): {listed}. "
                        "Delete or archive those first.")
        with self.transaction() as cur:
            cur.execute("DELETE FROM wb_datasets WHERE id = ?", [info.id])
            cur.execute(f"DROP TABLE IF EXISTS {quote_ident(info.table)}")

    # -- records ----------------------------------------------------------------------------------------------------
    def put_record(self, kind: str, id: str, payload: dict, project_id: str | None = None) -> dict:
        """Inserts or replaces a JSON record of `kind`; returns it as stored."""
        self.require_editor()
        stamp = now_utc()
        body = json.dumps(payload, default=_json_default)
        with self._write_cursor(f"record:{kind}", f"record:{kind}:{id}") as cur:
            cur.execute(
                "INSERT INTO wb_records VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (kind, id) DO UPDATE SET "
                "payload = excluded.payload, project_id = excluded.project_id, updated_at = excluded.updated_at",
                [kind, id, project_id, stamp, stamp, body])
        return self.get_record(kind, id)

    def append_record(self, kind: str, id: str, payload: dict, project_id: str | None = None) -> dict:
        """Inserts a record that may never be overwritten (ledgers). Raises: NameInvalid when the id exists."""
        self.require_editor()
        stamp = now_utc()
        try:
            with self._write_cursor(f"record:{kind}", f"record:{kind}:{id}") as cur:
                cur.execute("INSERT INTO wb_records VALUES (?, ?, ?, ?, ?, ?)",
                            [kind, id, project_id, stamp, stamp, json.dumps(payload, default=_json_default)])
        except duckdb.ConstraintException as err:
            raise NameInvalid(f"A {kind} entry {id!r} already exists and cannot be overwritten.") from err
        return self.get_record(kind, id)

    def get_record(self, kind: str, id: str) -> dict | None:
        """Returns one record, or None (also for a scoped viewer when it belongs to another project)."""
        cond, params = self._record_scope()
        rows = self._memo_rows(f"SELECT {_REC_COLS} FROM wb_records WHERE kind = ? AND id = ? AND {cond}",
                               [kind, id, *params], f"record:{kind}:{id}")
        return _record_from_row(rows[0]) if rows else None

    def _record_scope(self) -> tuple[str, list]:
        # A scoped viewer reads its project's records and the project-less caches (profiles, drift references: keyed
        # by content hashes of datasets it can see), never share links or any other project's records.
        if self.scope is None:
            return "TRUE", []
        return "(project_id = ? OR project_id IS NULL) AND kind NOT IN ('share', 'editor_key')", [self.scope]

    def list_records(self, kind: str, project_id: str | None = None) -> list[dict]:
        """Lists records of a kind (optionally of one project; a scoped viewer: only its own), newest first."""
        cond, scope_params = self._record_scope()
        sql = f"SELECT {_REC_COLS} FROM wb_records WHERE kind = ? AND {cond}"
        params: list[Any] = [kind, *scope_params]
        if project_id is not None:
            sql += " AND project_id = ?"
            params.append(project_id)
        rows = self._memo_rows(sql + " ORDER BY created_at DESC, id DESC", params, f"record:{kind}")
        return [_record_from_row(r) for r in rows]

    def delete_record(self, kind: str, id: str) -> None:
        self.require_editor()
        with self._write_cursor(f"record:{kind}", f"record:{kind}:{id}") as cur:
            cur.execute("DELETE FROM wb_records WHERE kind = ? AND id = ?", [kind, id])

    # -- frames that belong to records ------------------------------------------------------------------------------
    def put_frame(self, key: str, df: pd.DataFrame) -> None:
        """Stores a frame under a key (split assignments, validation scores), replacing an earlier one."""
        table = new_id("f")
        with self._transaction(f"frame:{key}") as cur:
            old = cur.execute("SELECT table_name FROM wb_frames WHERE key = ?", [key]).fetchall()
            cur.register("wb_incoming", df)
            cur.execute(f"CREATE TABLE {quote_ident(table)} AS SELECT * FROM wb_incoming")
            cur.unregister("wb_incoming")
            cur.execute("DELETE FROM wb_frames WHERE key = ?", [key])
            cur.execute("INSERT INTO wb_frames VALUES (?, ?, ?)", [key, table, now_utc()])
            for (name,) in old:
                cur.execute(f"DROP TABLE IF EXISTS {quote_ident(name)}")

    def get_frame(self, key: str) -> pd.DataFrame | None:
        """Returns a stored frame (a copy: the memo of it stays as stored), or None."""
        def load():
            table = self.frame_table(key)
            if table is None:
                return None
            df = self._df(f"SELECT * FROM {quote_ident(table)}")
            return df if df.size <= MAX_FRAME_CELLS else ("too big", None)
        if self.scope is not None and self.frame_table(key) is None:
            return None
        memo = self._memo.get(("frame", key), load, f"frame:{key}")
        if isinstance(memo, tuple):  # too big to keep: read afresh each time
            table = self.frame_table(key)
            return None if table is None else self._df(f"SELECT * FROM {quote_ident(table)}")
        return None if memo is None else memo.copy()

    def frame_table(self, key: str) -> str | None:
        """Returns the internal table name holding a stored frame, for joins in internal SQL.

        Frame keys start with the owning record, "<kind>:<id>[:…]": a scoped viewer gets only frames whose record it
        can read.
        """
        if self.scope is not None:
            kind, _, rest = str(key).partition(":")
            if self.get_record(kind, rest.split(":", 1)[0]) is None:
                return None
        rows = self._memo_rows("SELECT table_name FROM wb_frames WHERE key = ?", [key], f"frame:{key}")
        return rows[0][0] if rows else None

    # -- artifacts --------------------------------------------------------------------------------------------------
    def write_artifact(self, key: str, filename: str, data: bytes) -> ArtifactRef:
        """Writes bytes under artifacts/<key>/<filename> and returns the path with its SHA-256."""
        self.require_editor()
        rel = Path(_safe_part(key)) / _safe_part(filename)
        path = self.artifacts / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # atomic: a crash never leaves a half-written artifact under the real name
        sha = hashlib.sha256(data).hexdigest()
        integrity.write_mac(self.artifacts, rel.as_posix(), sha)
        return ArtifactRef(str(rel), sha)

    def read_artifact(self, ref: ArtifactRef) -> bytes:
        """Reads an artifact after checking its SHA-256 and its keyed checksum (core/store/integrity.py), on every
        load. Raises: ArtifactRejected."""
        path = (self.artifacts / ref.path).resolve()
        if self.artifacts.resolve() not in path.parents:
            raise ArtifactRejected("The saved file lies outside the workspace, so it was not loaded.")
        if not path.is_file():
            raise ArtifactRejected(f"The saved file {ref.path!r} is missing from the workspace. Retrain the model.")
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != ref.sha256:
            raise ArtifactRejected(f"The saved file {ref.path!r} changed since it was saved (its checksum differs), "
                                   "so it was not loaded. Retrain or re-register the model.")
        rel = Path(ref.path).as_posix()
        keyed = integrity.mac_matches(self.artifacts, rel, ref.sha256)
        if keyed is None and not integrity.is_keyed(self.home):
            integrity.write_mac(self.artifacts, rel, ref.sha256)  # written before keyed checksums: key it now
        elif not keyed:
            raise ArtifactRejected(f"The saved file {ref.path!r} does not carry this server's keyed checksum (it was "
                                   "replaced, or its record edited, outside the workbench), so it was not loaded. "
                                   "Retrain or re-register the model.")
        return data


# -- helpers ------------------------------------------------------------------------------------------------------------
_DS_COLS = "id, name, table_name, source_file, content_hash, n_rows, size_bytes, created_at, columns, lineage"
_DS_COLS_D = ", ".join(f"d.{c.strip()}" for c in _DS_COLS.split(","))
_REC_COLS = "kind, id, project_id, created_at, updated_at, payload"


def _dataset_from_row(r) -> DatasetInfo:
    cols = tuple(ColumnInfo(**c) for c in json.loads(r[8]))
    return DatasetInfo(id=r[0], name=r[1], table=r[2], source_file=r[3] or "", content_hash=r[4], rows=int(r[5] or 0),
                       size_bytes=int(r[6] or 0), created_at=r[7], columns=cols, lineage=json.loads(r[9] or "{}"))


def _record_from_row(r) -> dict:
    rec = json.loads(r[5])
    rec.update(kind=r[0], id=r[1], project_id=r[2], created_at=r[3], updated_at=r[4])
    return rec


def _json_default(o):
    if isinstance(o, datetime):
        return o.isoformat()
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    if hasattr(o, "to_dict"):
        return o.to_dict()
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")


def _safe_part(text: str) -> str:
    keep = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in str(text)).strip(".")
    if not keep:
        raise NameInvalid("An empty name cannot be used for a saved file.")
    return keep[:120]


def clean_dataset_name(name: str) -> str:
    """Turns any text into a readable dataset name: trimmed, no control characters, at most 80 characters."""
    text = "".join(ch for ch in str(name) if ch.isprintable()).strip()
    for suffix in (".csv.gz", ".csv", ".tsv", ".txt", ".gz", ".parquet", ".xlsx"):
        if text.lower().endswith(suffix):
            text = text[: -len(suffix)]
            break
    text = " ".join(text.split())[:80].strip()
    if not text:
        raise NameInvalid("A dataset needs a name. Type one, e.g. 'customers_2024'.")
    return text


def frame_hash(df: pd.DataFrame) -> str:
    """Returns a SHA-256 of a frame's column names, types and values."""
    h = hashlib.sha256()
    h.update(json.dumps([[str(c), str(t)] for c, t in df.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(df, index=False).values.tobytes())
    return h.hexdigest()


def _sweep_staging(folder: Path, max_age_s: float = 3600.0) -> None:
    """Removes staged uploads left behind by a crash or abandoned (core.data.staging sweeps an hour's too)."""
    import time

    cutoff = time.time() - max_age_s
    for p in folder.iterdir():
        try:
            if p.is_file() and p.stat().st_mtime < cutoff:
                p.unlink()
        except OSError:
            pass


def _connect(path: Path) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(path), config={"threads": 2, "memory_limit": os.environ.get("WORKBENCH_MEMORY", "1GB"),
                                                 "autoinstall_known_extensions": False})
    except duckdb.IOException as err:
        if "lock" in str(err).lower():
            raise WorkspaceLocked(
                "This workspace is open in another program (another Workbench server or a DuckDB tool). Close that "
                "program, or point WORKBENCH_HOME at another folder.") from None
        raise


_OPEN: dict[Path, Workspace] = {}
_OPEN_LOCK = threading.Lock()


def default_home() -> Path:
    return Path(os.environ.get("WORKBENCH_HOME", "workspace")).resolve()


def open_workspace(home: str | Path | None = None) -> Workspace:
    """Opens (creating if needed) the workspace at `home`, one object per folder per process.

    The app and the CLI open it through `core.data.samples.open_workspace`, which also loads the sample datasets.
    Raises: WorkspaceLocked.
    """
    path = Path(home).resolve() if home else default_home()
    with _OPEN_LOCK:
        ws = _OPEN.get(path)
        if ws is None:
            ws = Workspace(path)
            _OPEN[path] = ws
    return ws


def close_workspace(home: str | Path) -> None:
    """Closes and forgets an open workspace (tests, and the CLI before it exits)."""
    path = Path(home).resolve()
    with _OPEN_LOCK:
        ws = _OPEN.pop(path, None)
    if ws is not None:
        ws.close()
