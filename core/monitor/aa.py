"""A/A simulations of the drift tests: how often a stable column is flagged, the contract behind the false-alarm note.

Both sides are drawn from one distribution (no drift by construction); a test that promises a false-alarm rate of
alpha must flag about alpha of such pairs. tests/unit/test_drift_aa.py runs a small grid in seconds, and
bench/bench_drift.py a longer one that prints every observed rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from core.monitor import stats
from core.monitor.stats import Counts

Sampler = Callable[[np.random.Generator, int], Counts]


@dataclass(frozen=True)
class AAResult:
    """One cell of an A/A grid: what was simulated and how often it was flagged."""

    test: str
    distribution: str
    n_ref: int
    n_cur: int
    calibrated: bool
    runs: int
    flagged: int

    @property
    def rate(self) -> float:
        return self.flagged / self.runs


def categories(probs: list[float] | np.ndarray) -> Sampler:
    """Draws category counts with the given shares (labels c00, c01, ...); unseen levels are simply absent."""
    p = np.asarray(probs, dtype=np.float64) / np.sum(probs)
    labels = np.asarray([f"c{i:02d}" for i in range(len(p))], dtype=object)

    def draw(rng: np.random.Generator, n: int) -> Counts:
        counts = rng.multinomial(n, p)
        seen = counts > 0
        return Counts(labels[seen], counts[seen].astype(np.int64))

    return draw


def numbers(generate: Callable[[np.random.Generator, int], np.ndarray]) -> Sampler:
    """Draws numeric values with `generate(rng, n)` and counts them."""
    def draw(rng: np.random.Generator, n: int) -> Counts:
        return Counts.of_sorted(np.sort(np.asarray(generate(rng, n), dtype=np.float64)))

    return draw


def rare_levels(k: int, rare: int = 0) -> np.ndarray:
    """Shares of k categories, the last `rare` of them at 0.5 % each, the rest equal."""
    shares = np.full(k, 1.0)
    if rare:
        common = (1 - 0.005 * rare) / (k - rare)
        shares = np.r_[np.full(k - rare, common), np.full(rare, 0.005)]
    return shares / shares.sum()


def simulate(sampler: Sampler, kind: str, n_ref: int, n_cur: int, runs: int, method: str = stats.SOUND,
             calibrated: bool = False, alpha: float = 0.05, n_boot: int = 199, seed: int = 0,
             distribution: str = "") -> AAResult:
    """Flags `runs` stable pairs with the test the method picks for each pair and counts the alarms."""
    rng = np.random.default_rng(seed)
    flagged, used = 0, set()
    for _ in range(runs):
        ref, cur = sampler(rng, n_ref), sampler(rng, n_cur)
        n_values = len(np.union1d(ref.keys, cur.keys))
        key = stats.choose_test(kind, ref.n, n_values, method)
        used.add(key)
        entry = stats.TESTS[key]
        ref_std = _std(ref) if kind == "numeric" else 0.0
        statistic, score = entry.run(ref, cur, ref_std)
        if calibrated:
            null = entry.null_statistic(ref, ref.n, cur.n, ref_std, n_boot, rng, cur)
            p, _ = stats.calibrate(statistic, null, alpha)
            flagged += p <= alpha
        else:
            flagged += entry.is_drift(score, alpha if entry.score_kind == "p-value" else entry.threshold)
    return AAResult("+".join(sorted(used)), distribution, n_ref, n_cur, calibrated, runs, int(flagged))


def _std(counts: Counts) -> float:
    mean = np.average(counts.keys, weights=counts.counts)
    return float(np.sqrt(np.average((counts.keys - mean) ** 2, weights=counts.counts)))


# The distributions of the contract: 2 to 20 categories (some with rare levels) and numbers of several shapes.
CATEGORY_CASES: dict[str, np.ndarray] = {
    "2 categories (70/30)": np.array([0.7, 0.3]),
    "5 categories": np.array([0.4, 0.25, 0.15, 0.12, 0.08]),
    "20 categories, 5 rare (0.5% each)": rare_levels(20, 5),
}
NUMBER_CASES: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    "normal": lambda rng, n: rng.normal(size=n),
    "heavy-tailed (t, 2 df)": lambda rng, n: rng.standard_t(2, size=n),
    "whole numbers (Poisson 4)": lambda rng, n: rng.poisson(4, size=n),
}
SIZES = ((100, 100), (100, 1000), (1000, 100), (1000, 1000), (10_000, 10_000), (10_000, 100_000),
         (100_000, 10_000), (100_000, 100_000))
