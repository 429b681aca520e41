"""Cross-validation folds that follow the split, so the CV score leaks no more than the validation score does.

- `CvPlan`: what CV needs to know of how the split was cut (strategy, group or time column, gap, the split's own
  backtest folds as dataset row ids). `plan_for_split(ws, split) -> CvPlan` reads it from a saved split.
- `make_folds(train, y, task, cv, seed, plan, class_counts) -> (folds, CvScheme)`: index pairs into `train`, and
  which scheme was used (shown on the leaderboard, saved on every run and in its receipt):
    random / stratified  -> KFold (regression) / StratifiedKFold, shuffled with the seed
    group                -> StratifiedGroupKFold (classification) / GroupKFold on the split's group column
    time                 -> the split's backtest folds restricted to the train rows (expanding or rolling, with
                            the gap), or else folds by period in time order (scikit-learn's TimeSeriesSplit over
                            the distinct times), leaving out the gap before each fold.
Bad input (one group, too few periods, too few rows of a class) raises SpecInvalid / TargetNotUsable before any
model is trained.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.errors import SpecInvalid, TargetNotUsable
from core.project.criteria import format_class

MIN_FOLD_ROWS = 2  # a backtest fold restricted to the train rows keeps at least this many rows on each side


@dataclass(frozen=True)
class CvPlan:
    """How the split was cut, as far as cross-validation needs it. Choices only; make_folds checks them."""

    strategy: str = "random"  # "random" | "stratified" | "group" | "time"
    group_column: str | None = None
    time_column: str | None = None
    gap: float = 0.0  # days (date column) or units (number column) left out before each validation period
    mode: str = "expanding"  # backtest window: "expanding" | "rolling"
    backtest: tuple = ()  # ((train row ids, validation row ids), ...): the split's own backtest folds


@dataclass(frozen=True)
class CvScheme:
    """The cross-validation actually used: a stable key, the fold count, the column it respected, one sentence."""

    kind: str  # "kfold" | "stratified_kfold" | "group_kfold" | "stratified_group_kfold" | "backtest" | "time_series" | "none"
    folds: int
    column: str | None
    description: str

    def to_dict(self) -> dict:
        return {"kind": self.kind, "folds": self.folds, "column": self.column, "description": self.description}


NO_CV = CvScheme("none", 0, None, "No cross-validation: models are compared on validation only.")


def plan_for_split(ws, split) -> CvPlan:
    """Reads what CV needs from a saved split (its spec, and its backtest folds' rows). Raises: NotFound."""
    from core.split.splitting import backtest_frames

    spec = split.spec
    backtest = []
    if spec.strategy == "time":
        for f in split.folds:
            rows = backtest_frames(ws, split, int(f["fold"]), columns=[], with_row_id=True)
            backtest.append((rows["train"]["_row"].to_numpy(), rows["validation"]["_row"].to_numpy()))
    return CvPlan(spec.strategy, spec.group_column, spec.time_column, float(spec.gap or 0.0), spec.backtest_mode,
                  tuple(backtest))


def make_folds(train: pd.DataFrame, y: np.ndarray, task: str, cv: int, seed: int, plan: CvPlan | None,
               class_counts: dict[Any, int]) -> tuple[list[tuple[np.ndarray, np.ndarray]], CvScheme]:
    """Returns the CV folds (positions in `train`) and the scheme used. Raises: SpecInvalid, TargetNotUsable."""
    if not cv:
        return [], NO_CV
    plan = plan or CvPlan()
    if plan.strategy == "group" and plan.group_column:
        return _group_folds(train, y, task, cv, seed, plan.group_column)
    if plan.strategy == "time" and plan.time_column:
        return _time_folds(train, cv, plan)
    return _shuffled_folds(y, task, cv, seed, class_counts)


def _shuffled_folds(y, task, cv, seed, counts):
    from sklearn.model_selection import KFold, StratifiedKFold

    if task == "regression":
        folds = list(KFold(cv, shuffle=True, random_state=seed).split(np.zeros(len(y))))
        return folds, CvScheme("kfold", cv, None, f"{cv}-fold cross-validation, rows shuffled with the seed.")
    _check_rarest(counts, cv)
    folds = list(StratifiedKFold(cv, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))
    return folds, CvScheme("stratified_kfold", cv, None,
                           f"{cv}-fold stratified cross-validation (each fold keeps the outcome shares), rows "
                           "shuffled with the seed.")


def _check_rarest(counts, cv):
    rarest = min(counts.values())
    if rarest < cv:
        small = min(counts, key=counts.get)
        raise TargetNotUsable(f"Class {format_class(small)!r} has only {rarest} training row(s), fewer than "
                              f"the {cv} folds, so some folds would not contain it. Lower the folds to "
                              f"{max(rarest, 2) if rarest >= 2 else 'none (0)'}, or add rows of that class.")


def _group_folds(train, y, task, cv, seed, column):
    from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

    if column not in train.columns:
        raise SpecInvalid(f"The training rows have no group column {column!r}, so cross-validation cannot keep "
                          "its groups apart. Create the split again.")
    groups = train[column].astype(str).where(train[column].notna(), "(missing)").to_numpy()
    n_groups = len(pd.unique(groups))
    if n_groups < 2:
        raise SpecInvalid(f"Every training row is in one group of {column!r}, so group-aware cross-validation "
                          "cannot keep groups apart. Split by a column with more groups, or use a stratified split.")
    if n_groups < cv:
        raise SpecInvalid(f"The training rows hold only {n_groups} groups of {column!r}, fewer than the {cv} "
                          f"folds. Lower the folds to {n_groups}, or split by a column with more groups.")
    if task == "regression":
        splitter, kind, what = GroupKFold(cv, shuffle=True, random_state=seed), "group_kfold", "group"
    else:
        splitter, kind, what = StratifiedGroupKFold(cv, shuffle=True, random_state=seed), \
            "stratified_group_kfold", "stratified group"
    folds = [(a, b) for a, b in splitter.split(np.zeros(len(y)), y if task != "regression" else None, groups)]
    return folds, CvScheme(kind, cv, column, f"{cv}-fold {what} cross-validation on {column!r}: all rows of one "
                                             f"{column!r} stay in one fold ({n_groups:,} groups).")


def _times(train: pd.DataFrame, column: str) -> tuple[np.ndarray, bool]:
    if column not in train.columns:
        raise SpecInvalid(f"The training rows have no time column {column!r}, so cross-validation cannot follow "
                          "time. Create the split again.")
    col = train[column]
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        return pd.to_numeric(col, errors="coerce").to_numpy(dtype=float), False
    when = pd.to_datetime(col, errors="coerce", utc=True, format="mixed")
    return when.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]"), True


