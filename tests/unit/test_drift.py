"""Drift table: known injected shifts, SciPy equality, calibration, Benjamini-Hochberg, validation, time windows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon

from core.monitor.checks import DriftOptions, ReferenceSummary, check_drift, check_prediction_drift, summarize_reference
from core.monitor.stats import adjust_benjamini_hochberg
from core.monitor.windows import apply_shift, drift_over_time
from core.errors import NotFound, SchemaMismatch, SpecInvalid

KINDS = {"age": "numeric", "income": "numeric", "visits": "numeric", "plan": "categorical", "flag": "categorical",
         "score": "numeric"}
SHIFTED = {"age", "plan", "flag"}
EV = DriftOptions(method="evidently-default")   # Evidently parity; DriftOptions() is the sound mode


def frame(n: int, rng: np.random.Generator, shifted: bool = False) -> pd.DataFrame:
    """Columns in SHIFTED move when `shifted`; the rest keep their distribution."""
    df = pd.DataFrame({
        "age": rng.normal(42 + (6 if shifted else 0), 12, n),
        "income": rng.lognormal(10, 0.5, n),
        "visits": rng.poisson(3, n).astype(float),
        "plan": rng.choice(["basic", "plus", "premium"], n, p=[0.3, 0.3, 0.4] if shifted else [0.5, 0.2, 0.3]),
        "flag": rng.choice(["yes", "no"], n, p=[0.6, 0.4] if shifted else [0.4, 0.6]),
        "score": rng.uniform(0, 1, n),
    })
    df.loc[rng.random(n) < 0.03, "income"] = np.nan
    df.loc[rng.random(n) < 0.03, "plan"] = None
    return df


@pytest.mark.parametrize("options", [EV, DriftOptions()], ids=["evidently", "sound"])
@pytest.mark.parametrize("n", [600, 4000])  # p-value tests (<= 1000 reference rows) and distances (above)
def test_shifted_columns_are_flagged_and_stable_ones_are_not(n, options):
    rng = np.random.default_rng(3)
    result = check_drift(frame(n, rng), frame(n, rng, shifted=True), KINDS, options)
    assert {c.column for c in result.drifted} == SHIFTED
    assert result.drift_share == pytest.approx(3 / 6)
    assert result.dataset_drift  # 50 % >= Evidently's 0.5 dataset share
    assert result.verdict.startswith("Drift detected: 3 of 6 columns (50%)")
    table = result.table()
    assert list(table.columns[:7]) == ["column", "kind", "method", "statistic", "threshold", "p_value", "distance"]
    assert ("p_value_bh" in table.columns) == options.uses_bh
    assert table["effect_size"].notna().all()
    assert set(table.loc[table.drift == "yes", "column"]) == SHIFTED


def test_p_values_and_distances_equal_scipy():
    rng = np.random.default_rng(5)
    ref, cur = frame(700, rng), frame(900, rng, shifted=True)
    result = check_drift(ref, cur, KINDS, DriftOptions(method="p-value"))
    rows = {c.column: c for c in result.columns}
    for col in ("age", "income", "score"):
        expected = sps.ks_2samp(ref[col].dropna(), cur[col].dropna())
        assert rows[col].method == "K-S p_value"
        assert rows[col].p_value == pytest.approx(expected.pvalue, rel=1e-12, abs=1e-300)
        assert rows[col].statistic == pytest.approx(expected.statistic, rel=1e-12)
    a, b = ref["plan"].value_counts(), cur["plan"].value_counts()
    keys = sorted(set(a.index) | set(b.index))
    f_obs = np.array([b.get(k, 0) for k in keys], dtype=float)
    f_exp = np.array([a.get(k, 0) for k in keys], dtype=float) * f_obs.sum() / a.sum()
    expected = sps.chisquare(f_obs, f_exp)
    assert rows["plan"].method == "chi-square p_value"
    assert rows["plan"].p_value == pytest.approx(expected.pvalue, rel=1e-10, abs=1e-300)
    assert rows["plan"].statistic == pytest.approx(expected.statistic, rel=1e-12)

    big_ref, big_cur = frame(3000, rng), frame(2500, rng, shifted=True)
    rows = {c.column: c for c in check_drift(big_ref, big_cur, KINDS, EV).columns}
    for col in ("age", "income"):
        r, c = big_ref[col].dropna(), big_cur[col].dropna()
        expected = sps.wasserstein_distance(r, c) / max(np.std(r), 0.001)
        assert rows[col].method == "Wasserstein distance (normed)"
        assert rows[col].distance == pytest.approx(expected, rel=1e-9)
    a, b = big_ref["plan"].value_counts(), big_cur["plan"].value_counts()
    keys = sorted(set(a.index) | set(b.index))
    p = np.array([a.get(k, 0) for k in keys]) / a.sum()
    q = np.array([b.get(k, 0) for k in keys]) / b.sum()
    assert rows["plan"].method == "Jensen-Shannon distance"
    assert rows["plan"].distance == pytest.approx(jensenshannon(p, q), rel=1e-9)


def test_calibrated_false_alarm_rate_is_near_nominal():
    kinds = {"x": "numeric", "c": "categorical", "k": "numeric"}
    alarms = checks = 0
    for seed in range(80):
        rng = np.random.default_rng(100 + seed)

        def draw(n):
            return pd.DataFrame({"x": rng.normal(size=n), "c": rng.choice(list("abcd"), n, p=[.4, .3, .2, .1]),
                                 "k": rng.gamma(2.0, 2.0, n)})

        result = check_drift(draw(1500), draw(400), kinds, DriftOptions(method="evidently-default",
                                                                        calibrated=True, bh=False, seed=seed))
        alarms += len(result.drifted)
        checks += len(result.compared)
    rate = alarms / checks                        # 240 checks: standard error ~0.014 around 0.05
    assert 0.015 <= rate <= 0.085, rate
    assert "flagged at most about 5% of the time" in result.false_alarm_note


def test_calibrated_mode_still_finds_a_real_shift():
    rng = np.random.default_rng(8)
    result = check_drift(frame(3000, rng), frame(800, rng, shifted=True), KINDS,
                         DriftOptions(method="evidently-default", calibrated=True))
    assert {c.column for c in result.drifted} >= SHIFTED
    age = next(c for c in result.columns if c.column == "age")
    assert age.calibrated and age.statistic > age.threshold and age.p_value <= 0.05
    assert "threshold calibrated by reshuffling both sets" in age.method


def _bh_reference(p: list[float]) -> list[float]:
    """Textbook step-up: adjusted p_(i) = min over j >= i of p_(j) * m / j, capped at 1."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    out = [0.0] * m
    for rank, i in enumerate(order, start=1):
        out[i] = min(1.0, min(p[order[j - 1]] * m / j for j in range(rank, m + 1)))
    return out


