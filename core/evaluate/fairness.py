"""Group fairness: per-group rates and Fairlearn's parity measures, with intervals whose coverage is verified.

Definitions are Fairlearn's (`fairlearn.metrics`: MetricFrame, demographic_parity_difference,
equalized_odds_difference); the vectorised copies below, needed for the threshold sweep, are held to them by
tests/unit/test_fairness.py. Intervals on between-group gaps come from simultaneous per-group intervals: Wilson
intervals (statsmodels `proportion_confint`) at level 1 - alpha/m for the m group rates a measure uses (Bonferroni),
so all rates lie in their intervals together with probability >= 1 - alpha, and then the gap max - min lies within
[max(low) - min(high), max(high) - min(low)]. A bootstrap of max - min is biased upward (with equal rates and 3+ groups
its interval never holds the true gap of 0); this one is not (coverage simulated in tests/unit/test_fairness.py and
bench/bench_fairness.py). Regression (MAE gaps) keeps a within-group bootstrap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from core.errors import SchemaMismatch, SpecInvalid, unknown
from core.evaluate.classification import (
    as_array,
    as_scores,
    count_outcomes,
    is_positive,
    rates_from_counts,
)
from core.evaluate.error_analysis import MISSING_LABEL, segment_labels

# measure -> (higher is better?, what it is); differences compare against the tolerance, ratios against a floor.
MEASURES = {
    "demographic_parity_difference": (False, "largest minus smallest selection rate"),
    "demographic_parity_ratio": (True, "smallest selection rate divided by the largest"),
    "equalized_odds_difference": (False, "larger of the TPR gap and the FPR gap"),
    "equal_opportunity_difference": (False, "largest minus smallest true positive rate"),
    "mae_difference": (False, "largest minus smallest mean absolute error"),
    "mae_ratio": (True, "smallest mean absolute error divided by the largest"),
}
_INTERSECTION = " × "
# What a verdict means, in the words every page and the gate use.
FINDINGS = {"pass": "within tolerance", "fail": "outside beyond doubt", "unclear": "not enough data"}


@dataclass(frozen=True)
class Tolerance:
    """The named limit one measure is judged against."""

    name: str
    value: float
    higher_is_better: bool = False


def tolerance_for(measure: str, gap_tolerance: float, ratio_floor: float = 0.8,
                  overall_mae: float | None = None) -> Tolerance:
    """Returns the one named tolerance of a measure: the project's gap tolerance for rate gaps, the four-fifths
    floor for ratios, the gap tolerance times the overall MAE for MAE gaps."""
    if measure.endswith("_ratio"):
        return Tolerance("four-fifths floor", float(ratio_floor), True)
    if measure == "mae_difference":
        return Tolerance(f"{gap_tolerance:g} x overall MAE", float(gap_tolerance * (overall_mae or 0.0)))
    return Tolerance("fairness gap tolerance", float(gap_tolerance))


@dataclass(frozen=True)
class FairnessResult:
    """Per-group rates, parity measures with intervals and verdicts, and warnings about groups too small to judge."""

    mode: str  # "binary", "one-vs-rest" or "regression"
    description: str
    groups: pd.DataFrame
    summary: pd.DataFrame
    warnings: list[str] = field(default_factory=list)

    @property
    def passes(self) -> bool:
        """Whether every measure meets its limit at the point estimate."""
        return bool(self.summary["passes"].dropna().astype(bool).all())


def group_metrics(y_true, y_pred, groups, positive_class: Any = None) -> pd.DataFrame:
    """Returns per group: rows, selection rate, accuracy, precision, recall (TPR), FPR; or MAE/RMSE for regression.

    With `positive_class` the task is classification and y_pred holds predicted labels; without it, regression.
    """
    labels = _group_labels(groups)
    codes, names = pd.factorize(labels, sort=True)
    if positive_class is None:
        actual = as_scores(y_true, len(codes), "actual values")
        predicted = as_scores(y_pred, len(codes), "predictions")
        table = _regression_groups(actual - predicted, codes, len(names))
    else:
        actual = is_positive(y_true, positive_class)
        predicted = is_positive(_same_length(y_pred, len(actual)), positive_class, strict=False)
        table = _rate_table(_cells(actual, predicted, codes, len(names)))
    table.insert(0, "group", list(names))
    return table


def demographic_parity_difference(y_true, y_pred, groups, positive_class: Any) -> float:
    """Returns the largest minus the smallest group selection rate (fairlearn.metrics, between_groups)."""
    from fairlearn.metrics import demographic_parity_difference as fairlearn_dp

    actual, predicted, labels = _fairlearn_inputs(y_true, y_pred, groups, positive_class)
    return float(fairlearn_dp(actual, predicted, sensitive_features=labels))


def demographic_parity_ratio(y_true, y_pred, groups, positive_class: Any) -> float:
    """Returns the smallest over the largest group selection rate (NaN when no group is ever selected, as Fairlearn)."""
    return _measure(y_true, y_pred, groups, positive_class, "demographic_parity_ratio")


def equalized_odds_difference(y_true, y_pred, groups, positive_class: Any) -> float:
    """Returns the larger of the TPR difference and the FPR difference between groups (fairlearn.metrics)."""
    from fairlearn.metrics import equalized_odds_difference as fairlearn_eo

    actual, predicted, labels = _fairlearn_inputs(y_true, y_pred, groups, positive_class)
    return float(fairlearn_eo(actual, predicted, sensitive_features=labels))


def fairlearn_frame(y_true, y_pred, groups, positive_class: Any) -> pd.DataFrame:
    """Returns Fairlearn's MetricFrame by group (selection rate, TPR, FPR), the reference for the group table."""
    from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate

    actual, predicted, labels = _fairlearn_inputs(y_true, y_pred, groups, positive_class)
    frame = MetricFrame(metrics={"selection_rate": selection_rate, "recall": true_positive_rate,
                                 "fpr": false_positive_rate}, y_true=actual, y_pred=predicted,
                        sensitive_features=labels)
    return frame.by_group


