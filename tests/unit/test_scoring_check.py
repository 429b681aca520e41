"""The schema check in DuckDB gives the findings the pandas check gave, on messy files; the app never holds the rows.

The reference is a frozen copy of the pandas check as it was before the check moved into SQL (`_old_*` below), so
the comparison cannot drift with the new code.
"""

from __future__ import annotations

import io
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from core.models.preprocess import as_text

PLAN = 'plan "tier" é'  # a column name with quotes and unicode
NUMBER_CELLS = ["12.5", "7", "-3", "1e3", "+4", ".5", "3.", "1E-2", "n/a", "1,000", "nan", " 7 ", "inf", "-inf",
                "abc\"q", "ünï", "-", "0x1A", "1_000", "١٢", "", "12..5", "NaN", "Infinity", "1e", "e5", "+",
                "٣", "  ", "1d5", "=1+1"]
DATE_CELLS = ["2021-01-01", "2021-02-28 10:00", "2021-01-01T10:00:00", "2021-02-30", "2021-13-01", "yesterday",
              "12/31/2020", "1500-01-01", "2300-01-01", "2021-01-01 24:00", "2021-01-01 10:00:00.123456",
              "2021-01-01 10:00:00.1234567", "", "2021-1-1", "2021-01-01Z", "1677-01-01", "2100-02-29", "O'Day"]
FLAG_CELLS = ["yes", "No", " TRUE ", "maybe", "1", "0.0", "ja", "", "Y", "t", "F", "İ", "yes\u00a0", "1.0", "N/A"]
PLAN_CELLS = ["basic", "plus", "pro", 'naïve "q"', "platinum", "日本", "o'reilly", "basic ", "BASIC", "", "x,y",
              "(missing)", "=cmd", "gold", "silver"]


def _version(**extra) -> SimpleNamespace:
    columns = [
        {"name": "amount", "kind": "number", "pandas_dtype": "float64", "categories": None},
        {"name": "when", "kind": "datetime", "pandas_dtype": "object", "categories": None},
        {"name": "flag", "kind": "boolean", "pandas_dtype": "object", "categories": None},
        {"name": PLAN, "kind": "category", "pandas_dtype": "object",
         "categories": sorted(["basic", "plus", "pro", 'naïve "q"', "(missing)"]), "categories_truncated": False},
        {"name": "code", "kind": "category", "pandas_dtype": "int64", "categories": ["0", "1", "2"],
         "categories_truncated": False},
        {"name": "ratio", "kind": "category", "pandas_dtype": "float64", "categories": ["0.5", "1.0"],
         "categories_truncated": False},
        {"name": "many", "kind": "category", "pandas_dtype": "object", "categories": ["a"],
         "categories_truncated": True},  # too many training values to check
        {"name": "note", "kind": "text", "pandas_dtype": "object", "categories": None},
    ]
    schema = {"schema": 1, "target": "y", "task": "binary", "features": [c["name"] for c in columns],
              "id_columns": ["id"], "columns": columns, **extra}
    return SimpleNamespace(schema=schema, features=schema["features"])


