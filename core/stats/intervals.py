"""Confidence intervals shared by every stage: Wilson for rates, a percentile bootstrap for means and root means."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

_BOOT_CELLS = 2_000_000  # bootstrap draws held in memory at once
_BOOT_MAX_ROWS = 5_000  # above this many rows the normal approximation to the bootstrap is as good and far cheaper


def wilson_interval(successes, trials, confidence: float = 0.95):
    """Returns the Wilson score interval (low, high) for successes out of trials, elementwise (NaN when no trials)."""
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denominator = 1 + z**2 / n
        center = (p + z**2 / (2 * n)) / denominator
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denominator
    return np.clip(center - half, 0, 1), np.clip(center + half, 0, 1)


def bootstrap_interval(values, statistic: str = "mean", n_boot: int = 200, seed: int = 0,
                       confidence: float = 0.95) -> tuple[float, float]:
    """Returns a percentile bootstrap interval for the mean ("mean") or root mean ("rms") of values.

    Above 5,000 values the normal approximation is used instead: the bootstrap would agree with it and cost more.
    """
    x = np.asarray(values, dtype=float)
    m = len(x)
    if m == 0:
        return float("nan"), float("nan")
    if m > _BOOT_MAX_ROWS:
        z = NormalDist().inv_cdf(0.5 + confidence / 2)
        mean, se = x.mean(), x.std(ddof=1) / np.sqrt(m)
        if statistic == "rms":  # delta method: d sqrt(u) = du / (2 sqrt(u))
            root = np.sqrt(mean)
            se = se / (2 * root) if root > 0 else 0.0
            mean = root
        return float(mean - z * se), float(mean + z * se)
    rng = np.random.default_rng(seed)
    stats = []
    chunk = max(1, _BOOT_CELLS // m)
    for start in range(0, n_boot, chunk):
        draws = x[rng.integers(0, m, size=(min(chunk, n_boot - start), m))].mean(axis=1)
        stats.append(np.sqrt(draws) if statistic == "rms" else draws)
    stats = np.concatenate(stats)
    tail = (1 - confidence) / 2
    return float(np.quantile(stats, tail)), float(np.quantile(stats, 1 - tail))