def _fairlearn_inputs(y_true, y_pred, groups, positive_class):
    actual = is_positive(y_true, positive_class)
    predicted = is_positive(_same_length(y_pred, len(actual)), positive_class, strict=False)
    labels = _group_labels(_same_length(groups, len(actual))).to_numpy()
    return actual.astype(int), predicted.astype(int), labels


def equal_opportunity_difference(y_true, y_pred, groups, positive_class: Any) -> float:
    """Returns the largest minus the smallest group true positive rate."""
    return _measure(y_true, y_pred, groups, positive_class, "equal_opportunity_difference")


def fairness_report(y_true, scores_or_pred, sensitive: pd.DataFrame, positive_class: Any = None,
                    threshold: float = 0.5, tolerance: float = 0.1, n_boot: int = 200, seed: int = 0,
                    min_group: int = 30, ratio_floor: float = 0.8, intersections: bool = True,
                    task: str | None = None, confidence: float = 0.95) -> FairnessResult:
    """Returns group rates and parity measures for every sensitive column and every pair of them.

    Modes: with `positive_class`, float scores are cut at `threshold` (score >= threshold is positive), labels are
    compared with the class. Classification without `positive_class` (multiclass) takes predicted labels and treats
    each class one-vs-rest: a group's selection rate for class c is the share of its rows predicted as c. Regression
    compares mean absolute error. Differences pass at or under `tolerance` (for MAE: `tolerance` x overall MAE),
    ratios at or over `ratio_floor`. Intervals on rate gaps come from simultaneous per-group Wilson intervals (see
    the module docstring); MAE gaps from a within-group bootstrap. `verdict` is "pass" ("within tolerance") or
    "fail" ("outside beyond doubt") only when the whole interval is on one side of the limit, else "unclear" ("not
    enough data"); `finding` holds those words.

    Raises:
        NotFound: unknown positive class.
        SchemaMismatch: sensitive table or predictions of the wrong length.
        SpecInvalid: no sensitive column, or float scores for a multiclass target.
    """
    if not isinstance(sensitive, pd.DataFrame) or sensitive.shape[1] == 0:
        raise SpecInvalid("No sensitive column was given. Declare at least one sensitive column for the project.")
    n = len(as_array(y_true, "actual outcomes"))
    if len(sensitive) != n:
        raise SchemaMismatch(f"The sensitive columns have {len(sensitive)} rows for {n} outcomes. Pass the same rows.")
    mode = _mode(y_true, positive_class, task)
    outcomes = _outcomes(y_true, _same_length(scores_or_pred, n), positive_class, threshold, mode)
    rng = np.random.default_rng(seed)
    attributes = _attributes(sensitive, intersections)
    group_rows, summary_rows, warnings = [], [], []
    overall_mae = None
    if mode == "regression":
        overall_mae = float(np.abs(outcomes[0][1]).mean())
    for attribute, labels in attributes.items():
        codes, names = pd.factorize(labels, sort=True)
        sizes = np.bincount(codes, minlength=len(names))
        small = [str(name) for name, size in zip(names, sizes, strict=True) if size < min_group]
        if small:
            warnings.append(f"{attribute!r}: {len(small)} group(s) under {min_group} rows ({', '.join(small[:5])}"
                            f"{'…' if len(small) > 5 else ''}); their rates are too uncertain to judge.")
        for outcome, data in outcomes:
            if mode == "regression":
                table = _regression_groups(data, codes, len(names))
                point, boots = _mae_measures(np.abs(data), codes, len(names), n_boot, rng)
                limits = {"mae_difference": tolerance * overall_mae, "mae_ratio": ratio_floor}
                boots = {k: _percentile(v, confidence) for k, v in boots.items()}
            else:
                cells = _cells(data[0], data[1], codes, len(names))
                table = _rate_table(cells)
                point, boots = _rate_measures(cells), simultaneous_intervals(cells, confidence)
                limits = {key: ratio_floor if MEASURES[key][0] else tolerance for key in point}
                no_positive = [str(g) for g, row in zip(names, cells, strict=True) if row[0] + row[2] == 0]
                if no_positive:
                    warnings.append(f"{attribute!r}{_about(outcome)}: no actual positives in "
                                    f"{', '.join(no_positive[:5])}; the true positive rate there counts as 0 "
                                    "(Fairlearn's convention).")
            table.insert(0, "group", list(names))
            table.insert(0, "outcome", outcome)
            table.insert(0, "attribute", attribute)
            table["is_small"] = sizes < min_group
            group_rows.append(table)
            for measure, value in point.items():
                summary_rows.append(_summary_row(attribute, outcome, measure, value, boots[measure], limits[measure],
                                                 len(names), len(small), confidence))
    groups = pd.concat(group_rows, ignore_index=True)
    summary = pd.DataFrame(summary_rows)
    return FairnessResult(mode, _describe(mode, positive_class, threshold), groups, summary, warnings)


