"""Evaluation views (core.evaluate.classification, core.evaluate.error_analysis) checked against sklearn and hand computations."""

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq
from scipy.stats import norm
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from core.evaluate import error_analysis as ea
from core.evaluate import classification as ev
from core.errors import NotFound, SchemaMismatch, SpecInvalid, TargetNotUsable

COSTS = {"tp": 100.0, "fp": -20.0, "fn": -50.0, "tn": 1.0}


def _labels_and_scores(n=400, seed=0, decimals=2):
    rng = np.random.default_rng(seed)
    actual = rng.integers(0, 2, n)
    scores = np.round(np.clip(rng.normal(0.4 + 0.2 * actual, 0.2), 0, 1), decimals)  # rounding makes ties
    return np.where(actual == 1, "yes", "no"), scores


def _sklearn_row(y, scores, t):
    predicted = np.where(scores >= t, "yes", "no")
    tn, fp, fn, tp = skm.confusion_matrix(y, predicted, labels=["no", "yes"]).ravel()
    return {
        "tp": tp, "fp": fp, "fn": fn, "tn": tn,
        "precision": skm.precision_score(y, predicted, pos_label="yes", zero_division=0),
        "recall": skm.recall_score(y, predicted, pos_label="yes", zero_division=0),
        "f1": skm.f1_score(y, predicted, pos_label="yes", zero_division=0),
        "accuracy": skm.accuracy_score(y, predicted),
        "fpr": fp / (fp + tn), "selection_rate": (tp + fp) / len(y),
        "value": tp * COSTS["tp"] + fp * COSTS["fp"] + fn * COSTS["fn"] + tn * COSTS["tn"],
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_metric_at_a_threshold_equals_sklearn(seed):
    y, scores = _labels_and_scores(seed=seed)
    table = ev.threshold_table(y, scores, "yes", COSTS)
    assert table.attrs["is_exact"] and len(table) <= ev.MAX_THRESHOLDS
    rng = np.random.default_rng(seed)
    probes = np.concatenate([rng.uniform(-0.1, 1.1, 40), scores[:20], [0.0, 0.5, 1.0, scores.max() + 1e-9]])
    for t in probes:
        row, expected = ev.at_threshold(table, t), _sklearn_row(y, scores, t)
        for key, value in expected.items():
            assert row[key] == pytest.approx(value), (t, key)
        assert isinstance(row["tp"], int)


def test_capped_table_has_at_most_1001_rows_and_exact_rows():
    rng = np.random.default_rng(3)
    y = np.where(rng.random(5000) < 0.3, "yes", "no")
    scores = rng.random(5000)
    table = ev.threshold_table(y, scores, "yes", COSTS)
    assert len(table) <= ev.MAX_THRESHOLDS and not table.attrs["is_exact"]
    assert table["threshold"].is_monotonic_increasing
    assert 0.5 in set(table["threshold"].round(12))  # the even grid keeps slider steps exact
    for t in list(table["threshold"].iloc[::97]) + [0.5, 0.25]:
        row, expected = ev.at_threshold(table, t), _sklearn_row(y, scores, t)
        for key in ("tp", "fp", "precision", "recall", "f1", "value"):
            assert row[key] == pytest.approx(expected[key]), (t, key)


def test_expected_value_equals_hand_computation():
    y = [1, 1, 0, 0, 1, 0]
    scores = [0.9, 0.4, 0.6, 0.2, 0.8, 0.1]
    costs = {"tp": 100, "fp": -20, "fn": -50, "tn": 0}
    # At 0.5: predicted 1,0,1,0,1,0 -> tp=2 (rows 1,5), fn=1 (row 2), fp=1 (row 3), tn=2.
    hand = 2 * 100 + 1 * -20 + 1 * -50 + 2 * 0
    row = ev.at_threshold(ev.threshold_table(y, scores, 1, costs), 0.5)
    assert (row["tp"], row["fp"], row["fn"], row["tn"]) == (2, 1, 1, 2)
    assert row["value"] == hand == 130
    assert row["value_per_row"] == pytest.approx(130 / 6)
    assert ev.expected_value({"tp": 2, "fp": 1, "fn": 1, "tn": 2}, costs) == hand
    assert ev.expected_value([[2, 1], [1, 2]], costs) == hand  # sklearn layout [[tn, fp], [fn, tp]]
    result = ev.confusion(y, [1, 0, 1, 0, 1, 0])
    assert ev.expected_value(result, costs, positive_class=1) == hand
    assert ev.expected_value(result, costs, positive_class=1, per_row=True) == pytest.approx(130 / 6)
    # Multiclass-style costs per (actual, predicted) pair give the same total.
    matrix_costs = {1: {1: 100, 0: -50}, 0: {1: -20, 0: 0}}
    assert ev.expected_value(result, matrix_costs) == hand


def test_best_value_and_criterion_thresholds_match_brute_force():
    y, scores = _labels_and_scores(seed=5)
    table = ev.threshold_table(y, scores, "yes", COSTS)
    brute = [(t, _sklearn_row(y, scores, t)) for t in table["threshold"]]
    best_value = max(row["value"] for _, row in brute)
    best = ev.best_value_threshold(table)
    assert best["value"] == pytest.approx(best_value)
    assert _sklearn_row(y, scores, best["threshold"])["value"] == pytest.approx(best_value)

    passing = [(t, row) for t, row in brute if row["precision"] >= 0.75]
    top_recall = max(row["recall"] for _, row in passing)
    chosen = ev.threshold_meeting(table, "precision", ">=", 0.75)
    assert chosen["precision"] >= 0.75 and chosen["recall"] == pytest.approx(top_recall)
    by_fpr = ev.threshold_meeting(table, "fpr", "<=", 0.1)
    assert by_fpr["recall"] == pytest.approx(max(r["recall"] for _, r in brute if r["fpr"] <= 0.1))
    assert ev.threshold_meeting(table, "precision", ">=", 1.01) is None
    assert ev.best_value_threshold(ev.threshold_table(y, scores, "yes")) is None


def test_at_threshold_is_a_lookup_in_the_precomputed_table(monkeypatch):
    y, scores = _labels_and_scores(n=20_000, seed=7, decimals=6)
    table = ev.threshold_table(y, scores, "yes", COSTS)
    assert len(table) <= 1001

    def refuse(*args, **kwargs):
        raise AssertionError("at_threshold must not recompute metrics")

    for name in ("precision_score", "recall_score", "f1_score", "confusion_matrix", "accuracy_score"):
        monkeypatch.setattr(skm, name, refuse)
    rows = [ev.at_threshold(table, t) for t in np.linspace(0, 1, 1000)]
    assert len(rows) == 1000 and rows[0]["selection_rate"] >= rows[-1]["selection_rate"]


def test_confusion_and_per_class_report_match_sklearn():
    rng = np.random.default_rng(11)
    y = rng.choice(["a", "b", "c", "d"], 500)
    p = np.where(rng.random(500) < 0.6, y, rng.choice(["a", "b", "c"], 500))
    labels = ["d", "c", "b", "a"]
    result = ev.confusion(y, p, labels)
    np.testing.assert_array_equal(result.counts.to_numpy(), skm.confusion_matrix(y, p, labels=labels))
    np.testing.assert_allclose(result.rates.to_numpy(), skm.confusion_matrix(y, p, labels=labels, normalize="true"))
    report = ev.per_class_report(y, p)
    precision, recall, f1, support = skm.precision_recall_fscore_support(y, p, labels=report["class"],
                                                                          zero_division=0)
    np.testing.assert_allclose(report[["precision", "recall", "f1"]].to_numpy().T, [precision, recall, f1])
    np.testing.assert_array_equal(report["support"], support)
    summary = ev.multiclass_summary(y, p)
    assert summary["accuracy"] == pytest.approx(skm.accuracy_score(y, p))
    assert summary["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, p))
    assert summary["kappa"] == pytest.approx(skm.cohen_kappa_score(y, p))
    assert summary["macro_f1"] == pytest.approx(skm.f1_score(y, p, average="macro"))
    assert summary["weighted_f1"] == pytest.approx(skm.f1_score(y, p, average="weighted"))


def test_curves_match_sklearn():
    y, scores = _labels_and_scores(n=600, seed=13, decimals=3)
    actual = y == "yes"
    roc = ev.roc_points(y, scores, "yes")
    assert roc.area == pytest.approx(skm.roc_auc_score(actual, scores))
    assert np.isfinite(roc.points["threshold"]).all()
    pr = ev.pr_points(y, scores, "yes")
    assert pr.area == pytest.approx(skm.average_precision_score(actual, scores))
    assert pr.baseline == pytest.approx(actual.mean())
    for strategy in ("uniform", "quantile"):
        table = ev.calibration_points(y, scores, "yes", n_bins=8, strategy=strategy)
        observed, predicted = calibration_curve(actual, scores, n_bins=8, strategy=strategy)
        np.testing.assert_allclose(table["observed_rate"], observed)
        np.testing.assert_allclose(table["mean_predicted"], predicted)
    lift = ev.lift_gain(y, scores, "yes", n_bins=10)
    order = np.argsort(-scores, kind="mergesort")
    first = actual[order][:60]
    assert lift["positives"].sum() == actual.sum() and lift["rows"].tolist() == [60] * 10
    assert lift.loc[0, "lift"] == pytest.approx(first.mean() / actual.mean())
    assert lift["cumulative_gain"].iloc[-1] == pytest.approx(1.0)


def test_bad_inputs_raise_clear_errors():
    y, scores = _labels_and_scores(n=50)
    with pytest.raises(NotFound, match="No class 'yess'.*Did you mean 'yes'"):
        ev.threshold_table(y, scores, "yess")
    with pytest.raises(TargetNotUsable, match="Every validation row is 'yes'"):
        ev.roc_points(["yes"] * 5, [0.1, 0.2, 0.3, 0.4, 0.5], "yes")
    with pytest.raises(SpecInvalid, match="Unknown cost keys"):
        ev.threshold_table(y, scores, "yes", {"tp": 1, "benefit": 2})
    with pytest.raises(SchemaMismatch, match="missing or infinite"):
        ev.threshold_table(y, np.where(np.arange(50) == 3, np.nan, scores), "yes")
    with pytest.raises(SchemaMismatch, match="Got 49 scores for 50 rows"):
        ev.threshold_table(y, scores[:49], "yes")
    with pytest.raises(SpecInvalid, match="not probabilities"):
        ev.calibration_points(y, scores * 3, "yes")
    table = ev.threshold_table(y, scores, "yes")
    with pytest.raises(NotFound, match="Did you mean 'precision'"):
        ev.threshold_meeting(table, "precison", ">=", 0.9)
    with pytest.raises(SpecInvalid, match="Unknown comparison"):
        ev.threshold_meeting(table, "precision", "=>", 0.9)
    # Classes read back from JSON are text; they still find integer labels.
    assert ev.threshold_table([0, 1, 1, 0], [0.1, 0.9, 0.8, 0.3], "1").attrs["positives"] == 2


def test_regression_views_match_sklearn():
    rng = np.random.default_rng(17)
    actual = rng.normal(50, 10, 6000)
    predicted = actual + rng.normal(0, 4, 6000)
    views = ea.regression_views(actual, predicted)
    assert len(views.points) == 5000 and views.histogram["rows"].sum() == 6000
    assert views.summary["mae"] == pytest.approx(skm.mean_absolute_error(actual, predicted))
    assert views.summary["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(actual, predicted)))
    assert views.summary["r2"] == pytest.approx(skm.r2_score(actual, predicted))
    order = np.argsort(predicted, kind="mergesort")
    hand = [np.abs(actual[part] - predicted[part]).mean() for part in np.array_split(order, 10)]
    np.testing.assert_allclose(views.deciles["mae"], hand)
    assert views.deciles["rows"].tolist() == [600] * 10


def test_error_segments_find_the_planted_segment_and_flag_small_ones():
    rng = np.random.default_rng(19)
    n = 2000
    frame = pd.DataFrame({"region": rng.choice(["north", "south", "east", "west"], n),
                          "age": rng.integers(18, 80, n), "vip": np.where(np.arange(n) < 12, "yes", "no")})
    error_chance = np.where(frame["region"] == "north", 0.4, 0.1)
    correct = rng.random(n) >= error_chance
    correct[:12] = False  # a tiny segment that is always wrong must not top the list
    table = ea.error_segments(frame, None, correct, "error_rate", min_rows=30)
    assert (table.loc[0, "column"], table.loc[0, "segment"]) == ("region", "north")
    assert table.iloc[-1]["is_small"] and table.iloc[-1]["segment"] == "yes"
    row = table.iloc[0]
    errors = int(round(row["error_rate"] * row["rows"]))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(_wilson_by_root_finding(errors, row["rows"]), abs=1e-6)
    age_rows = table[table["column"] == "age"]
    assert len(age_rows) == 4 and age_rows["rows"].between(400, 600).all()
    with pytest.raises(NotFound, match="Did you mean 'region'"):
        ea.error_segments(frame, None, correct, columns=["regoin"])


def _wilson_by_root_finding(k, n, confidence=0.95):
    # The Wilson interval is every p whose score test accepts k/n: |k/n - p| <= z sqrt(p (1 - p) / n).
    z, p_hat = norm.ppf(0.5 + confidence / 2), k / n
    gap = lambda p: abs(p_hat - p) - z * np.sqrt(p * (1 - p) / n)  # noqa: E731
    return brentq(gap, 1e-12, p_hat), brentq(gap, p_hat, 1 - 1e-12)


def test_segment_intervals_cover_the_true_value_at_about_the_nominal_rate():
    rng = np.random.default_rng(23)
    frame = pd.DataFrame({"all": ["one"] * 80})
    rate_hits = mae_hits = 0
    for rep in range(200):
        correct = rng.random(80) >= 0.2  # true error rate 0.2
        rate = ea.error_segments(frame, None, correct).iloc[0]
        rate_hits += rate["ci_low"] <= 0.2 <= rate["ci_high"]
        actual = rng.exponential(1.0, 80)  # |error| ~ Exp(1): true MAE 1
        mae = ea.error_segments(frame, actual, np.zeros(80), "mae", n_boot=200, seed=rep).iloc[0]
        mae_hits += mae["ci_low"] <= 1.0 <= mae["ci_high"]
    assert 0.88 <= rate_hits / 200 <= 0.99
    assert 0.88 <= mae_hits / 200 <= 0.99
