"""Column statistics computed inside DuckDB: one-pass aggregates, top values, months and binned histograms.

Nothing here pulls a table into pandas: every query returns one row of aggregates or a handful of bins. Up to
`EXACT_LIMIT` rows every figure is exact; above it, distinct counts of numbers and dates come from HyperLogLog
(about 2 % error) and quantiles from a fixed, deterministic sample of about `SAMPLE_ROWS` rows. Measured on the
1M-row benchmark table: exact `count(DISTINCT)` and `quantile_cont` on every column tripled the profile time
(0.7 s -> 2.1 s each), while the one-pass aggregate with HyperLogLog stayed at 0.6 s; `SUMMARIZE` took 5.0 s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from core.workspace import ColumnInfo, Workspace, quote_ident

EXACT_LIMIT = 200_000
SAMPLE_ROWS = 100_000
HIST_BINS = 30
MAX_INTEGER_BINS = 60  # integer columns spanning fewer values get one bar per value
TOP_K = 10
MAX_MONTHS = 240  # longer date ranges are counted by year
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
QUANTILE_LABELS = ("q05", "q25", "q50", "q75", "q95")
_BATCH = 60  # columns per aggregate query: keeps the SQL text and DuckDB's binder fast on wide tables
_INTS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
         "UHUGEINT")
_FLOATS = ("DOUBLE", "FLOAT", "REAL", "DECIMAL")
_WIDTH = {"BOOLEAN": 1, "TINYINT": 1, "SMALLINT": 2, "INTEGER": 4, "DATE": 4, "FLOAT": 4, "HUGEINT": 16}


@dataclass(frozen=True)
class Source:
    """The rows to describe: a dataset table, optionally narrowed by a condition that core code built."""

    table: str
    where: str = ""  # SQL built by core modules from quote_ident names; values only as ? parameters
    params: tuple = ()
    label: str = ""

    def from_sql(self) -> str:
        return f"{quote_ident(self.table)}" + (f" WHERE {self.where}" if self.where else "")

    def narrowed(self, condition: str, params: tuple = ()) -> "Source":
        where = f"({self.where}) AND ({condition})" if self.where else condition
        return replace(self, where=where, params=self.params + tuple(params))

    def sampled(self, rows: int, wanted: int = SAMPLE_ROWS) -> "Source":
        """Returns a deterministic uniform sample of about `wanted` rows (the whole source when it is smaller)."""
        if rows <= wanted:
            return self
        # hash(rowid) is uniform and fixed per row, so the same rows come back every time and no sort is needed.
        return self.narrowed("hash(rowid) < ?::UBIGINT", (int(wanted / rows * 2**64),))


def family(col: ColumnInfo) -> str:
    """Says which statistics fit a column: numeric, datetime, text or categorical."""
    t = col.dtype.upper()
    if t.startswith(("DATE", "TIMESTAMP")):
        return "datetime"
    if t.startswith(_INTS + _FLOATS) and col.kind in ("number", "id"):
        return "numeric"
    if col.kind == "text" and t.startswith("VARCHAR"):
        return "text"
    return "categorical"


def is_float(col: ColumnInfo) -> bool:
    return col.dtype.upper().startswith(_FLOATS)


def _finite(col: ColumnInfo, x: str) -> str:
    return f"isfinite({x})" if is_float(col) else f"{x} IS NOT NULL"


def clean(value: Any) -> Any:
    """Turns a database value into plain JSON: NaN and infinities become None, numpy scalars Python numbers."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    try:
        return float(value)  # Decimal
    except (TypeError, ValueError):
        return str(value)