def fairness_tradeoff(y_true, scores, groups, positive_class: Any, primary_metric: str = "f1",
                      thresholds: Sequence[float] | None = None) -> pd.DataFrame:
    """Returns, per threshold, the primary metric overall, the selection rate and the parity gaps between groups.

    Raises:
        NotFound: unknown primary metric or positive class.
    """
    actual = is_positive(y_true, positive_class)
    score = as_scores(scores, len(actual))
    grid = np.round(np.linspace(0.01, 0.99, 99), 2) if thresholds is None else np.asarray(thresholds, dtype=float)
    codes, names = pd.factorize(_group_labels(_same_length(groups, len(actual))), sort=True)
    per_group = np.stack([np.stack(count_outcomes(actual[codes == g], score[codes == g], grid), axis=-1)
                          for g in range(len(names))], axis=1)  # (thresholds, groups, [tp, fp, fn, tn])
    overall = rates_from_counts(*per_group.sum(axis=1).T)
    if primary_metric not in overall:
        raise unknown("metric", primary_metric, overall)
    measures = _rate_measures(per_group)
    return pd.DataFrame({
        "threshold": grid, primary_metric: overall[primary_metric], "selection_rate": overall["selection_rate"],
        "demographic_parity_difference": measures["demographic_parity_difference"],
        "equalized_odds_difference": measures["equalized_odds_difference"],
    })