def _messy(n: int = 600, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pick = lambda cells, p=None: [cells[i] for i in rng.choice(len(cells), n, p=p)]  # noqa: E731
    plan_p = np.r_[[0.3, 0.2, 0.1, 0.05], np.full(len(PLAN_CELLS) - 4, 0.35 / (len(PLAN_CELLS) - 4))]
    return pd.DataFrame({
        "id": np.arange(n), "amount": pick(NUMBER_CELLS), "when": pick(DATE_CELLS), "flag": pick(FLAG_CELLS),
        PLAN: pick(PLAN_CELLS, plan_p / plan_p.sum()), "code": rng.integers(0, 5, n).astype(float),
        "ratio": rng.choice([0.5, 1.0, 1.5, 2.0], n), "many": pick(["a", "b"]), "note": pick(["x", "", "y"]),
        "y": rng.integers(0, 2, n)})


def _typed(n: int = 500, seed: int = 4) -> pd.DataFrame:
    """The same columns as typed data (a Parquet file): numbers with NaN, dates, booleans, whole floats, gaps."""
    rng = np.random.default_rng(seed)
    code = pd.array(rng.integers(0, 4, n), dtype="Int64")
    code[rng.random(n) < 0.1] = pd.NA
    amount = rng.normal(size=n)
    amount[rng.random(n) < 0.05] = np.nan
    when = pd.Series(pd.to_datetime("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D")).dt.date
    flag = pd.array(rng.random(n) < 0.5, dtype="boolean")
    flag[rng.random(n) < 0.1] = pd.NA
    return pd.DataFrame({"id": np.arange(n), "amount": amount, "when": when, "flag": flag,
                         PLAN: rng.choice(["basic", "plus", "zeta", "gold", "日本"], n), "code": code,
                         "ratio": rng.choice([0.5, 1.0, 3.0], n), "many": "a", "note": "x", "y": 1})


def _load(ws, frame: pd.DataFrame, name: str, fmt: str):
    from core.data.ingest import ingest_upload

    buf = io.BytesIO()
    if fmt == "csv":
        frame.to_csv(buf, index=False)
    else:
        frame.to_parquet(buf, index=False)
    return ingest_upload(ws, buf.getvalue(), f"{name}.{fmt}", name=name).dataset


# -- the pandas check before this change, frozen ----------------------------------------------------------------------
_OLD_TRUE = frozenset({"true", "yes", "y", "1", "t", "1.0"})
_OLD_FALSE = frozenset({"false", "no", "n", "0", "f", "0.0"})
_OLD_KIND_WORDS = {"number": "numbers", "datetime": "dates", "boolean": "yes/no values"}


def _old_conform_category(frame: pd.DataFrame, col: dict) -> pd.DataFrame:
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


def _old_tally(values: pd.Series, col: dict, t: dict) -> None:
    filled = values.notna()
    t["empty"] += int((~filled).sum())
    kind = col["kind"]
    if kind == "number":
        bad = filled & pd.to_numeric(values, errors="coerce").isna()
    elif kind == "datetime":
        bad = filled & pd.to_datetime(values, errors="coerce", utc=True, format="mixed").isna()
    elif kind == "boolean" and not (pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values)):
        text = values.astype(str).str.strip().str.lower()
        bad = filled & ~text.isin(_OLD_TRUE | _OLD_FALSE) & ~values.map(lambda v: isinstance(v, (bool, np.bool_)))
    elif kind == "category" and col.get("categories") is not None and not col.get("categories_truncated"):
        text = pd.Series(as_text(_old_conform_category(values.to_frame(), col)).ravel())
        unseen = text[filled.to_numpy() & ~text.isin(set(col["categories"])).to_numpy()]
        for value, n in unseen.value_counts().items():
            t["unseen"][value] = t["unseen"].get(value, 0) + int(n)
        return
    else:
        return
    t["bad"] += int(bad.sum())
    for value in values[bad].astype(str).unique()[:3]:
        if len(t["bad_examples"]) < 3:
            t["bad_examples"][value] = True


def _old_column_findings(col: dict, t: dict) -> list[tuple]:
    name, kind, out = col["name"], col["kind"], []
    if t["bad"]:
        shown = ", ".join(repr(v[:30]) for v in t["bad_examples"])
        out.append(("error", "type", name, f"Column {name!r} should hold {_OLD_KIND_WORDS.get(kind, kind)}, but "
                    f"{t['bad']:,} row(s) hold something else, such as {shown}. Fix those cells or leave them "
                    "empty (the model fills in empty cells as it did in training), then load the file again.",
                    t["bad"]))
    if t["unseen"]:
        top = sorted(t["unseen"].items(), key=lambda kv: -kv[1])
        total = sum(t["unseen"].values())
        shown = ", ".join(f"{v[:30]!r} in {n:,} row(s)" for v, n in top[:3])
        out.append(("tolerated", "unseen", name, f"Column {name!r} has {len(top)} value(s) the model never saw "
                    f"in training ({shown}{' …' if len(top) > 3 else ''}; {total:,} row(s) in all). The "
                    "model treats them like the rare values it grouped in training; predictions for those rows "
                    "are less certain.", total))
    if t["empty"]:
        how = {"number": "the training median", "datetime": "the training median",
               "boolean": "the most common training value"}.get(kind, "a '(missing)' category")
        out.append(("tolerated", "empty", name, f"Column {name!r} has {t['empty']:,} empty cell(s); the model "
                    f"fills them with {how}, as in training.", t["empty"]))
    return out