# -- the one-pass aggregate ----------------------------------------------------------------------------------------------
def _exprs(col: ColumnInfo, exact: bool) -> list[tuple[str, str]]:
    x = quote_ident(col.name)
    fam = family(col)
    out = [("count", f"count({x})")]
    if is_float(col):
        out.append(("nan", f"count_if(isnan({x}))"))
    if fam == "numeric":
        v = f"CAST({x} AS DOUBLE)"
        fin = f"FILTER (WHERE {_finite(col, v)})"
        out += [("min", f"min({v}) {fin}"), ("max", f"max({v}) {fin}"), ("mean", f"avg({v}) {fin}"),
                ("std", f"stddev_samp({v}) {fin}"), ("skewness", f"skewness({v}) {fin}"),
                ("zeros", f"count_if({v} = 0)"), ("negatives", f"count_if({v} < 0)"),
                ("integral", f"bool_and({v} = round({v})) {fin}")]
        if is_float(col):
            out.append(("infinite", f"count_if(isinf({v}))"))
        nan_free = f"FILTER (WHERE NOT isnan({v}))" if is_float(col) else ""
        out.append(("distinct", f"count(DISTINCT {v}) {nan_free}" if exact else f"approx_count_distinct({v}) {nan_free}"))
        if exact:
            out.append(("quantiles", f"quantile_cont({v}, {list(QUANTILES)}) {fin}"))
    elif fam == "datetime":
        out += [("min", f"min({x})"), ("max", f"max({x})"),
                ("distinct", f"count(DISTINCT {x})" if exact else f"approx_count_distinct({x})")]
    if col.dtype.upper().startswith("VARCHAR"):
        out += [("len_min", f"min(length({x}))"), ("len_mean", f"avg(length({x}))"), ("len_max", f"max(length({x}))"),
                ("bytes", f"sum(strlen({x}))"), ("as_number", f"count(TRY_CAST({x} AS DOUBLE))"),
                ("as_date", f"count(TRY_CAST({x} AS TIMESTAMP))"),
                ("leading_zero", f"count_if(length({x}) > 1 AND {x}[1] = '0' AND {x}[2] <> '.' "
                                 f"AND TRY_CAST({x} AS DOUBLE) IS NOT NULL)")]
    return out


def column_aggregates(ws: Workspace, src: Source, columns: list[ColumnInfo], exact: bool) -> tuple[int, list[dict]]:
    """Returns the row count and, per column, counts, missing values, moments, extremes and text shares."""
    stats: list[dict] = []
    rows = None
    for start in range(0, max(len(columns), 1), _BATCH):
        batch = columns[start:start + _BATCH]
        plan = [(i, key, expr) for i, col in enumerate(batch) for key, expr in _exprs(col, exact)]
        select = ", ".join(["count(*)"] + [expr for _, _, expr in plan])
        values = ws.read_rows(f"SELECT {select} FROM {src.from_sql()}", src.params)[0]
        rows = int(values[0])
        found: list[dict] = [{} for _ in batch]
        for (i, key, _), value in zip(plan, values[1:]):
            found[i][key] = value
        for col, raw in zip(batch, found):
            stats.append(_finish(col, raw, rows, exact))
    return int(rows or 0), stats


def _finish(col: ColumnInfo, raw: dict, rows: int, exact: bool) -> dict:
    fam = family(col)
    nan = int(raw.get("nan") or 0)
    count = int(raw["count"]) - nan  # NaN is missing, as in pandas
    missing = rows - count
    out: dict[str, Any] = {"name": col.name, "dtype": col.dtype, "kind": col.kind, "family": fam, "count": count,
                           "missing": missing, "missing_pct": _pct(missing, rows)}
    if fam in ("numeric", "datetime"):
        distinct = int(raw.get("distinct") or 0)
        out.update(distinct=min(distinct, count), distinct_exact=exact)
    if fam == "numeric":
        for key in ("min", "max", "mean", "std", "skewness"):
            out[key] = clean(raw.get(key))
        if out["std"] == 0 or (out["std"] is None and count > 1):
            out["skewness"] = None  # undefined for a constant column
        out["integral"] = bool(raw.get("integral")) if raw.get("integral") is not None else False
        for key in ("zeros", "negatives", "infinite"):
            out[key] = int(raw.get(key) or 0)
            out[f"{key}_pct"] = _pct(out[key], rows)
        qs = raw.get("quantiles")
        if qs is not None:
            out.update({label: clean(q) for label, q in zip(QUANTILE_LABELS, qs)})
    elif fam == "datetime":
        out.update(min=clean(raw.get("min")), max=clean(raw.get("max")))
    if "len_min" in raw:
        out.update(length_min=clean(raw["len_min"]), length_mean=clean(raw["len_mean"]),
                   length_max=clean(raw["len_max"]), text_bytes=int(raw.get("bytes") or 0),
                   as_number=int(raw["as_number"]), as_date=int(raw["as_date"]),
                   leading_zero=int(raw["leading_zero"]))
    if "distinct" in out:
        out["distinct_pct"] = _pct(out["distinct"], count)
    return out


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 4) if whole else 0.0


