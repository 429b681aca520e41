"""Builds a catalog entry's model: preprocessing (`core.models.preprocess`) plus its estimator, as one Pipeline.

`build_pipeline(spec, columns, task, seed=42, target=None, n_jobs=None)` is the one place that assembles a model, as
steps "prep" and "model", so every saved model carries its own preprocessing.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from core.catalog import ModelSpec, model_entry, models_for, resolve, resolve_params
from core.errors import SpecInvalid
from core.models.preprocess import (
    TEXT_KIND,
    EncodedLabelClassifier,
    build_preprocessor,
    feature_columns,
)


def library_versions() -> dict[str, str]:
    """Returns the versions of the libraries a saved model depends on."""
    import sklearn
    import skops

    out = {"python": sys.version.split()[0], "sklearn": sklearn.__version__, "numpy": np.__version__,
           "pandas": pd.__version__, "skops": skops.__version__}
    try:
        import xgboost

        out["xgboost"] = xgboost.__version__
    except ImportError:
        pass
    return out


def build_estimator(spec: ModelSpec, task: str, seed: int = 42, n_jobs: int | None = None):
    """Returns the catalog estimator for a spec, unfitted. Raises: SpecInvalid, NotFound."""
    import inspect

    entry = model_entry(spec.key)
    if task not in entry.tasks:
        raise SpecInvalid(f"{entry.label} does not do {task}. Choose one of: "
                          f"{', '.join(m.label for m in models_for(task))}.")
    kwargs = {**entry.fixed, **resolve_params(entry, spec.params, task)}
    if kwargs.get("class_weight") == "none":
        kwargs["class_weight"] = None
    cls = resolve(entry.builder_for(task))
    signature = inspect.signature(cls.__init__).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.values())  # XGBoost's **kwargs
    if "random_state" in signature or takes_any:
        kwargs["random_state"] = int(seed)
    if entry.key == "xgb":
        kwargs["verbosity"] = 0
    if n_jobs is not None and ("n_jobs" in signature or "n_jobs" in kwargs):
        kwargs["n_jobs"] = int(n_jobs)
    estimator = cls(**{k: v for k, v in kwargs.items() if takes_any or k in signature})
    if entry.key == "xgb" and task in ("binary", "multiclass"):
        estimator = EncodedLabelClassifier(estimator)  # XGBoost wants labels 0..k-1; the wrapper keeps the originals
    return estimator


def build_pipeline(spec: ModelSpec, columns: dict[str, str], task: str, seed: int = 42, *, target: str | None = None,
                   n_jobs: int | None = None):
    """Returns the unfitted Pipeline (prep → model) for a spec on columns {name: kind}.

    Raises: SpecInvalid, NotFound.
    """
    from sklearn.pipeline import Pipeline

    entry = model_entry(spec.key)
    estimator = build_estimator(spec, task, seed, n_jobs)
    pre = build_preprocessor(columns, feature_columns(columns, target, text=True),
                             entry.needs_scaling,
                             entry.reads_text, entry.nonnegative, reads_nothing=entry.is_baseline)
    if entry.key == "linear_svm" and task != "regression" and entry.reads_text and \
            any(kind == TEXT_KIND for c, kind in columns.items() if c != target):
        # Many sparse n-gram columns: liblinear's dual solver, about 2.5x faster there than the primal one
        # dual="auto" picks when rows outnumber columns (same ROC-AUC to 4 decimals on the ticket sample).
        estimator.set_params(dual=True)
    return Pipeline([("prep", pre), ("model", estimator)])
