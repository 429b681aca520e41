"""Statistics for launch tests: fixed-horizon and always-valid sequential tests, sample ratio, power, a canary judge.

Every test function accepts numpy arrays as well as numbers and works element-wise, so the launch simulator can test
all days of a run in one call. Differences are always "challenger minus champion" (treatment minus control).

The sequential test is the mixture sequential probability ratio test (mSPRT) of Johari, Pekelis and Walsh, "Always
valid inference" (2017), with a normal mixing distribution N(0, tau^2) over the true difference. Its always-valid
p-value min_k 1/Lambda_k and the matching confidence sequence stay valid however often, and whenever, one looks at
them, so stopping on the first day they exclude zero keeps the false-positive rate at or below alpha.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from core.errors import SpecInvalid


@dataclass
class TestResult:
    """A two-sample comparison: statistic, p-value and the (1 - alpha) confidence interval of the difference."""

    name: str
    statistic: float | np.ndarray
    p_value: float | np.ndarray
    diff: float | np.ndarray
    low: float | np.ndarray
    high: float | np.ndarray

    def to_dict(self) -> dict:
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class PowerResult:
    """Requests a fixed-horizon test needs per arm and in total, and how many days the traffic takes to supply them."""

    n_control: int
    n_treatment: int
    n_total: int
    days: int

    def to_dict(self) -> dict:
        return asdict(self)


def normal_quantile(q):
    """Returns the standard normal quantile (1.96 for 0.975)."""
    from scipy import stats

    return stats.norm.ppf(q)


def proportion_test(x_a, n_a, x_b, n_b, alpha: float = 0.05) -> TestResult:
    """Runs the pooled two-proportion z-test, with an unpooled Wald interval for the difference in rates."""
    from scipy import stats

    x_a, n_a, x_b, n_b = (np.asarray(v, dtype=float) for v in (x_a, n_a, x_b, n_b))
    with np.errstate(divide="ignore", invalid="ignore"):
        p_a, p_b = x_a / n_a, x_b / n_b
        pooled = (x_a + x_b) / (n_a + n_b)
        se0 = np.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
        diff = p_b - p_a
        z = np.where(se0 > 0, diff / se0, np.where(diff == 0, 0.0, np.nan))
        se = np.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)
    p = 2 * stats.norm.sf(np.abs(z))
    half = normal_quantile(1 - alpha / 2) * se
    return TestResult("two-proportion z", _out(z), _out(p), _out(diff), _out(diff - half), _out(diff + half))


def welch_test(mean_a, var_a, n_a, mean_b, var_b, n_b, alpha: float = 0.05) -> TestResult:
    """Runs Welch's unequal-variance t-test from per-arm means, sample variances (ddof=1) and counts."""
    from scipy import stats

    mean_a, var_a, n_a, mean_b, var_b, n_b = (np.asarray(v, dtype=float)
                                              for v in (mean_a, var_a, n_a, mean_b, var_b, n_b))
    with np.errstate(divide="ignore", invalid="ignore"):
        va, vb = var_a / n_a, var_b / n_b
        se = np.sqrt(va + vb)
        diff = mean_b - mean_a
        t = np.where(se > 0, diff / se, np.where(diff == 0, 0.0, np.nan))
        df = (va + vb) ** 2 / (va**2 / (n_a - 1) + vb**2 / (n_b - 1))
    df = np.where(np.isfinite(df) & (df > 0), df, 1.0)
    p = 2 * stats.t.sf(np.abs(t), df)
    half = stats.t.ppf(1 - alpha / 2, df) * se
    return TestResult("Welch t", _out(t), _out(p), _out(diff), _out(diff - half), _out(diff + half))


