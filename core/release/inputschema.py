"""The input schema of a registered version: captured at registration, checked against the rows to be scored.

- `capture_schema(ws, run, split) -> dict` records the columns a model reads: name, kind, the DuckDB and pandas types
  seen in training, and the category values of the training rows.
- `check_input(ws, version, source) -> SchemaReport` lists every problem: missing columns and values of the wrong
  type block scoring; extra columns and categories the model never saw are tolerated (the encoder groups them with
  the rare values) and explained with counts; empty cells are explained.

A dataset is checked in DuckDB, so the app never holds its rows: one scan counts the empty cells of every column,
and a grouped query per column that can hold a problem lists its distinct suspect values with their counts and
first row. SQL vouches only for what it can decide exactly (a number column stored as numbers; text that is a
plain decimal number, an ISO date or a yes/no word; a category value in the training list); every other distinct
value goes through the same pandas rule that checks a DataFrame source, so both give the same findings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.errors import did_you_mean
from core.models.preprocess import as_text
from core.split.splitting import split_frames
from core.store.workspace import DatasetInfo, Workspace, quote_ident

CHECK_ROWS = 50_000  # a DataFrame source is checked in batches of this many rows
MAX_CATEGORY_VALUES = 2_000  # beyond this many training values a column is not checked for unseen ones
EXAMPLES = 3
_TRUE = frozenset({"true", "yes", "y", "1", "t", "1.0"})
_FALSE = frozenset({"false", "no", "n", "0", "f", "0.0"})
_KIND_WORDS = {"number": "numbers", "datetime": "dates", "boolean": "yes/no values"}
_TYPED_KINDS = ("number", "datetime", "boolean")

# Text that pandas reads as a number / a date / a yes-no word for certain (RE2 syntax: \d is 0-9 only). Anything
# else in a text column is a suspect, grouped by value and judged by the pandas rule.
_NUMBER_TEXT = r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?"
_DATE_TEXT = (r"(1[7-9]\d\d|2[01]\d\d)-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"  # inside pandas' 1677..2262 range
              r"([ T]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?)?")
_WORD_TEXT = r"[A-Za-z0-9.]+"  # ASCII, so DuckDB's lower() and Python's agree
_NUMERIC_TYPES = frozenset({"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                            "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE"})


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


@dataclass
class _Tally:
    """What the check found in one column."""

    empty: int = 0
    bad: int = 0
    bad_examples: list[str] = field(default_factory=list)  # the first EXAMPLES distinct wrong values, as text
    unseen_top: list[tuple[str, int]] = field(default_factory=list)  # the EXAMPLES most frequent unseen values
    unseen_values: int = 0
    unseen_rows: int = 0

    def add_bad(self, rows: int, examples) -> None:
        self.bad += rows
        for value in examples:
            if len(self.bad_examples) >= EXAMPLES:
                break
            if value not in self.bad_examples:
                self.bad_examples.append(value)

    def set_unseen(self, ranked: list[tuple[str, int]], values: int | None = None, rows: int | None = None) -> None:
        """`ranked`: unseen values with their rows, most rows first (ties in file order)."""
        self.unseen_top = ranked[:EXAMPLES]
        self.unseen_values = len(ranked) if values is None else values
        self.unseen_rows = sum(n for _, n in ranked) if rows is None else rows


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


# -- checking ----------------------------------------------------------------------------------------------------------
def check_input(ws: Workspace, version, source: Any, batch_rows: int = CHECK_ROWS) -> SchemaReport:
    """Checks rows against a version's schema: missing, extra and mistyped columns, unseen categories, empty cells.

    `source` is a dataset (id or name), checked in DuckDB, or a pandas DataFrame, checked in batches of `batch_rows`.
    """
    schema = version.schema
    frame = source if isinstance(source, pd.DataFrame) else None
    info = None if frame is not None else ws.dataset(source)
    have = [str(c) for c in frame.columns] if frame is not None else info.column_names
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
    if not present:
        return SchemaReport(rows=len(frame) if frame is not None else info.rows, findings=tuple(findings))
    rows, tallies = _check_frame(frame, present, batch_rows) if frame is not None else _check_table(ws, info, present)
    for col in present:
        findings += _column_findings(col, tallies[col["name"]])
    return SchemaReport(rows=rows, findings=tuple(findings))


def _names(names: list[str], limit: int = 8) -> str:
    return ", ".join(map(repr, names[:limit])) + (" …" if len(names) > limit else "")


def _checks_categories(col: dict) -> bool:
    return col["kind"] == "category" and col.get("categories") is not None and not col.get("categories_truncated")


def _bad_mask(values: pd.Series, kind: str) -> pd.Series | None:
    """Which filled cells do not hold the column's kind (None: no cell can be wrong). The rule for a DataFrame, and
    for the distinct values of a table that SQL cannot vouch for."""
    filled = values.notna()
    if kind == "number":
        return filled & pd.to_numeric(values, errors="coerce").isna()
    if kind == "datetime":
        return filled & pd.to_datetime(values, errors="coerce", utc=True, format="mixed").isna()
    if kind == "boolean" and not (pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values)):
        text = values.astype(str).str.strip().str.lower()
        return filled & ~text.isin(_TRUE | _FALSE) & ~values.map(lambda v: isinstance(v, (bool, np.bool_)))
    return None


def _category_text(values: pd.Series, col: dict) -> pd.Series:
    """The category values as the model's encoder sees them (the training type, then text)."""
    return pd.Series(as_text(conform_category(values.rename(col["name"]).to_frame(), col)).ravel())


