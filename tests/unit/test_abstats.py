"""Launch statistics: each test agrees with SciPy or a textbook value on the same numbers."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from core.stats import abtests as abstats
from core.errors import SpecInvalid


# -- fixed-horizon tests ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("x_a, n_a, x_b, n_b", [(120, 1000, 150, 1000), (30, 400, 22, 380), (5000, 50000, 5105, 49800)])
def test_proportion_test_matches_scipy_chi_square(x_a, n_a, x_b, n_b):
    res = abstats.proportion_test(x_a, n_a, x_b, n_b)
    chi2, p, _, _ = stats.chi2_contingency([[x_a, n_a - x_a], [x_b, n_b - x_b]], correction=False)
    assert res.p_value == pytest.approx(p, rel=1e-9)
    assert res.statistic**2 == pytest.approx(chi2, rel=1e-9)
    assert np.sign(res.statistic) == np.sign(x_b / n_b - x_a / n_a)
    p_a, p_b = x_a / n_a, x_b / n_b
    half = stats.norm.ppf(0.975) * math.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)
    assert (res.low, res.high) == pytest.approx((p_b - p_a - half, p_b - p_a + half))


def test_welch_from_sums_matches_scipy_on_raw_values():
    rng = np.random.default_rng(3)
    a, b = rng.normal(10, 2, 400), rng.normal(10.4, 3, 250)
    res = abstats.compare_arms(a.size, a.sum(), (a * a).sum(), b.size, b.sum(), (b * b).sum(), is_binary=False)
    ref = stats.ttest_ind(b, a, equal_var=False)
    assert res.name == "Welch t"
    assert res.statistic == pytest.approx(ref.statistic, rel=1e-9)
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    ci = ref.confidence_interval(0.95)
    assert (res.low, res.high) == pytest.approx((ci.low, ci.high), rel=1e-9)


def test_compare_arms_uses_the_z_test_for_conversions():
    res = abstats.compare_arms(1000, 120, 120, 1000, 150, 150, is_binary=True)
    assert res.name == "two-proportion z"
    assert res.p_value == pytest.approx(abstats.proportion_test(120, 1000, 150, 1000).p_value)


def test_tests_work_element_wise_on_arrays():
    x_a, n_a, x_b, n_b = np.array([10, 50, 90]), np.array([100, 400, 800]), np.array([14, 40, 120]), np.array([90, 420, 790])
    res = abstats.proportion_test(x_a, n_a, x_b, n_b)
    for i in range(3):
        assert res.p_value[i] == pytest.approx(abstats.proportion_test(x_a[i], n_a[i], x_b[i], n_b[i]).p_value)


@pytest.mark.parametrize("n_a, n_b, share", [(5000, 5000, 0.5), (5210, 4790, 0.5), (7050, 2950, 0.3)])
def test_srm_matches_scipy_chisquare(n_a, n_b, share):
    chi2, p = abstats.srm_test(n_a, n_b, share)
    total = n_a + n_b
    ref = stats.chisquare([n_a, n_b], f_exp=[total * (1 - share), total * share])
    assert chi2 == pytest.approx(ref.statistic, rel=1e-9, abs=1e-12)
    assert p == pytest.approx(ref.pvalue, rel=1e-9)


# -- power --------------------------------------------------------------------------------------------------------------
def test_sample_size_matches_cohens_table_for_means():
    # Cohen (1988), Table 2.4.1: d = 0.2, two-sided alpha 0.05, power 0.80 -> 393 per group.
    assert abstats.sample_size(0.0, 0.2, sd=1.0) == (393, 393)


def test_sample_size_for_rates_matches_fleiss_formula():
    # Fleiss, without continuity correction, 10 % -> 12 %, alpha 0.05, power 0.8: worked by hand to 3,841 per group.
    assert abstats.sample_size(0.10, 0.02) == (3841, 3841)


def test_days_needed_and_detectable_effect_agree():
    res = abstats.days_needed(0.10, None, 0.02, traffic_per_day=1000, split=0.5)
    assert (res.n_control, res.days) == (3841, 8)
    power_at_n = stats.norm.cdf(0.02 / math.sqrt(0.1 * 0.9 / 3841 + 0.12 * 0.88 / 3841) - stats.norm.ppf(0.975))
    assert power_at_n == pytest.approx(0.8, abs=0.01)
    mde = abstats.detectable_effect(0.10, None, traffic_per_day=1000, days=res.n_total / 1000)
    assert mde == pytest.approx(0.02, rel=1e-3)
    assert abstats.detectable_effect(5.0, 2.0, 1000, 10) == pytest.approx(
        (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * 2.0 * math.sqrt(4 / 10000))


def test_unequal_split_needs_more_days_than_an_even_one():
    even = abstats.days_needed(0.2, None, 0.01, 5000, split=0.5)
    skewed = abstats.days_needed(0.2, None, 0.01, 5000, split=0.1)
    assert skewed.days > even.days and skewed.n_treatment < skewed.n_control


@pytest.mark.parametrize("kwargs, match", [
    ({"baseline_mean": 1.5, "mde": 0.1}, "between 0 and 1"),
    ({"baseline_mean": 0.1, "mde": 0}, "above 0"),
    ({"baseline_mean": 0.1, "mde": 0.01, "split": 1.0}, "split"),
    ({"baseline_mean": 3.0, "mde": 0.5, "sd": -1}, "standard deviation"),
])
def test_power_inputs_are_checked(kwargs, match):
    with pytest.raises(SpecInvalid, match=match):
        abstats.sample_size(**kwargs)
    with pytest.raises(SpecInvalid, match="at least 1 request"):
        abstats.days_needed(0.1, None, 0.01, traffic_per_day=0)


# -- sequential test ----------------------------------------------------------------------------------------------------
def test_msprt_p_value_and_interval_match_the_mixture_likelihood_ratio():
    diff, var, tau2, alpha = 0.03, 1e-4, 5e-4, 0.05

    def lam(theta):
        return math.sqrt(var / (var + tau2)) * math.exp((diff - theta) ** 2 * tau2 / (2 * var * (var + tau2)))

    p, low, high = abstats.sequential_test(np.array([diff]), np.array([var]), tau2, alpha)
    assert p[0] == pytest.approx(min(1, 1 / lam(0)))
    assert lam(low[0]) == pytest.approx(1 / alpha) and lam(high[0]) == pytest.approx(1 / alpha)
    assert (p[0] < alpha) == (low[0] > 0 or high[0] < 0)


def test_msprt_p_value_never_rises_over_time():
    p, _, _ = abstats.sequential_test(np.array([0.05, 0.0, 0.0]), np.array([1e-4, 5e-5, 3e-5]), 8e-4)
    assert p[1] == p[0] and p[2] == p[0]


def test_mixture_variance_makes_the_interval_narrowest_at_the_horizon():
    v = 2e-4
    width = lambda tau2: np.diff(abstats.confidence_sequence(0.0, v, tau2))[0]  # noqa: E731
    best = abstats.mixture_tau2(v)
    assert width(best) < width(best * 0.7) and width(best) < width(best * 1.4)


# -- Kayenta-style judge ------------------------------------------------------------------------------------------------
def test_hodges_lehmann_is_the_median_of_pairwise_differences():
    rng = np.random.default_rng(0)
    base, canary = rng.normal(0, 1, 15), rng.normal(0.5, 1, 12)
    est, low, high = abstats.hodges_lehmann(base, canary, 0.95)
    assert est == pytest.approx(np.median([c - b for c, b in itertools.product(canary, base)]))
    assert low < est < high


def test_hodges_lehmann_interval_uses_the_tabled_rank_for_ten_and_ten():
    # For n = m = 10 at 95 % the Mann-Whitney critical U is 23, so the interval runs from the 24th smallest pairwise
    # difference to the 24th largest.
    base, canary = np.arange(10.0), np.arange(10.0) * 1.7 + 0.31
    diffs = np.sort([c - b for c, b in itertools.product(canary, base)])
    _, low, high = abstats.hodges_lehmann(base, canary, 0.95)
    assert (low, high) == (diffs[23], diffs[-24])


def test_judge_flags_harm_in_the_watched_direction_only():
    rng = np.random.default_rng(1)
    base, worse = rng.normal(10, 1, 60), rng.normal(9, 1, 60)
    judged = abstats.judge_canary({"value": (base, worse, "decrease", 1.0)})
    row = judged["metrics"][0]
    assert row["classification"] == "Low" and judged["result"] == "Fail" and judged["score"] == 0
    assert row["p_value"] == pytest.approx(stats.mannwhitneyu(worse, base, alternative="two-sided").pvalue)
    assert abstats.judge_canary({"value": (base, worse, "increase", 1.0)})["result"] == "Pass"


def test_judge_respects_the_allowed_effect_size_and_scores_the_share_passing():
    rng = np.random.default_rng(2)
    base = rng.lognormal(np.log(20), 0.1, 72)
    slower = base * 1.1 + rng.normal(0, 0.1, 72)
    assert abstats.judge_canary({"latency": (base, slower, "increase", 1.0)})["metrics"][0]["classification"] == "High"
    assert abstats.judge_canary({"latency": (base, slower, "increase", 1.2)})["result"] == "Pass"
    mixed = abstats.judge_canary({"latency": (base, slower, "increase", 1.0), "same": (base, base, "either", 1.0),
                                  "empty": ([], [1.0], "either", 1.0)})
    assert mixed["score"] == pytest.approx(50.0) and mixed["metrics"][2]["classification"] == "Nodata"