def compare_arms(n_a, s_a, ss_a, n_b, s_b, ss_b, is_binary: bool, alpha: float = 0.05) -> TestResult:
    """Tests challenger against champion from per-arm count, sum and sum of squares (z for 0/1 outcomes, else Welch)."""
    if is_binary:
        return proportion_test(s_a, n_a, s_b, n_b, alpha)
    (m_a, v_a), (m_b, v_b) = mean_var(n_a, s_a, ss_a), mean_var(n_b, s_b, ss_b)
    return welch_test(m_a, v_a, n_a, m_b, v_b, n_b, alpha)


def mean_var(n, s, ss):
    """Returns the mean and the sample variance (ddof=1) from count, sum and sum of squares."""
    n, s, ss = (np.asarray(v, dtype=float) for v in (n, s, ss))
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = s / n
        var = np.maximum(ss - n * mean**2, 0.0) / (n - 1)
    return _out(mean), _out(var)


def srm_test(n_a, n_b, share_b: float):
    """Returns the chi-square statistic and p-value of the observed arm counts against the intended split."""
    from scipy import stats

    n_a, n_b = np.asarray(n_a, dtype=float), np.asarray(n_b, dtype=float)
    total = n_a + n_b
    e_a, e_b = total * (1 - share_b), total * share_b
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = np.where(total > 0, (n_a - e_a) ** 2 / e_a + (n_b - e_b) ** 2 / e_b, 0.0)
    return _out(chi2), _out(stats.chi2.sf(chi2, 1))


def mixture_tau2(var_at_horizon, alpha: float = 0.05):
    """Chooses the mSPRT mixing variance so the confidence sequence is narrowest at the planned sample size.

    The half-width at variance V is sqrt(V (1 + 1/r) (2 ln(1/alpha) + ln(1 + r))) with r = tau^2 / V; it is smallest
    where r = 2 ln(1/alpha) + ln(1 + r) (about 8.2 at alpha = 0.05), solved here by fixed-point iteration.
    """
    r = 2 * math.log(1 / alpha)
    for _ in range(50):
        r = 2 * math.log(1 / alpha) + math.log1p(r)
    return r * np.asarray(var_at_horizon, dtype=float)


def sequential_test(diff, var, tau2, alpha: float = 0.05):
    """Returns the mSPRT always-valid p-value and confidence sequence (low, high) along the last axis (time).

    `diff` and `var` are the estimate of the difference and its variance at each look; the p-value is the running
    minimum of 1/Lambda. Both stay valid under continuous monitoring.
    """
    diff, var = np.asarray(diff, dtype=float), np.asarray(var, dtype=float)
    tau2 = np.broadcast_to(np.asarray(tau2, dtype=float), var.shape)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_lr = 0.5 * np.log(var / (var + tau2)) + diff**2 * tau2 / (2 * var * (var + tau2))
        p = np.where(var > 0, np.minimum(1.0, np.exp(-log_lr)), 1.0)
    p = np.minimum.accumulate(np.nan_to_num(p, nan=1.0), axis=-1)
    # The interval is reported look by look, not intersected over time: each look is already valid, and when the
    # true difference changes mid-test (an injected degradation) the running intersection can become empty.
    low, high = confidence_sequence(diff, var, tau2, alpha)
    return _out(p), low, high