def _old_findings(version, frame: pd.DataFrame) -> list[tuple]:
    """The per-column findings of the old check on rows read as it read them (one batch: these files are small)."""
    out = []
    for col in [c for c in version.schema["columns"] if c["name"] in frame.columns]:
        t = {"bad": 0, "bad_examples": {}, "unseen": {}, "empty": 0}
        _old_tally(frame[col["name"]], col, t)
        out += _old_column_findings(col, t)
    return out


def _as_tuples(report) -> list[tuple]:
    return [(f.level, f.kind, f.column, f.message, f.count) for f in report.findings
            if f.kind not in ("missing", "extra")]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_the_sql_check_finds_what_the_pandas_check_found(workspace, fmt):
    from core.release.scoring import check_input

    ws, version = workspace, _version()
    info = _load(ws, _messy() if fmt == "csv" else _typed(), f"new_{fmt}", fmt)
    rows = ws.frame(info.id)  # read as the old check read them: Arrow, then pandas
    sql = check_input(ws, version, info.id)
    frame = check_input(ws, version, rows)
    assert sql == frame  # the table (DuckDB) and the DataFrame (pandas) paths agree, finding by finding
    assert _as_tuples(sql) == _old_findings(version, rows)  # and both say what the old check said
    kinds = {(f.kind, f.column) for f in sql.findings}
    assert ("unseen", PLAN) in kinds and ("unseen", "ratio") in kinds and ("extra", None) in kinds
    assert not any(f.column == "many" and f.kind == "unseen" for f in sql.findings)  # truncated: not checked
    if fmt == "csv":  # the messy file: every kind of problem shows up
        assert {("type", "amount"), ("type", "when"), ("type", "flag"), ("empty", "note"),
                ("unseen", "code")} <= kinds
        assert sql.is_blocking and sql.rows == len(rows)
    else:  # typed columns: dates, booleans and numbers are never of the wrong type; gaps and NaN are empty cells
        assert not sql.is_blocking and ("empty", "amount") in kinds and ("empty", "code") in kinds


def test_a_table_check_batches_nothing_and_agrees_with_small_frame_batches(workspace):
    """A frame checked in batches of 7 rows gives the same findings as its table checked in one go."""
    from core.release.scoring import check_input

    ws, version = workspace, _version()
    info = _load(ws, _messy(n=200, seed=9), "batches", "csv")
    rows = ws.frame(info.id)
    frame = check_input(ws, version, rows, batch_rows=7)
    assert _as_tuples(check_input(ws, version, info.id)) == _as_tuples(frame)


def test_missing_columns_and_a_column_all_clean(workspace):
    from core.release.scoring import check_input

    ws, version = workspace, _version()
    clean = pd.DataFrame({"id": [1, 2, 3], "amount": [1.0, 2.5, 3.0], PLAN: ["basic", "pro", "plus"]})
    info = _load(ws, clean, "clean", "csv")
    report = check_input(ws, version, info.id)
    assert report.is_blocking and report.rows == 3
    missing = {f.column for f in report.errors if f.kind == "missing"}
    assert missing == {"when", "flag", "code", "ratio", "many", "note"}
    assert not [f for f in report.findings if f.column in ("amount", PLAN)]
    assert report == check_input(ws, version, ws.frame(info.id))
    none = _load(ws, pd.DataFrame({"other": [1, 2]}), "unrelated", "csv")
    assert check_input(ws, version, none.id).rows == 2


def test_unseen_values_with_equal_counts_are_listed_in_file_order(workspace):
    from core.release.scoring import check_input

    ws, version = workspace, _version()
    plans = ["zz", "aa", "basic", "mm", "aa", "zz", "qq", "qq", "b'c", 'd"e', "b'c", 'd"e']
    info = _load(ws, pd.DataFrame({"id": range(len(plans)), PLAN: plans}), "ties", "csv")
    report = check_input(ws, version, info.id)
    unseen = next(f for f in report.findings if f.kind == "unseen")
    assert "('zz' in 2 row(s), 'aa' in 2 row(s), 'qq' in 2 row(s) …; 11 row(s) in all)" in unseen.message
    assert _as_tuples(report) == _old_findings(version, ws.frame(info.id))
    assert report == check_input(ws, version, ws.frame(info.id))