# -- quantiles on a sample -----------------------------------------------------------------------------------------------
def sample_quantiles(ws: Workspace, src: Source, columns: list[ColumnInfo], rows: int) -> dict[str, dict]:
    """Returns quantiles of the numeric columns over a deterministic sample of the source (large tables)."""
    numeric = [c for c in columns if family(c) == "numeric"]
    if not numeric:
        return {}
    sample = src.sampled(rows)
    out: dict[str, dict] = {}
    for start in range(0, len(numeric), _BATCH):
        batch = numeric[start:start + _BATCH]
        parts = []
        for col in batch:
            v = f"CAST({quote_ident(col.name)} AS DOUBLE)"
            parts.append(f"quantile_cont({v}, {list(QUANTILES)}) FILTER (WHERE {_finite(col, v)})")
        values = ws.read_rows(f"SELECT count(*), {', '.join(parts)} FROM {sample.from_sql()}", sample.params)[0]
        for col, qs in zip(batch, values[1:]):
            out[col.name] = {label: clean(q) for label, q in zip(QUANTILE_LABELS, qs or [None] * 5)}
            out[col.name]["sample_rows"] = int(values[0])
    return out


# -- top values of categories and texts --------------------------------------------------------------------------------
def top_values(ws: Workspace, src: Source, columns: list[ColumnInfo], k: int = TOP_K) -> dict[str, dict]:
    """Returns, per column, its k most frequent values, the exact distinct count and the entropy of its shares."""
    out: dict[str, dict] = {}
    for start in range(0, len(columns), _BATCH):
        batch = columns[start:start + _BATCH]
        branches, params = [], []
        for i, col in enumerate(batch):
            x = quote_ident(col.name)
            branches.append(
                f"(SELECT {i} AS col, CAST({x} AS VARCHAR) AS v, count(*) AS c, count(*) OVER () AS groups, "
                f"sum(count(*) * ln(count(*))) OVER () AS clogc FROM {src.narrowed(f'{x} IS NOT NULL').from_sql()} "
                f"GROUP BY {x} ORDER BY c DESC, v LIMIT {int(k)})")
            params.extend(src.params)
        for i, value, count, groups, clogc in ws.read_rows(" UNION ALL ".join(branches), params):
            entry = out.setdefault(batch[i].name, {"top": [], "groups": int(groups), "clogc": float(clogc or 0.0)})
            entry["top"].append([value, int(count)])
    return out


def add_top_values(stat: dict, found: dict | None) -> None:
    """Fills distinct counts, top values, the rest's share and the balance of a categorical or text column."""
    count = stat["count"]
    found = found or {"top": [], "groups": 0, "clogc": 0.0}
    stat["distinct"], stat["distinct_exact"] = found["groups"], True
    stat["distinct_pct"] = _pct(found["groups"], count)
    stat["top"] = [{"value": v, "count": c, "pct": _pct(c, count)} for v, c in found["top"]]
    shown = sum(c for _, c in found["top"])
    stat["other_count"] = count - shown
    stat["other_pct"] = _pct(count - shown, count)
    k = found["groups"]
    if count and k >= 2:
        entropy = math.log(count) - found["clogc"] / count
        stat["balance"] = round(max(0.0, min(1.0, entropy / math.log(k))), 6)  # 1 = all levels equally common
    else:
        stat["balance"] = None


# -- histograms --------------------------------------------------------------------------------------------------------
def histogram_edges(lo: float | None, hi: float | None, integral: bool, bins: int = HIST_BINS) -> list[float]:
    """Chooses bin edges: one bar per value for small integer ranges, else `bins` equal-width bins (as numpy)."""
    if lo is None or hi is None:
        return []
    if integral and hi - lo < MAX_INTEGER_BINS:
        return [lo - 0.5 + i for i in range(int(hi - lo) + 2)]
    if hi == lo or not math.isfinite(hi - lo):
        return [lo - 0.5, hi + 0.5] if hi == lo else [lo, hi]
    return [float(e) for e in np.linspace(lo, hi, bins + 1)]