def confidence_sequence(diff, var, tau2, alpha: float = 0.05):
    """Returns the mSPRT confidence sequence (low, high): differences whose mixture likelihood ratio is < 1/alpha."""
    diff, var = np.asarray(diff, dtype=float), np.asarray(var, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        half = np.sqrt(var * (var + tau2) / tau2 * (2 * math.log(1 / alpha) + np.log((var + tau2) / var)))
    half = np.where(var > 0, np.nan_to_num(half, nan=np.inf), np.inf)
    return _out(diff - half), _out(diff + half)


def sample_size(baseline_mean: float, mde: float, sd: float | None = None, split: float = 0.5,
                alpha: float = 0.05, power: float = 0.8) -> tuple[int, int]:
    """Returns (control, treatment) requests a two-sided fixed-horizon test needs to detect `mde` with `power`.

    With `sd=None` the outcome is a rate (baseline_mean is the control's rate) and the pooled-variance formula of
    Fleiss is used; otherwise the normal approximation for a difference in means with a common standard deviation.

    Raises:
        SpecInvalid: a rate outside 0..1, a non-positive effect, or a split, alpha or power out of range.
    """
    _check_power_inputs(baseline_mean, mde, sd, split, alpha, power)
    z_a, z_b = normal_quantile(1 - alpha / 2), normal_quantile(power)
    w = 1 / (1 - split) + 1 / split
    if sd is None:
        p1, p2 = baseline_mean, baseline_mean + mde
        p_bar = (1 - split) * p1 + split * p2
        root = (z_a * math.sqrt(p_bar * (1 - p_bar) * w)
                + z_b * math.sqrt(p1 * (1 - p1) / (1 - split) + p2 * (1 - p2) / split))
        total = (root / mde) ** 2
    else:
        total = (z_a + z_b) ** 2 * sd**2 * w / mde**2
    # Each arm is rounded up on its own, as the textbook tables do.
    return math.ceil(total * (1 - split) - 1e-9), math.ceil(total * split - 1e-9)


def days_needed(baseline_mean: float, sd: float | None, mde: float, traffic_per_day: int, split: float = 0.5,
                alpha: float = 0.05, power: float = 0.8) -> PowerResult:
    """Returns how many requests and whole days of traffic a fixed-horizon test needs to detect `mde`.

    Raises:
        SpecInvalid: traffic below one request a day, or any input `sample_size` refuses.
    """
    if not traffic_per_day or traffic_per_day < 1:
        raise SpecInvalid(f"Traffic per day must be at least 1 request, not {traffic_per_day}. "
                          "Enter the expected daily requests.")
    n_a, n_b = sample_size(baseline_mean, mde, sd, split, alpha, power)
    days = max(math.ceil(n_a / (traffic_per_day * (1 - split))), math.ceil(n_b / (traffic_per_day * split)))
    return PowerResult(n_a, n_b, n_a + n_b, days)


def detectable_effect(baseline_mean: float, sd: float | None, traffic_per_day: int, days: int, split: float = 0.5,
                      alpha: float = 0.05, power: float = 0.8) -> float:
    """Returns the smallest difference a fixed-horizon test over `days` detects with `power` (the MDE)."""
    n_total = traffic_per_day * days
    if sd is not None:
        z = normal_quantile(1 - alpha / 2) + normal_quantile(power)
        return float(z * sd * math.sqrt((1 / (1 - split) + 1 / split) / n_total))
    lo, hi = 1e-9, 1 - baseline_mean - 1e-9
    if hi <= lo or sum(sample_size(baseline_mean, hi, None, split, alpha, power)) > n_total:
        return float("nan")
    for _ in range(60):  # bisection: the needed sample size falls as the effect grows
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if sum(sample_size(baseline_mean, mid, None, split, alpha, power)) > n_total else (lo, mid)
    return float(hi)


def _check_power_inputs(baseline_mean, mde, sd, split, alpha, power) -> None:
    if not 0 < split < 1:
        raise SpecInvalid(f"The split must be between 0 and 1 (for example 0.5), not {split}.")
    if not 0 < alpha < 0.5 or not 0 < power < 1:
        raise SpecInvalid(f"Alpha must be between 0 and 0.5 and power between 0 and 1 (got {alpha} and {power}).")
    if not mde or mde <= 0:
        raise SpecInvalid(f"The minimum detectable effect must be above 0, not {mde}. "
                          "Enter the smallest change worth acting on.")
    if sd is None and not (0 < baseline_mean < 1 and baseline_mean + mde < 1):
        raise SpecInvalid(
            f"A rate of {baseline_mean} plus an effect of {mde} must stay between 0 and 1. "
            "Enter rates as fractions (0.12 for 12 %), or give a standard deviation for a numeric outcome."
        )
    if sd is not None and sd <= 0:
        raise SpecInvalid(f"The standard deviation must be above 0, not {sd}.")


def judge_canary(metrics: dict, confidence: float = 0.98, pass_score: float = 95.0,
                 marginal_score: float = 75.0) -> dict:
    """Scores a canary like Kayenta's NetflixACAJudge: a Mann-Whitney comparison per metric at 98 % confidence.

    `metrics` maps a name to (baseline_values, canary_values, direction, allowed_ratio): per-interval measurements
    (NaNs are removed), the direction that counts as a problem ("increase", "decrease" or "either") and the mean
    ratio canary/baseline a change must pass to count (Kayenta's effectSize; 1.0 counts any change). As in Kayenta,
    a metric is High (Low) when the Hodges-Lehmann interval of the shift lies wholly above (below) a band of
    +-0.25 x |estimate|, the ratio passes the allowance and the direction is watched; High and Low fail. The score is
    the share of judged metrics that pass: Pass at >= pass_score, Marginal at >= marginal_score, else Fail.
    """
    from scipy import stats

    rows = []
    for name, (base, canary, direction, allowed) in metrics.items():
        base, canary = np.asarray(base, dtype=float), np.asarray(canary, dtype=float)
        base, canary = base[np.isfinite(base)], canary[np.isfinite(canary)]
        row = {"metric": name, "baseline_mean": _num(base.mean()) if base.size else None,
               "canary_mean": _num(canary.mean()) if canary.size else None,
               "p_value": None, "estimate": None, "low": None, "high": None}
        if base.size < 2 or canary.size < 2:
            rows.append(row | {"classification": "Nodata", "passed": None})
            continue
        p = stats.mannwhitneyu(canary, base, alternative="two-sided").pvalue
        est, low, high = hodges_lehmann(base, canary, confidence)
        band = 0.25 * abs(est)
        # A ratio of means only makes sense for positive metrics; otherwise the effect-size check is skipped.
        ratio = canary.mean() / base.mean() if base.mean() > 0 and canary.mean() >= 0 else None
        high_ok = ratio is None or ratio >= max(allowed, 1.0) if direction in ("increase", "either") else False
        low_ok = ratio is None or ratio <= min(allowed, 1.0) if direction in ("decrease", "either") else False
        cls = "High" if low > band and high_ok else "Low" if high < -band and low_ok else "Pass"
        rows.append(row | {"p_value": _num(p), "estimate": _num(est), "low": _num(low), "high": _num(high),
                           "ratio": None if ratio is None else _num(ratio), "classification": cls,
                           "passed": cls == "Pass"})
    judged = [r for r in rows if r["passed"] is not None]
    score = 100.0 * sum(r["passed"] for r in judged) / len(judged) if judged else None
    verdict = ("Nodata" if score is None else "Pass" if score >= pass_score
               else "Marginal" if score >= marginal_score else "Fail")
    return {"score": score, "result": verdict, "confidence": confidence, "metrics": rows}


def hodges_lehmann(base, canary, confidence: float = 0.98, max_values: int = 2000):
    """Returns the Hodges-Lehmann shift (canary - baseline) and its distribution-free confidence interval."""
    base, canary = np.asarray(base, dtype=float)[:max_values], np.asarray(canary, dtype=float)[:max_values]
    n, m = canary.size, base.size
    diffs = np.sort((canary[:, None] - base[None, :]).ravel())
    nm = n * m
    # 1-based rank of the lower bound from the normal approximation to the Mann-Whitney U distribution.
    k = int(math.floor(nm / 2 - normal_quantile(1 - (1 - confidence) / 2) * math.sqrt(nm * (n + m + 1) / 12)))
    k = min(max(k, 1), nm)
    return float(np.median(diffs)), float(diffs[k - 1]), float(diffs[nm - k])


def _out(x):
    x = np.asarray(x)
    return float(x) if x.ndim == 0 else x


def _num(x):
    x = float(x)
    return x if math.isfinite(x) else None
