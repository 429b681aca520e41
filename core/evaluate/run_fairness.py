"""Where one run errs and whom it treats differently: error segments, fairness at a threshold, and the trade-off."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from core.evaluate.classification import is_positive
from core.evaluate.error_analysis import error_segments, segment_labels
from core.evaluate.fairness import fairness_report, fairness_tradeoff
from core.evaluate.report import (
    RATE_METRICS,
    SMALL_SEGMENT,
    RunData,
    decision_threshold,
)
from core.project.criteria import format_class

MEASURE_LABELS = {"demographic_parity_difference": "selection-rate gap",
                  "demographic_parity_ratio": "selection-rate ratio",
                  "equalized_odds_difference": "equalized-odds gap",
                  "equal_opportunity_difference": "recall gap",
                  "mae_difference": "error gap", "mae_ratio": "error ratio"}


def predicted_positive(data: RunData, threshold: float) -> np.ndarray:
    """Returns, per validation row, whether a two-outcome run flags it at `threshold` (score >= threshold)."""
    return data.predictions["score"].to_numpy(dtype=float) >= float(threshold)


def error_view(data: RunData, threshold: float | None = None, top: int = 15) -> pd.DataFrame:
    """Returns the worst segments of the validation rows (error rate, or MAE for regression), with intervals.

    Columns: column, segment, rows, error_rate | mae, ci_low, ci_high, overall, is_small, is_clearly_worse.
    Date columns are left out: one segment per day would be too small to read.
    """
    frame = pd.concat([data.features, data.sensitive.drop(columns=data.features.columns, errors="ignore")], axis=1)
    frame = frame[[c for c in frame.columns if not _is_date(frame[c])]]  # single days make no useful segments
    y, kwargs = data.predictions["y_true"], {"min_rows": SMALL_SEGMENT, "top": top}
    if data.task == "regression":
        table = error_segments(frame, y, data.predictions["y_pred"], metric="mae", **kwargs)
    elif data.task == "binary":
        correct = is_positive(y, data.positive_class) == predicted_positive(data, decision_threshold(data, threshold))
        table = error_segments(frame, None, correct, **kwargs)
    else:
        table = error_segments(frame, y, data.predictions["y_pred"], **kwargs)
    # Only a segment whose whole interval lies above the overall figure is worse beyond the noise of its size.
    table["is_clearly_worse"] = (table["ci_low"] > table["overall"]) & ~table["is_small"]
    return table


def fairness_view(data: RunData, threshold: float | None = None):
    """Returns the fairness report at a threshold for the project's sensitive columns, or None when none is declared."""
    if data.sensitive.shape[1] == 0:
        return None
    crit = data.project.criteria
    common = {"tolerance": crit.fairness_tolerance, "min_group": SMALL_SEGMENT}
    y = data.predictions["y_true"]
    if data.task == "binary":
        return fairness_report(y, data.predictions["score"].to_numpy(dtype=float), data.sensitive,
                               data.positive_class, threshold=decision_threshold(data, threshold), **common)
    task = "regression" if data.task == "regression" else "classification"
    return fairness_report(y, data.predictions["y_pred"], data.sensitive, task=task, **common)


def fairness_verdict(result, threshold: float | None = None) -> tuple[str, str]:
    """Returns ("pass" | "fail" | "unclear", one sentence) for a fairness report, judging intervals, not only points.

    "fail": some measure is beyond its limit even at the near end of its interval; "unclear": some point estimate is
    beyond its limit but the interval reaches back within it (more rows would tell); "pass": every measure within.
    """
    summary = result.summary
    where = f"At threshold {threshold:.2f}" if threshold is not None else "On the validation rows"
    failing = summary[summary["verdict"] == "fail"]
    over = summary[summary["passes"].eq(False)]
    tolerance = summary["limit"].iloc[0] if len(summary) else float("nan")
    if len(failing):
        names = ", ".join(sorted({f"{MEASURE_LABELS.get(m, m)} ({a})" for m, a in
                                  zip(failing["measure"], failing["attribute"], strict=True)})[:4])
        return "fail", f"{where} outside beyond doubt (the whole interval is past the tolerance) on: {names}."
    if len(over):
        return "unclear", (f"{where} not enough data: {len(over)} measure(s) are over their limit, but their "
                           "intervals reach back within it. Check again with more validation rows.")
    unsure = summary[summary["verdict"] == "unclear"]
    if len(unsure):
        return "unclear", (f"{where} every measure is within its limit at its point estimate, but {len(unsure)} "
                           "interval(s) reach past it: not enough data to call it within tolerance. Check again with "
                           "more validation rows.")
    return "pass", (f"{where} within tolerance: every interval lies inside its limit (fairness gap tolerance "
                    f"{tolerance:g}).")


def fairness_description(data: RunData, result, threshold: float | None = None) -> str:
    """Returns what the fairness figures mean for this run, in the project's words."""
    if data.task != "binary":
        return result.description
    positive = _display(data.positive_class)
    return (f"A row counts as flagged ({data.project.target} = {positive!r}) when its score is at least "
            f"{decision_threshold(data, threshold):.2f}. Selection rate: share of a group flagged; recall: share of "
            "the group's real cases flagged; FPR: share of the group's other rows flagged. A gap is the largest "
            "minus the smallest group value.")


def fairness_table(result) -> pd.DataFrame:
    """Returns the fairness measures for display: attribute, (outcome,) measure in words, value, interval, verdict."""
    table = result.summary.copy()
    table["measure"] = table["measure"].map(lambda m: MEASURE_LABELS.get(m, m))
    if table["outcome"].nunique(dropna=False) <= 1:
        table = table.drop(columns="outcome")
    else:
        table["outcome"] = table["outcome"].map(_display)
    return table.drop(columns=["passes"])


def group_table(result, attribute: str, outcome: Any = None) -> pd.DataFrame:
    """Returns the fairness report's group rows of one attribute (and, with several classes, one outcome)."""
    groups = result.groups[result.groups["attribute"] == attribute]
    if outcome is not None:
        groups = groups[groups["outcome"].astype(str) == str(outcome)]
    return groups.drop(columns=["attribute", "outcome"]).reset_index(drop=True).assign(attribute=attribute)


def tradeoff_view(data: RunData, attribute: str | None = None) -> pd.DataFrame | None:
    """Returns, per threshold, the primary metric and the parity gaps for one sensitive column (two outcomes only).

    The primary metric's column name is in `attrs["metric"]` (F1 when the project's metric ignores the threshold).
    """
    if data.task != "binary" or data.sensitive.shape[1] == 0:
        return None
    attribute = attribute if attribute in data.sensitive.columns else data.sensitive.columns[0]
    metric = data.project.criteria.primary_metric
    metric = metric if metric in RATE_METRICS else "f1"
    table = fairness_tradeoff(data.predictions["y_true"], data.predictions["score"].to_numpy(dtype=float),
                              segment_labels(data.sensitive[attribute]), data.positive_class, primary_metric=metric)
    table.attrs.update(metric=metric, attribute=attribute)
    return table


def _display(value: Any) -> str:
    return format_class(value.item() if hasattr(value, "item") else value)


def _is_date(column: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(column):
        return True
    present = column.dropna()
    return column.dtype == object and len(present) > 0 and isinstance(present.iloc[0], dt.date)
