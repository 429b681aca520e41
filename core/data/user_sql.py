"""Runs an analyst's SQL safely: one read-only SELECT over the workspace's datasets, on a separate locked instance.

How it stays safe on a shared server (every layer is tested in tests/unit/test_sqlbench.py):
1. Parse first: exactly one statement, of type SELECT (`duckdb.extract_statements`), and its syntax tree (from
   `json_serialize_sql`) may hold only SELECT query nodes (no `WITH x AS (DELETE ...)`) and no table function that
   reads files or runs other SQL (`read_csv`, `glob`, `query`, ...).
2. Run it on its own in-memory DuckDB instance, never on the workspace's. DuckDB settings such as
   `enable_external_access=false` apply to a whole instance and cannot be switched back on, while the app's ingest
   must keep reading staged files through the workspace's instance. In DuckDB 2.0 a second instance in the same
   process cannot ATTACH the workspace file, not even READ_ONLY ("Unique file handle conflict"), and
   `allowed_directories` on the workspace's instance would still let user SQL see internal tables (share tokens,
   records). So the sandbox receives Arrow copies of only the datasets the query names, as views called by the
   datasets' names, and nothing else of the workspace is reachable from it.
3. The sandbox has external access off (no files, no network, no ATTACH, COPY or EXPORT), extension install and
   load off, Python replacement scans off, one thread, a memory cap and no spilling, and its configuration locked
   (`SET` fails); the statement runs inside a READ ONLY transaction.
4. A timer thread interrupts the query at the time limit, rows stream out in batches up to a row cap, and at most
   MAX_CONCURRENT queries run at once, so one analyst's query cannot stall the other sessions.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from dataclasses import dataclass

import duckdb
import pandas as pd

from core.data.exporting import safe_csv_bytes
from core.data.ingest import add_frame
from core.data.staging import clean_column_names
from core.errors import QueryRefused, WorkbenchError, did_you_mean
from core.store.workspace import DatasetInfo, Workspace, quote_ident

MAX_ROWS = 10_000
SAVE_MAX_ROWS = 2_000_000
TIME_LIMIT_S = float(os.environ.get("WORKBENCH_SQL_SECONDS", "20"))
MEMORY_LIMIT = os.environ.get("WORKBENCH_SQL_MEMORY", "512MB")
MAX_SQL_CHARS = 20_000
MAX_CONCURRENT = 2
SLOT_WAIT_S = 5.0
_SLOTS = threading.BoundedSemaphore(MAX_CONCURRENT)
_FILE_SUFFIX = re.compile(r"\.(csv|tsv|txt|parquet|json|ndjson|jsonl|gz|zst|xlsx|db|duckdb|sqlite)$", re.IGNORECASE)
_QUERY_NODES = {"SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE", "CTE_NODE"}
_FILE_FUNCTIONS = {
    "read_csv", "read_csv_auto", "sniff_csv", "read_parquet", "parquet_scan", "parquet_metadata", "parquet_schema",
    "parquet_file_metadata", "parquet_kv_metadata", "parquet_bloom_probe", "read_json", "read_json_auto",
    "read_json_objects", "read_json_objects_auto", "read_ndjson", "read_ndjson_auto", "read_ndjson_objects",
    "read_text", "read_blob", "glob", "read_xlsx", "iceberg_scan", "delta_scan", "sqlite_scan", "sqlite_attach",
    "postgres_scan", "mysql_scan", "query", "query_table", "duckdb_secrets", "which_secret", "load_aws_credentials"}
# Server introspection: settings (paths, limits), databases, temporary files, extensions. Not data, never needed.
_INTROSPECTION_PREFIXES = ("duckdb_", "pragma_")
_INTROSPECTION_FUNCTIONS = {"current_setting", "getvariable", "getenv", "current_schemas", "pragma_version",
                            "pragma_platform"}
_REFUSED_TYPES = {
    "COPY": "COPY writes or reads files on the server", "EXPORT": "EXPORT DATABASE writes files on the server",
    "ATTACH": "ATTACH opens other databases", "DETACH": "DETACH changes the open databases",
    "LOAD": "INSTALL and LOAD add extensions", "SET": "SET and USE change the database's settings",
    "PRAGMA": "PRAGMA changes or reveals the database's settings", "CALL": "CALL runs procedures",
    "INSERT": "INSERT changes data", "UPDATE": "UPDATE changes data", "DELETE": "DELETE changes data",
    "MERGE_INTO": "MERGE changes data", "CREATE": "CREATE changes the database", "DROP": "DROP deletes data",
    "ALTER": "ALTER changes tables", "TRANSACTION": "transaction commands are managed by the app",
    "VACUUM": "VACUUM maintains the database", "EXPLAIN": "EXPLAIN is not available here",
    "MULTI": "PIVOT as its own statement creates tables", "PREPARE": "PREPARE is not available here",
    "EXECUTE": "EXECUTE is not available here", "VARIABLE_SET": "SET VARIABLE changes session state"}


class QueryFailed(WorkbenchError):
    """The query is allowed but DuckDB could not run it: a typo, an unknown column, a type mismatch."""


@dataclass(frozen=True)
class QueryResult:
    sql: str
    frame: pd.DataFrame
    rows: int  # rows returned, at most the cap
    truncated: bool  # the query would return more rows than the cap
    seconds: float
    datasets: tuple[str, ...]  # the datasets the query reads, by name
    dataset_ids: tuple[str, ...]

    def csv_bytes(self) -> bytes:
        """The result as CSV that no spreadsheet runs as formulas."""
        return safe_csv_bytes(self.frame)


def check_query(sql: str) -> duckdb.Statement:
    """Returns the single SELECT statement in `sql`. Raises: QueryRefused (anything else), QueryFailed (syntax)."""
    text = (sql or "").strip()
    if not text:
        raise QueryRefused("There is no query to run. Type a SELECT, e.g. SELECT * FROM churn LIMIT 10.")
    if len(text) > MAX_SQL_CHARS:
        raise QueryRefused(f"The query is {len(text):,} characters long; the limit is {MAX_SQL_CHARS:,}. Shorten it.")
    try:
        statements = duckdb.extract_statements(text)
    except duckdb.Error as err:
        raise QueryFailed(f"The query has a syntax error: {_first_line(err)}. Fix it and run it again.") from None
    if len(statements) != 1:
        raise QueryRefused(f"The text holds {len(statements)} statements; the SQL page runs exactly one SELECT at "
                           "a time. Remove the other statements (and any ';' between them).")
    statement = statements[0]
    kind = statement.type.name
    if kind != "SELECT":
        why = _REFUSED_TYPES.get(kind, f"{kind} statements are not read-only")
        raise QueryRefused(f"Only SELECT queries can run here: {why}. Rewrite it as a SELECT; to keep a result, "
                           "use 'Save as dataset'.")
    return statement


def _syntax_tree(con: duckdb.DuckDBPyConnection, statement: duckdb.Statement) -> dict:
    tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [statement.query]).fetchall()[0][0])
    if tree.get("error"):
        raise QueryRefused("Only SELECT queries can run here. Rewrite it as a single SELECT.")
    return tree


def _inspect(tree: dict) -> set[tuple[str, str, str]]:
    """Walks the syntax tree: refuses data-changing nodes and file-reading functions; returns the tables named."""
    tables: set[tuple[str, str, str]] = set()
    stack: list = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        kind = node.get("type")
        if isinstance(kind, str) and kind.endswith("_NODE") and kind not in _QUERY_NODES:
            raise QueryRefused(f"The query hides a statement that changes data ({kind.replace('_QUERY_NODE', '')} "
                               "inside WITH). Only SELECT queries can run here.")
        if kind == "TABLE_FUNCTION":
            name = str((node.get("function") or {}).get("function_name", "")).lower()
            if name in _FILE_FUNCTIONS:
                raise QueryRefused(f"{name}() reads files or runs other SQL on the server, which the SQL page does "
                                   "not allow. Query the workspace's datasets by name, e.g. SELECT * FROM churn.")
            _refuse_introspection(name)
        if kind == "FUNCTION":
            _refuse_introspection(str(node.get("function_name", "")).lower())
        if kind == "BASE_TABLE":
            tables.add((node.get("catalog_name", ""), node.get("schema_name", ""), node.get("table_name", "")))
        stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
    return tables


def _refuse_introspection(name: str) -> None:
    if name in _INTROSPECTION_FUNCTIONS or name.startswith(_INTROSPECTION_PREFIXES):
        raise QueryRefused(f"{name}() describes the database server (its settings, files or extensions), which the "
                           "SQL page does not show. Query the workspace's datasets by name, e.g. SELECT * FROM churn.")


def _referenced(ws: Workspace, tables: set[tuple[str, str, str]]) -> list[DatasetInfo]:
    """Maps the table names a query uses to datasets, exactly: the dataset of that very name, case included; a name
    that matches none exactly but one dataset ignoring case reads that one (as DuckDB would).

    Raises: QueryRefused when a name matches several datasets ignoring case and none exactly (both are named), when
    one query names two datasets that differ only in case (DuckDB cannot tell them apart), when an unknown name is a
    file path (DuckDB would try to read that file), or when it names server introspection (duckdb_settings).
    """
    datasets = ws.datasets()
    exact = {d.name: d for d in datasets}
    by_lower: dict[str, list[DatasetInfo]] = {}
    for d in datasets:
        by_lower.setdefault(d.name.lower(), []).append(d)
    found: dict[str, DatasetInfo] = {}
    for catalog, schema, name in sorted(tables):
        if catalog or schema not in ("", "main"):
            continue
        d = exact.get(name)
        twins = by_lower.get(name.lower(), [])
        if d is None and len(twins) > 1:
            choices = " or ".join(quote_ident(t.name) for t in sorted(twins, key=lambda t: t.name))
            raise QueryRefused(f"{name!r} could mean {len(twins)} datasets whose names differ only in capitals: "
                               f"{choices}. Write the one you mean exactly, in double quotes.")
        d = d or (twins[0] if twins else None)
        if d is not None:
            found[d.id] = d
        elif name.lower().startswith(_INTROSPECTION_PREFIXES):
            _refuse_introspection(name.lower())
        elif any(mark in name for mark in ("/", "\\", "://")) or _FILE_SUFFIX.search(name):
            raise QueryRefused(f"{name!r} looks like a file on the server; the SQL page only reads the workspace's "
                               "datasets, by name.")
    lowered = [d.name.lower() for d in found.values()]
    clash = sorted({d.name for d in found.values() if lowered.count(d.name.lower()) > 1})
    if clash:
        raise QueryRefused(f"The query reads {' and '.join(quote_ident(n) for n in clash)}, whose names differ only "
                           "in capitals; SQL cannot tell them apart in one query. Rename one on the Data page.")
    return list(found.values())


def _sandbox() -> duckdb.DuckDBPyConnection:
    return duckdb.connect(":memory:", config={
        "enable_external_access": False, "autoinstall_known_extensions": False,
        "autoload_known_extensions": False, "allow_community_extensions": False,
        "python_enable_replacements": False, "threads": 1, "memory_limit": MEMORY_LIMIT,
        "temp_directory": "", "lock_configuration": True})


def run_query(ws: Workspace, sql: str, *, max_rows: int = MAX_ROWS, time_limit: float | None = None) -> QueryResult:
    """Runs one read-only SELECT over the workspace's datasets and returns up to `max_rows` rows.

    Raises: QueryRefused (not a single SELECT, touches files or settings, too slow, too big), QueryFailed.
    """
    statement = check_query(sql)
    limit = TIME_LIMIT_S if time_limit is None else time_limit
    if not _SLOTS.acquire(timeout=SLOT_WAIT_S):
        raise QueryRefused(f"{MAX_CONCURRENT} other queries are running on this server right now. "
                           "Try again in a moment.")
    con = _sandbox()
    try:
        used = _referenced(ws, _inspect(_syntax_tree(con, statement)))
        for d in used:
            con.register(d.name, ws.arrow(d.id))
        started = time.perf_counter()
        timer = threading.Timer(limit, con.interrupt)
        timer.start()
        try:
            con.execute("BEGIN TRANSACTION READ ONLY")
            batches, n = [], 0
            reader = con.sql(statement).to_arrow_reader(min(max_rows + 1, 8192))
            for batch in reader:
                batches.append(batch)
                n += batch.num_rows
                if n > max_rows:
                    break
            schema = reader.schema
            reader.close()
            con.execute("ROLLBACK")
        finally:
            timer.cancel()
        seconds = time.perf_counter() - started
    except duckdb.InterruptException:
        raise QueryRefused(f"The query ran longer than the {limit:g}-second limit and was stopped. Narrow it (a "
                           "WHERE clause, fewer joins, a LIMIT) and run it again.") from None
    except duckdb.OutOfMemoryException:
        raise QueryRefused(f"The query needs more than the {MEMORY_LIMIT} of memory a query may use here. Narrow it "
                           "(fewer columns, a WHERE clause or a GROUP BY) and run it again.") from None
    except duckdb.PermissionException:
        raise QueryRefused("The query tries to read or write files, load extensions or change settings on the "
                           "server, which the SQL page does not allow. Query the workspace's datasets by name.") from None
    except duckdb.CatalogException as err:
        raise QueryFailed(_catalog_message(ws, err)) from None
    except duckdb.Error as err:
        raise QueryFailed(f"The query failed: {_first_line(err)}. Fix it and run it again.") from None
    finally:
        con.close()
        _SLOTS.release()
    frame = _to_frame(batches, schema, max_rows)
    return QueryResult(sql=sql.strip(), frame=frame, rows=len(frame), truncated=n > max_rows, seconds=seconds,
                       datasets=tuple(d.name for d in used), dataset_ids=tuple(d.id for d in used))


def _to_frame(batches: list, schema, max_rows: int) -> pd.DataFrame:
    """Arrow batches to pandas; decimals become floats, and lists, structs, maps and intervals become text, so the
    result can be shown, downloaded and saved like any table."""
    import pyarrow as pa

    table = pa.Table.from_batches(batches, schema=schema).slice(0, max_rows)
    for i, f in enumerate(table.schema):
        t = f.type
        if pa.types.is_decimal(t):
            table = table.set_column(i, f.name, table.column(i).cast(pa.float64()))
        elif pa.types.is_nested(t) or pa.types.is_interval(t) or pa.types.is_duration(t):
            text = [None if v is None else _text(v) for v in table.column(i).to_pylist()]
            table = table.set_column(i, f.name, pa.array(text, type=pa.string()))
    return table.to_pandas()


def _text(value) -> str:
    if hasattr(value, "months") and hasattr(value, "days") and hasattr(value, "nanoseconds"):
        parts = [(value.months, "months"), (value.days, "days")]
        shown = " ".join(f"{n} {unit}" for n, unit in parts if n)
        seconds = value.nanoseconds / 1e9
        return (shown + (f" {seconds:g} seconds" if seconds else "")).strip() or "0 seconds"
    return str(value)


def save_query(ws: Workspace, sql: str, name: str, *, time_limit: float | None = None) -> DatasetInfo:
    """Runs the query again in full and stores its result as a new dataset, with the query as its lineage.

    Raises: QueryRefused, QueryFailed, NameInvalid, AlreadyLoaded, PermissionDenied (viewers).
    """
    ws.require_editor()
    result = run_query(ws, sql, max_rows=SAVE_MAX_ROWS, time_limit=time_limit)
    if result.truncated:
        raise QueryRefused(f"The result has more than {SAVE_MAX_ROWS:,} rows, more than a saved query may hold. "
                           "Aggregate or filter it, then save.")
    if result.frame.shape[1] == 0:
        raise QueryRefused("The result has no columns, so there is nothing to save.")
    frame = result.frame.copy()
    frame.columns = clean_column_names([str(c) for c in frame.columns])
    lineage = {"kind": "sql", "sql": result.sql, "datasets": list(result.dataset_ids),
               "dataset_names": list(result.datasets), "rows": result.rows}
    return add_frame(ws, name, frame, source_file="SQL query", lineage=lineage)


def dataset_catalog(ws: Workspace) -> list[dict]:
    """The datasets a query can name, with their columns and types, for the page's reference panel."""
    return [{"name": d.name, "rows": d.rows, "columns": [{"name": c.name, "type": c.dtype, "kind": c.kind}
                                                        for c in d.columns]} for d in ws.datasets()]


