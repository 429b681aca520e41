"""Drift statistics on value counts: Evidently 0.7.23's default tests, a bootstrap null, and Benjamini-Hochberg.

What Evidently 0.7.23 does by default, read from its installed source (paths under site-packages/evidently/):
- presets/drift.py `DataDriftPreset`: one `ValueDrift` per numerical, categorical and text column plus
  `DriftedColumnsCount(drift_share=0.5)`; no method or threshold is set, so each column gets the automatic choice.
- legacy/calculations/data_drift.py `get_one_column_drift`: drops NaN and +/-inf on each side first, and raises
  ValueError when a side is then empty; a "numerical" column must have a numeric dtype on both sides.
- legacy/calculations/stattests/registry.py `_get_default_stattest`, with n_ref = non-missing reference rows and
  n_values = distinct non-missing values of reference and current together:
    n_ref <= 1000, numerical:   n_values <= 2 -> Z-test, 3..5 -> chi-square, > 5 -> two-sample K-S
    n_ref <= 1000, categorical: n_values <= 2 -> Z-test, else chi-square
    n_ref  > 1000, numerical:   n_values <= 5 -> Jensen-Shannon on value shares, else Wasserstein (normed)
    n_ref  > 1000, categorical: Jensen-Shannon on value shares
  So a numeric column with at most 5 distinct values is tested like a categorical one.
- stattests/*.py: thresholds default to 0.05 for p-values (registry.py `StatTest.default_threshold`) and 0.1 for
  the distances (wasserstein_distance_norm.py, jensenshannon.py). Drift when: K-S p <= 0.05 (ks_stattest.py),
  chi-square p < 0.05 (chisquare_stattest.py: expected = reference counts scaled to the current size, over the
  union of values), Z-test p < 0.05 (z_stattest.py: two-proportion z on "not the first sorted value", p = 1 when
  both sides hold one identical value), Wasserstein distance / max(std(reference, ddof=0), 0.001) >= 0.1,
  Jensen-Shannon distance (natural log, scipy.spatial.distance.jensenshannon) >= 0.1 (utils.py `get_binned_data`
  with value shares when the reference has <= 20 distinct values).
- legacy/calculations/data_drift.py `get_dataset_drift`: dataset drift when drifted columns / columns >= 0.5.
- core/datasets.py `infer_column_type` (used only without an explicit definition): floats are numerical, integers
  with <= 10 distinct values categorical, strings with more distinct values than half the rows are text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

SMALL_REFERENCE_ROWS = 1000     # Evidently: p-value tests up to this many reference rows, distances above
FEW_VALUES = 5                  # Evidently: a numeric column with at most this many values is tested as categories
NULL_ROWS = 20_000              # calibration splits at most this many reference rows (then rescales)


@dataclass(frozen=True)
class DriftTestEntry:
    """One drift test: how it is labelled, when it is chosen, how it runs, and its spread under no drift."""

    key: str
    label: str           # Evidently's display name, so the two tables read the same
    statistic: str       # what the raw statistic is, for calibrated thresholds
    score_kind: str      # "p-value" or "distance"
    threshold: float     # Evidently's default
    inclusive: bool      # drift when score <= threshold (p-value) / >= threshold (distance); else strict
    applies_to: Callable[[str, int, int, str], bool]  # (kind, reference rows, distinct values, method) -> chosen?
    run: Callable[["Counts", "Counts", float], tuple[float, float]]  # (ref, cur, ref std) -> (statistic, score)
    # (ref, n_ref, n_cur, ref std, resamples, rng) -> the statistic under no drift, once per resample
    null_statistic: Callable[..., np.ndarray]

    def is_drift(self, score: float, threshold: float) -> bool:
        """Applies Evidently's comparison of a score with a threshold."""
        if score is None or np.isnan(score):
            return False
        if self.score_kind == "p-value":
            return bool(score <= threshold) if self.inclusive else bool(score < threshold)
        return bool(score >= threshold) if self.inclusive else bool(score > threshold)