def test_benjamini_hochberg_matches_hand_computation():
    adjusted = adjust_benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.005]))
    assert adjusted == pytest.approx([0.02, 0.04, 0.04, 0.02])
    p = np.random.default_rng(0).uniform(0, 0.2, 25)
    assert adjust_benjamini_hochberg(p) == pytest.approx(_bh_reference(list(p)))


def test_bh_option_adjusts_every_p_value_test():
    rng = np.random.default_rng(11)
    ref, cur = frame(500, rng), frame(500, rng, shifted=True)
    plain = check_drift(ref, cur, KINDS, EV)
    adjusted = check_drift(ref, cur, KINDS, DriftOptions(method="evidently-default", bh=True))
    raw = [c.p_value for c in plain.columns]
    expected = _bh_reference(raw)
    for row, adj in zip(adjusted.columns, expected):
        assert row.p_value_adjusted == pytest.approx(adj)
        assert row.drift == (adj <= 0.05)
        assert "Benjamini-Hochberg" in row.method
    assert "p_value_bh" in adjusted.table().columns


def test_validation_names_the_missing_column():
    rng = np.random.default_rng(1)
    ref, cur = frame(200, rng), frame(200, rng).drop(columns=["income"])
    with pytest.raises(SchemaMismatch, match="current set has no column 'income'"):
        check_drift(ref, cur, KINDS)
    with pytest.raises(SchemaMismatch, match="reference set has no column 'agee'.*Did you mean 'age'"):
        check_drift(ref, cur, {"agee": "numeric"})