def binned_counts(ws: Workspace, src: Source, targets: list[tuple[str, str, list[float]]]) -> dict[str, list[int]]:
    """Counts values per bin in one scan; `targets` are (key, SQL expression, edges). Last bin includes its edge."""
    targets = [t for t in targets if len(t[2]) >= 2]
    out: dict[str, list[int]] = {}
    for start in range(0, len(targets), _BATCH):
        batch = targets[start:start + _BATCH]
        inner, outer, params = [], [], []
        for i, (_, expr, edges) in enumerate(batch):
            lo, hi, nb = edges[0], edges[-1], len(edges) - 1
            v = f"CAST({expr} AS DOUBLE)"
            # floor((v - lo) * nb / (hi - lo)) may land one bin off at an edge; comparing with the edges fixes it,
            # exactly as numpy.histogram does, so both agree bin for bin.
            inner.append(f"{v} AS v{i}, least(greatest(floor(({v} - ({lo!r})) * ({nb / (hi - lo)!r})), 0), {nb - 1})"
                         f"::BIGINT AS b{i}")
            e = f"e{i}"
            outer.append(f"histogram(CASE WHEN v{i} < ({lo!r}) OR v{i} > ({hi!r}) OR NOT isfinite(v{i}) THEN NULL "
                         f"WHEN v{i} < {e}[b{i} + 1] THEN b{i} - 1 "
                         f"WHEN v{i} >= {e}[b{i} + 2] AND b{i} < {nb - 1} THEN b{i} + 1 ELSE b{i} END)")
            params.append([float(x) for x in edges])
        edge_cols = ", ".join(f"?::DOUBLE[] AS e{i}" for i in range(len(batch)))
        sql = (f"SELECT {', '.join(outer)} FROM (SELECT {', '.join(inner)} FROM {src.from_sql()}), "
               f"(SELECT {edge_cols})")
        values = ws.read_rows(sql, list(src.params) + params)[0]
        for (key, _, edges), hist in zip(batch, values):
            counts = [0] * (len(edges) - 1)
            for b, c in (hist or {}).items():
                counts[int(b)] += int(c)
            out[key] = counts
    return out


def month_counts(ws: Workspace, src: Source, col: ColumnInfo) -> dict:
    """Counts a date column's values by month (or by year when it spans more than MAX_MONTHS months)."""
    x = quote_ident(col.name)
    sql = (f"SELECT strftime(date_trunc('month', {x}), '%Y-%m') AS m, count(*) "
           f"FROM {src.narrowed(f'{x} IS NOT NULL').from_sql()} GROUP BY m ORDER BY m")
    rows = ws.read_rows(sql, src.params)
    if len(rows) <= MAX_MONTHS:
        return {"period": "month", "labels": [r[0] for r in rows], "counts": [int(r[1]) for r in rows]}
    years: dict[str, int] = {}
    for month, count in rows:
        years[month[:4]] = years.get(month[:4], 0) + int(count)
    return {"period": "year", "labels": list(years), "counts": list(years.values())}


# -- whole-table figures ----------------------------------------------------------------------------------------------
def duplicate_rows(ws: Workspace, src: Source, columns: list[ColumnInfo], rows: int) -> tuple[int, bool]:
    """Counts rows that repeat an earlier row exactly; returns (count, is_exact)."""
    if not columns:
        return 0, True
    cols = ", ".join(quote_ident(c.name) for c in columns)
    if rows <= EXACT_LIMIT:
        sql = f"SELECT count(*) FROM (SELECT DISTINCT {cols} FROM {src.from_sql()})"
        return rows - int(ws.read_rows(sql, src.params)[0][0]), True
    # A 64-bit hash per row halves the time; at a million rows the chance of one false match is about 3e-8.
    sql = f"SELECT count(*) - count(DISTINCT hash({cols})) FROM {src.from_sql()}"
    return int(ws.read_rows(sql, src.params)[0][0]), False


def memory_bytes(stats: list[dict], rows: int) -> int:
    """Estimates the table's size in memory: fixed-width values plus string bytes and 16-byte string headers."""
    total = 0
    for s in stats:
        t = s["dtype"].upper()
        if t.startswith("VARCHAR"):
            total += 16 * rows + int(s.get("text_bytes") or 0)
        else:
            total += rows * next((w for p, w in _WIDTH.items() if t.startswith(p)), 8)
    return total


def stored_bytes(ws: Workspace, table: str) -> int | None:
    """Returns the bytes DuckDB uses to store the table on disk (blocks of 256 KiB), when it can tell."""
    try:
        rows = ws.read_rows("SELECT count(DISTINCT block_id) FROM pragma_storage_info(?) WHERE block_id >= 0", [table])
    except Exception:  # noqa: BLE001 — storage details are optional; in-memory or unusual tables have none
        return None
    return int(rows[0][0]) * 262_144 if rows and rows[0][0] else None
