"""Model metrics from predictions, driven by the catalog: each `core.catalog.METRICS` entry's numpy `compute`.

- `compute_metrics(task, y_true, y_pred, scores=None, classes=None, positive_class=None, has_probabilities=True)`:
  every catalog metric of the task that can be measured from what was given. Classification is binary (positive
  class) or multiclass (macro averages, one-vs-rest AUC) by the number of classes; `scores` are then one score per
  row for the positive class, or one column per class in `classes` order. Undefined values (one class present) are
  NaN; log loss needs real probabilities. Regression MAPE is a fraction (0.12 = 12 %), as scikit-learn.
- `classification_metrics(...)`, `regression_metrics(y_true, y_pred)`: the same for one family.
- `reference_metric(entry, predictions)`: the entry's number from its scikit-learn reference, for tests.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.catalog import CLASSES, METRICS, POSITIVE, MetricEntry, resolve
from core.stats.metrics import Predictions, average_precision, binary_auc

__all__ = ["Predictions", "average_precision", "binary_auc", "classification_metrics", "compute_metrics",
           "reference_metric", "regression_metrics"]

_CLASSIFICATION = tuple(e for e in METRICS if "binary" in e.tasks)
_REGRESSION = tuple(e for e in METRICS if "regression" in e.tasks)


def _measure(entries: tuple[MetricEntry, ...], predictions: Predictions) -> dict[str, float]:
    out = {}
    for entry in entries:
        value = entry.compute(predictions)
        if value is not None:
            out[entry.key] = float(value)
    return out


def classification_metrics(y_true: Any, y_pred: Any, scores: Any, classes: Any, positive_class: Any = None,
                           has_probabilities: bool = True) -> dict[str, float]:
    """Returns the catalog's classification metrics (accuracy … log loss) that the inputs can measure."""
    return _measure(_CLASSIFICATION, Predictions(y_true, y_pred, scores, classes, positive_class, has_probabilities))


def regression_metrics(y_true: Any, y_pred: Any) -> dict[str, float]:
    """Returns the catalog's regression metrics (MAE, RMSE, R², MAPE as a fraction)."""
    return _measure(_REGRESSION, Predictions(y_true, y_pred))


def compute_metrics(task: str, y_true: Any, y_pred: Any, scores: Any = None, classes: Any = None,
                    positive_class: Any = None, has_probabilities: bool = True) -> dict[str, float]:
    """Returns the catalog's metrics for a task (classification or regression) from predictions."""
    if task == "regression":
        return regression_metrics(y_true, y_pred)
    return classification_metrics(y_true, y_pred, scores, classes, positive_class, has_probabilities)


def reference_metric(entry: MetricEntry, p: Predictions) -> float:
    """Returns what the entry's scikit-learn reference gives on the same predictions (imports scikit-learn)."""
    fn = resolve(entry.reference)
    if "clustering" in entry.tasks:
        return float(fn(np.asarray(p.features, dtype=float), np.asarray(p.y_pred)))
    if "regression" in entry.tasks:
        return float(fn(*p.values))
    task = "binary" if p.is_binary else "multiclass"
    fill = {POSITIVE: p.positive, CLASSES: list(p.class_values)}
    kwargs = {k: fill.get(v, v) if isinstance(v, str) else v for k, v in entry.reference_kwargs.get(task, {}).items()}
    if not entry.needs_scores:
        return float(fn(p.true, p.pred, **kwargs))
    if p.is_binary:
        return float(fn(p.is_pos.astype(int), p.score, **kwargs))
    return float(fn(p.true, p.proba, **kwargs))
