"""Expected value of a version's decisions on validation rows, against having no model and against the champion.

Value per row comes from the project's value per decision (Define page): tp / fp / fn / tn for a binary target, or
minus `cost_per_unit_error` times the absolute error for regression. "No model" is the better of the two single
actions for a binary target (flag every row, or none) and predicting the validation mean for regression. Intervals
are scipy.stats.bootstrap (BCa, paired: one resample of rows feeds both sides) on the mean difference per row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

CONFIDENCE = 0.95
MIN_ROWS = 30


@dataclass(frozen=True)
class ValueComparison:
    """Mean value per row of one side minus the other, with its interval, and what it means."""

    gain: float
    low: float
    high: float
    rows: int
    mine: float
    theirs: float

    @property
    def finding(self) -> str:
        """'better' (whole interval above 0), 'worse' (below 0) or 'unclear'."""
        return "better" if self.low > 0 else "worse" if self.high < 0 else "unclear"


def row_values(version, frame: pd.DataFrame, criteria, suffix: str = "") -> np.ndarray | None:
    """Returns the value of each row's decision, or None when no value per decision is set for this task."""
    if version.task == "binary" and criteria.costs and any(criteria.costs.values()):
        actual = frame["y_true"].astype(str).to_numpy() == str(version.positive_class)
        flagged = frame[f"y_pred{suffix}"].astype(str).to_numpy() == str(version.positive_class)
        return _cell_values(actual, flagged, criteria.costs)
    if version.task == "regression" and criteria.cost_per_unit_error:
        error = np.abs(frame["y_true"].to_numpy(dtype=float) - frame[f"y_pred{suffix}"].to_numpy(dtype=float))
        return -float(criteria.cost_per_unit_error) * error
    return None


def baseline_values(version, frame: pd.DataFrame, criteria) -> tuple[np.ndarray, str] | None:
    """Returns each row's value without a model (the better single action) and what that action is."""
    if version.task == "binary" and criteria.costs and any(criteria.costs.values()):
        actual = frame["y_true"].astype(str).to_numpy() == str(version.positive_class)
        everyone = _cell_values(actual, np.ones(len(actual), bool), criteria.costs)
        no_one = _cell_values(actual, np.zeros(len(actual), bool), criteria.costs)
        return (everyone, "flag every row") if everyone.mean() >= no_one.mean() else (no_one, "flag no row")
    if version.task == "regression" and criteria.cost_per_unit_error:
        y = frame["y_true"].to_numpy(dtype=float)
        return -float(criteria.cost_per_unit_error) * np.abs(y - y.mean()), "predict the average"
    return None


def compare_values(mine: np.ndarray, theirs: np.ndarray, seed: int = 0, n_resamples: int = 2000) -> ValueComparison:
    """Mean of the per-row differences with a paired bootstrap interval (scipy.stats.bootstrap, BCa)."""
    from scipy.stats import bootstrap

    diff = np.asarray(mine, dtype=float) - np.asarray(theirs, dtype=float)
    gain = float(diff.mean())
    if np.allclose(diff, diff[0]):
        low = high = gain
    else:
        res = bootstrap((diff,), np.mean, confidence_level=CONFIDENCE, n_resamples=n_resamples, method="BCa",
                        random_state=np.random.default_rng(seed))
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if not (math.isfinite(low) and math.isfinite(high)):   # BCa can fail on very lumpy data: percentile then
            res = bootstrap((diff,), np.mean, confidence_level=CONFIDENCE, n_resamples=n_resamples,
                            method="percentile", random_state=np.random.default_rng(seed))
            low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return ValueComparison(gain, low, high, len(diff), float(np.mean(mine)), float(np.mean(theirs)))


def _cell_values(actual: np.ndarray, flagged: np.ndarray, costs: dict) -> np.ndarray:
    value = np.where(actual, np.where(flagged, costs.get("tp", 0.0), costs.get("fn", 0.0)),
                     np.where(flagged, costs.get("fp", 0.0), costs.get("tn", 0.0)))
    return value.astype(float)