def test_validation_refuses_empty_columns_small_sets_and_bad_types():
    rng = np.random.default_rng(2)
    ref, cur = frame(200, rng), frame(200, rng)
    empty = cur.assign(income=np.nan)
    with pytest.raises(SpecInvalid, match="'income' is empty in the current set"):
        check_drift(ref, empty, KINDS)
    with pytest.raises(SpecInvalid, match="current set has 4 rows"):
        check_drift(ref, cur.head(4), KINDS)
    with pytest.raises(SchemaMismatch, match="'age' holds numbers in the reference but text in the current set "
                                             r"\(e.g. 'forty'\)"):
        check_drift(ref, cur.assign(age="forty"), KINDS)
    with pytest.raises(SchemaMismatch, match="'flag' holds text in the reference but numbers"):
        check_drift(ref, cur.assign(flag=1), KINDS)
    with pytest.raises(SchemaMismatch, match="'plan' should hold numbers but the reference set has object values"):
        check_drift(ref, cur, {"plan": "numeric"})
    wide = pd.DataFrame(rng.normal(size=(20, 201)), columns=[f"c{i}" for i in range(201)])
    with pytest.raises(SpecInvalid, match="201 columns; it compares at most 200"):
        check_drift(wide, wide, {c: "numeric" for c in wide.columns})
    with pytest.raises(SpecInvalid, match="kind 'nmeric'.*Did you mean 'numeric'"):
        check_drift(ref, cur, {"age": "nmeric"})
    with pytest.raises(SpecInvalid, match="Unknown drift method"):
        check_drift(ref, cur, KINDS, DriftOptions(method="psi"))


def test_small_samples_are_marked_inconclusive():
    rng = np.random.default_rng(4)
    result = check_drift(frame(500, rng), frame(40, rng), KINDS)
    assert all(not c.conclusive for c in result.compared)
    assert "too few to rule drift in or out" in result.columns[0].notes
    assert "had too few values to conclude" in result.verdict


def _cities(n: int, rng: np.random.Generator) -> np.ndarray:
    """20 common cities (4 % each) and 200 rare ones (0.1 % each)."""
    names = [f"city{i}" for i in range(220)]
    return rng.choice(names, n, p=[0.04] * 20 + [0.001] * 200)


def test_id_like_and_sparse_columns_are_excluded_and_many_categories_bucketed():
    rng = np.random.default_rng(6)
    n = 3000
    ref = pd.DataFrame({"row": np.arange(n), "customer": [f"C{i}" for i in rng.permutation(n)],
                        "account": rng.choice([f"A{i}" for i in range(600)], n), "city": _cities(n, rng),
                        "x": rng.normal(size=n)})
    cur = pd.DataFrame({"row": np.arange(n) + n, "customer": [f"D{i}" for i in range(n)],
                        "account": rng.choice([f"A{i}" for i in range(600)], n), "city": _cities(n, rng),
                        "x": rng.normal(size=n)})
    kinds = {"row": "numeric", "customer": "categorical", "account": "categorical", "city": "categorical",
             "x": "numeric"}
    for options in (DriftOptions(), DriftOptions(calibrated=True)):
        rows = {c.column: c for c in check_drift(ref, cur, kinds, options).columns}
        assert rows["row"].excluded and "row number or identifier" in rows["row"].notes
        assert rows["customer"].excluded and "looks like an identifier" in rows["customer"].notes
        assert rows["account"].excluded and "none covers 1% of rows: too sparse" in rows["account"].notes
        assert not rows["city"].excluded and "the 20 covering 1%+ of reference rows" in rows["city"].notes
        assert rows["city"].drift is False and rows["x"].drift is False
    moved = cur.assign(city=np.where(cur["city"] == "city0", "city1", cur["city"]))
    city = next(c for c in check_drift(ref, moved, kinds, DriftOptions(calibrated=True)).columns
                if c.column == "city")
    assert city.drift and ("'city0'" in city.effect or "'city1'" in city.effect)


