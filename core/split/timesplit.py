"""Time-based splits: train on the past, validate and test on later periods, with an optional gap and backtest folds.

Used by `core.split.splitting.split_project` for strategy "time"; see that module for the public API. Rules:
- The time column may be a date / timestamp, text holding ISO dates (every non-empty value must parse), or a number
  (a year or period index; the gap is then in the column's units).
- Cut-offs are where validation and test start. Without explicit cut-offs they are the times found at the train
  and train + validation ratios of the rows in time order, so rows sharing a timestamp never straddle two sets.
- train: t < c1 - gap; validation: c1 <= t < c2 - gap; test: t >= c2. Rows inside a gap, or without a time, are
  left out (counted as "excluded").
- Backtest folds cover the train + validation period, cut into folds + 1 blocks of about equal rows: fold i
  validates on block i and trains on every earlier block ("expanding") or only on block i - 1 ("rolling").
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from core.errors import SpecInvalid
from core.split.spec import MAX_FOLDS, PARTS, SplitAssignment, allocate_counts, assignment_frame
from core.store.workspace import DatasetInfo, Workspace, quote_ident

BACKTEST_MODES = ("expanding", "rolling")  # all history before each fold, or only the block just before it
_DATE_TYPES = ("DATE", "TIMESTAMP")
_NUMBER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "DOUBLE", "FLOAT", "DECIMAL", "REAL", "UBIGINT",
                 "UINTEGER", "USMALLINT", "UTINYINT")


def time_expression(ws: Workspace, info: DatasetInfo, column: str) -> tuple[str, bool]:
    """Returns SQL reading `column` as time (TIMESTAMP, or DOUBLE for numbers) and whether it is a date.

    Raises: SpecInvalid when text values do not parse as dates, or the column is not a time at all.
    """
    col = info.column(column)
    q = quote_ident(column)
    dtype = col.dtype.upper()
    if dtype.startswith(_DATE_TYPES):
        return f"CAST({q} AS TIMESTAMP)", True
    if dtype.startswith(_NUMBER_TYPES):
        return f"CAST({q} AS DOUBLE)", False
    if dtype.startswith("VARCHAR"):
        bad = ws.read_rows(f"SELECT DISTINCT {q} FROM {quote_ident(info.table)} WHERE {q} IS NOT NULL AND trim({q}) <> '' "
                           f"AND TRY_CAST({q} AS TIMESTAMP) IS NULL LIMIT 3")
        if bad:
            n_bad = ws.read_rows(f"SELECT count(*) FROM {quote_ident(info.table)} WHERE {q} IS NOT NULL AND "
                                 f"trim({q}) <> '' AND TRY_CAST({q} AS TIMESTAMP) IS NULL")[0][0]
            shown = ", ".join(repr(str(v[0])[:30]) for v in bad)
            raise SpecInvalid(f"Column {column!r} does not read as dates: {n_bad:,} value(s) such as {shown} do not "
                              "parse. Choose a date column, or fix the values to the form 2025-01-31.")
        return f"TRY_CAST(NULLIF(trim({q}), '') AS TIMESTAMP)", True
    raise SpecInvalid(f"Column {column!r} holds {col.kind} values, not dates. Choose a date column.")


def format_time(value: Any, is_date: bool) -> str:
    """Formats a time for people: '2025-03-01' at midnight, with the clock otherwise; numbers as they are."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return ""
    if not is_date:
        return f"{float(value):g}"
    ts = pd.Timestamp(value)
    return ts.strftime("%Y-%m-%d") if ts == ts.normalize() else ts.strftime("%Y-%m-%d %H:%M:%S")


def _parse_cutoff(text: str, is_date: bool, column: str):
    try:
        return pd.Timestamp(str(text).strip()) if is_date else float(text)
    except (TypeError, ValueError) as err:
        kind = "a date such as 2025-10-01" if is_date else "a number"
        raise SpecInvalid(f"The cut-off {text!r} is not {kind}, as column {column!r} needs.") from err


