"""The model catalog: every entry fits on a tiny frame for each of its tasks, and its spec round-trips."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.catalog import MODELS, METRICS, ModelSpec, metrics_for, model_entry, models_for, resolve_params
from core.errors import NotFound, SpecInvalid
from core.models.preprocess import EncodedLabelClassifier
from core.models.pipeline import build_estimator, build_pipeline

# One non-default setting per entry, so the spec round-trip and the estimator both prove the value travels.
CASES = {
    "dummy": {},
    "logreg": {"C": 0.5},
    "linreg": {},
    "ridge": {"alpha": 3.0},
    "lasso": {"alpha": 0.05},
    "gnb": {"var_smoothing": 1e-8},
    "nb": {"alpha": 0.5},
    "linear_svm": {"C": 0.2},
    "rbf_svm": {"C": 2.0},
    "tree": {"max_depth": 3},
    "rf": {"n_estimators": 20},
    "knn": {"n_neighbors": 5},
    "xgb": {"n_estimators": 60},
    "kmeans": {"n_clusters": 3},
    "pca": {"n_components": 3},
}
COLUMNS = {"num": "number", "num2": "number", "cat": "category", "flag": "boolean", "when": "datetime",
           "code": "id", "note": "text"}


def _tiny(task: str, n: int = 90) -> tuple[pd.DataFrame, np.ndarray | None]:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({
        "num": rng.normal(size=n), "num2": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
        "cat": rng.choice(["a", "b", "c", None], size=n), "flag": rng.random(n) < 0.5,
        "when": pd.date_range("2024-01-01", periods=n, freq="D"), "code": [f"id{i}" for i in range(n)],
        "note": ["free text"] * n})
    signal = df["num"].to_numpy() + (df["cat"] == "a").to_numpy()
    if task == "binary":
        return df, np.where(signal > 0.3, "yes", "no")
    if task == "multiclass":
        return df, np.digitize(signal, [-0.5, 0.5]).astype(int) + 1
    if task == "regression":
        return df, 3 * signal + rng.normal(0, 0.1, n)
    return df, None


PAIRS = [(m.key, task) for m in MODELS for task in sorted(m.tasks)]


def test_every_entry_has_a_case():
    missing = sorted({m.key for m in MODELS} - set(CASES))
    assert not missing, f"add a CASES entry (a non-default setting) for the new catalog model(s): {missing}"


@pytest.mark.parametrize("key,task", PAIRS)
def test_entry_fits_on_a_tiny_frame_and_its_spec_round_trips(key, task):
    spec = ModelSpec(key, dict(CASES[key]))
    assert ModelSpec.from_dict(spec.to_dict()) == spec
    df, y = _tiny(task)
    pipe = build_pipeline(spec, COLUMNS, task, seed=1)
    estimator = build_estimator(spec, task, seed=1)
    inner = estimator.estimator if isinstance(estimator, EncodedLabelClassifier) else estimator
    for name, value in CASES[key].items():
        assert inner.get_params()[name] == value, f"{key}: {name} did not reach the estimator"
    if task == "clustering":
        out = pipe.fit(df).transform(df) if key == "pca" else pipe.fit_predict(df)
        assert len(out) == len(df)
        return
    pipe.fit(df, y)
    pred = pipe.predict(df)
    assert len(pred) == len(df)
    assert list(pipe.feature_names_in_) == list(df.columns)
    names = list(pipe[:-1].get_feature_names_out())
    if model_entry(key).is_baseline:
        assert names == []  # the baseline reads no column, so it pays for no encoding
        return
    assert not any("code" in n for n in names)  # id columns never feed a model
    reads_text = any(n.startswith(("words0__", "chars0__")) for n in names)  # free text: only models that read it
    assert reads_text == (model_entry(key).reads_text and task != "clustering"), key
    assert {"num__num", "flag__flag", "date__when_year"} <= set(names)
    if task != "regression":
        assert sorted(pipe.classes_.tolist()) == sorted(set(y.tolist()))  # the original labels, not 0..k-1
        assert set(pred.tolist()) <= set(y.tolist())


def test_unknown_categories_and_missing_values_are_tolerated():
    df, y = _tiny("binary")
    pipe = build_pipeline(ModelSpec("logreg"), COLUMNS, "binary").fit(df, y)
    fresh = df.head(3).copy()
    fresh["cat"] = ["never seen", None, "a"]
    fresh["num"] = [np.nan, 1.0, 2.0]
    fresh["when"] = [None, "2030-05-01", pd.NaT]
    assert len(pipe.predict_proba(fresh)) == 3


def test_a_few_level_category_is_one_hot_encoded_with_every_value_and_unseen_values_as_zeros():
    n = 400
    df = pd.DataFrame({"cat": ["common"] * (n - 2) + ["rare1", "rare2"]})
    y = np.arange(n) % 2
    pipe = build_pipeline(ModelSpec("logreg"), {"cat": "category"}, "binary").fit(df, y)
    names = list(pipe[:-1].get_feature_names_out())
    assert names == ["cat__cat_common", "cat__cat_rare1", "cat__cat_rare2"]  # a rare value keeps its own column
    unseen = pd.DataFrame({"cat": ["brand new", None]})
    np.testing.assert_array_equal(pipe[:-1].transform(unseen), [[0.0, 0.0, 0.0]] * 2)


def test_a_many_level_category_is_target_encoded_cross_fitted_and_keeps_the_saved_model_small():
    from core.store.artifacts import dump_model, load_model

    n = 3000
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"customer": [f"C{i % 1000:04d}" for i in range(n)], "x": np.arange(n) % 7})
    y = rng.integers(0, 2, n)  # pure noise: an honest encoding must not let a model "learn" it
    pipe = build_pipeline(ModelSpec("logreg"), {"customer": "category", "x": "number"}, "binary")
    encoded = pipe[:-1].fit_transform(df, y)
    assert list(pipe[:-1].get_feature_names_out()) == ["num__x", "cat__customer"]  # one column, not 1,000
    # Cross-fitted: each training row is encoded without its own outcome, so the encoding does not predict it.
    from sklearn.metrics import roc_auc_score

    assert abs(roc_auc_score(y, encoded[:, 1]) - 0.5) < 0.05
    pipe.fit(df, y)
    data = dump_model(pipe)
    assert len(data) < 60_000
    np.testing.assert_allclose(load_model(data).predict_proba(df), pipe.predict_proba(df))


def test_resolve_params_checks_names_ranges_and_choices():
    rf = model_entry("rf")
    assert resolve_params(rf, {"n_estimators": "40"})["n_estimators"] == 40
    with pytest.raises(SpecInvalid, match="outside its range"):
        resolve_params(rf, {"n_estimators": 5})
    with pytest.raises(SpecInvalid, match="must be one of"):
        resolve_params(model_entry("logreg"), {"class_weight": "heavy"})
    with pytest.raises(NotFound, match="Did you mean 'max_depth'"):
        resolve_params(rf, {"max_dept": 3})
    with pytest.raises(SpecInvalid, match="must be a number"):
        resolve_params(rf, {"max_depth": "deep"})


def test_dummy_takes_task_specific_settings():
    dummy = model_entry("dummy")
    assert resolve_params(dummy, {"strategy": "median"}, "regression") == {"strategy": "median"}
    with pytest.raises(NotFound):
        resolve_params(dummy, {"strategy": "median"}, "binary")


def test_a_model_refuses_a_task_it_does_not_do():
    with pytest.raises(SpecInvalid, match="does not do regression"):
        build_pipeline(ModelSpec("logreg"), COLUMNS, "regression")


def test_catalog_lists_models_and_metrics_per_task():
    assert models_for("binary")[0].key == "dummy"
    assert {m.key for m in models_for("regression")} >= {"linreg", "ridge", "lasso", "xgb", "dummy"}
    assert {m.key for m in models_for("clustering")} == {"kmeans", "pca"}
    assert {m.key for m in metrics_for("binary")} >= {"accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc",
                                                       "log_loss"}
    assert {m.key for m in metrics_for("regression")} == {"mae", "rmse", "r2", "mape"}
    assert len({m.key for m in METRICS}) == len(METRICS) and len({m.key for m in MODELS}) == len(MODELS)
    for m in MODELS:
        for p in m.params_for("regression") + m.params:
            assert p.help, f"{m.key}.{p.name} needs a one-line help"
            if p.choices is None and p.low is not None:
                assert p.low <= p.default <= p.high, f"{m.key}.{p.name} default outside its range"


def test_the_zero_to_one_limit_check_reads_the_metric_bounds():
    from core.catalog import UNIT
    from core.project.criteria import _UNIT_RANGE

    assert _UNIT_RANGE == {m.key for m in METRICS if m.bounds == UNIT}
    assert {"accuracy", "roc_auc", "pr_auc"} <= _UNIT_RANGE and not {"r2", "mae", "log_loss"} & _UNIT_RANGE
