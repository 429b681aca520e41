"""Drift statistics on value counts: sound two-sample tests, Evidently 0.7.23's default tests, a resampled null.

Two families, chosen by the method (core/monitor/checks.py METHODS):
- "sound" (the default verdict): two-sample tests that account for the noise in both sets. Numbers: two-sample
  Kolmogorov-Smirnov (scipy.stats.ks_2samp, exact p-values for small sets). Categories, and numbers with at most
  FEW_VALUES values: chi-square on the 2 x k table of counts (scipy.stats.chi2_contingency, no continuity
  correction), or an exact test for tables of at most EXACT_ROWS rows or with an expected count below MIN_EXPECTED
  (Fisher's for 2 x 2, otherwise a Monte-Carlo permutation test of the same statistic with PERMUTATIONS tables drawn
  from the pooled counts).
  Effect sizes: Wasserstein distance over the reference's std (scipy.stats.wasserstein_distance) and Cramer's V
  (scipy.stats.contingency.association).
- Evidently parity: Evidently's own automatic choice, described below, with its thresholds.

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

import math
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

SMALL_REFERENCE_ROWS = 1000     # Evidently: p-value tests up to this many reference rows, distances above
FEW_VALUES = 5                  # Evidently: a numeric column with at most this many values is tested as categories
PERMUTED_ROWS = 5_000           # calibration of numbers reshuffles at most this many rows per side (then rescales)
MIN_EXPECTED = 5                # sound chi-square: an expected count below this switches to an exact test
EXACT_ROWS = 5000               # ... and so do tables of at most this many rows (chi-square runs ~1 point liberal
                                # at 100 vs 1,000 rows; the exact tests never exceed alpha)
PERMUTATIONS = 1999             # Monte-Carlo permutation tables for small counts (p resolution 1/2000)
SOUND = "sound"


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
    # (ref, n_ref, n_cur, ref std, resamples, rng, cur) -> the statistic under no drift, once per resample
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
    if method == SOUND:
        return False
    if method in ("p-value", "distance"):
        return method == "p-value"
    return n_ref <= SMALL_REFERENCE_ROWS


def _for_ks(kind: str, n_ref: int, n_values: int, method: str) -> bool:
    return (method == SOUND or _p_value_family(method, n_ref)) and _is_continuous(kind, n_values)


def _for_z(kind: str, n_ref: int, n_values: int, method: str) -> bool:
    return _p_value_family(method, n_ref) and not _is_continuous(kind, n_values) and n_values <= 2


def _for_chisquare(kind: str, n_ref: int, n_values: int, method: str) -> bool:
    return _p_value_family(method, n_ref) and not _is_continuous(kind, n_values) and n_values > 2


def _for_wasserstein(kind: str, n_ref: int, n_values: int, method: str) -> bool:
    return method != SOUND and not _p_value_family(method, n_ref) and _is_continuous(kind, n_values)


def _for_jensenshannon(kind: str, n_ref: int, n_values: int, method: str) -> bool:
    return method != SOUND and not _p_value_family(method, n_ref) and not _is_continuous(kind, n_values)


def _for_two_sample_chisquare(kind: str, n_ref: int, n_values: int, method: str) -> bool:
    return method == SOUND and not _is_continuous(kind, n_values)


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


KS_EXACT_ROWS = 10_000          # scipy's own limit for exact K-S p-values (ks_2samp MAX_AUTO_N)
KS_LIMIT_N = 5_000              # above this effective size m*n/(m+n), the Kolmogorov limit distribution


def _run_ks(ref: Counts, cur: Counts, ref_std: float) -> tuple[float, float]:
    """Two-sample K-S. Up to KS_EXACT_ROWS per side scipy's ks_2samp on the values; above, the same statistic and
    scipy's asymptotic p-value (what ks_2samp itself uses there) straight from the counts, which spares expanding
    and sorting a million values per column (bench/bench_drift.py; contract test against ks_2samp in test_drift)."""
    from scipy.stats import ks_2samp, kstwo

    if max(ref.n, cur.n) <= KS_EXACT_ROWS:
        with warnings.catch_warnings():   # with ties scipy falls back to its asymptotic p-value and says so
            warnings.simplefilter("ignore", RuntimeWarning)
            res = ks_2samp(np.repeat(ref.keys, ref.counts), np.repeat(cur.keys, cur.counts))
        return float(res.statistic), float(res.pvalue)
    _, fa, fb = _cdfs(ref, cur)
    d = float(np.max(np.abs(fa - fb)))
    m, n = sorted((ref.n, cur.n), reverse=True)
    en = m * n / (m + n)
    if en > KS_LIMIT_N:
        # scipy's kstwo.sf costs ~0.1 s at these n; its limit law (Kolmogorov) differs by under 1 % relative there.
        from scipy.stats import kstwobign

        return d, float(np.clip(kstwobign.sf(d * np.sqrt(np.round(en))), 0.0, 1.0))
    return d, float(np.clip(kstwo.sf(d, np.round(en)), 0.0, 1.0))


def _cdfs(ref: Counts, cur: Counts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both sides' empirical CDFs at the union of their values (numeric keys)."""
    keys, a, b = align(ref, cur)
    return keys, np.cumsum(a) / ref.n, np.cumsum(b) / cur.n