def _measure(y_true, y_pred, groups, positive_class, name: str) -> float:
    actual = is_positive(y_true, positive_class)
    predicted = is_positive(_same_length(y_pred, len(actual)), positive_class, strict=False)
    codes, names = pd.factorize(_group_labels(_same_length(groups, len(actual))), sort=True)
    return float(_rate_measures(_cells(actual, predicted, codes, len(names)))[name])


def _group_labels(groups) -> pd.Series:
    if isinstance(groups, pd.DataFrame):
        parts = [groups[c].astype(str).where(groups[c].notna(), MISSING_LABEL) for c in groups.columns]
        return pd.Series(_join(parts))
    series = pd.Series(as_array(groups, "groups"))
    return series.astype(str).where(series.notna(), MISSING_LABEL).reset_index(drop=True)


def _join(parts: list[pd.Series]) -> np.ndarray:
    joined = parts[0].to_numpy(dtype=object)
    for part in parts[1:]:
        joined = joined + " · " + part.to_numpy(dtype=object)
    return joined


def _attributes(sensitive: pd.DataFrame, intersections: bool) -> dict[str, pd.Series]:
    singles = {str(c): segment_labels(sensitive[c]) for c in sensitive.columns}
    attributes = dict(singles)
    if intersections:
        for a, b in combinations(singles, 2):
            attributes[f"{a}{_INTERSECTION}{b}"] = pd.Series(_join([singles[a], singles[b]]))
    return attributes


def _mode(y_true, positive_class, task: str | None) -> str:
    if task not in (None, "classification", "regression"):
        raise SpecInvalid(f"Unknown task {task!r}. Use 'classification' or 'regression'.")
    if positive_class is not None:
        return "binary"
    if task is None:
        values = pd.Series(as_array(y_true, "actual outcomes"))
        is_number = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        task = "regression" if is_number and values.nunique() > 20 else "classification"
    return "regression" if task == "regression" else "one-vs-rest"


def _outcomes(y_true, predictions, positive_class, threshold: float, mode: str) -> list[tuple[Any, Any]]:
    """Returns (outcome label, data) pairs: (actual, predicted) masks per positive outcome, or residuals."""
    if mode == "regression":
        actual = as_scores(y_true, len(predictions), "actual values")
        return [(None, actual - as_scores(predictions, len(actual), "predictions"))]
    if mode == "binary":
        actual = is_positive(y_true, positive_class)
        if pd.api.types.is_float_dtype(np.asarray(predictions)):
            predicted = as_scores(predictions, len(actual)) >= threshold
        else:
            predicted = is_positive(predictions, positive_class, strict=False)
        return [(positive_class, (actual, predicted))]
    if pd.api.types.is_float_dtype(np.asarray(predictions)) and not np.all(np.mod(predictions, 1) == 0):
        raise SpecInvalid("For a target with several classes, pass predicted labels, not scores, or choose a "
                          "positive class to compare one outcome.")
    actual_values = pd.Series(as_array(y_true, "actual outcomes"))
    predicted_values = pd.Series(as_array(predictions, "predictions"))
    classes = sorted(set(actual_values.dropna().astype(str)) | set(predicted_values.dropna().astype(str)))
    actual_text, predicted_text = actual_values.astype(str).to_numpy(), predicted_values.astype(str).to_numpy()
    return [(c, (actual_text == c, predicted_text == c)) for c in classes]