def test_effects_read_like_sentences():
    ref = pd.DataFrame({"spend": np.r_[np.full(50, 40.0), np.full(50, 44.0)],
                        "plan": ["premium"] * 30 + ["basic"] * 70})
    cur = pd.DataFrame({"spend": np.r_[np.full(50, 49.3), np.full(50, 53.3)],
                        "plan": ["premium"] * 18 + ["basic"] * 82})
    rows = {c.column: c for c in check_drift(ref, cur, {"spend": "numeric", "plan": "categorical"}).columns}
    assert rows["spend"].effect == "mean moved from 42.0 to 51.3"
    assert rows["plan"].effect == "share of 'premium' fell from 30% to 18%"


def test_typed_columns_compare_cleanly():
    rng = np.random.default_rng(14)
    ref = pd.DataFrame({"tier": pd.Categorical(rng.choice(["a", "b", "c"], 400), categories=["a", "b", "c", "unused"]),
                        "n": pd.array(rng.integers(0, 40, 400), dtype="Int64"),
                        "ok": pd.array(rng.choice([True, False], 400), dtype="boolean")})
    ref.loc[0, "n"], ref.loc[1, "ok"] = pd.NA, pd.NA
    rows = {c.column: c for c in check_drift(ref, ref.copy(), {"tier": "categorical", "n": "numeric",
                                                               "ok": "boolean"}, EV).columns}
    assert rows["tier"].method == "chi-square p_value" and rows["tier"].p_value == pytest.approx(1.0)
    assert rows["n"].n_reference == 399 and rows["n"].p_value == pytest.approx(1.0)
    assert rows["ok"].method == "Z-test p_value" and not rows["ok"].drift
    assert rows["tier"].effect.startswith("shares stayed close")


def test_saved_reference_summary_gives_the_same_result():
    rng = np.random.default_rng(9)
    ref, cur = frame(2000, rng), frame(1500, rng, shifted=True)
    meta, counts = summarize_reference(ref, KINDS).to_payload()
    restored = ReferenceSummary.from_payload(meta, counts)
    assert check_drift(restored, cur).to_dict() == check_drift(ref, cur, KINDS).to_dict()


def test_prediction_drift_is_reported_apart_from_data_drift():
    rng = np.random.default_rng(10)
    ref, cur = frame(1500, rng), frame(1500, rng)
    ref["score_pred"], cur["score_pred"] = rng.beta(2, 5, 1500), rng.beta(4, 3, 1500)
    result = check_drift(ref, cur, KINDS, prediction_column="score_pred")
    assert result.prediction.drift and not result.drifted
    assert "predictions shifted too" in result.verdict
    row = check_prediction_drift(ref["score_pred"], cur["score_pred"], options=EV)
    assert row.drift and row.method == "Wasserstein distance (normed)"
    sound = check_prediction_drift(ref["score_pred"], cur["score_pred"])
    assert sound.drift and sound.method.startswith("K-S p_value") and sound.effect_measure == "Wasserstein / std"


def test_drift_over_time_flags_the_shifted_weeks():
    rng = np.random.default_rng(12)
    ref = frame(2000, rng)
    weeks = [frame(400, rng, shifted=w >= 2).assign(ts=pd.Timestamp("2024-01-01") + pd.Timedelta(weeks=w))
             for w in range(4)]
    cur = pd.concat(weeks, ignore_index=True)
    cur.loc[cur.index[:5], "ts"] = pd.Timestamp("2024-03-04")          # a window of 5 rows: too few
    over = drift_over_time(ref, cur, "ts", "W", KINDS, metric_fn=lambda w: float((w["flag"] == "no").mean()),
                           metric_name="accuracy", metric_threshold=0.5)
    table = over.frame()
    assert list(table["flagged"]) == [False, False, True, True, False]
    assert "too few to compare" in table["why"].iloc[-1]
    assert "accuracy" in table.columns and table["accuracy"].iloc[2] < 0.5
    assert "below the 0.5 target" in table["why"].iloc[2]
    stats = over.statistics()
    assert set(stats["column"]) == set(KINDS) and len(stats) == 4 * len(KINDS)
    assert over.retrain_recommended
    with pytest.raises(SpecInvalid, match="Unknown window"):
        drift_over_time(ref, cur, "ts", "Y", KINDS)


