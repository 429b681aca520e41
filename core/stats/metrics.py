"""Model metrics in numpy, one function per catalog metric, equal to scikit-learn's on the same predictions.

Written out rather than calling sklearn.metrics because a comparison evaluates thousands of small folds and
sklearn's per-call input validation costs more than the arithmetic. Each function takes one `Predictions` (which
computes the confusion counts the label metrics share once) and returns a float, or None when the metric cannot be
measured from what was given (no scores, or scores that are not probabilities). `core.catalog.METRICS` names each
function with its scikit-learn reference; tests/unit/test_metrics.py checks every entry against that reference.

Classification: binary when there are two classes (precision, recall and F1 of `positive_class`, default the second
class), else multiclass (macro averages, one-vs-rest ROC-AUC). Regression MAPE is a fraction, as scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

NAN = float("nan")


@dataclass
class Predictions:
    """One model's predictions on labelled rows; `scores` per row (binary) or per class in `classes` order."""

    y_true: Any
    y_pred: Any
    scores: Any = None
    classes: Any = None
    positive_class: Any = None
    has_probabilities: bool = True
    features: Any = None  # clustering: the rows' feature matrix, `y_pred` their group labels

    @cached_property
    def true(self) -> np.ndarray:
        return np.asarray(self.y_true)

    @cached_property
    def pred(self) -> np.ndarray:
        return np.asarray(self.y_pred)

    @cached_property
    def class_values(self) -> np.ndarray:
        return np.asarray(self.classes)

    @property
    def is_binary(self) -> bool:
        return len(self.class_values) == 2

    @cached_property
    def positive(self) -> Any:
        return self.positive_class if self.positive_class is not None else self.class_values[1]

    @cached_property
    def is_pos(self) -> np.ndarray:
        return self.true == self.positive

    @cached_property
    def pred_pos(self) -> np.ndarray:
        return self.pred == self.positive

    @cached_property
    def per_class(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(true positives, support, predicted) per class seen in either labels or predictions."""
        seen = np.array(sorted(set(self.true.tolist()) | set(self.pred.tolist()), key=lambda v: (str(type(v)), v)),
                        dtype=object)
        t, p = _codes(self.true, seen), _codes(self.pred, seen)
        k = len(seen)
        cm = np.bincount(t * k + p, minlength=k * k).reshape(k, k).astype(float)
        return np.diag(cm), cm.sum(axis=1), cm.sum(axis=0)

    @cached_property
    def score(self) -> np.ndarray:
        """Binary: the positive class's score per row."""
        return np.asarray(self.scores, dtype=float).reshape(-1)

    @cached_property
    def proba(self) -> np.ndarray:
        """Multiclass: one column per class."""
        return np.asarray(self.scores, dtype=float)

    @cached_property
    def codes(self) -> np.ndarray:
        return _codes(self.true, self.class_values)

    @cached_property
    def values(self) -> tuple[np.ndarray, np.ndarray]:
        """Regression: (true, predicted) as floats."""
        return np.asarray(self.y_true, dtype=float), np.asarray(self.y_pred, dtype=float)


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


# -- classification: labels ----------------------------------------------------------------------------------------
def accuracy(p: Predictions) -> float:
    return float(np.mean(p.true == p.pred))


def balanced_accuracy(p: Predictions) -> float:
    tp, support, _ = p.per_class
    with np.errstate(divide="ignore", invalid="ignore"):
        recall_c = np.where(support > 0, tp / support, 0.0)
    return float(np.mean(recall_c[support > 0]))


def _hit_share(p: Predictions, of_flagged: bool) -> float:
    """True positives over the flagged rows (precision) or the real positives (recall), 0 when there are none;
    macro-averaged over classes for a multiclass task."""
    if p.is_binary:
        base = p.pred_pos if of_flagged else p.is_pos
        return float(float(np.sum(p.is_pos & p.pred_pos)) / base.sum() if base.sum() else 0.0)
    tp, support, predicted = p.per_class
    base = predicted if of_flagged else support
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.where(base > 0, tp / base, 0.0).mean())