def _cells(actual: np.ndarray, predicted: np.ndarray, codes: np.ndarray, k: int) -> np.ndarray:
    """Returns a (groups, 4) array of tp, fp, fn, tn counts."""
    cell = np.where(actual, np.where(predicted, 0, 2), np.where(predicted, 1, 3))
    return np.bincount(codes * 4 + cell, minlength=k * 4).reshape(k, 4)


def _rate_table(cells: np.ndarray) -> pd.DataFrame:
    rates = rates_from_counts(*np.moveaxis(cells, -1, 0))
    return pd.DataFrame({
        "rows": cells.sum(axis=1), "selection_rate": rates["selection_rate"], "accuracy": rates["accuracy"],
        "precision": rates["precision"], "recall": rates["recall"], "fpr": rates["fpr"],
        "base_rate": (cells[:, 0] + cells[:, 2]) / cells.sum(axis=1),
    })


def _rate_measures(cells: np.ndarray) -> dict[str, np.ndarray]:
    """Returns the parity measures over the group axis (second to last) of counts shaped (..., groups, 4)."""
    rates = rates_from_counts(*np.moveaxis(cells, -1, 0))
    selection, tpr, fpr = rates["selection_rate"], rates["recall"], rates["fpr"]
    top, bottom = selection.max(axis=-1), selection.min(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(top > 0, bottom / top, np.nan)
    tpr_gap = tpr.max(axis=-1) - tpr.min(axis=-1)
    return {
        "demographic_parity_difference": top - bottom,
        "demographic_parity_ratio": ratio,
        "equalized_odds_difference": np.maximum(tpr_gap, fpr.max(axis=-1) - fpr.min(axis=-1)),
        "equal_opportunity_difference": tpr_gap,
    }


def simultaneous_intervals(cells: np.ndarray, confidence: float = 0.95) -> dict[str, tuple[float, float]]:
    """Returns (low, high) for every rate measure of (groups, 4) counts, from Wilson intervals of the group rates
    held simultaneously (Bonferroni over the rates a measure uses); a rate with no rows to estimate it is [0, 1]."""
    from statsmodels.stats.proportion import proportion_confint

    alpha = 1 - confidence
    k = len(cells)
    tp, fp, fn, tn = (cells[:, i].astype(float) for i in range(4))

    def box(count, nobs, m):
        low, high = proportion_confint(count, np.maximum(nobs, 1), alpha=alpha / m, method="wilson")
        empty = nobs == 0
        return np.where(empty, 0.0, low), np.where(empty, 1.0, high)

    def gap(low, high):
        return max(0.0, float(low.max() - high.min())), float(high.max() - low.min())

    sel_l, sel_h = box(tp + fp, tp + fp + fn + tn, k)
    tpr1 = box(tp, tp + fn, k)
    tpr2, fpr2 = box(tp, tp + fn, 2 * k), box(fp, fp + tn, 2 * k)
    eo_tpr, eo_fpr = gap(*tpr2), gap(*fpr2)
    ratio_low = float(sel_l.min() / sel_h.max()) if sel_h.max() > 0 else 0.0
    ratio_high = float(min(1.0, sel_h.min() / sel_l.max())) if sel_l.max() > 0 else 1.0
    return {
        "demographic_parity_difference": gap(sel_l, sel_h),
        "demographic_parity_ratio": (ratio_low, ratio_high),
        "equalized_odds_difference": (max(eo_tpr[0], eo_fpr[0]), max(eo_tpr[1], eo_fpr[1])),
        "equal_opportunity_difference": gap(*tpr1),
    }


def _percentile(boots: np.ndarray, confidence: float) -> tuple[float, float]:
    boots = np.asarray(boots, dtype=float)
    boots = boots[np.isfinite(boots)]
    tail = (1 - confidence) / 2
    if not len(boots):
        return float("nan"), float("nan")
    low, high = np.quantile(boots, [tail, 1 - tail])
    return float(low), float(high)


def _bootstrap_cells(cells: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    # Resampling a group's rows with replacement gives multinomial counts over its four cells, so drawing the
    # counts directly is the same bootstrap at a fraction of the cost; group sizes stay fixed (stratified).
    sizes = cells.sum(axis=1)
    draws = [rng.multinomial(size, row / size, size=n_boot) for row, size in zip(cells, sizes, strict=True)]
    return np.stack(draws, axis=1)  # (n_boot, groups, 4)


def _regression_groups(residual: np.ndarray, codes: np.ndarray, k: int) -> pd.DataFrame:
    rows = np.bincount(codes, minlength=k)
    return pd.DataFrame({
        "rows": rows,
        "mae": np.bincount(codes, weights=np.abs(residual), minlength=k) / rows,
        "rmse": np.sqrt(np.bincount(codes, weights=residual**2, minlength=k) / rows),
        "bias": np.bincount(codes, weights=residual, minlength=k) / rows,
    })


def _mae_measures(abs_error: np.ndarray, codes: np.ndarray, k: int, n_boot: int, rng: np.random.Generator):
    point = np.bincount(codes, weights=abs_error, minlength=k) / np.bincount(codes, minlength=k)
    boots = np.empty((n_boot, k))
    for g in range(k):
        part = abs_error[codes == g]
        chunk = max(1, 2_000_000 // len(part))
        for start in range(0, n_boot, chunk):
            stop = min(n_boot, start + chunk)
            boots[start:stop, g] = part[rng.integers(0, len(part), size=(stop - start, len(part)))].mean(axis=1)

    def measures(mae: np.ndarray) -> dict[str, np.ndarray]:
        top, bottom = mae.max(axis=-1), mae.min(axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return {"mae_difference": top - bottom, "mae_ratio": np.where(top > 0, bottom / top, np.nan)}

    return measures(point), measures(boots)


def _summary_row(attribute, outcome, measure, value, interval, limit, n_groups, n_small, confidence) -> dict:
    higher_is_better = MEASURES[measure][0]
    value = float(value)
    low, high = interval
    if not np.isfinite(value):
        passes, verdict = None, "unclear"
    elif higher_is_better:
        passes = bool(value >= limit)
        verdict = "pass" if low >= limit else "fail" if high < limit else "unclear"
    else:
        passes = bool(value <= limit)
        verdict = "pass" if high <= limit else "fail" if low > limit else "unclear"
    if n_groups < 2:
        passes, verdict = None, "unclear"
    return {"attribute": attribute, "outcome": outcome, "measure": measure, "value": value,
            "ci_low": float(low), "ci_high": float(high), "limit": float(limit),
            "tolerance": tolerance_for(measure, 0.0).name.replace("0 x", "gap tolerance x"),
            "passes": passes, "verdict": verdict, "finding": FINDINGS[verdict], "groups": n_groups,
            "small_groups": n_small}


def _describe(mode: str, positive_class, threshold: float) -> str:
    if mode == "binary":
        return (f"Positive outcome: {positive_class!r}. Scores at or above {threshold:.2f} count as predicted "
                f"{positive_class!r}; selection rate is the share of a group predicted {positive_class!r}.")
    if mode == "one-vs-rest":
        return ("Several classes: each class is compared one-vs-rest. A group's selection rate for a class is the "
                "share of its rows predicted as that class; TPR and FPR treat that class as positive.")
    return "Regression: groups are compared by mean absolute error; differences are judged relative to the overall MAE."


def _about(outcome) -> str:
    return "" if outcome is None else f" (outcome {outcome!r})"


def _same_length(values, n: int) -> np.ndarray | pd.DataFrame:
    if isinstance(values, pd.DataFrame):
        if len(values) != n:
            raise SchemaMismatch(f"Got {len(values)} group rows for {n} outcomes. Pass the same rows.")
        return values.reset_index(drop=True)
    arr = as_array(values)
    if len(arr) != n:
        raise SchemaMismatch(f"Got {len(arr)} values for {n} outcomes. Pass one value per evaluated row.")
    return arr
