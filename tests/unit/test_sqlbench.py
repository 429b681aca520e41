"""The SQL workbench: results are right, every unsafe statement is refused and changes nothing, limits hold."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest

from core.errors import PermissionDenied, QueryRefused
from core.data.user_sql import QueryFailed, check_query, run_query, save_query
from core.store.workspace import close_workspace
from core.data.samples import open_workspace
from core.data.ingest import add_frame


@pytest.fixture
def ws(tmp_path):
    home = tmp_path / "ws"
    w = open_workspace(home, seed_samples=False)
    add_frame(w, "sales", pd.DataFrame({"region": ["north", "south", "north", "east"], "amount": [10.0, 20.0, 30.0, 5.0],
                                       "note": ["=HYPERLINK(\"http://x\")", "+1", "ok", "@SUM(A1)"]}))
    add_frame(w, "house prices", pd.DataFrame({"price": [100, 200, 300]}))
    w.put_record("share", "tok_secret", {"token": "very-secret"})
    yield w
    close_workspace(home)


def _snapshot(ws, folder):
    """Everything a refused query must leave alone: tables, catalog, records, and files on disk."""
    tables = sorted(ws.read("SELECT table_name, estimated_size FROM duckdb_tables()").itertuples(index=False))
    data = {d.name: ws.frame(d.id).to_json() for d in ws.datasets()}
    records = ws.read("SELECT kind, id, CAST(payload AS VARCHAR) AS p FROM wb_records ORDER BY kind, id").to_json()
    files = sorted((str(p.relative_to(folder)), p.stat().st_size) for p in folder.rglob("*")
                   if p.is_file() and not p.name.endswith((".wal", ".duckdb")))
    return tables, data, records, files


def test_a_select_returns_the_right_rows(ws):
    r = run_query(ws, "SELECT region, sum(amount) AS total FROM sales GROUP BY region ORDER BY total DESC")
    assert r.frame.to_dict("list") == {"region": ["north", "south", "east"], "total": [40.0, 20.0, 5.0]}
    assert r.datasets == ("sales",) and r.rows == 3 and not r.truncated and r.seconds >= 0
    assert run_query(ws, 'select count(*) AS n from "house prices"').frame["n"].tolist() == [3]
    assert run_query(ws, "SELECT * FROM SALES WHERE amount > 10;").rows == 2  # names ignore case, like DuckDB


def test_the_row_cap_streams_only_what_is_shown(ws):
    started = time.perf_counter()
    r = run_query(ws, "SELECT * FROM range(1000000000000)", max_rows=500)
    assert r.rows == 500 and r.truncated and time.perf_counter() - started < 10


@pytest.mark.parametrize("sql", [
    "SELECT * FROM read_csv('{secret}')",
    "SELECT * FROM read_csv_auto('{secret}')",
    "SELECT * FROM read_text('{secret}')",
    "SELECT * FROM read_blob('{secret}')",
    "SELECT * FROM glob('{folder}/*')",
    "SELECT * FROM '{secret}'",
    "SELECT * FROM sales, LATERAL (SELECT * FROM read_text('{secret}'))",
    "SELECT (SELECT content FROM read_text('{secret}')) AS leaked",
    "COPY (SELECT * FROM sales) TO '{folder}/out.csv'",
    "COPY sales TO '{folder}/out.parquet' (FORMAT parquet)",
    "EXPORT DATABASE '{folder}/exported'",
    "ATTACH '{folder}/other.duckdb' AS other",
    "ATTACH ':memory:' AS other",
    "DETACH other",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "SET threads = 64",
    "RESET memory_limit",
    "PRAGMA database_list",
    "CALL pragma_version()",
    "USE other",
    "INSERT INTO sales VALUES ('west', 1.0, 'x')",
    "UPDATE sales SET amount = 0",
    "DELETE FROM sales",
    "DROP TABLE sales",
    "CREATE TABLE stolen AS SELECT * FROM sales",
    "CREATE VIEW v AS SELECT 1",
    "ALTER TABLE sales ADD COLUMN x INT",
    "SELECT 1; DROP TABLE sales",
    "SELECT 1; SELECT 2",
    "WITH gone AS (DELETE FROM sales RETURNING *) SELECT * FROM gone",
    "WITH added AS (INSERT INTO sales VALUES ('w', 1, 'x') RETURNING *) SELECT * FROM added",
    "WITH x AS (UPDATE sales SET amount = 0 RETURNING *) SELECT * FROM x",
    "BEGIN TRANSACTION",
    "CHECKPOINT",
    "VACUUM",
    "EXPLAIN SELECT 1",
    "SELECT * FROM query('SELECT * FROM sales')",
    "SELECT * FROM wb_records",
    "SELECT * FROM main.wb_records",
])
def test_unsafe_statements_are_refused_and_change_nothing(ws, tmp_path, sql):
    secret = tmp_path / "server_secret.txt"
    secret.write_text("root:x:0:0:TOPSECRET\n")
    before = _snapshot(ws, tmp_path)
    text = sql.format(secret=secret, folder=tmp_path)
    with pytest.raises((QueryRefused, QueryFailed)) as caught:
        result = run_query(ws, text)
        pytest.fail(f"ran: {result.frame}")
    assert "TOPSECRET" not in str(caught.value) and "very-secret" not in str(caught.value)
    assert _snapshot(ws, tmp_path) == before
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "exported").exists()
    assert not (tmp_path / "other.duckdb").exists()


@pytest.mark.parametrize("sql,pattern", [
    ("SELECT * FROM read_csv('/etc/passwd')", "reads files"),
    ("SELECT * FROM glob('/etc/*')", "reads files"),
    ("SELECT * FROM '/etc/passwd'", "file on the server"),
    ("COPY (SELECT 1) TO '/tmp/x.csv'", "COPY writes or reads files"),
    ("EXPORT DATABASE '/tmp/db'", "EXPORT DATABASE"),
    ("ATTACH '/tmp/x.duckdb'", "ATTACH opens other databases"),
    ("INSTALL httpfs", "INSTALL and LOAD"),
    ("SET threads = 1", "SET and USE"),
    ("PRAGMA version", "PRAGMA"),
    ("DROP TABLE sales", "DROP deletes data"),
    ("SELECT 1; DROP TABLE sales", "2 statements"),
    ("WITH x AS (DELETE FROM sales RETURNING *) SELECT * FROM x", "changes data"),
    ("", "no query"),
])
def test_refusals_say_why(ws, sql, pattern):
    with pytest.raises(QueryRefused, match=pattern):
        run_query(ws, sql)


def test_the_sandbox_itself_blocks_files_and_settings_even_past_the_parser(ws, tmp_path, monkeypatch):
    """Defence in depth: with the syntax checks switched off, the locked instance still refuses."""
    import core.data.user_sql as sqlbench

    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    monkeypatch.setattr(sqlbench, "_FILE_FUNCTIONS", set())
    with pytest.raises(QueryRefused, match="read or write files"):
        run_query(ws, f"SELECT * FROM read_text('{secret}')")
    with pytest.raises(QueryRefused, match="read or write files"):
        run_query(ws, f"SELECT * FROM read_csv('{secret}')")
    con = sqlbench._sandbox()
    try:
        for statement in ("SET enable_external_access = true", "SET lock_configuration = false",
                          f"COPY (SELECT 1) TO '{tmp_path}/x.csv'", f"ATTACH '{tmp_path}/y.duckdb'", "LOAD httpfs"):
            with pytest.raises(Exception):
                con.execute(statement)
        con.execute("BEGIN TRANSACTION READ ONLY")
        with pytest.raises(Exception, match="read-only"):
            con.execute("CREATE TABLE t AS SELECT 1")
    finally:
        con.close()
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "y.duckdb").exists()


def test_a_long_query_is_stopped_at_the_limit_while_others_stay_responsive(ws):
    outcome = {}

    def slow():
        started = time.perf_counter()
        try:
            run_query(ws, "SELECT count(*) FROM range(100000000000) a", time_limit=1.5)
        except QueryRefused as err:
            outcome["error"] = str(err)
        outcome["seconds"] = time.perf_counter() - started

    worker = threading.Thread(target=slow)
    worker.start()
    time.sleep(0.3)
    started = time.perf_counter()
    assert ws.read_rows("SELECT count(*) FROM wb_datasets")[0][0] == 2  # another session's read
    assert run_query(ws, "SELECT count(*) AS n FROM sales").frame["n"].tolist() == [4]
    responsive = time.perf_counter() - started
    worker.join(timeout=30)
    assert "1.5-second limit" in outcome["error"]
    assert 1.4 < outcome["seconds"] < 6 and responsive < 1.0


def test_the_apps_own_file_reading_still_works_after_user_sql(ws):
    from core.data.ingest import ingest_upload

    with pytest.raises(QueryRefused):
        run_query(ws, "SELECT * FROM read_csv('/etc/hostname')")
    run_query(ws, "SELECT * FROM sales")
    loaded = ingest_upload(ws, b"a,b\n1,x\n2,y\n", "after.csv")  # DuckDB read_csv on the staging folder
    assert loaded.dataset.rows == 2
    assert run_query(ws, "SELECT sum(a) AS s FROM after").frame["s"].tolist() == [3]


def test_unknown_names_and_errors_come_back_as_plain_messages(ws):
    with pytest.raises(QueryFailed, match="No dataset 'sale'.*Did you mean 'sales'"):
        run_query(ws, "SELECT * FROM sale")
    with pytest.raises(QueryFailed, match='"amout" not found'):
        run_query(ws, "SELECT amout FROM sales")
    with pytest.raises(QueryFailed, match="syntax error"):
        run_query(ws, "SELEC 1")
    with pytest.raises(QueryRefused, match="characters long"):
        check_query("SELECT 1 " + " " * 30_000 + ", 2")


def test_python_objects_are_not_visible_to_queries(ws):
    sales_df = pd.DataFrame({"secret": ["leaked"]})  # noqa: F841 — DuckDB's replacement scan would find this name
    secret_frame = sales_df  # noqa: F841
    with pytest.raises(QueryFailed, match="No dataset"):
        run_query(ws, "SELECT * FROM secret_frame")


def test_saving_a_result_records_the_query_as_lineage(ws):
    info = save_query(ws, "SELECT region, sum(amount) AS total, sum(amount) AS total FROM sales GROUP BY region",
                      "totals")
    assert info.rows == 3 and info.column_names == ["region", "total", "total_2"]
    assert info.lineage["sql"].startswith("SELECT region") and info.lineage["datasets"] == [ws.dataset("sales").id]
    assert run_query(ws, "SELECT sum(total) AS s FROM totals").frame["s"].tolist() == [65.0]
    with pytest.raises(PermissionDenied):
        save_query(ws.as_role("viewer"), "SELECT 1 AS x", "nope")
    with pytest.raises(QueryRefused):
        save_query(ws, "DROP TABLE sales", "nope")
    assert "nope" not in [d.name for d in ws.datasets()]


def test_too_many_concurrent_queries_are_turned_away(ws, monkeypatch):
    import core.data.user_sql as sqlbench

    slots = threading.BoundedSemaphore(1)
    monkeypatch.setattr(sqlbench, "_SLOTS", slots)
    monkeypatch.setattr(sqlbench, "SLOT_WAIT_S", 0.1)
    slots.acquire()  # another session's query holds the only slot
    try:
        with pytest.raises(QueryRefused, match="other queries are running"):
            run_query(ws, "SELECT 1")
    finally:
        slots.release()
    assert run_query(ws, "SELECT 1 AS one").frame["one"].tolist() == [1]


def test_csv_download_cannot_run_formulas(ws):
    r = run_query(ws, "SELECT note, amount FROM sales ORDER BY amount")
    text = r.csv_bytes().decode()
    lines = text.splitlines()
    assert lines[0] == '"note","amount"'  # every text cell quoted, headers too
    for line in lines[1:]:
        assert not line.lstrip('"').startswith(("=", "+", "-", "@", "\t", "\r")), line
    assert "'=HYPERLINK" in text and "'+1" in text and "'@SUM" in text and ",10.0" in text


def test_check_query_accepts_selects_in_their_usual_forms():
    for sql in ("SELECT 1", "select 1;", "FROM sales", "WITH a AS (SELECT 1) SELECT * FROM a", "VALUES (1), (2)",
                "SELECT 1 UNION ALL SELECT 2", "DESCRIBE sales", "SUMMARIZE sales", "-- note\nSELECT 1"):
        assert check_query(sql).type.name == "SELECT"


def test_the_cli_obeys_the_same_rules(ws, capsys, monkeypatch):
    import json

    from core.cli import main

    monkeypatch.setenv("WORKBENCH_HOME", str(ws.home))
    assert main(["--home", str(ws.home), "sql", "SELECT region, amount FROM sales ORDER BY amount", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["row_count"] == 4 and out["rows"][0] == {"region": "east", "amount": 5.0}
    for refused in ("DROP TABLE sales", "SELECT * FROM read_csv('/etc/passwd')", "SELECT 1; SELECT 2"):
        assert main(["--home", str(ws.home), "sql", refused]) == 2
        assert capsys.readouterr().err.startswith("error: ")
    assert main(["--home", str(ws.home), "sql", "SELECT region, count(*) AS n FROM sales GROUP BY region",
                 "--save", "by region", "--json"]) == 0
    saved = json.loads(capsys.readouterr().out)
    assert saved["rows"] == 3 and "GROUP BY region" in saved["lineage"]["sql"]
    assert ws.dataset("sales").rows == 4


def test_unusual_types_are_shown_saved_and_profiled(ws):
    from core.profile.profiling import profile_dataset

    sql = ("SELECT [1, 2] AS l, {'a': 1} AS s, INTERVAL 1 DAY AS i, 1.5::DECIMAL(10, 2) AS d, 12::HUGEINT AS h, "
           "TIME '10:00' AS t, TIMESTAMPTZ '2024-01-01 10:00:00+00' AS tz, 'x'::BLOB AS b FROM range(3)")
    r = run_query(ws, sql)
    assert r.frame.loc[0, "l"] == "[1, 2]" and r.frame.loc[0, "i"] == "1 days" and r.frame.loc[0, "d"] == 1.5
    info = save_query(ws, sql, "odd types")
    assert info.rows == 3
    profile = profile_dataset(ws, info.id)
    assert {c["name"] for c in profile["columns"]} == {"l", "s", "i", "d", "h", "t", "tz", "b"}
    assert all(c["count"] == 3 for c in profile["columns"])


@pytest.fixture
def twins(ws):
    lower = ws.dataset("sales")
    upper = add_frame(ws, "Sales", pd.DataFrame({"who": ["upper"] * 2, "amount": [10.0, 20.0]}))
    return ws, lower, upper


@pytest.mark.parametrize("sql, expected", [("SELECT count(*) AS n FROM sales", "lower"),
                                           ('SELECT count(*) AS n FROM "sales"', "lower"),
                                           ("SELECT count(*) AS n FROM Sales", "upper"),
                                           ('SELECT count(*) AS n FROM "Sales"', "upper")])
def test_case_twins_are_distinct_datasets(twins, sql, expected):
    ws, lower, upper = twins
    result = run_query(ws, sql)
    assert result.frame["n"].tolist() == [4 if expected == "lower" else 2]
    assert result.dataset_ids == ((lower if expected == "lower" else upper).id,)


def test_saving_from_a_case_twin_records_the_right_lineage(twins):
    ws, lower, upper = twins
    info = save_query(ws, "SELECT amount * 2 AS doubled FROM Sales", "from_upper")
    assert info.lineage["datasets"] == [upper.id] and info.rows == 2
    assert save_query(ws, "SELECT amount * 3 AS tripled FROM sales", "from_lower").lineage["datasets"] == [lower.id]


def test_an_ambiguous_name_is_refused_with_both_choices(twins):
    ws, _, _ = twins
    with pytest.raises(QueryRefused, match=r'"Sales" or "sales"'):
        run_query(ws, "SELECT * FROM SALES")
    with pytest.raises(QueryRefused, match="differ only"):
        run_query(ws, 'SELECT * FROM sales JOIN "Sales" USING (amount)')
    assert run_query(ws, 'SELECT count(*) AS n FROM "HOUSE PRICES"').frame["n"].tolist() == [3]  # one match: fine


@pytest.mark.parametrize("sql", ["SELECT * FROM duckdb_settings()", "SELECT value FROM duckdb_settings() WHERE "
                                 "name = 'temp_directory'", "SELECT current_setting('home_directory')",
                                 "SELECT * FROM duckdb_databases()", "SELECT * FROM pragma_database_list",
                                 "SELECT * FROM duckdb_temporary_files()", "SELECT * FROM duckdb_extensions()",
                                 "SELECT * FROM churn WHERE region = (SELECT current_setting('memory_limit'))",
                                 "WITH s AS (SELECT * FROM duckdb_settings()) SELECT * FROM s",
                                 "SELECT getvariable('x')", "SELECT * FROM duckdb_memory()"])
def test_server_introspection_is_refused(ws, sql):
    with pytest.raises(QueryRefused, match="describes the database server"):
        run_query(ws, sql)