def _catalog_message(ws: Workspace, err: Exception) -> str:
    text = _first_line(err)
    m = re.search(r'Table with name (.+?) does not exist', text)
    if m:
        missing = m.group(1).strip('"')
        hint = did_you_mean(missing, [d.name for d in ws.datasets()])
        return (f"No dataset {missing!r} in the workspace.{hint} Datasets are queried by their names; names with "
                'spaces or capitals need double quotes, e.g. SELECT * FROM "house prices".')
    return f"The query failed: {text}. Fix it and run it again."


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    for prefix in ("Parser Error: ", "Binder Error: ", "Catalog Error: ", "Conversion Error: ",
                   "Invalid Input Error: ", "Out of Range Error: ", "Not implemented Error: "):
        text = text.replace(prefix, "")
    return text.rstrip(".")


def example_query(ws: Workspace) -> str:
    """A first query to show on an empty editor, over a dataset that exists."""
    names = {d.name: d for d in ws.datasets()}
    if "churn" in names:
        return ("SELECT region, count(*) AS customers, round(avg(monthly_charges), 2) AS avg_monthly_charges\n"
                "FROM churn\nGROUP BY region\nORDER BY customers DESC")
    if names:
        return f"SELECT *\nFROM {quote_ident(next(iter(names)))}\nLIMIT 100"
    return "SELECT 42 AS answer"
