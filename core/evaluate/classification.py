"""Classification views for one run's validation predictions: thresholds, costs, curves and confusion."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.errors import SchemaMismatch, SpecInvalid, TargetNotUsable, unknown
from core.stats.intervals import wilson_interval

MAX_THRESHOLDS = 1001
COST_KEYS = ("tp", "fp", "fn", "tn")
RATE_COLUMNS = ("precision", "recall", "f1", "fpr", "accuracy", "selection_rate")
_OPS = {">=": np.greater_equal, ">": np.greater, "<=": np.less_equal, "<": np.less}


@dataclass(frozen=True)
class ConfusionResult:
    """Counts per (actual, predicted) label pair, and the same rows divided by their totals."""

    labels: list
    counts: pd.DataFrame  # index: actual label, columns: predicted label
    rates: pd.DataFrame  # each row sums to 1 (0 when a label never occurs)

    def binary(self, positive_class: Any) -> dict[str, int]:
        """Returns tp, fp, fn, tn with `positive_class` as the positive label."""
        pos = _label_index(self.labels, positive_class)
        counts = self.counts.to_numpy()
        tp = int(counts[pos, pos])
        fn = int(counts[pos].sum() - tp)
        fp = int(counts[:, pos].sum() - tp)
        return {"tp": tp, "fp": fp, "fn": fn, "tn": int(counts.sum() - tp - fn - fp)}


@dataclass(frozen=True)
class CurveResult:
    """Points of a ROC or precision-recall curve, the area under it and the no-skill baseline."""

    points: pd.DataFrame
    area: float
    baseline: float


def as_array(values: Any, name: str = "values") -> np.ndarray:
    """Returns a one-dimensional numpy array from a list, Series or array."""
    arr = values.to_numpy() if isinstance(values, pd.Series | pd.Index) else np.asarray(values)
    if arr.ndim != 1:
        raise SchemaMismatch(f"Expected one value per row for {name}, got shape {arr.shape}. Pass a single column.")
    return arr


def as_scores(scores: Any, n_rows: int, name: str = "scores") -> np.ndarray:
    """Returns finite float scores of the expected length."""
    try:
        arr = as_array(scores, name).astype(float)
    except (TypeError, ValueError) as err:
        raise SchemaMismatch(f"The {name} are not all numbers. Score the rows with a model that gives numbers.") \
            from err
    if len(arr) != n_rows:
        raise SchemaMismatch(f"Got {len(arr)} {name} for {n_rows} rows. Score exactly the rows being evaluated.")
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).sum())
        raise SchemaMismatch(f"{bad} of the {name} are missing or infinite. Rescore those rows.")
    return arr


def is_positive(values: Any, positive_class: Any, strict: bool = True) -> np.ndarray:
    """Returns a boolean mask of the rows equal to `positive_class` (matching '1' to 1 when types differ).

    Raises:
        NotFound: `strict` and no row has that value.
        SchemaMismatch: `strict` and some rows have no value.
    """
    series = pd.Series(as_array(values, "labels"))
    if strict and series.isna().any():
        raise SchemaMismatch(
            f"{int(series.isna().sum())} rows have no actual outcome. Drop them before evaluating, or fill them in."
        )
    hit = (series == positive_class).to_numpy(dtype=bool)
    if not hit.any():
        # Classes saved as JSON come back as text, so "1" must still find the integer 1.
        hit = (series.astype(str) == str(positive_class)).to_numpy(dtype=bool)
    if strict and not hit.any():
        raise unknown("class", positive_class, series.astype(str).unique()[:50], where="the actual outcomes")
    return hit


def rates_from_counts(tp, fp, fn, tn) -> dict[str, np.ndarray]:
    """Returns precision, recall, F1, FPR, accuracy and selection rate from counts (0 where undefined, as sklearn)."""
    tp, fp, fn, tn = (np.asarray(x, dtype=float) for x in (tp, fp, fn, tn))
    n = tp + fp + fn + tn
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    return {
        "precision": precision,
        "recall": recall,
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "fpr": _ratio(fp, fp + tn),
        "accuracy": _ratio(tp + tn, n),
        "selection_rate": _ratio(tp + fp, n),
    }


def count_outcomes(actual: np.ndarray, scores: np.ndarray, thresholds: np.ndarray):
    """Returns tp, fp, fn, tn arrays for 'positive when score >= t' at every threshold, in one sort."""
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    positives_below = np.concatenate([[0], np.cumsum(actual[order])])
    below = np.searchsorted(sorted_scores, thresholds, side="left")  # rows predicted negative
    n, n_pos = len(scores), int(positives_below[-1])
    tp = n_pos - positives_below[below]
    fp = (n - below) - tp
    return tp, fp, n_pos - tp, (n - n_pos) - fp


def threshold_table(y_true, scores, positive_class, costs: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Returns one row per candidate threshold (at most 1,001) with counts, rates and expected value.

    A row's threshold t predicts the positive class when score >= t. With at most 1,000 distinct scores every
    distinct score is a row, so lookups are exact; beyond that, 899 scores at even ranks plus an even grid of 101
    values are kept. The last row sits just above the highest score (nothing predicted positive).

    Raises:
        NotFound: no actual outcome equals `positive_class`.
        SchemaMismatch: scores are missing, not numbers, or of the wrong length.
        SpecInvalid: `costs` has unknown keys or values that are not numbers.
    """
    actual = is_positive(y_true, positive_class)
    score = as_scores(scores, len(actual))
    unit = _costs(costs)
    distinct = np.unique(score)
    thresholds = _threshold_grid(distinct)
    tp, fp, fn, tn = count_outcomes(actual, score, thresholds)
    table = pd.DataFrame({"threshold": thresholds, "tp": tp, "fp": fp, "fn": fn, "tn": tn})
    for name, column in rates_from_counts(tp, fp, fn, tn).items():
        table[name] = column
    if unit is not None:
        table["value"] = tp * unit["tp"] + fp * unit["fp"] + fn * unit["fn"] + tn * unit["tn"]
        table["value_per_row"] = table["value"] / len(actual)
    table.attrs.update(rows=len(actual), positives=int(actual.sum()), is_exact=len(distinct) < MAX_THRESHOLDS)
    return table