def precision(p: Predictions) -> float:
    return _hit_share(p, of_flagged=True)


def recall(p: Predictions) -> float:
    return _hit_share(p, of_flagged=False)


def f1(p: Predictions) -> float:
    if p.is_binary:
        tp1 = float(np.sum(p.is_pos & p.pred_pos))
        both = p.is_pos.sum() + p.pred_pos.sum()
        return float(2 * tp1 / both if both else 0.0)
    tp, support, predicted = p.per_class
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.where(support + predicted > 0, 2 * tp / (support + predicted), 0.0).mean())


# -- classification: scores ----------------------------------------------------------------------------------------
def roc_auc(p: Predictions) -> float | None:
    if p.scores is None:
        return None
    if p.is_binary:
        return binary_auc(p.is_pos, p.score)
    codes = p.codes
    present = [j for j in range(len(p.class_values)) if 0 < np.sum(codes == j) < len(codes)]
    aucs = [binary_auc(codes == j, p.proba[:, j]) for j in present]
    return float(np.mean(aucs)) if len(present) == len(p.class_values) else NAN


def pr_auc(p: Predictions) -> float | None:
    if p.scores is None:
        return None
    if p.is_binary:
        return average_precision(p.is_pos, p.score)
    codes = p.codes
    aps = [average_precision(codes == j, p.proba[:, j]) for j in range(len(p.class_values)) if np.any(codes == j)]
    return float(np.mean(aps)) if aps else NAN


def log_loss(p: Predictions) -> float | None:
    """Needs real probabilities; multiclass also needs every true label among the classes."""
    if p.scores is None or not p.has_probabilities:
        return None
    if p.is_binary:
        return _log_loss(p.is_pos.astype(np.int64), np.column_stack([1 - p.score, p.score]))
    if not np.all(p.codes >= 0):
        return None
    return _log_loss(p.codes, p.proba)


# -- regression ----------------------------------------------------------------------------------------------------
def mae(p: Predictions) -> float:
    y, f = p.values
    return float(np.mean(np.abs(y - f)))


def rmse(p: Predictions) -> float:
    y, f = p.values
    return float(np.sqrt(np.mean((y - f) ** 2)))


def r2(p: Predictions) -> float:
    y, f = p.values
    ss_res = float(np.sum((y - f) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    if ss_tot > 0:
        return float(1.0 - ss_res / ss_tot)
    return 1.0 if ss_res == 0 else 0.0  # scikit-learn's force_finite: a constant target scores 1 when exact, else 0


def mape(p: Predictions) -> float:
    y, f = p.values
    eps = np.finfo(np.float64).eps
    return float(np.mean(np.abs(y - f) / np.maximum(np.abs(y), eps)))


# -- clustering ----------------------------------------------------------------------------------------------------
def silhouette(p: Predictions) -> float:
    """Mean silhouette (Euclidean) of `features` grouped by `y_pred`; rows alone in their group score 0."""
    X = np.asarray(p.features, dtype=float)
    labels = np.unique(p.pred, return_inverse=True)[1]
    k = labels.max() + 1
    sq = np.sum(X ** 2, axis=1)
    dist = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * X @ X.T, 0.0))
    np.fill_diagonal(dist, 0.0)
    sums = np.stack([dist[:, labels == c].sum(axis=1) for c in range(k)], axis=1)
    sizes = np.bincount(labels, minlength=k).astype(float)
    own = sizes[labels]
    a = sums[np.arange(len(X)), labels] / np.maximum(own - 1, 1)
    other = sums / sizes
    other[np.arange(len(X)), labels] = np.inf
    b = other.min(axis=1)
    s = np.where(own > 1, (b - a) / np.maximum(a, b), 0.0)
    return float(np.mean(np.nan_to_num(s)))