def _shift(value, gap: float, is_date: bool):
    if not gap:
        return value
    return value - pd.Timedelta(days=float(gap)) if is_date else value - float(gap)


def check_time(spec, info: DatasetInfo, project=None) -> None:
    """Checks a time split's own choices: the date column, the gap and the backtest. Raises: SpecInvalid, NotFound."""
    if not spec.time_column:
        raise SpecInvalid("A time-based split needs a date column. Choose one.")
    info.column(spec.time_column)
    if not math.isfinite(float(spec.gap)) or spec.gap < 0:
        raise SpecInvalid(f"The gap must be zero or a positive number of days, not {spec.gap!r}.")
    if spec.backtest_folds and not 2 <= spec.backtest_folds <= MAX_FOLDS:
        raise SpecInvalid(f"A backtest needs 2 to {MAX_FOLDS} folds, not {spec.backtest_folds}.")
    if spec.backtest_mode not in BACKTEST_MODES:
        raise SpecInvalid("The backtest window is either 'expanding' (all history) or 'rolling' (recent window).")


def assign_time(ws: Workspace, info: DatasetInfo, spec, project=None) -> SplitAssignment:
    """Assigns rows by time, with the cut-offs used, notes, backtest folds and the folds' assignments.

    Raises: SpecInvalid.
    """
    expr, is_date = time_expression(ws, info, spec.time_column)
    times = ws.read(f"SELECT rowid AS _row, {expr} AS t FROM {quote_ident(info.table)}")
    known = times.dropna(subset=["t"])
    notes: list[str] = []
    if known.empty:
        raise SpecInvalid(f"Column {spec.time_column!r} is empty in every row. Choose another date column.")
    if len(known) < len(times):
        notes.append(f"{len(times) - len(known):,} row(s) with no {spec.time_column!r} were left out.")
    t_sorted = np.sort(known["t"].to_numpy())
    has_validation = spec.ratios[1] > 0
    if spec.cutoffs:
        cuts = [_parse_cutoff(c, is_date, spec.time_column) for c in spec.cutoffs]
        if len(cuts) > 2:
            raise SpecInvalid("Give at most two cut-offs: where validation starts and where test starts.")
        if any(b <= a for a, b in zip(cuts, cuts[1:])):
            raise SpecInvalid("The cut-offs must be in order: validation starts before test starts.")
        has_validation = len(cuts) == 2
        notes.append("Set sizes follow the cut-off dates, not the shares.")
    else:
        n_train, n_val, _ = allocate_counts(len(t_sorted), spec.ratios)
        cuts = [t_sorted[n_train]] + ([t_sorted[n_train + n_val]] if has_validation else [])
        if is_date:
            cuts = [pd.Timestamp(c) for c in cuts]
        if cuts[0] == t_sorted[0] or (len(cuts) == 2 and cuts[1] == cuts[0]):
            raise SpecInvalid(f"Column {spec.time_column!r} has too few different times to cut into "
                              f"{len(cuts) + 1} periods at these shares. Choose cut-off dates yourself, or "
                              "another column.")
    t = known["t"].to_numpy()
    c1 = cuts[0]
    test_start = cuts[-1]
    part = np.full(len(t), -1, dtype=np.int64)
    part[t < _as_np(_shift(c1, spec.gap, is_date))] = 0
    if has_validation:
        part[(t >= _as_np(c1)) & (t < _as_np(_shift(test_start, spec.gap, is_date)))] = 1
    part[t >= _as_np(test_start)] = 2
    kept = part >= 0
    if (~kept).sum() > 0 and spec.gap:
        notes.append(f"{int((~kept).sum()):,} row(s) inside the gap of {spec.gap:g} "
                     f"{'day(s)' if is_date else 'unit(s)'} before a cut-off were left out.")
    assigned = assignment_frame(known["_row"].to_numpy()[kept], part[kept])
    cutoffs = {"time_column": spec.time_column, "gap": float(spec.gap),
               "test_start": format_time(test_start, is_date)}
    if has_validation:
        cutoffs["validation_start"] = format_time(c1, is_date)
    for p, lo, hi in _ranges(t, part, PARTS):
        cutoffs[f"{p}_range"] = [format_time(lo, is_date), format_time(hi, is_date)]
    folds, fold_frame = [], None
    if spec.backtest_folds:
        dev = known[(part == 0) | (part == 1) | ((t < _as_np(test_start)) & (part < 0))]
        folds, fold_frame = _backtest(dev, spec, is_date)
    return SplitAssignment(assigned, notes, cutoffs, folds, fold_frame)