def at_threshold(table: pd.DataFrame, threshold: float) -> dict[str, Any]:
    """Returns the table row in force at `threshold` (the lowest row threshold >= it), as plain Python values."""
    grid = table["threshold"].to_numpy()
    index = min(int(np.searchsorted(grid, threshold, side="left")), len(grid) - 1)
    row = _row_dict(table, index)
    row["grid_threshold"], row["threshold"] = row["threshold"], float(threshold)
    return row


def best_value_threshold(table: pd.DataFrame) -> dict[str, Any] | None:
    """Returns the row with the highest expected value (None without costs); ties go to the higher threshold."""
    if "value" not in table.columns:
        return None
    values = table["value"].to_numpy()
    # Among equally valuable thresholds, the higher one acts on fewer rows for the same result.
    index = len(values) - 1 - int(np.argmax(values[::-1]))
    return _row_dict(table, index)


def threshold_meeting(table: pd.DataFrame, metric: str, op: str, value: float, prefer: str | None = None):
    """Returns the row meeting `metric op value` with the best `prefer` metric, or None when no threshold meets it.

    `prefer` defaults to recall (precision when the criterion is on recall); ties go to the higher threshold.

    Raises:
        NotFound: unknown metric.
        SpecInvalid: unknown comparison.
    """
    if metric not in table.columns:
        raise unknown("metric", metric, [c for c in table.columns if c != "threshold"])
    if op not in _OPS:
        raise SpecInvalid(f"Unknown comparison {op!r}. Use one of {', '.join(_OPS)}.")
    prefer = prefer or ("precision" if metric == "recall" else "recall")
    if prefer not in table.columns:
        raise unknown("metric", prefer, [c for c in table.columns if c != "threshold"])
    passing = np.flatnonzero(_OPS[op](table[metric].to_numpy(), float(value)))
    if len(passing) == 0:
        return None
    goal = table[prefer].to_numpy()[passing]
    best = passing[goal == goal.max()]
    return _row_dict(table, int(best[-1]))