def _run_two_sample_chisquare(ref: Counts, cur: Counts, ref_std: float) -> tuple[float, float]:
    """Chi-square on the 2 x k table of both sides' counts; exact tests when an expected count is small."""
    from scipy.stats import chi2_contingency, fisher_exact

    _, a, b = align(ref, cur)
    table = np.vstack((a, b))
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 0.0, 1.0
    statistic = float(_chi2_of_tables(table[None, 0], table[None, 1])[0])
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
    if expected.min() >= MIN_EXPECTED and table.sum() > EXACT_ROWS:
        res = chi2_contingency(table, correction=False)
        return float(res.statistic), float(res.pvalue)
    if table.shape[1] == 2:
        return statistic, float(fisher_exact(table).pvalue)
    # Deterministic: the same counts always give the same p-value.
    seed = np.random.SeedSequence([int(v) for v in table.ravel()[:64]])
    rng = np.random.default_rng(seed)
    pooled = table.sum(axis=0)
    b_null = rng.multivariate_hypergeometric(pooled, int(table[1].sum()), size=PERMUTATIONS)
    null = _chi2_of_tables(pooled - b_null, b_null)
    p = (1 + int(np.count_nonzero(null >= statistic * (1 - 1e-12)))) / (PERMUTATIONS + 1)
    return statistic, p


def _chi2_of_tables(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson's chi-square of the 2 x k tables [a_i; b_i], one per row (cells with zero expectation skipped)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    col = a + b
    n_a, n_b = a.sum(axis=1, keepdims=True), b.sum(axis=1, keepdims=True)
    total = n_a + n_b
    ea, eb = col * n_a / total, col * n_b / total
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(col > 0, (a - ea) ** 2 / ea + (b - eb) ** 2 / eb, 0.0)
    return terms.sum(axis=1)


def effect_size(kind: str, ref: Counts, cur: Counts, ref_std: float) -> tuple[str, float]:
    """Returns (name, value) of the change's size: Wasserstein over the reference std for numbers (many values),
    Cramer's V of the 2 x k table for categories; both 0 for identical distributions."""
    from scipy.stats.contingency import association

    if kind == "numeric" and (len(ref.keys) > FEW_VALUES or len(cur.keys) > FEW_VALUES):
        return "Wasserstein / std", wasserstein_of_counts(ref, cur) / max(ref_std, 0.001)
    _, a, b = align(ref, cur)
    table = np.vstack((a, b))
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return "Cramer's V", 0.0
    return "Cramer's V", float(association(table, method="cramer"))


def _run_wasserstein(ref: Counts, cur: Counts, ref_std: float) -> tuple[float, float]:
    w = wasserstein_of_counts(ref, cur) / max(ref_std, 0.001)
    return w, w


def wasserstein_of_counts(ref: Counts, cur: Counts) -> float:
    """Wasserstein-1 distance of two counted samples: scipy.stats.wasserstein_distance's CDF formula on the
    already sorted values. Kept by hand because scipy sorts the concatenated values again, which was a quarter of
    the 50k-row verdict (bench/bench_drift.py); test_drift holds it to scipy."""
    keys, fa, fb = _cdfs(ref, cur)
    return float(np.sum(np.abs(fa - fb)[:-1] * np.diff(keys)))


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
              n_boot: int, rng: np.random.Generator, cur: Counts | None = None) -> np.ndarray:
    """Draws the test statistic's spread under no drift at the real sample sizes: permutations of both sides'
    values pooled when the current counts are given, else resamples of the reference."""
    return TESTS[key].null_statistic(ref, n_ref, n_cur, ref_std, n_boot, rng, cur)


