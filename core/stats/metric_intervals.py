"""95 % intervals for a two-outcome model's headline metrics: Wilson for rates from confusion counts, a bootstrap
for ROC-AUC.

- `rate_interval(metric, counts)`: recall, precision, accuracy, false positive rate and selection rate are each
  successes out of trials of the confusion matrix (`counts` has tp, fp, fn, tn), so the Wilson interval applies.
- `auc_interval(is_positive, scores)`: ROC-AUC has no such count; `scipy.stats.bootstrap` (percentile, paired rows)
  resamples rows and recomputes it from ranks (the Mann-Whitney statistic), vectorised over the resamples.
- `confusion_from_rates(recall, precision, positives, rows)`: the counts behind a recall and a precision measured on
  `rows` labelled rows holding `positives` positives (they are integers, so the counts are recovered exactly).
"""

from __future__ import annotations

import math

import numpy as np

from core.stats.intervals import wilson_interval
from core.stats.memo import content_memo

# (successes, trials) of each rate, as sums of confusion cells
RATES = {"recall": (("tp",), ("tp", "fn")), "precision": (("tp",), ("tp", "fp")),
         "accuracy": (("tp", "tn"), ("tp", "fp", "fn", "tn")), "fpr": (("fp",), ("fp", "tn")),
         "selection_rate": (("tp", "fp"), ("tp", "fp", "fn", "tn"))}
_CELLS = 2_000_000  # resampled values held in memory at once
MIN_CLASS_ROWS = 10  # fewer rows of either outcome and a bootstrap AUC interval says nothing


def rate_interval(metric: str, counts, confidence: float = 0.95) -> tuple[float, float] | None:
    """Returns the Wilson interval of a rate metric from its confusion counts, or None (not a rate, no trials)."""
    if counts is None or metric not in RATES:
        return None
    hits, total = RATES[metric]
    k, n = sum(int(counts[h]) for h in hits), sum(int(counts[t]) for t in total)
    if n == 0:
        return None
    low, high = wilson_interval(k, n, confidence)
    return float(low), float(high)


def _auc(positive: np.ndarray, scores: np.ndarray, axis: int = -1) -> np.ndarray:
    from scipy.stats import rankdata

    ranks = rankdata(scores, axis=axis)
    n_pos = positive.sum(axis=axis)
    n_neg = positive.shape[axis] - n_pos
    with np.errstate(divide="ignore", invalid="ignore"):
        return ((ranks * positive).sum(axis=axis) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


@content_memo(maxsize=128)  # deterministic (a fixed seed), and drawn on every dashboard view: computed once per input
def auc_interval(is_positive, scores, confidence: float = 0.95, n_resamples: int = 1000,
                 seed: int = 0) -> tuple[float, float] | None:
    """Returns a percentile bootstrap interval for ROC-AUC, or None when either outcome has too few rows."""
    from scipy.stats import bootstrap

    positive = np.asarray(is_positive, dtype=bool)
    score = np.asarray(scores, dtype=float)
    if min(positive.sum(), (~positive).sum()) < MIN_CLASS_ROWS:
        return None
    res = bootstrap((positive.astype(float), score), _auc, paired=True, vectorized=True, n_resamples=n_resamples,
                    batch=max(1, _CELLS // len(score)), confidence_level=confidence, method="percentile",
                    random_state=np.random.default_rng(seed))
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return (low, high) if math.isfinite(low) and math.isfinite(high) else None


def confusion_from_rates(recall: float | None, precision: float | None, positives: int,
                         rows: int) -> dict[str, int] | None:
    """Returns tp, fp, fn, tn behind a measured recall and precision, or None when they cannot be recovered."""
    if recall is None or not math.isfinite(recall) or positives <= 0 or rows <= 0:
        return None
    tp = round(recall * positives)
    if precision is None or not math.isfinite(precision):
        flagged = 0 if tp == 0 else None  # precision is undefined only when nothing was flagged
    else:
        flagged = round(tp / precision) if precision > 0 else None  # precision 0: how many were flagged is lost
    if flagged is None:
        return None
    fp = flagged - tp
    fn = positives - tp
    tn = rows - positives - fp
    if min(fp, fn, tn) < 0:
        return None
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn}
