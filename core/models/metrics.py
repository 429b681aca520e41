"""Classification and regression metrics computed with numpy, equal to scikit-learn's on the same predictions.

Written out rather than calling sklearn.metrics because a comparison evaluates thousands of small folds and
sklearn's per-call input validation costs more than the arithmetic; tests/unit/test_metrics.py checks each value
against scikit-learn.

- `classification_metrics(y_true, y_pred, scores, classes, positive_class=None, has_probabilities=True)`:
  binary (positive class) or multiclass (macro averages, one-vs-rest AUC) accuracy, balanced accuracy, precision,
  recall, F1, ROC-AUC, PR-AUC (average precision) and log loss (only for real probabilities).
- `regression_metrics(y_true, y_pred)`: MAE, RMSE, R², MAPE (a fraction, as scikit-learn).
- `compute_metrics(task, ...)` dispatches by task.
"""

from __future__ import annotations

from typing import Any

import numpy as np

NAN = float("nan")


def _codes(values: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Index of each value in `classes` (-1 when absent)."""
    lookup = {c: i for i, c in enumerate(classes.tolist())}
    return np.array([lookup.get(v, -1) for v in values.tolist()], dtype=np.int64)


def binary_auc(is_pos: np.ndarray, score: np.ndarray) -> float:
    """ROC-AUC as the Mann-Whitney statistic with average ranks for ties (NaN with one class)."""
    from scipy.stats import rankdata

    n_pos = int(is_pos.sum())
    n_neg = len(is_pos) - n_pos
    if n_pos == 0 or n_neg == 0:
        return NAN
    ranks = rankdata(score)
    return float((ranks[is_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_precision(is_pos: np.ndarray, score: np.ndarray) -> float:
    """Average precision: the sum over distinct thresholds of (recall step) × precision, as scikit-learn."""
    n_pos = int(is_pos.sum())
    if n_pos == 0:
        return NAN
    order = np.argsort(-score, kind="mergesort")
    s, y = score[order], is_pos[order].astype(float)
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last row of each run of equal scores
    tp = np.cumsum(y)[last]
    fp = (last + 1) - tp
    precision = tp / (tp + fp)
    recall = tp / n_pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def _log_loss(codes: np.ndarray, proba: np.ndarray) -> float:
    eps = np.finfo(proba.dtype).eps
    p = np.clip(proba, eps, 1 - eps)
    p = p / p.sum(axis=1, keepdims=True)
    return float(-np.mean(np.log(p[np.arange(len(codes)), codes])))


def classification_metrics(y_true: Any, y_pred: Any, scores: Any, classes: Any, positive_class: Any = None,
                           has_probabilities: bool = True) -> dict[str, float]:
    """Returns accuracy, balanced accuracy, precision, recall, F1, ROC-AUC, PR-AUC and log loss.

    `scores`: binary → one score per row for `positive_class`; multiclass → one column per class in `classes`
    order (rows summing to 1). Multiclass precision / recall / F1 / PR-AUC are macro averages and ROC-AUC is
    one-vs-rest macro. Undefined values (one class present) are NaN; log loss needs real probabilities.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    classes = np.asarray(classes)
    out: dict[str, float] = {"accuracy": float(np.mean(y_true == y_pred))}
    seen = np.array(sorted(set(y_true.tolist()) | set(y_pred.tolist()), key=lambda v: (str(type(v)), v)),
                    dtype=object)
    t, p = _codes(y_true, seen), _codes(y_pred, seen)
    k = len(seen)
    cm = np.bincount(t * k + p, minlength=k * k).reshape(k, k).astype(float)
    tp = np.diag(cm)
    support, predicted = cm.sum(axis=1), cm.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall_c = np.where(support > 0, tp / support, 0.0)
        precision_c = np.where(predicted > 0, tp / predicted, 0.0)
        f1_c = np.where(support + predicted > 0, 2 * tp / (support + predicted), 0.0)
    out["balanced_accuracy"] = float(np.mean(recall_c[support > 0]))
    if len(classes) == 2:
        pos = positive_class if positive_class is not None else classes[1]
        is_pos = y_true == pos
        pred_pos = y_pred == pos
        tp1 = float(np.sum(is_pos & pred_pos))
        out["precision"] = tp1 / pred_pos.sum() if pred_pos.sum() else 0.0
        out["recall"] = tp1 / is_pos.sum() if is_pos.sum() else 0.0
        out["f1"] = 2 * tp1 / (is_pos.sum() + pred_pos.sum()) if is_pos.sum() + pred_pos.sum() else 0.0
        if scores is not None:
            score = np.asarray(scores, dtype=float).reshape(-1)
            out["roc_auc"] = binary_auc(is_pos, score)
            out["pr_auc"] = average_precision(is_pos, score)
            if has_probabilities:
                proba = np.column_stack([1 - score, score])
                out["log_loss"] = _log_loss(is_pos.astype(np.int64), proba)
    else:
        out["precision"] = float(precision_c.mean())
        out["recall"] = float(recall_c.mean())
        out["f1"] = float(f1_c.mean())
        if scores is not None:
            proba = np.asarray(scores, dtype=float)
            codes = _codes(y_true, classes)
            present = [j for j in range(len(classes)) if 0 < np.sum(codes == j) < len(codes)]
            aucs = [binary_auc(codes == j, proba[:, j]) for j in present]
            aps = [average_precision(codes == j, proba[:, j]) for j in range(len(classes)) if np.any(codes == j)]
            out["roc_auc"] = float(np.mean(aucs)) if len(present) == len(classes) else NAN
            out["pr_auc"] = float(np.mean(aps)) if aps else NAN
            if has_probabilities and np.all(codes >= 0):
                out["log_loss"] = _log_loss(codes, proba)
    return {key: float(value) for key, value in out.items()}


def regression_metrics(y_true: Any, y_pred: Any) -> dict[str, float]:
    """Returns MAE, RMSE, R² and MAPE (a fraction: 0.12 = 12 %), as scikit-learn computes them."""
    y, f = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    err = y - f
    ss_res = float(np.sum(err ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    if ss_tot > 0:
        r2 = 1.0 - ss_res / ss_tot
    else:  # scikit-learn's force_finite: a constant target scores 1 when predicted exactly, else 0
        r2 = 1.0 if ss_res == 0 else 0.0
    eps = np.finfo(np.float64).eps
    return {"mae": float(np.mean(np.abs(err))), "rmse": float(np.sqrt(np.mean(err ** 2))), "r2": float(r2),
            "mape": float(np.mean(np.abs(err) / np.maximum(np.abs(y), eps)))}


def compute_metrics(task: str, y_true: Any, y_pred: Any, scores: Any = None, classes: Any = None,
                    positive_class: Any = None, has_probabilities: bool = True) -> dict[str, float]:
    """Returns the catalog's metrics for a task (classification or regression) from predictions."""
    if task == "regression":
        return regression_metrics(y_true, y_pred)
    return classification_metrics(y_true, y_pred, scores, classes, positive_class, has_probabilities)