def _as_np(value):
    return np.datetime64(value) if isinstance(value, pd.Timestamp) else value


def _ranges(t: np.ndarray, part: np.ndarray, names) -> list[tuple[str, Any, Any]]:
    out = []
    for i, name in enumerate(names):
        sel = t[part == i]
        if len(sel):
            out.append((name, sel.min(), sel.max()))
    return out


def _backtest(dev: pd.DataFrame, spec, is_date: bool) -> tuple[list[dict], pd.DataFrame]:
    """Cuts the development period into folds + 1 blocks and builds one train/validation pair per fold."""
    k = int(spec.backtest_folds)
    t = dev["t"].to_numpy()
    t_sorted = np.sort(t)
    ends = np.cumsum(allocate_counts(len(t_sorted), [1.0 / (k + 1)] * (k + 1)))
    bounds = [t_sorted[min(e, len(t_sorted) - 1)] for e in ends[:-1]]  # start time of blocks 1..k
    pieces, folds = [], []
    rows = dev["_row"].to_numpy()
    for i in range(1, k + 1):
        start = bounds[i - 1]
        end = bounds[i] if i < k else None
        val = (t >= start) & (t < end) if end is not None else (t >= start)
        train_end = _as_np(_shift(pd.Timestamp(start) if is_date else start, spec.gap, is_date))
        train = t < train_end
        if spec.backtest_mode == "rolling" and i > 1:
            train &= t >= bounds[i - 2]
        if not train.any() or not val.any():
            raise SpecInvalid(f"Backtest fold {i} of {k} would have no {'training' if not train.any() else 'validation'}"
                              f" rows: column {spec.time_column!r} has too few different times. Use fewer folds.")
        folds.append({"fold": i, "train_rows": int(train.sum()), "validation_rows": int(val.sum()),
                      "train_from": format_time(t[train].min(), is_date), "train_to": format_time(t[train].max(), is_date),
                      "validation_from": format_time(t[val].min(), is_date),
                      "validation_to": format_time(t[val].max(), is_date)})
        pieces.append(pd.DataFrame({"_row": rows[train], "fold": i, "role": "train"}))
        pieces.append(pd.DataFrame({"_row": rows[val], "fold": i, "role": "validation"}))
    frame = pd.concat(pieces, ignore_index=True)
    frame["_row"] = frame["_row"].astype(np.int64)
    frame["fold"] = frame["fold"].astype(np.int16)
    return folds, frame.sort_values(["fold", "role", "_row"], kind="stable").reset_index(drop=True)


def default_cutoffs(ws: Workspace, info: DatasetInfo, column: str, ratios) -> list[str]:
    """Returns the cut-offs a split by these shares would use (validation start, test start) as text.

    Raises: SpecInvalid when the column does not read as time.
    """
    expr, is_date = time_expression(ws, info, column)
    table = quote_ident(info.table)
    n = ws.read_rows(f"SELECT count({expr}) FROM {table}")[0][0]
    if not n:
        return []
    n_train, n_val, _ = allocate_counts(int(n), ratios)
    offsets = [n_train] + ([n_train + n_val] if ratios[1] > 0 else [])
    out = []
    for offset in offsets:
        row = ws.read_rows(f"SELECT {expr} AS t FROM {table} WHERE t IS NOT NULL ORDER BY t LIMIT 1 OFFSET ?",
                           [min(int(offset), int(n) - 1)])
        out.append(format_time(row[0][0], is_date))
    return out
