"""What a comparison returns: one RunResult per model, the leaderboard with its warnings, and paired comparisons."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.errors import SpecInvalid


@dataclass
class RunResult:
    """One model trained in a comparison: its settings, fold and validation metrics, costs and fitted pipeline."""

    key: str
    label: str
    task: str
    params: dict
    seed: int
    cv_folds: int = 0
    fold_metrics: list[dict] = field(default_factory=list)  # one dict of metric -> value per CV fold, in fold order
    validation_metrics: dict = field(default_factory=dict)
    train_metrics: dict = field(default_factory=dict)  # on the rows it was fitted on, for the train/validation gap
    fit_seconds: float | None = None  # the final fit on all training rows
    predict_ms_per_1k: float | None = None
    size_bytes: int | None = None
    predictions: pd.DataFrame | None = None  # _row, y_true, y_pred, score | proba_<class>
    versions: dict = field(default_factory=dict)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    pipeline: Any = None
    model_bytes: bytes | None = None  # the saved form of `pipeline` (core.artifacts), made once
    train_rows: int = 0  # rows the final model was fitted on (after any sample)
    train_rows_total: int = 0
    features: list[str] = field(default_factory=list)
    classes: list = field(default_factory=list)
    positive_class: Any = None
    score_kind: str | None = None  # "probability" | "margin" (a squashed decision score) | None (regression)
    tuning: dict | None = None
    is_baseline: bool = False

    @property
    def is_ok(self) -> bool:
        return self.error is None

    @property
    def cv_summary(self) -> dict[str, dict[str, float]]:
        """Mean and sample SD over folds of every metric measured in each fold."""
        return summarize_folds(self.fold_metrics)


def summarize_folds(fold_metrics: list[dict]) -> dict[str, dict[str, float]]:
    """Returns {metric: {"mean", "sd"}} over folds (SD with ddof=1; NaN values left out)."""
    out: dict[str, dict[str, float]] = {}
    names = [k for k in (fold_metrics[0] if fold_metrics else {}) if k != "fold"]
    for name in names:
        values = np.array([f.get(name, np.nan) for f in fold_metrics], dtype=float)
        values = values[np.isfinite(values)]
        if len(values):
            out[name] = {"mean": float(values.mean()), "sd": float(values.std(ddof=1)) if len(values) > 1 else 0.0}
    return out