def test_apply_shift_changes_exactly_what_was_asked():
    rng = np.random.default_rng(13)
    df = frame(1000, rng).assign(label=rng.choice([0, 1], 1000))
    out = apply_shift(df, [{"kind": "mean", "column": "age", "delta": 5},
                           {"kind": "share", "column": "flag", "category": "yes", "share": 0.7},
                           {"kind": "flip_labels", "column": "label", "fraction": 0.25}], seed=1)
    assert np.allclose(out["age"] - df["age"], 5.0)
    assert (out["flag"] == "yes").mean() == pytest.approx(0.7)
    assert (out["label"] != df["label"]).sum() == 250
    assert out["label"].dtype == df["label"].dtype
    assert df.equals(frame(1000, np.random.default_rng(13)).assign(label=df["label"]))  # input untouched
    lower = apply_shift(df, [{"kind": "share", "column": "plan", "category": "premium", "share": 0.1}])
    assert (lower["plan"] == "premium").sum() == round(0.1 * df["plan"].notna().sum())
    assert lower["plan"].isna().sum() == df["plan"].isna().sum()
    with pytest.raises(SpecInvalid, match="Unknown shift"):
        apply_shift(df, [{"kind": "scale", "column": "age"}])
    with pytest.raises(NotFound, match="Did you mean 'age'"):
        apply_shift(df, [{"kind": "mean", "column": "agee", "delta": 1}])
    with pytest.raises(SpecInvalid, match="between 0 and 1"):
        apply_shift(df, [{"kind": "flip_labels", "column": "label", "fraction": 2}])
    with pytest.raises(SpecInvalid, match="flipping labels needs a class column"):
        apply_shift(df, [{"kind": "flip_labels", "column": "income", "fraction": 0.1}])


# -- every drift test entry --------------------------------------------------------------------------------------------
def _counts(values) -> "Counts":
    from core.monitor.stats import Counts

    return Counts.of_sorted(np.sort(np.asarray(values)))