def expected_value(confusion, costs: Mapping, positive_class: Any = None, per_row: bool = False) -> float:
    """Returns the total value of a confusion matrix: every count times the value of that decision.

    `confusion` is a mapping with tp/fp/fn/tn, a 2x2 array laid out as sklearn's [[tn, fp], [fn, tp]], or a
    `ConfusionResult` (with `positive_class` for tp/fp/fn/tn costs, or costs as {actual: {predicted: value}}).

    Raises:
        SpecInvalid: costs or counts that do not fit together.
    """
    if isinstance(confusion, ConfusionResult):
        if positive_class is None:
            return _matrix_value(confusion, costs, per_row)
        confusion = confusion.binary(positive_class)
    if not isinstance(confusion, Mapping):
        matrix = np.asarray(confusion, dtype=float)
        if matrix.shape != (2, 2):
            raise SpecInvalid(f"A binary confusion matrix is 2x2, got {matrix.shape}. Pass tp, fp, fn and tn.")
        confusion = {"tn": matrix[0, 0], "fp": matrix[0, 1], "fn": matrix[1, 0], "tp": matrix[1, 1]}
    unit = _costs(costs)
    total = sum(float(confusion[key]) * unit[key] for key in COST_KEYS)
    return total / sum(float(confusion[key]) for key in COST_KEYS) if per_row else total


def confusion(y_true, y_pred, labels=None) -> ConfusionResult:
    """Returns the confusion matrix (rows actual, columns predicted) with counts and row rates.

    Rows whose actual or predicted label is not in `labels` are left out, as in sklearn.
    """
    actual, predicted = as_array(y_true, "actual outcomes"), as_array(y_pred, "predictions")
    if len(actual) != len(predicted):
        raise SchemaMismatch(f"Got {len(predicted)} predictions for {len(actual)} rows. Predict every row once.")
    if labels is None:
        labels = _sorted_labels(pd.unique(np.concatenate([actual, predicted])))
    labels = list(labels)
    k = len(labels)
    codes_true = pd.Categorical(actual, categories=labels).codes
    codes_pred = pd.Categorical(predicted, categories=labels).codes
    keep = (codes_true >= 0) & (codes_pred >= 0)
    counts = np.bincount(codes_true[keep] * k + codes_pred[keep], minlength=k * k).reshape(k, k)
    totals = counts.sum(axis=1, keepdims=True)
    rates = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    index = pd.Index(labels, name="actual")
    columns = pd.Index(labels, name="predicted")
    return ConfusionResult(labels, pd.DataFrame(counts, index, columns), pd.DataFrame(rates, index, columns))


def per_class_report(y_true, y_pred, labels=None) -> pd.DataFrame:
    """Returns support, predicted count, precision, recall and F1 for every class (0 where undefined)."""
    counts = confusion(y_true, y_pred, labels).counts
    matrix = counts.to_numpy()
    tp = np.diag(matrix)
    support, predicted = matrix.sum(axis=1), matrix.sum(axis=0)
    return pd.DataFrame({
        "class": list(counts.index),
        "support": support,
        "predicted": predicted,
        "precision": _ratio(tp, predicted),
        "recall": _ratio(tp, support),
        "f1": _ratio(2 * tp, support + predicted),
    })


def multiclass_summary(y_true, y_pred) -> dict[str, float]:
    """Returns accuracy, balanced accuracy, macro/weighted F1, chance accuracy, Cohen's kappa and the majority baseline.

    Chance accuracy is the accuracy expected if predictions were shuffled: the sum over classes of
    (share of actual rows) x (share of predicted rows); kappa measures how far the model is above it.
    """
    report = per_class_report(y_true, y_pred)
    n = report["support"].sum()
    accuracy = float(np.sum(np.diag(confusion(y_true, y_pred).counts.to_numpy())) / n)
    chance = float(np.sum(report["support"] / n * report["predicted"] / n))
    present = report["support"] > 0
    return {
        "rows": int(n),
        "accuracy": accuracy,
        "balanced_accuracy": float(report.loc[present, "recall"].mean()),
        "macro_f1": float(report["f1"].mean()),
        "weighted_f1": float(np.sum(report["f1"] * report["support"]) / n),
        "chance_accuracy": chance,
        "kappa": float((accuracy - chance) / (1 - chance)) if chance < 1 else 0.0,
        "majority_accuracy": float(report["support"].max() / n),
    }