@dataclass(frozen=True)
class Counts:
    """Distinct non-missing values of one column (sorted) and how often each occurs."""

    keys: np.ndarray     # float64 for numeric columns, str objects for categorical ones
    counts: np.ndarray   # int64, same length

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    @classmethod
    def of_sorted(cls, values: np.ndarray) -> "Counts":
        """Counts an already sorted array without sorting it again."""
        if len(values) == 0:
            return cls(values, np.zeros(0, dtype=np.int64))
        starts = np.flatnonzero(np.concatenate(([True], values[1:] != values[:-1])))
        counts = np.diff(np.append(starts, len(values))).astype(np.int64)
        return cls(values[starts], counts)


def _is_continuous(kind: str, n_values: int) -> bool:
    """A numeric column with more than FEW_VALUES values; with fewer it is tested like a categorical one."""
    return kind == "numeric" and n_values > FEW_VALUES


def _p_value_family(method: str, n_ref: int) -> bool:
    """Whether the method picks a p-value test: always, or (Evidently's default) up to SMALL_REFERENCE_ROWS rows."""
    if method in ("p-value", "distance"):
        return method == "p-value"
    return n_ref <= SMALL_REFERENCE_ROWS


def _for_ks(kind: str, n_ref: int, n_values: int, method: str) -> bool:
    return _p_value_family(method, n_ref) and _is_continuous(kind, n_values)


def _for_z(kind: str, n_ref: int, n_values: int, method: str) -> bool:
    return _p_value_family(method, n_ref) and not _is_continuous(kind, n_values) and n_values <= 2


def _for_chisquare(kind: str, n_ref: int, n_values: int, method: str) -> bool:
    return _p_value_family(method, n_ref) and not _is_continuous(kind, n_values) and n_values > 2


def _for_wasserstein(kind: str, n_ref: int, n_values: int, method: str) -> bool:
    return not _p_value_family(method, n_ref) and _is_continuous(kind, n_values)


def _for_jensenshannon(kind: str, n_ref: int, n_values: int, method: str) -> bool:
    return not _p_value_family(method, n_ref) and not _is_continuous(kind, n_values)


def choose_test(kind: str, n_ref: int, n_values: int, method: str = "evidently-default") -> str:
    """Picks the test key for a column: the entry whose `applies_to` accepts it (Evidently's rule by default, or
    always a p-value test / a distance); the entries' rules exclude each other, so their order does not matter."""
    return next(t.key for t in DRIFT_TESTS if t.applies_to(kind, n_ref, n_values, method))


