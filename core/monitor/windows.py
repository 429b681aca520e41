"""Drift over time windows of the current data, and synthetic what-if shifts for demos and threshold choices."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.data.kinds import infer_kinds_frame
from core.errors import SpecInvalid, WorkbenchError, unknown
from core.monitor.checks import (
    DriftOptions,
    DriftResult,
    check_drift,
    summarize_reference,
)
from core.monitor.reference import MIN_ROWS

FREQS = {"D": "day", "W": "week", "M": "month"}
MAX_WINDOWS = 400
SHIFT_KINDS = ("mean", "share", "flip_labels")
MAX_CLASSES = 50


@dataclass
class WindowDrift:
    """One time window: its drift check, the model metric on it, and whether it crossed a threshold."""

    start: pd.Timestamp
    end: pd.Timestamp
    n_rows: int
    result: DriftResult | None = None
    metric: float | None = None
    flagged: bool = False
    reasons: list[str] = field(default_factory=list)

    @property
    def drift_share(self) -> float | None:
        return None if self.result is None else self.result.drift_share


@dataclass
class OverTimeResult:
    """Drift per window of the current data, oldest first."""

    windows: list[WindowDrift]
    freq: str
    options: DriftOptions
    metric_name: str = "metric"
    metric_threshold: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def retrain_recommended(self) -> bool:
        """True when the latest window with enough rows crossed a threshold."""
        usable = [w for w in self.windows if w.result is not None]
        return bool(usable) and usable[-1].flagged

    def frame(self) -> pd.DataFrame:
        """Returns one row per window: rows, drift share, dataset drift, metric, flag and why."""
        return pd.DataFrame([{
            "start": w.start, "end": w.end, "rows": w.n_rows, "drift_share": w.drift_share,
            "drifted_columns": None if w.result is None else len(w.result.drifted),
            "dataset_drift": None if w.result is None else w.result.dataset_drift,
            self.metric_name: w.metric, "flagged": w.flagged, "why": "; ".join(w.reasons),
        } for w in self.windows])

    def statistics(self) -> pd.DataFrame:
        """Returns one row per window and compared column: the score compared with its threshold, and drift."""
        rows = []
        for w in self.windows:
            for c in ([] if w.result is None else w.result.compared):
                score = c.statistic if c.calibrated else (c.distance if c.distance is not None else c.p_value)
                rows.append({"start": w.start, "column": c.column, "method": c.method, "score": score,
                             "threshold": c.threshold, "drift": bool(c.drift)})
        return pd.DataFrame(rows, columns=["start", "column", "method", "score", "threshold", "drift"])


def drift_over_time(reference: pd.DataFrame, current: pd.DataFrame, time_column: str, freq: str = "W",
                    columns: dict[str, str] | None = None, options: DriftOptions | None = None,
                    metric_fn: Callable[[pd.DataFrame], float] | None = None, metric_name: str = "metric",
                    metric_threshold: float | None = None, higher_is_better: bool = True) -> OverTimeResult:
    """Splits the current data into day/week/month windows and checks each against the reference.

    `metric_fn(window_frame)` may return the model's metric on a window (it needs labels); a window is flagged when
    its dataset drift verdict is positive or its metric falls on the wrong side of `metric_threshold`.

    Raises:
        SpecInvalid: an unknown frequency, a time column without dates, too many windows.
        SchemaMismatch: the reference and current columns differ.
    """
    if freq not in FREQS:
        raise SpecInvalid(f"Unknown window {freq!r}; use 'D' (day), 'W' (week) or 'M' (month).")
    if time_column not in current.columns:
        raise unknown("column", time_column, current.columns, "current set")
    options = options or DriftOptions()
    if columns is None:
        columns = infer_kinds_frame(reference.drop(columns=[time_column], errors="ignore"))
    columns = {k: v for k, v in columns.items() if k != time_column}
    summary = summarize_reference(reference, columns, options)
    stamps = _as_datetime(current[time_column], time_column)
    periods = stamps.dt.to_period(freq)
    notes = []
    if stamps.isna().any():
        notes.append(f"{int(stamps.isna().sum()):,} rows without a readable date in {time_column!r} were left out.")
    n_windows = periods.nunique()
    if n_windows > MAX_WINDOWS:
        raise SpecInvalid(f"{FREQS[freq].capitalize()} windows over this data make {n_windows:,} windows; the "
                          f"limit is {MAX_WINDOWS}. Choose a longer window (week or month).")
    windows = []
    for period, rows in current.groupby(periods, sort=True):
        window = WindowDrift(period.start_time, period.end_time, len(rows))
        windows.append(window)
        if len(rows) < MIN_ROWS:
            window.reasons.append(f"only {len(rows)} rows: too few to compare")
            continue
        try:
            window.result = check_drift(summary, rows, options=options)
        except WorkbenchError as err:
            window.reasons.append(f"not compared: {err}")
            continue
        if window.result.dataset_drift:
            window.flagged = True
            window.reasons.append(f"{window.result.drift_share:.0%} of columns drifted "
                                  f"(line: {options.drift_share:.0%})")
        if metric_fn is not None:
            window.metric = float(metric_fn(rows))
            if metric_threshold is not None and np.isfinite(window.metric):
                worse = window.metric < metric_threshold if higher_is_better else window.metric > metric_threshold
                if worse:
                    window.flagged = True
                    side = "below" if higher_is_better else "above"
                    window.reasons.append(
                        f"{metric_name} {window.metric:.3g} is {side} the {metric_threshold:g} target")
    return OverTimeResult(windows, freq, options, metric_name, metric_threshold, notes)


def apply_shift(df: pd.DataFrame, shifts: list[dict], seed: int = 0) -> pd.DataFrame:
    """Returns a copy of the data with synthetic shifts applied in order (simulated data, for what-if drift).

    Shifts: {"kind": "mean", "column", "delta"}, {"kind": "share", "column", "category", "share"},
    {"kind": "flip_labels", "column", "fraction"}.

    Raises:
        SpecInvalid: an unknown kind, a missing parameter or a value out of range.
        NotFound: an unknown column.
    """
    rng = np.random.default_rng(seed)
    out = df.copy()
    for shift in shifts:
        kind = shift.get("kind")
        if kind not in SHIFT_KINDS:
            raise SpecInvalid(f"Unknown shift {kind!r}; use one of: {', '.join(SHIFT_KINDS)}.")
        column = shift.get("column")
        if column not in out.columns:
            raise unknown("column", str(column), out.columns)
        if kind == "mean":
            out[column] = _shift_mean(out[column], _number(shift, "delta"))
        elif kind == "share":
            out[column] = _shift_share(out[column], shift.get("category"), _fraction(shift, "share"), rng)
        else:
            out[column] = _flip_labels(out[column], _fraction(shift, "fraction"), rng)
    return out


def _as_datetime(series: pd.Series, name: str) -> pd.Series:
    if not pd.api.types.is_datetime64_any_dtype(series):
        series = pd.to_datetime(series, errors="coerce", format="mixed")
    if getattr(series.dt, "tz", None) is not None:
        series = series.dt.tz_localize(None)
    if series.notna().sum() == 0:
        raise SpecInvalid(f"Column {name!r} holds no dates, so the data cannot be split into time windows. "
                          "Choose a date or timestamp column.")
    return series


def _number(shift: dict, key: str) -> float:
    value = shift.get(key)
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not np.isfinite(number):
        raise SpecInvalid(f"The {shift['kind']} shift needs a number for {key!r}; got {value!r}.")
    return number


def _fraction(shift: dict, key: str) -> float:
    number = _number(shift, key)
    if not 0 <= number <= 1:
        raise SpecInvalid(f"{key!r} must be between 0 and 1 (a share); got {number}.")
    return number


def _shift_mean(series: pd.Series, delta: float) -> pd.Series:
    if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
        raise SpecInvalid(f"Column {series.name!r} is not numeric, so its mean cannot move. "
                          "Use a share shift for categories.")
    return series + delta


def _shift_share(series: pd.Series, category, share: float, rng: np.random.Generator) -> pd.Series:
    if category is None:
        raise SpecInvalid("The share shift needs a 'category' whose share should change.")
    values = series.astype(object).to_numpy(copy=True)
    present = np.flatnonzero(series.notna().to_numpy())
    labels = np.array([str(v) for v in values[present]], dtype=object)
    hit = labels == str(category)
    value = values[present[hit][0]] if hit.any() else category
    target = int(round(share * len(present)))
    have = int(hit.sum())
    if target > have:
        chosen = rng.choice(present[~hit], target - have, replace=False)
        values[chosen] = value
    elif target < have:
        others = values[present[~hit]]
        if len(others) == 0:
            raise SpecInvalid(f"{category!r} is the only value in {series.name!r}, so its share cannot fall.")
        chosen = rng.choice(present[hit], have - target, replace=False)
        values[chosen] = others[rng.integers(0, len(others), len(chosen))]  # keeps the others' proportions
    return pd.Series(values, index=series.index, name=series.name).infer_objects()


def _flip_labels(series: pd.Series, fraction: float, rng: np.random.Generator) -> pd.Series:
    present = np.flatnonzero(series.notna().to_numpy())
    classes = pd.unique(series.iloc[present])
    if not 2 <= len(classes) <= MAX_CLASSES:
        raise SpecInvalid(f"Column {series.name!r} has {len(classes)} distinct values; flipping labels needs a "
                          f"class column with 2 to {MAX_CLASSES} classes. For a number, use a mean shift.")
    values = series.to_numpy(copy=True).astype(object)
    chosen = rng.choice(present, int(round(fraction * len(present))), replace=False)
    codes = pd.Index(classes).get_indexer(values[chosen])
    step = rng.integers(1, len(classes), len(chosen))          # any class but the current one
    values[chosen] = classes[(codes + step) % len(classes)]
    return pd.Series(values, index=series.index, name=series.name).astype(series.dtype)
