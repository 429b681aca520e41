"""Where a model errs: regression residual views, the worst segments, and intervals that keep small ones honest."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import SchemaMismatch, SpecInvalid, unknown
from core.evaluate.classification import as_array, as_scores
from core.stats.intervals import bootstrap_interval, wilson_interval

SEGMENT_METRICS = {"error_rate": "share of rows predicted wrongly", "mae": "mean absolute error",
                   "rmse": "root mean squared error"}
MISSING_LABEL = "(missing)"
OTHER_LABEL = "(other values)"


@dataclass(frozen=True)
class RegressionViews:
    """Everything the regression charts need, computed once from all rows."""

    points: pd.DataFrame  # actual, predicted, residual: a random sample of at most `max_points` rows
    histogram: pd.DataFrame  # bin_low, bin_high, rows of residuals (actual - predicted)
    deciles: pd.DataFrame  # error per tenth of the rows ordered by prediction
    summary: dict


def segment_labels(values: pd.Series, n_bins: int = 4, max_values: int = 20) -> pd.Series:
    """Returns a text segment per row: the value itself for categories, a quantile bin ("12 to <24") for numbers.

    Numbers with at most 10 distinct values count as categories; rare categories beyond `max_values` are pooled.
    """
    series = pd.Series(values).reset_index(drop=True)
    missing = series.isna()
    is_number = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    if is_number and series.nunique() > max(10, n_bins):
        x = series.to_numpy(dtype=float)
        edges = np.unique(np.quantile(x[~missing], np.linspace(0, 1, n_bins + 1)))
        bins = np.clip(np.searchsorted(edges[1:-1], x, side="right"), 0, len(edges) - 2)
        names = [f"{_fmt(edges[i])} to <{_fmt(edges[i + 1])}" for i in range(len(edges) - 2)]
        names.append(f"{_fmt(edges[-2])} to {_fmt(edges[-1])}")
        labels = pd.Series(np.array(names, dtype=object)[bins])
    else:
        labels = series.astype(str)
        common = labels[~missing].value_counts().index[:max_values]
        labels = labels.where(labels.isin(common), OTHER_LABEL)
    return labels.mask(missing, MISSING_LABEL)


def regression_views(y_true, y_pred, max_points: int = 5000, n_bins: int = 30, seed: int = 0) -> RegressionViews:
    """Returns predicted-vs-actual points, the residual histogram, error by decile of prediction and a summary.

    Raises:
        SchemaMismatch: values missing, not numbers, or of different lengths.
    """
    actual = as_scores(y_true, len(as_array(y_true)), "actual values")
    predicted = as_scores(y_pred, len(actual), "predictions")
    residual = actual - predicted
    n = len(actual)
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(n, size=min(n, max_points), replace=False))
    points = pd.DataFrame({"actual": actual[sample], "predicted": predicted[sample], "residual": residual[sample]})
    counts, edges = np.histogram(residual, bins=n_bins)
    histogram = pd.DataFrame({"bin_low": edges[:-1], "bin_high": edges[1:], "rows": counts})
    order = np.argsort(predicted, kind="mergesort")
    decile = np.empty(n, dtype=int)
    decile[order] = (np.arange(n) * 10) // n
    frame = pd.DataFrame({"decile": decile + 1, "actual": actual, "predicted": predicted,
                          "abs_error": np.abs(residual), "sq_error": residual**2, "residual": residual})
    deciles = frame.groupby("decile").agg(
        rows=("actual", "size"), prediction_low=("predicted", "min"), prediction_high=("predicted", "max"),
        mean_actual=("actual", "mean"), mean_predicted=("predicted", "mean"), mae=("abs_error", "mean"),
        mse=("sq_error", "mean"), bias=("residual", "mean"),
    ).reset_index()
    deciles["rmse"] = np.sqrt(deciles.pop("mse"))
    total = np.sum((actual - actual.mean()) ** 2)
    summary = {
        "rows": n, "mae": float(np.abs(residual).mean()), "rmse": float(np.sqrt(np.mean(residual**2))),
        "bias": float(residual.mean()), "r2": float(1 - np.sum(residual**2) / total) if total > 0 else float("nan"),
    }
    return RegressionViews(points, histogram, deciles, summary)


def error_segments(frame: pd.DataFrame, y_true, y_pred_or_correct, metric: str = "error_rate",
                   columns: Sequence[str] | None = None, min_rows: int = 30, n_bins: int = 4, max_values: int = 20,
                   n_boot: int = 200, seed: int = 0, confidence: float = 0.95, top: int | None = None) -> pd.DataFrame:
    """Returns the segments (column values, quantile bins of numbers) ordered worst first, with rows and intervals.

    `metric` is "error_rate" (pass y_true=None and a boolean "was correct" array, or labels and predictions; Wilson
    interval), "mae" or "rmse" (bootstrap interval). Segments under `min_rows` rows are flagged and listed after the
    others, so a handful of rows is not over-read.

    Raises:
        SpecInvalid: unknown metric.
        NotFound: unknown column.
        SchemaMismatch: inputs of different lengths.
    """
    if metric not in SEGMENT_METRICS:
        raise SpecInvalid(f"Unknown error measure {metric!r}. Use one of {', '.join(SEGMENT_METRICS)}.")
    loss = _row_losses(y_true, y_pred_or_correct, metric)
    if len(frame) != len(loss):
        raise SchemaMismatch(f"The table has {len(frame)} rows but {len(loss)} predictions. Pass the scored rows.")
    columns = list(frame.columns if columns is None else columns)
    for column in columns:
        if column not in frame.columns:
            raise unknown("column", column, frame.columns)
    overall = _aggregate(loss, metric)
    rows = []
    for column in columns:
        labels = segment_labels(frame[column], n_bins=n_bins, max_values=max_values)
        for label, index in labels.groupby(labels, sort=False).indices.items():
            part = loss[index]
            if metric == "error_rate":
                low, high = wilson_interval(part.sum(), len(part), confidence)
            else:
                low, high = bootstrap_interval(part, "rms" if metric == "rmse" else "mean", n_boot, seed, confidence)
            rows.append({"column": column, "segment": label, "rows": len(part), metric: _aggregate(part, metric),
                         "ci_low": float(low), "ci_high": float(high)})
    table = pd.DataFrame(rows, columns=["column", "segment", "rows", metric, "ci_low", "ci_high"])
    table["overall"] = overall
    table["is_small"] = table["rows"] < min_rows
    table = table.sort_values(["is_small", metric, "rows"], ascending=[True, False, False], kind="mergesort")
    table = table.reset_index(drop=True)
    return table.head(top) if top else table


def _row_losses(y_true, y_pred_or_correct, metric: str) -> np.ndarray:
    if metric == "error_rate":
        if y_true is None:
            return ~as_array(y_pred_or_correct, "correct flags").astype(bool)
        actual, predicted = as_array(y_true, "actual outcomes"), as_array(y_pred_or_correct, "predictions")
        if len(actual) != len(predicted):
            raise SchemaMismatch(f"Got {len(predicted)} predictions for {len(actual)} rows. Predict every row once.")
        return (pd.Series(actual) != pd.Series(predicted)).to_numpy()
    actual = as_scores(y_true, len(as_array(y_true)), "actual values")
    error = actual - as_scores(y_pred_or_correct, len(actual), "predictions")
    return error**2 if metric == "rmse" else np.abs(error)


def _aggregate(loss: np.ndarray, metric: str) -> float:
    if len(loss) == 0:
        return float("nan")
    return float(np.sqrt(loss.mean())) if metric == "rmse" else float(loss.mean())


def _fmt(value: float) -> str:
    return f"{value:.4g}"