def align(ref: Counts, cur: Counts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Returns the union of keys and both sides' counts over it (zeros where a side lacks a key)."""
    keys = np.union1d(ref.keys, cur.keys)
    a = np.zeros(len(keys), dtype=np.int64)
    b = np.zeros(len(keys), dtype=np.int64)
    a[np.searchsorted(keys, ref.keys)] = ref.counts
    b[np.searchsorted(keys, cur.keys)] = cur.counts
    return keys, a, b


def run_test(key: str, ref: Counts, cur: Counts, ref_std: float) -> tuple[float, float]:
    """Computes (statistic, score) for a test: score is the p-value or the distance compared with the threshold."""
    return TESTS[key].run(ref, cur, ref_std)


def _run_ks(ref: Counts, cur: Counts, ref_std: float) -> tuple[float, float]:
    from scipy.stats import ks_2samp

    res = ks_2samp(np.repeat(ref.keys, ref.counts), np.repeat(cur.keys, cur.counts))
    return float(res.statistic), float(res.pvalue)


def _run_wasserstein(ref: Counts, cur: Counts, ref_std: float) -> tuple[float, float]:
    w = _wasserstein(ref, cur) / max(ref_std, 0.001)
    return w, w


def _run_chisquare(ref: Counts, cur: Counts, ref_std: float) -> tuple[float, float]:
    from scipy.stats import chisquare

    _, a, b = align(ref, cur)
    with np.errstate(divide="ignore", invalid="ignore"):
        res = chisquare(b, a * (b.sum() / a.sum()))
    return float(res.statistic), float(res.pvalue)


def _run_z(ref: Counts, cur: Counts, ref_std: float) -> tuple[float, float]:
    _, a, b = align(ref, cur)
    return _z_test(a, b)


def _run_jensenshannon(ref: Counts, cur: Counts, ref_std: float) -> tuple[float, float]:
    from scipy.spatial.distance import jensenshannon

    _, a, b = align(ref, cur)
    d = float(jensenshannon(a / a.sum(), b / b.sum()))
    return d, d


def _wasserstein(ref: Counts, cur: Counts) -> float:
    """Wasserstein-1 distance between two weighted samples: scipy's CDF formula on already sorted values."""
    x = np.concatenate((ref.keys, cur.keys))
    # Two sorted runs: a stable sort (timsort) merges them in linear time.
    order = np.argsort(x, kind="stable")
    x = x[order]
    wa = np.concatenate((ref.counts, np.zeros(len(cur.keys), dtype=np.int64)))[order]
    wb = np.concatenate((np.zeros(len(ref.keys), dtype=np.int64), cur.counts))[order]
    fa = np.cumsum(wa)[:-1] / ref.n
    fb = np.cumsum(wb)[:-1] / cur.n
    return float(np.sum(np.abs(fa - fb) * np.diff(x)))


def _z_test(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Two-proportion z-test on "not the first value" as Evidently writes it; returns (|z|, two-sided p)."""
    from scipy.stats import norm

    if len(a) <= 1 or (np.count_nonzero(a) == 1 and np.count_nonzero(b) == 1 and np.argmax(a) == np.argmax(b)):
        return 0.0, 1.0
    n1, n2 = a.sum(), b.sum()
    p1, p2 = (n1 - a[0]) / n1, (n2 - b[0]) / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    return float(abs(z)), float(2 * norm.sf(abs(z)))


def draw_null(key: str, ref: Counts, n_ref: int, n_cur: int, ref_std: float,
              n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Draws the test statistic's spread under no drift, from the reference alone, at the real sample sizes."""
    return TESTS[key].null_statistic(ref, n_ref, n_cur, ref_std, n_boot, rng)


def _null_of_shares(statistic: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable[..., np.ndarray]:
    """Categories (chi-square, Z, Jensen-Shannon): both sides are redrawn from the reference's shares (multinomial) at
    the real sizes, and `statistic` is computed for each pair of count rows."""
    def draw(ref: Counts, n_ref: int, n_cur: int, ref_std: float, n_boot: int, rng: np.random.Generator):
        probs = ref.counts / ref.n
        a = rng.multinomial(n_ref, probs, size=n_boot).astype(np.float64)
        b = rng.multinomial(n_cur, probs, size=n_boot).astype(np.float64)
        return statistic(a, b)

    return draw


def _null_of_halves(statistic: Callable[..., np.ndarray]
                    ) -> Callable[..., np.ndarray]:
    """Continuous values (K-S, Wasserstein): resampling would never reach past the reference's extremes, which the
    distance is most sensitive to, so (up to NULL_ROWS of) the reference rows are split at random into a
    pseudo-reference and a pseudo-current chunk, both genuine samples of its distribution, and the statistic is
    rescaled to the real sizes by sqrt(1/n_ref + 1/n_cur), the rate at which it shrinks under no drift.
    `statistic(fa, fb, keys, ref_std)` compares the chunks' empirical CDFs, one row per resample."""
    def draw(ref: Counts, n_ref: int, n_cur: int, ref_std: float, n_boot: int, rng: np.random.Generator):
        m = min(ref.n, NULL_ROWS)
        atoms = np.repeat(np.arange(len(ref.keys)), ref.counts)
        if m < ref.n:
            atoms = atoms[np.sort(rng.choice(ref.n, m, replace=False))]
        present, atoms = np.unique(atoms, return_inverse=True)
        keys, k = ref.keys[present], len(present)
        # The current-sized chunk is exact whenever the reference holds twice as many rows; else split in proportion.
        m_b = n_cur if 2 * n_cur <= m else int(min(max(round(m * n_cur / (n_ref + n_cur)), 1), m - 1))
        m_a = m - m_b
        scale = np.sqrt((1 / n_ref + 1 / n_cur) / (1 / m_a + 1 / m_b))
        chunk = rng.permuted(np.tile(np.arange(m) < m_b, (n_boot, 1)), axis=1)
        rows, positions = np.nonzero(chunk)
        b = np.bincount(rows * k + atoms[positions], minlength=n_boot * k).reshape(n_boot, k).astype(np.float64)
        fa = np.cumsum(np.bincount(atoms, minlength=k) - b, axis=1) / m_a
        fb = np.cumsum(b, axis=1) / m_b
        return statistic(fa, fb, keys, ref_std, scale)

    return draw


def _ks_of_cdfs(fa: np.ndarray, fb: np.ndarray, keys: np.ndarray, ref_std: float, scale: float) -> np.ndarray:
    return scale * np.max(np.abs(fa - fb), axis=1)


def _wasserstein_of_cdfs(fa: np.ndarray, fb: np.ndarray, keys: np.ndarray, ref_std: float,
                         scale: float) -> np.ndarray:
    return scale * np.sum(np.abs(fa - fb)[:, :-1] * np.diff(keys), axis=1) / max(ref_std, 0.001)


def _chisquare_of_counts(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Chi-square for each row pair of count vectors (reference row a, current row b)."""
    n_a, n_b = a.sum(axis=1, keepdims=True), b.sum(axis=1, keepdims=True)
    expected = a * (n_b / n_a)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where((expected == 0) & (b == 0), 0.0, (b - expected) ** 2 / expected)
    return terms.sum(axis=1)


def _z_of_counts(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    n_a, n_b = a.sum(axis=1, keepdims=True), b.sum(axis=1, keepdims=True)
    p1, p2 = 1 - a[:, 0] / n_a[:, 0], 1 - b[:, 0] / n_b[:, 0]
    pooled = (a.sum(axis=1) - a[:, 0] + b.sum(axis=1) - b[:, 0]) / (n_a[:, 0] + n_b[:, 0])
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.abs(p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n_a[:, 0] + 1.0 / n_b[:, 0]))
    return np.nan_to_num(z, nan=0.0)


def _jensenshannon_of_counts(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from scipy.special import rel_entr

    n_a, n_b = a.sum(axis=1, keepdims=True), b.sum(axis=1, keepdims=True)
    p, q = a / n_a, b / n_b
    mid = (p + q) / 2
    return np.sqrt(np.maximum((rel_entr(p, mid).sum(axis=1) + rel_entr(q, mid).sum(axis=1)) / 2, 0.0))


# -- the tests, declared: adding one is one entry here plus one case in tests/unit/test_drift.py ----------------------
DRIFT_TESTS: tuple[DriftTestEntry, ...] = (
    DriftTestEntry("ks", "K-S p_value", "K-S statistic", "p-value", 0.05, True,
                   _for_ks, _run_ks, _null_of_halves(_ks_of_cdfs)),
    DriftTestEntry("chisquare", "chi-square p_value", "chi-square statistic", "p-value", 0.05, False,
                   _for_chisquare, _run_chisquare, _null_of_shares(_chisquare_of_counts)),
    DriftTestEntry("z", "Z-test p_value", "Z statistic (absolute)", "p-value", 0.05, False,
                   _for_z, _run_z, _null_of_shares(_z_of_counts)),
    DriftTestEntry("wasserstein", "Wasserstein distance (normed)", "Wasserstein distance (normed)", "distance", 0.1,
                   True, _for_wasserstein, _run_wasserstein, _null_of_halves(_wasserstein_of_cdfs)),
    DriftTestEntry("jensenshannon", "Jensen-Shannon distance", "Jensen-Shannon distance", "distance", 0.1, True,
                   _for_jensenshannon, _run_jensenshannon, _null_of_shares(_jensenshannon_of_counts)),
)
TESTS = {t.key: t for t in DRIFT_TESTS}


def calibrate(observed: float, null: np.ndarray, alpha: float) -> tuple[float, float]:
    """Returns (bootstrap p-value, threshold): drift when p <= alpha, which is the same as observed > threshold.

    p = (1 + #null >= observed) / (B + 1); the threshold is the null value that an observed statistic must exceed
    for p <= alpha, so under no drift a column is flagged about alpha of the time.
    """
    null = np.sort(null)[::-1]
    p = (1 + int(np.count_nonzero(null >= observed))) / (len(null) + 1)
    allowed = int(np.floor(alpha * (len(null) + 1) - 1 + 1e-9))  # most null values an alarm may leave at/above it
    threshold = float(null[allowed]) if 0 <= allowed < len(null) else float("inf")
    return p, threshold


def adjust_benjamini_hochberg(pvalues: np.ndarray) -> np.ndarray:
    """Returns Benjamini-Hochberg adjusted p-values (step-up, capped at 1), in the input order."""
    p = np.asarray(pvalues, dtype=np.float64)
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out