def _check_frame(source: pd.DataFrame, present: list[dict], batch_rows: int) -> tuple[int, dict[str, _Tally]]:
    tallies = {c["name"]: _Tally() for c in present}
    unseen: dict[str, dict] = {c["name"]: {} for c in present}
    for start in range(0, len(source), batch_rows):
        batch = source.iloc[start:start + batch_rows]
        for col in present:
            name = col["name"]
            values, t = batch[name].reset_index(drop=True), tallies[name]
            filled = values.notna()
            t.empty += int((~filled).sum())
            if _checks_categories(col):
                text = _category_text(values, col)
                hits = text[filled.to_numpy() & ~text.isin(set(col["categories"])).to_numpy()]
                for value, n in hits.value_counts().items():
                    unseen[name][value] = unseen[name].get(value, 0) + int(n)
            elif col["kind"] in _TYPED_KINDS:
                bad = _bad_mask(values, col["kind"])
                if bad is not None:
                    t.add_bad(int(bad.sum()), values[bad].astype(str).unique()[:EXAMPLES])
    for name, counts in unseen.items():
        tallies[name].set_unseen(sorted(counts.items(), key=lambda kv: -kv[1]))
    return len(source), tallies


def _family(duckdb_type: str) -> str:
    t = duckdb_type.upper()
    if t in _NUMERIC_TYPES or t.startswith("DECIMAL"):
        return "number"
    if t.startswith("TIMESTAMP"):
        return "timestamp"
    return {"BOOLEAN": "boolean", "VARCHAR": "text"}.get(t, "other")


def _suspects(kind: str, family: str, ref: str) -> tuple[str, list] | None:
    """The SQL condition (and its parameters) for a filled cell that SQL cannot vouch for, or None when every cell
    of this type holds the kind (pandas reads numbers, booleans and timestamps as such)."""
    if kind == "number":
        if family in ("number", "boolean"):
            return None
        return (f"NOT regexp_full_match({ref}, ?)", [_NUMBER_TEXT]) if family == "text" else ("true", [])
    if kind == "datetime":
        if family == "timestamp":
            return None
        if family == "text":
            return f"NOT (regexp_full_match({ref}, ?) AND TRY_CAST({ref} AS TIMESTAMP) IS NOT NULL)", [_DATE_TEXT]
        return "true", []
    if kind == "boolean":
        if family in ("number", "boolean"):
            return None
        if family == "text":
            return (f"NOT (regexp_full_match({ref}, ?) AND list_contains(?::VARCHAR[], lower({ref})))",
                    [_WORD_TEXT, sorted(_TRUE | _FALSE)])
        return "true", []
    return None


def _check_table(ws: Workspace, info: DatasetInfo, present: list[dict]) -> tuple[int, dict[str, _Tally]]:
    table = quote_ident(info.table)
    refs = [quote_ident(c["name"]) for c in present]
    tallies = {c["name"]: _Tally() for c in present}
    with ws.cursor() as cur:
        types = [str(t).upper() for t in cur.sql(f"SELECT {', '.join(refs)} FROM {table} LIMIT 0").types]
        families, is_float = [_family(t) for t in types], [t in ("FLOAT", "DOUBLE") for t in types]
        # Empty cells of every column in one scan; NaN is empty too, as pandas counts it.
        counts = [f"count(*) - count({r})" + (f" + count_if(isnan({r}))" if f else "") for r, f in zip(refs, is_float)]
        total, *empty = cur.execute(f"SELECT count(*), {', '.join(counts)} FROM {table}").fetchall()[0]
        for col, ref, family, n_empty, fl in zip(present, refs, families, empty, is_float):
            t = tallies[col["name"]]
            t.empty = int(n_empty)
            filled = f"{ref} IS NOT NULL" + (f" AND NOT isnan({ref})" if fl else "")
            if _checks_categories(col):
                _unseen_in_table(cur, table, col, ref, family, filled, t)
                continue
            rule = _suspects(col["kind"], family, ref)
            if rule is None:
                continue
            cond, params = rule
            groups = _grouped(cur, f"SELECT {ref} AS value, count(*) AS n, min(rowid) AS first FROM {table} "
                                   f"WHERE {filled} AND ({cond}) GROUP BY {ref} ORDER BY first", params)
            bad = _bad_mask(groups["value"], col["kind"])
            if bad is not None and len(groups):
                bad = bad.to_numpy()
                t.add_bad(int(groups["n"].to_numpy()[bad].sum()),
                          groups["value"][bad].astype(str).unique()[:EXAMPLES])
    return int(total), tallies