def roc_points(y_true, scores, positive_class, max_points: int = 1000) -> CurveResult:
    """Returns ROC curve points (threshold, fpr, tpr), the ROC AUC and the diagonal's AUC of 0.5.

    Raises:
        TargetNotUsable: the actual outcomes hold only one class.
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    actual, score = _binary_inputs(y_true, scores, positive_class, "a ROC curve")
    fpr, tpr, thresholds = roc_curve(actual, score)
    points = pd.DataFrame({"threshold": _finite_thresholds(thresholds, score), "fpr": fpr, "tpr": tpr})
    return CurveResult(_thin(points, max_points), float(roc_auc_score(actual, score)), 0.5)


def pr_points(y_true, scores, positive_class, max_points: int = 1000) -> CurveResult:
    """Returns precision-recall points (threshold, recall, precision), average precision and the positive rate.

    Raises:
        TargetNotUsable: the actual outcomes hold only one class.
    """
    from sklearn.metrics import average_precision_score, precision_recall_curve

    actual, score = _binary_inputs(y_true, scores, positive_class, "a precision-recall curve")
    precision, recall, thresholds = precision_recall_curve(actual, score)
    # The final (recall 0, precision 1) point has no threshold: it is "nothing predicted positive".
    thresholds = np.append(thresholds, np.nextafter(score.max(), np.inf))
    points = pd.DataFrame({"threshold": thresholds, "recall": recall, "precision": precision})
    area = float(average_precision_score(actual, score))
    return CurveResult(_thin(points, max_points), area, float(actual.mean()))


def calibration_points(y_true, scores, positive_class, n_bins: int = 10, strategy: str = "uniform") -> pd.DataFrame:
    """Returns per score bin the mean predicted probability, the observed rate with a Wilson 95% interval, and rows.

    Bins follow sklearn's calibration_curve: "uniform" splits 0-1 evenly, "quantile" gives bins of equal rows;
    empty bins are left out.

    Raises:
        SpecInvalid: scores outside 0-1 (not probabilities) or an unknown strategy.
    """
    actual, score = _binary_inputs(y_true, scores, positive_class, "a calibration curve", need_both=False)
    if score.min() < 0 or score.max() > 1:
        raise SpecInvalid(
            f"Scores run from {score.min():.3g} to {score.max():.3g}, so they are not probabilities and "
            "calibration cannot be checked. Use a model that predicts probabilities."
        )
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    elif strategy == "quantile":
        edges = np.quantile(score, np.linspace(0, 1, n_bins + 1))
    else:
        raise SpecInvalid(f"Unknown binning {strategy!r}. Use 'uniform' or 'quantile'.")
    bins = np.searchsorted(edges[1:-1], score, side="left")
    rows = np.bincount(bins, minlength=n_bins)
    hits = np.bincount(bins, weights=actual, minlength=n_bins)
    total = np.bincount(bins, weights=score, minlength=n_bins)
    used = rows > 0
    low, high = wilson_interval(hits[used], rows[used])
    return pd.DataFrame({
        "bin_low": edges[:-1][used], "bin_high": edges[1:][used], "rows": rows[used],
        "mean_predicted": total[used] / rows[used], "observed_rate": hits[used] / rows[used],
        "ci_low": low, "ci_high": high,
    })


def lift_gain(y_true, scores, positive_class, n_bins: int = 10) -> pd.DataFrame:
    """Returns the lift and cumulative gain per score bin, highest scores first (bins differ by at most one row).

    Raises:
        TargetNotUsable: no actual positives, so nothing can be gained.
    """
    actual, score = _binary_inputs(y_true, scores, positive_class, "a lift chart")
    order = np.argsort(-score, kind="mergesort")
    n, n_pos = len(score), actual.sum()
    bins = (np.arange(n) * n_bins) // n
    rows = np.bincount(bins, minlength=n_bins)
    hits = np.bincount(bins, weights=actual[order], minlength=n_bins)
    ordered = score[order]
    base_rate = n_pos / n
    table = pd.DataFrame({
        "bin": np.arange(1, n_bins + 1), "rows": rows, "positives": hits.astype(int),
        "max_score": [ordered[bins == b].max() if rows[b] else np.nan for b in range(n_bins)],
        "min_score": [ordered[bins == b].min() if rows[b] else np.nan for b in range(n_bins)],
    })
    table["rate"] = _ratio(hits, rows)
    table["lift"] = table["rate"] / base_rate
    table["cumulative_share_of_rows"] = np.cumsum(rows) / n
    table["cumulative_gain"] = np.cumsum(hits) / n_pos
    table["cumulative_lift"] = table["cumulative_gain"] / table["cumulative_share_of_rows"]
    return table[table["rows"] > 0].reset_index(drop=True)


def _binary_inputs(y_true, scores, positive_class, what: str, need_both: bool = True):
    actual = is_positive(y_true, positive_class)
    score = as_scores(scores, len(actual))
    if need_both and actual.all():
        raise TargetNotUsable(
            f"Every validation row is {positive_class!r}, so {what} cannot be drawn. "
            "Use a split whose validation rows include other outcomes."
        )
    return actual, score


def _threshold_grid(distinct: np.ndarray) -> np.ndarray:
    top = np.nextafter(distinct[-1], np.inf)
    if len(distinct) + 1 <= MAX_THRESHOLDS:
        return np.append(distinct, top)
    low, high = distinct[0], distinct[-1]
    # An even grid keeps slider steps such as 0.50 exact; the rank-spaced scores follow where the data are dense.
    even = np.linspace(0.0, 1.0, 101) if low >= 0 and high <= 1 else np.linspace(low, high, 101)
    picks = distinct[np.linspace(0, len(distinct) - 1, MAX_THRESHOLDS - 1 - len(even)).round().astype(int)]
    grid = np.unique(np.concatenate([picks, even]))
    return np.append(grid[grid < top], top)


def _costs(costs: Mapping[str, float] | None) -> dict[str, float] | None:
    if costs is None:
        return None
    extra = sorted(set(costs) - set(COST_KEYS))
    if extra:
        raise SpecInvalid(f"Unknown cost keys {extra}. Give values for tp, fp, fn and tn (missing ones count as 0).")
    try:
        return {key: float(costs.get(key, 0.0) or 0.0) for key in COST_KEYS}
    except (TypeError, ValueError) as err:
        raise SpecInvalid(f"Costs must be numbers, got {dict(costs)}. Enter a number for each decision.") from err


def _matrix_value(result: ConfusionResult, costs: Mapping, per_row: bool) -> float:
    if set(costs) <= set(COST_KEYS):
        raise SpecInvalid("tp/fp/fn/tn costs need a positive class. Pass positive_class, or costs per actual label.")
    total = 0.0
    for actual, row in costs.items():
        for predicted, value in row.items():
            if actual in result.counts.index and predicted in result.counts.columns:
                total += float(result.counts.loc[actual, predicted]) * float(value)
    return total / float(result.counts.to_numpy().sum()) if per_row else total


def _label_index(labels: list, wanted: Any) -> int:
    for matches in (lambda a: a == wanted, lambda a: str(a) == str(wanted)):
        for i, label in enumerate(labels):
            if matches(label):
                return i
    raise unknown("class", wanted, labels)


def _sorted_labels(values) -> list:
    values = [v for v in values if not pd.isna(v)]
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=str)


def _ratio(numerator, denominator) -> np.ndarray:
    numerator = np.asarray(numerator, dtype=float)
    denominator = np.asarray(denominator, dtype=float)
    return np.divide(numerator, denominator, out=np.zeros(np.broadcast(numerator, denominator).shape),
                     where=denominator > 0)


def _finite_thresholds(thresholds: np.ndarray, score: np.ndarray) -> np.ndarray:
    # sklearn starts ROC thresholds at +inf; a finite value just above the top score means the same and fits JSON.
    return np.where(np.isinf(thresholds), np.nextafter(score.max(), np.inf), thresholds)


def _thin(points: pd.DataFrame, max_points: int) -> pd.DataFrame:
    if len(points) <= max_points:
        return points.reset_index(drop=True)
    keep = np.unique(np.linspace(0, len(points) - 1, max_points).round().astype(int))
    return points.iloc[keep].reset_index(drop=True)


def _row_dict(table: pd.DataFrame, index: int) -> dict[str, Any]:
    values = {column: table[column].iat[index] for column in table.columns}  # per column, so counts stay integers
    return {key: (value.item() if hasattr(value, "item") else value) for key, value in values.items()}