def _z_reference(ref, cur):
    """Two-proportion z-test on "not the first sorted value", written out from its textbook formula."""
    first = np.union1d(ref, cur)[0]
    n1, n2 = len(ref), len(cur)
    p1, p2 = np.mean(ref != first), np.mean(cur != first)
    p = (p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / np.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    return abs(z), 2 * sps.norm.sf(abs(z))


def _chisquare_reference(ref, cur):
    keys = np.union1d(ref, cur)
    a = np.array([np.sum(ref == k) for k in keys], dtype=float)
    b = np.array([np.sum(cur == k) for k in keys], dtype=float)
    res = sps.chisquare(b, a * b.sum() / a.sum())
    return res.statistic, res.pvalue


def _js_reference(ref, cur):
    keys = np.union1d(ref, cur)
    d = jensenshannon([np.mean(ref == k) for k in keys], [np.mean(cur == k) for k in keys])
    return d, d


def _wasserstein_reference(ref, cur):
    w = sps.wasserstein_distance(ref, cur) / max(np.std(ref), 0.001)
    return w, w


def _chi2_two_sample_reference(ref, cur):
    keys = np.union1d(ref, cur)
    table = np.array([[np.sum(ref == k) for k in keys], [np.sum(cur == k) for k in keys]])
    res = sps.chi2_contingency(table, correction=False)
    return res.statistic, res.pvalue


def _ks_reference(ref, cur):
    res = sps.ks_2samp(ref, cur)
    return res.statistic, res.pvalue


# One case per drift test: a column it is chosen for (kind, reference rows, distinct values, method), data whose
# current side has drifted, and SciPy's (or the textbook's) statistic and score on the same values.
DRIFT_CASES = {
    "ks": ("numeric", 800, 50, "evidently-default", lambda r, n, s: np.round(r.normal(s, 1, n), 2), _ks_reference),
    "chisquare": ("categorical", 800, 3, "evidently-default", lambda r, n, s: r.choice(
        [0.0, 1.0, 2.0], n, p=[0.5, 0.3, 0.2] if not s else [0.3, 0.3, 0.4]), _chisquare_reference),
    "z": ("categorical", 800, 2, "evidently-default", lambda r, n, s: r.choice(
        [0.0, 1.0], n, p=[0.6, 0.4] if not s else [0.4, 0.6]), _z_reference),
    "wasserstein": ("numeric", 5000, 50, "evidently-default", lambda r, n, s: np.round(r.normal(s, 1, n), 2),
                    _wasserstein_reference),
    "jensenshannon": ("categorical", 5000, 3, "distance", lambda r, n, s: r.choice(
        [0.0, 1.0, 2.0], n, p=[0.5, 0.3, 0.2] if not s else [0.3, 0.3, 0.4]), _js_reference),
    "chi2_two_sample": ("categorical", 5000, 3, "sound", lambda r, n, s: r.choice(
        [0.0, 1.0, 2.0], n, p=[0.5, 0.3, 0.2] if not s else [0.3, 0.3, 0.4]), _chi2_two_sample_reference),
}


def test_every_drift_test_entry_has_a_case():
    from core.monitor.stats import DRIFT_TESTS

    keys = {t.key for t in DRIFT_TESTS}
    assert set(DRIFT_CASES) == keys, (f"add a case for {sorted(keys - set(DRIFT_CASES))} to DRIFT_CASES in "
                                      f"tests/unit/test_drift.py (and drop {sorted(set(DRIFT_CASES) - keys)})")


def test_exactly_one_drift_test_applies_to_every_column():
    from core.monitor.checks import METHODS
    from core.monitor.stats import DRIFT_TESTS

    for kind in ("numeric", "categorical"):
        for n_ref in (10, 1000, 1001, 100_000):
            for n_values in range(1, 9):
                for method in METHODS:
                    chosen = [t.key for t in DRIFT_TESTS if t.applies_to(kind, n_ref, n_values, method)]
                    assert len(chosen) == 1, (kind, n_ref, n_values, method, chosen)


@pytest.mark.parametrize("key", list(DRIFT_CASES))
def test_every_drift_test_entry_is_chosen_runs_like_scipy_and_has_a_null(key):
    from core.monitor.stats import TESTS, calibrate, choose_test

    kind, n_ref, n_values, method, draw, reference = DRIFT_CASES[key]
    entry = TESTS[key]
    assert choose_test(kind, n_ref, n_values, method) == key
    for seed in (0, 1, 2):
        rng = np.random.default_rng(seed)
        ref_values, cur_values = draw(rng, n_ref, 0), draw(rng, 700, 1)
        ref, cur = _counts(ref_values), _counts(cur_values)
        statistic, score = entry.run(ref, cur, float(np.std(ref_values)))
        want_statistic, want_score = reference(ref_values, cur_values)
        assert statistic == pytest.approx(want_statistic, rel=1e-9, abs=1e-12)
        assert score == pytest.approx(want_score, rel=1e-9, abs=1e-12)
        assert entry.is_drift(score, entry.threshold), "the case's current side has drifted"
        null = entry.null_statistic(ref, ref.n, cur.n, float(np.std(ref_values)), 99, rng, cur)
        assert null.shape == (99,) and np.isfinite(null).all() and (null >= 0).all()
        p, threshold = calibrate(statistic, null, 0.05)
        assert p <= 0.05 and statistic > threshold  # the drifted side is far outside the no-drift spread


def test_hand_kept_routines_match_scipy():
    """K-S on counts above scipy's exact range, and Wasserstein on counts: kept by hand for speed (bench_drift)."""
    from core.monitor.stats import Counts, _run_ks, effect_size, wasserstein_of_counts

    rng = np.random.default_rng(21)
    for n_ref, n_cur, shift in ((20_000, 30_000, 0.0), (200_000, 150_000, 0.01), (12_000, 900, 0.1)):
        a, b = np.round(rng.normal(size=n_ref), 3), np.round(rng.normal(shift, 1, size=n_cur), 3)
        ref, cur = Counts.of_sorted(np.sort(a)), Counts.of_sorted(np.sort(b))
        d, p = _run_ks(ref, cur, 1.0)
        want = sps.ks_2samp(a, b)
        assert d == pytest.approx(want.statistic, rel=1e-12)
        assert p == pytest.approx(want.pvalue, rel=0.01, abs=1e-6)
        assert wasserstein_of_counts(ref, cur) == pytest.approx(sps.wasserstein_distance(a, b), rel=1e-9)
        assert effect_size("numeric", ref, cur, float(np.std(a)))[1] == pytest.approx(
            sps.wasserstein_distance(a, b) / np.std(a), rel=1e-9)
