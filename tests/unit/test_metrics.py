"""Every catalog metric equals its scikit-learn reference on the same predictions: binary, multiclass, regression and
clustering, on random data with several seeds; plus the edge cases the numpy versions must get right."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize

from core.catalog import METRICS, metrics_for
from core.models.metrics import (
    Predictions,
    average_precision,
    binary_auc,
    classification_metrics,
    compute_metrics,
    reference_metric,
    regression_metrics,
)

# One case per catalog metric: how closely it must match its scikit-learn reference (absolute, relative).
CASES = {
    "accuracy": (1e-12, 0), "balanced_accuracy": (1e-12, 0), "precision": (1e-12, 0), "recall": (1e-12, 0),
    "f1": (1e-12, 0), "roc_auc": (1e-12, 0), "pr_auc": (1e-12, 0), "log_loss": (0, 1e-9),
    "mae": (0, 1e-9), "rmse": (0, 1e-9), "r2": (1e-12, 1e-9), "mape": (0, 1e-9), "silhouette": (1e-9, 1e-9),
}
SEEDS = (0, 1, 2)


def test_every_metric_entry_has_a_case():
    keys = {e.key for e in METRICS}
    assert set(CASES) == keys, (f"add a case for {sorted(keys - set(CASES))} to CASES in tests/unit/test_metrics.py"
                                f"{'; drop ' + str(sorted(set(CASES) - keys)) if set(CASES) - keys else ''}")


def _random_predictions(task: str, seed: int) -> Predictions:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(60, 400))
    if task == "binary":
        labels = [("no", "yes"), (0, 1), (False, True)][seed % 3]
        y = np.array(labels, dtype=object if isinstance(labels[0], str) else None)[(rng.random(n) < 0.3).astype(int)]
        positive = labels[seed % 2]  # the first class is the positive one for some seeds
        score = np.clip(rng.normal(0.4, 0.25, n) + 0.3 * (y == positive), 0.001, 0.999)
        score = np.round(score, 1) if seed % 2 else score  # ties in the scores for some seeds
        pred = np.where(score >= 0.5, positive, labels[1 - labels.index(positive)])
        return Predictions(y, pred, score, list(labels), positive)
    if task == "multiclass":
        classes = ["a", "b", "c", "d"][: 3 + seed % 2]
        y = rng.choice(classes, size=n)
        logits = rng.normal(size=(n, len(classes))) + 1.5 * (y[:, None] == np.array(classes)[None, :])
        proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        return Predictions(y, np.array(classes)[proba.argmax(axis=1)], proba, classes)
    if task == "regression":
        y = rng.lognormal(3, 0.5, n)
        return Predictions(y, y * rng.normal(1, 0.1, n) + rng.normal(0, 2, n))
    X = rng.normal(size=(n, 3)) + rng.integers(0, 3, size=(n, 1)) * 2.0
    return Predictions(None, rng.integers(0, 3 + seed % 2, size=n), features=X)


@pytest.mark.parametrize("key", [e.key for e in METRICS])
def test_every_metric_entry_equals_its_scikit_learn_reference(key):
    entry = next(e for e in METRICS if e.key == key)
    absolute, relative = CASES[key]
    for task in sorted(entry.tasks):
        for seed in SEEDS:
            p = _random_predictions(task, seed)
            got = entry.compute(p)
            want = reference_metric(entry, p)
            assert got == pytest.approx(want, abs=absolute, rel=relative), (task, seed)
            low, high = entry.bounds
            assert low <= got <= high, f"{key} = {got} outside its bounds {entry.bounds} ({task}, seed {seed})"


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_compute_metrics_gives_every_catalog_metric_of_the_task(task):
    p = _random_predictions(task, 0)
    got = compute_metrics(task, p.y_true, p.y_pred, p.scores, p.classes, p.positive_class)
    assert list(got) == [e.key for e in metrics_for(task)]
    assert got == {e.key: e.compute(p) for e in metrics_for(task)}


def _binary_case(seed: int, labels, ties: bool):
    rng = np.random.default_rng(seed)
    y = rng.choice(np.array(labels, dtype=object if isinstance(labels[0], str) else None), size=400, p=[0.7, 0.3])
    score = np.clip(rng.normal(0.35, 0.25, 400) + 0.3 * (y == labels[1]), 0.001, 0.999)
    if ties:
        score = np.round(score, 1)  # many equal scores: tie handling must match
    return y, score


@pytest.mark.parametrize("labels,positive_index", [((False, True), 1), ((0, 1), 0), (("no", "yes"), 1)])
@pytest.mark.parametrize("ties", [False, True])
def test_binary_metrics_equal_sklearn(labels, positive_index, ties):
    y, score = _binary_case(7 + positive_index, labels, ties)
    pos, neg = labels[positive_index], labels[1 - positive_index]
    pos_score = score if positive_index == 1 else 1 - score
    pred = np.where(pos_score >= 0.5, pos, neg)
    got = classification_metrics(y, pred, pos_score, list(labels), pos)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred), abs=1e-12)
    assert got["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred), abs=1e-12)
    assert got["precision"] == pytest.approx(skm.precision_score(y, pred, pos_label=pos), abs=1e-12)
    assert got["recall"] == pytest.approx(skm.recall_score(y, pred, pos_label=pos), abs=1e-12)
    assert got["f1"] == pytest.approx(skm.f1_score(y, pred, pos_label=pos), abs=1e-12)
    is_pos = (y == pos).astype(int)
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(is_pos, pos_score), abs=1e-12)
    assert got["pr_auc"] == pytest.approx(skm.average_precision_score(is_pos, pos_score), abs=1e-12)
    assert got["log_loss"] == pytest.approx(skm.log_loss(is_pos, pos_score), rel=1e-9)


def test_multiclass_metrics_equal_sklearn():
    rng = np.random.default_rng(3)
    classes = ["a", "b", "c", "d"]
    y = rng.choice(classes, size=500, p=[0.4, 0.3, 0.2, 0.1])
    logits = rng.normal(size=(500, 4)) + 1.5 * label_binarize(y, classes=classes)
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    pred = np.array(classes)[proba.argmax(axis=1)]
    got = classification_metrics(y, pred, proba, classes)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert got["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    for name, fn in (("precision", skm.precision_score), ("recall", skm.recall_score), ("f1", skm.f1_score)):
        assert got[name] == pytest.approx(fn(y, pred, average="macro", zero_division=0)), name
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr", average="macro",
                                                             labels=classes))
    assert got["pr_auc"] == pytest.approx(skm.average_precision_score(label_binarize(y, classes=classes), proba,
                                                                      average="macro"))
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, proba, labels=classes), rel=1e-9)


def test_multiclass_macro_counts_a_class_that_is_only_predicted():
    y = np.array(["a", "a", "b", "b"])
    pred = np.array(["a", "c", "b", "b"])  # "c" never occurs but is predicted: it counts with precision 0
    got = classification_metrics(y, pred, None, ["a", "b", "c"])
    assert got["precision"] == pytest.approx(skm.precision_score(y, pred, average="macro", zero_division=0))
    assert got["f1"] == pytest.approx(skm.f1_score(y, pred, average="macro", zero_division=0))
    assert "roc_auc" not in got


def test_regression_metrics_equal_sklearn():
    rng = np.random.default_rng(5)
    y = rng.lognormal(10, 0.5, 300)
    pred = y * rng.normal(1, 0.1, 300) + rng.normal(0, 1000, 300)
    got = regression_metrics(y, pred)
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, pred))
    assert got["rmse"] == pytest.approx(skm.root_mean_squared_error(y, pred))
    assert got["r2"] == pytest.approx(skm.r2_score(y, pred))
    assert got["mape"] == pytest.approx(skm.mean_absolute_percentage_error(y, pred))
    assert compute_metrics("regression", y, pred) == got


def test_constant_target_r2_matches_sklearn_force_finite():
    y = np.full(5, 3.0)
    assert regression_metrics(y, y)["r2"] == skm.r2_score(y, y) == 1.0
    assert regression_metrics(y, y + 1)["r2"] == skm.r2_score(y, y + 1) == 0.0


def test_undefined_scores_are_nan_not_errors():
    y = np.array([1, 1, 1])
    assert np.isnan(binary_auc(y == 1, np.array([0.1, 0.5, 0.9])))
    assert np.isnan(average_precision(np.zeros(3, dtype=bool), np.array([0.1, 0.5, 0.9])))
    got = classification_metrics(y, np.array([1, 1, 0]), np.array([0.9, 0.8, 0.1]), [0, 1], 1, has_probabilities=False)
    assert np.isnan(got["roc_auc"]) and "log_loss" not in got