def _grouped(cur, sql: str, params: list) -> pd.DataFrame:
    """A query's rows as pandas, converted as the rows of a table read in batches are (Arrow, then pandas)."""
    return cur.sql(sql, params=params).to_arrow_table().to_pandas()


def _unseen_in_table(cur, table: str, col: dict, ref: str, family: str, filled: str, t: _Tally) -> None:
    categories = [str(c) for c in col["categories"]]
    if family == "text":  # text is its own category value (as_text): DuckDB compares and counts exactly
        row = cur.sql(
            f"WITH unseen AS (SELECT d.{ref} AS value, count(*) AS n, min(d.rowid) AS first FROM {table} AS d "
            f"ANTI JOIN (SELECT unnest(?::VARCHAR[]) AS seen) AS s ON d.{ref} = s.seen WHERE d.{ref} IS NOT NULL "
            f"GROUP BY d.{ref}) "
            "SELECT value, n, count(*) OVER () AS k, sum(n) OVER () AS rows FROM unseen ORDER BY n DESC, first LIMIT ?",
            params=[categories, EXAMPLES]).fetchall()
        if row:
            t.set_unseen([(v, int(n)) for v, n, _, _ in row], values=int(row[0][2]), rows=int(row[0][3]))
        return
    # Numbers, dates, booleans as categories: each distinct value becomes text the way the encoder makes it.
    groups = _grouped(cur, f"SELECT {ref} AS value, count(*) AS n, min(rowid) AS first FROM {table} "
                           f"WHERE {filled} GROUP BY {ref} ORDER BY first", [])
    if not len(groups):
        return
    text = _category_text(groups["value"], col)
    hit = ~text.isin(set(categories)).to_numpy()
    if not hit.any():
        return
    per = pd.DataFrame({"text": text[hit].to_numpy(), "n": groups["n"].to_numpy()[hit],
                        "first": groups["first"].to_numpy()[hit]})
    per = per.groupby("text", sort=False).agg(n=("n", "sum"), first=("first", "min"))
    per = per.sort_values(["n", "first"], ascending=[False, True])
    t.set_unseen([(v, int(n)) for v, n in zip(per.index, per["n"])])


def _column_findings(col: dict, t: _Tally) -> list[Finding]:
    name, kind, out = col["name"], col["kind"], []
    if t.bad:
        shown = ", ".join(repr(v[:30]) for v in t.bad_examples)
        out.append(Finding("error", "type", name, f"Column {name!r} should hold {_KIND_WORDS.get(kind, kind)}, but "
                           f"{t.bad:,} row(s) hold something else, such as {shown}. Fix those cells or leave them "
                           "empty (the model fills in empty cells as it did in training), then load the file again.",
                           t.bad))
    if t.unseen_values:
        shown = ", ".join(f"{v[:30]!r} in {n:,} row(s)" for v, n in t.unseen_top)
        out.append(Finding("tolerated", "unseen", name, f"Column {name!r} has {t.unseen_values} value(s) the model "
                           f"never saw in training ({shown}{' …' if t.unseen_values > EXAMPLES else ''}; "
                           f"{t.unseen_rows:,} row(s) in all). The model treats them like the rare values it grouped "
                           "in training; predictions for those rows are less certain.", t.unseen_rows))
    if t.empty:
        how = {"number": "the training median", "datetime": "the training median",
               "boolean": "the most common training value"}.get(kind, "a '(missing)' category")
        out.append(Finding("tolerated", "empty", name, f"Column {name!r} has {t.empty:,} empty cell(s); the model "
                           f"fills them with {how}, as in training.", t.empty))
    return out


def conform_category(frame: pd.DataFrame, col: dict) -> pd.DataFrame:
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