def _time_folds(train, cv, plan: CvPlan):
    if plan.backtest and "_row" in train.columns:
        folds = _backtest_folds(train, plan)
        if len(folds) >= 2:
            gap = f", gap {plan.gap:g}" if plan.gap else ""
            return folds, CvScheme("backtest", len(folds), plan.time_column,
                                   f"The split's {len(folds)} backtest folds by {plan.time_column!r} ({plan.mode} "
                                   f"window{gap}), on the train rows: each fold trains on the past only.")
    t, is_date = _times(train, plan.time_column)
    known = ~pd.isna(t)
    distinct = np.unique(t[known])
    if len(distinct) < cv + 1:
        raise SpecInvalid(f"Column {plan.time_column!r} has only {len(distinct)} different time(s) in the training "
                          f"rows; time-ordered cross-validation with {cv} folds needs at least {cv + 1}. Lower the "
                          f"folds to {max(len(distinct) - 1, 2) if len(distinct) >= 3 else 'none (0)'}, or use a "
                          "finer time column.")
    from sklearn.model_selection import TimeSeriesSplit

    gap = np.timedelta64(int(round(plan.gap * 86400)), "s") if is_date else plan.gap
    folds = []
    for i, (_, val_times) in enumerate(TimeSeriesSplit(cv).split(distinct), start=1):
        start, end = distinct[val_times[0]], distinct[val_times[-1]]
        val = np.flatnonzero(known & (t >= start) & (t <= end))
        fit = np.flatnonzero(known & (t < (start - gap if plan.gap else start)))
        if len(fit) < MIN_FOLD_ROWS:
            raise SpecInvalid(f"Time-ordered fold {i} of {cv} would train on {len(fit)} row(s) before "
                              f"{pd.Timestamp(start).date() if is_date else start} (gap {plan.gap:g} included). "
                              "Lower the folds or the gap.")
        folds.append((fit, val))
    gap_text = f", leaving out {plan.gap:g} {'day(s)' if is_date else 'unit(s)'} before each" if plan.gap else ""
    return folds, CvScheme("time_series", cv, plan.time_column,
                           f"{cv} time-ordered folds by {plan.time_column!r} (expanding window{gap_text}): each fold "
                           "trains on earlier periods and is scored on the next one.")


def _backtest_folds(train, plan: CvPlan):
    position = pd.Series(np.arange(len(train)), index=train["_row"].to_numpy())
    out = []
    for fit_rows, val_rows in plan.backtest:
        fit = np.sort(position.reindex(fit_rows).dropna().to_numpy(dtype=np.int64))
        val = np.sort(position.reindex(val_rows).dropna().to_numpy(dtype=np.int64))
        if len(fit) >= MIN_FOLD_ROWS and len(val) >= MIN_FOLD_ROWS:
            out.append((fit, val))
    return out