# Calibration. Under no drift the reference and current rows are exchangeable, so reshuffling the pooled rows into
# a reference-sized and a current-sized set gives the statistic's exact null at the real sizes (a permutation test:
# p = (1 + #null >= observed) / (B + 1) never exceeds alpha under no drift). Resampling the reference alone was
# measured too (bench/bench_drift.py): it cannot produce a level the reference sample happens to lack, so with rare
# levels and 100-row references Jensen-Shannon was flagged 9-10 % at a 5 % level; an older split of the reference
# into two chunks gave 198 + 2 rows at 200 vs 20,000 and flagged 14 %.
def _null_of_shares(statistic: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable[..., np.ndarray]:
    """Categories (chi-square, Z, Jensen-Shannon): the pooled counts are dealt at random into both sides' real sizes
    (multivariate hypergeometric), and `statistic` is computed for each pair of count rows."""
    def draw(ref: Counts, n_ref: int, n_cur: int, ref_std: float, n_boot: int, rng: np.random.Generator,
             cur: Counts | None = None):
        if cur is None:
            probs = ref.counts / ref.n
            a = rng.multinomial(n_ref, probs, size=n_boot).astype(np.float64)
            b = rng.multinomial(n_cur, probs, size=n_boot).astype(np.float64)
            return statistic(a, b)
        _, ca, cb = align(ref, cur)
        pooled = ca + cb
        b = rng.multivariate_hypergeometric(pooled, int(cb.sum()), size=n_boot).astype(np.float64)
        return statistic(pooled - b, b)

    return draw


def _null_of_resamples(statistic: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """Numbers (K-S, Wasserstein): the pooled rows (at most 2 x PERMUTED_ROWS of them, drawn once) are shuffled into
    a pseudo-reference and a pseudo-current set of the real sizes, at most PERMUTED_ROWS each; the statistic
    is rescaled by sqrt(1/n_ref + 1/n_cur) / sqrt(1/m_ref + 1/m_cur), the rate at which it shrinks under no drift.
    `statistic(fa, fb, keys, ref_std, scale)` compares the two sets' CDFs, one row per resample."""
    def draw(ref: Counts, n_ref: int, n_cur: int, ref_std: float, n_boot: int, rng: np.random.Generator,
             cur: Counts | None = None):
        if cur is None:
            keys, pooled = ref.keys, ref.counts
        else:
            keys, ca, cb = align(ref, cur)
            pooled = ca + cb
        m_a, m_b = min(n_ref, PERMUTED_ROWS), min(n_cur, PERMUTED_ROWS)
        atoms = np.repeat(np.arange(len(keys)), pooled)
        if cur is None:                      # the reference alone: resample both sides from it, with replacement
            atoms = atoms[rng.integers(0, len(atoms), m_a + m_b)]
        elif m_a + m_b < len(atoms):
            atoms = atoms[rng.choice(len(atoms), m_a + m_b, replace=False)]
        present, atoms = np.unique(atoms, return_inverse=True)
        keys, k, m = keys[present], len(present), m_a + m_b
        scale = float(np.sqrt((1 / n_ref + 1 / n_cur) / (1 / m_a + 1 / m_b)))
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
                   _for_ks, _run_ks, _null_of_resamples(_ks_of_cdfs)),
    DriftTestEntry("chisquare", "chi-square p_value", "chi-square statistic", "p-value", 0.05, False,
                   _for_chisquare, _run_chisquare, _null_of_shares(_chisquare_of_counts)),
    DriftTestEntry("z", "Z-test p_value", "Z statistic (absolute)", "p-value", 0.05, False,
                   _for_z, _run_z, _null_of_shares(_z_of_counts)),
    DriftTestEntry("wasserstein", "Wasserstein distance (normed)", "Wasserstein distance (normed)", "distance", 0.1,
                   True, _for_wasserstein, _run_wasserstein, _null_of_resamples(_wasserstein_of_cdfs)),
    DriftTestEntry("jensenshannon", "Jensen-Shannon distance", "Jensen-Shannon distance", "distance", 0.1, True,
                   _for_jensenshannon, _run_jensenshannon, _null_of_shares(_jensenshannon_of_counts)),
    DriftTestEntry("chi2_two_sample", "chi-square two-sample p_value", "chi-square statistic (2 x k table)",
                   "p-value", 0.05, True, _for_two_sample_chisquare, _run_two_sample_chisquare,
                   _null_of_shares(_chi2_of_tables)),
)
TESTS = {t.key: t for t in DRIFT_TESTS}


def calibrate(observed: float, null: np.ndarray, alpha: float) -> tuple[float, float]:
    """Returns (bootstrap p-value, threshold): drift when p <= alpha, which is the same as observed > threshold.

    p = (1 + #null >= observed) / (B + 1); the threshold is the null value that an observed statistic must exceed
    for p <= alpha, so under no drift a column is flagged about alpha of the time.
    """
    null = np.sort(null)[::-1]
    # Statistics such as K-S take few distinct values, and a null value equal to the observed one must count as
    # "at least as large" although it was computed along another floating-point path.
    # An infinite statistic (Evidently's chi-square when a value is new to the reference) ties with infinite ones.
    floor = observed - 1e-9 * max(1.0, abs(observed)) if math.isfinite(observed) else observed
    p = (1 + int(np.count_nonzero(null >= floor))) / (len(null) + 1)
    allowed = int(np.floor(alpha * (len(null) + 1) - 1 + 1e-9))  # most null values an alarm may leave at/above it
    threshold = float(null[allowed]) if 0 <= allowed < len(null) else float("inf")
    return p, threshold


def adjust_benjamini_hochberg(pvalues: np.ndarray) -> np.ndarray:
    """Returns Benjamini-Hochberg adjusted p-values (scipy.stats.false_discovery_control), in the input order."""
    from scipy.stats import false_discovery_control

    p = np.asarray(pvalues, dtype=np.float64)
    if len(p) == 0:
        return p
    return false_discovery_control(np.clip(p, 0.0, 1.0), method="bh")
