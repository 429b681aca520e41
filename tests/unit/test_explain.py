"""Explanations on synthetic data whose true effects are known: importance ranks, PDP direction, what-if signs."""

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from core.evaluate import explain as ex
from core.errors import NotFound, SchemaMismatch, SpecInvalid

NUMERIC = ["tenure_months", "noise"]


def _churn_data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "tenure_months": rng.integers(0, 72, n),
        "noise": rng.normal(0, 1, n),
        "plan": rng.choice(["monthly", "annual", "two_year"], n),
    })
    logit = 2.0 - 0.08 * X["tenure_months"] + X["plan"].map({"monthly": 1.5, "annual": 0.0, "two_year": -1.5})
    y = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    return X, y


def _pipeline(estimator):
    prep = ColumnTransformer([("num", StandardScaler(), NUMERIC),
                              ("cat", OneHotEncoder(handle_unknown="ignore"), ["plan"])])
    return Pipeline([("prep", prep), ("model", estimator)])


@pytest.fixture(scope="module")
def churn():
    X, y = _churn_data()
    return X, y, _pipeline(LogisticRegression(max_iter=1000)).fit(X, y)


def test_permutation_importance_ranks_informative_features_above_noise(churn):
    X, y, model = churn
    table = ex.permutation_importance_table(model, X, y, scoring="accuracy", n_repeats=5, seed=0)
    rank = table.set_index("feature")["rank"]
    assert rank["tenure_months"] < rank["noise"] and rank["plan"] < rank["noise"]
    sentence = table.set_index("feature").loc["tenure_months", "sentence"]
    assert sentence.startswith("Higher tenure_months lowers the predicted probability of 'yes'")
    with pytest.raises(SpecInvalid, match="Unknown score 'acuracy'.*Did you mean 'accuracy'"):
        ex.permutation_importance_table(model, X, y, scoring="acuracy")


def test_native_importances_sum_one_hot_parts_back_to_input_columns(churn):
    X, y, model = churn
    table = ex.native_importances(model, X=X).set_index("feature")
    assert set(table.index) == {"tenure_months", "noise", "plan"}
    assert table.loc["plan", "parts"] == 3 and table.loc["tenure_months", "parts"] == 1
    coef = np.abs(model.named_steps["model"].coef_[0])
    assert table.loc["plan", "importance"] == pytest.approx(coef[2:].sum())  # the three one-hot coefficients
    assert table["share"].sum() == pytest.approx(1.0)
    assert "'monthly' gives the highest" in table.loc["plan", "sentence"]
    forest = _pipeline(RandomForestClassifier(n_estimators=30, random_state=0, n_jobs=1)).fit(X, y)
    assert ex.native_importances(forest)["kind"].iloc[0] == "built-in importance"
    plain = RandomForestClassifier(n_estimators=10, random_state=0).fit(X[NUMERIC], y)
    assert set(ex.native_importances(plain)["feature"]) == set(NUMERIC)
    assert ex.native_importances(KNeighborsClassifier().fit(X[NUMERIC], y)) is None


def test_partial_dependence_slope_sign_follows_a_monotone_relation(churn):
    X, _, model = churn
    curve = ex.partial_dependence_curve(model, X, "tenure_months", grid=15)
    prediction = curve.points["prediction"].to_numpy()
    assert curve.is_numeric and len(curve.points) == 15
    assert np.all(np.diff(prediction) <= 1e-12) and prediction[0] - prediction[-1] > 0.2
    assert "lowers" in curve.sentence
    plan = ex.partial_dependence_curve(model, X, "plan").points.set_index("value")["prediction"]
    assert plan.idxmax() == "monthly" and plan.idxmin() == "two_year"

    rng = np.random.default_rng(1)
    Xr = pd.DataFrame({"tenure_months": rng.integers(0, 72, 300), "noise": rng.normal(0, 1, 300),
                       "plan": rng.choice(["a", "b"], 300)})
    yr = 500 - 4.0 * Xr["tenure_months"] + rng.normal(0, 5, 300)
    regressor = _pipeline(LinearRegression()).fit(Xr, yr)
    curve = ex.partial_dependence_curve(regressor, Xr, "tenure_months", target_name="spend")
    slope = np.polyfit(curve.points["value"].astype(float), curve.points["prediction"], 1)[0]
    assert slope == pytest.approx(-4.0, abs=0.5)
    assert curve.sentence.startswith("Higher tenure_months lowers the predicted spend")
    with pytest.raises(NotFound, match="Did you mean 'tenure_months'"):
        ex.partial_dependence_curve(model, X, "tenure_month")


def test_what_if_contributions_point_the_right_way(churn):
    X, _, model = churn
    short = {"tenure_months": 2, "noise": 0.0, "plan": "monthly"}
    result = ex.what_if(model, X, short, positive_class="yes")
    table = result.contributions.set_index("feature")
    assert result.label == "yes" and result.prediction > result.baseline
    assert table.loc["tenure_months", "direction"] == "raises" and table.loc["plan", "direction"] == "raises"
    assert abs(table.loc["noise", "contribution"]) < abs(table.loc["tenure_months", "contribution"])
    assert result.contributions["contribution"].abs().is_monotonic_decreasing
    direct = model.predict_proba(pd.DataFrame([short]))[0, list(model.classes_).index("yes")]
    assert result.prediction == pytest.approx(direct)

    loyal = ex.what_if(model, X, {"tenure_months": "70", "noise": "0", "plan": "two_year"})  # text, as from a URL
    table = loyal.contributions.set_index("feature")
    assert loyal.label == "no"
    assert table.loc["tenure_months", "contribution"] < 0 and table.loc["plan", "direction"] == "lowers"


def test_what_if_rejects_incomplete_or_unknown_records(churn):
    X, _, model = churn
    with pytest.raises(SchemaMismatch, match="leaves out plan"):
        ex.what_if(model, X, {"tenure_months": 3, "noise": 0})
    with pytest.raises(NotFound, match="Did you mean 'tenure_months'"):
        ex.what_if(model, X, {"tenure_month": 3, "tenure_months": 3, "noise": 0, "plan": "annual"})
    with pytest.raises(SchemaMismatch, match="'tenure_months' needs a number, got 'soon'"):
        ex.what_if(model, X, {"tenure_months": "soon", "noise": 0, "plan": "annual"})


def test_multiclass_models_need_a_class_to_explain():
    rng = np.random.default_rng(2)
    X = pd.DataFrame({"a": rng.normal(size=150), "b": rng.normal(size=150)})
    y = np.where(X["a"] > 0.5, "high", np.where(X["a"] < -0.5, "low", "mid"))
    model = LogisticRegression(max_iter=500).fit(X, y)
    with pytest.raises(SpecInvalid, match="predicts 3 classes"):
        ex.partial_dependence_curve(model, X, "a")
    curve = ex.partial_dependence_curve(model, X, "a", positive_class="high")
    assert curve.points["prediction"].iloc[-1] > curve.points["prediction"].iloc[0]
    with pytest.raises(NotFound, match="No class 'hgh'.*Did you mean 'high'"):
        ex.partial_dependence_curve(model, X, "a", positive_class="hgh")
