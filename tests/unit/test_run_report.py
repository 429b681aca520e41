"""One run judged on its validation rows: every figure checked against scikit-learn or a hand computation."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from core.evaluate import charts as run_charts, run_explain, run_fairness, report as run_report
from core.project.criteria import Guardrail, SuccessCriteria
from core.errors import NotFound, SchemaMismatch
from core.project.projects import Project
from core.models.runs import Run

COSTS = {"tp": 80.0, "fp": -20.0, "fn": -200.0, "tn": 0.0}
SCORES = np.array([0.95, 0.9, 0.8, 0.7, 0.62, 0.55, 0.4, 0.3, 0.2, 0.1])
ACTUAL = np.array([True, True, False, True, True, False, True, False, False, False])


def _synthetic(task, y_true, y_pred=None, score=None, criteria=None, classes=(), positive=None, features=None,
               sensitive=None) -> run_report.RunData:
    n = len(y_true)
    criteria = criteria or SuccessCriteria("f1", 0.5, costs=dict(COSTS))
    run = Run(id="run_test", project_id="prj_test", comparison_id=None, split_id="spl_test", split_hash="",
              model_key="logreg", model_label="Test model", task=task, params={}, seed=0, target="y",
              positive_class=positive, classes=tuple(classes), score_kind="probability",
              threshold=0.5 if task == "binary" else None)
    project = Project(id="prj_test", name="Test", dataset_id="ds_test", target="y", task=task, positive_class=positive,
                      classes=tuple(classes), criteria=criteria)
    predictions = pd.DataFrame({"_row": np.arange(n), "y_true": y_true,
                                "y_pred": y_pred if y_pred is not None else y_true})
    if score is not None:
        predictions["score"] = score
    features = features if features is not None else pd.DataFrame(index=range(n))
    sensitive = sensitive if sensitive is not None else pd.DataFrame(index=range(n))
    return run_report.RunData(run, project, predictions, features, sensitive)


def _binary(criteria=None, **kwargs) -> run_report.RunData:
    return _synthetic("binary", ACTUAL, SCORES >= 0.5, SCORES, criteria, (False, True), True, **kwargs)


def _grid_values(actual, scores, costs):
    """Value of every threshold a person can pick, computed independently of core.evaluate.classification."""
    grid = np.round(np.arange(0, 1.0001, 0.01), 2)
    out = []
    for t in grid:
        flagged = scores >= t
        tp, fp = np.sum(flagged & actual), np.sum(flagged & ~actual)
        fn, tn = np.sum(~flagged & actual), np.sum(~flagged & ~actual)
        value = tp * costs["tp"] + fp * costs["fp"] + fn * costs["fn"] + tn * costs["tn"]
        precision = tp / (tp + fp) if tp + fp else 0.0
        out.append({"threshold": t, "value": value, "recall": tp / (tp + fn), "precision": precision})
    return pd.DataFrame(out)


# -- hand-computed two-outcome example ---------------------------------------------------------------------------------
def test_expected_value_at_a_threshold_is_the_hand_computation():
    view = run_report.threshold_view(_binary())
    point = run_report.operating_point(view, 0.6)
    # Flagged at 0.6: 0.95, 0.9, 0.8, 0.7, 0.62 -> four real cases and one false alarm; 0.4 is a missed case.
    assert point["counts"].to_numpy().tolist() == [[4, 1], [1, 4]]  # rows actual (no, yes), columns predicted
    assert point["value"] == 4 * 80 + 1 * -20 + 1 * -200 + 4 * 0
    assert point["value_per_1000"] == pytest.approx(100 / 10 * 1000)
    assert point["rates"].to_numpy().tolist() == [[0.8, 0.2], [0.2, 0.8]]
    assert "+10,000 per 1,000 decisions" in run_report.headline(point)


def test_best_value_threshold_is_the_best_threshold_a_person_can_pick():
    view = run_report.threshold_view(_binary())
    grid = _grid_values(ACTUAL, SCORES, COSTS)
    best = grid[grid["value"] == grid["value"].max()].iloc[-1]  # ties go to the higher threshold
    assert view.best["threshold"] == pytest.approx(best["threshold"])
    assert view.best["value"] == pytest.approx(best["value"])
    assert view.best["value_per_1000"] == pytest.approx(best["value"] / 10 * 1000)
    point = run_report.operating_point(view, view.best["threshold"])
    assert point["value"] == pytest.approx(best["value"])  # the marker's promise holds at the slider position


def test_criterion_threshold_meets_the_rule_and_its_guardrails():
    criteria = SuccessCriteria("recall", 0.8, guardrails=[Guardrail("precision", ">=", 0.6)], costs=dict(COSTS))
    view = run_report.threshold_view(_binary(criteria))
    grid = _grid_values(ACTUAL, SCORES, COSTS)
    ok = grid[(grid["recall"] >= 0.8) & (grid["precision"] >= 0.6)]
    expected = ok[ok["precision"] == ok["precision"].max()].iloc[-1]
    assert view.criterion["threshold"] == pytest.approx(expected["threshold"])
    assert view.criterion["recall"] >= 0.8 and view.criterion["precision"] >= 0.6
    assert "while meeting the guardrails" in view.criterion_text


def test_criterion_without_a_reachable_guardrail_or_rule_says_so():
    strict = SuccessCriteria("recall", 0.8, guardrails=[Guardrail("precision", ">=", 0.99)])
    view = run_report.threshold_view(_binary(strict))
    assert view.criterion["recall"] >= 0.8 and "no threshold also meets the guardrails" in view.criterion_text
    impossible = run_report.threshold_view(_binary(SuccessCriteria("accuracy", 0.99)))
    assert impossible.criterion is None and "No threshold reaches Accuracy ≥ 0.99" in impossible.criterion_text
    ranking = run_report.threshold_view(_binary(SuccessCriteria("roc_auc", 0.8)))
    assert ranking.criterion is None and "does not depend on the threshold" in ranking.criterion_text


def test_without_costs_there_is_no_value_to_maximise():
    view = run_report.threshold_view(_binary(SuccessCriteria("f1", 0.5, costs={k: 0.0 for k in COSTS})))
    point = run_report.operating_point(view, 0.5)
    assert view.best is None and point["value_per_1000"] is None
    assert "Expected value" not in run_report.headline(point)


# -- several classes and regression (synthetic, against scikit-learn) --------------------------------------------------
def test_multiclass_views_equal_sklearn():
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    rng = np.random.default_rng(3)
    classes = ["basic", "premium", "standard"]
    y = rng.choice(classes, 300)
    pred = np.where(rng.random(300) < 0.6, y, rng.choice(classes, 300))
    view = run_report.multiclass_view(_synthetic("multiclass", y, pred, classes=classes))
    assert view["confusion"].counts.to_numpy().tolist() == confusion_matrix(y, pred, labels=classes).tolist()
    p, r, f, support = precision_recall_fscore_support(y, pred, labels=classes, zero_division=0)
    report = view["report"]
    assert np.allclose(report["precision"], p) and np.allclose(report["recall"], r) and np.allclose(report["f1"], f)
    assert report["support"].tolist() == support.tolist()


def test_regression_views_equal_sklearn_and_cost_follows_the_project():
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    rng = np.random.default_rng(4)
    y = rng.normal(300_000, 80_000, 400)
    pred = y + rng.normal(0, 30_000, 400)
    criteria = SuccessCriteria("mae", 40_000, op="<=", cost_per_unit_error=0.01)
    views = run_report.regression_view(_synthetic("regression", y, pred, criteria=criteria))
    s = views.summary
    assert s["mae"] == pytest.approx(mean_absolute_error(y, pred))
    assert s["rmse"] == pytest.approx(np.sqrt(mean_squared_error(y, pred)))
    assert s["r2"] == pytest.approx(r2_score(y, pred))
    assert s["cost_per_1000"] == pytest.approx(0.01 * mean_absolute_error(y, pred) * 1000)
    assert run_report.format_number(s["mae"]) == f"{s['mae']:,.0f}"


def test_regression_fairness_and_errors_compare_mean_absolute_error_per_group():
    rng = np.random.default_rng(5)
    y = rng.normal(100, 20, 600)
    group = rng.choice(["North", "South"], 600)
    pred = y + rng.normal(0, np.where(group == "North", 5, 15))
    frame = pd.DataFrame({"neighborhood": group})
    data = _synthetic("regression", y, pred, criteria=SuccessCriteria("mae", 10, op="<=",
                                                                        sensitive_attributes=["neighborhood"]),
                      features=frame, sensitive=frame)
    hand = pd.Series(np.abs(y - pred)).groupby(group).mean()
    result = run_fairness.fairness_view(data)
    groups = run_fairness.group_table(result, "neighborhood")
    assert result.mode == "regression"
    assert np.allclose(groups.set_index("group")["mae"].loc[hand.index], hand)
    segments = run_fairness.error_view(data).set_index("segment")
    assert np.allclose(segments.loc[hand.index, "mae"], hand)


# -- a real run of the demo project ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(trained_workspace):
    t = trained_workspace(["dummy", "logreg"])
    ws = t.ws
    model = t.runs["logreg"]
    data = run_report.load_run_data(ws, model)
    yield SimpleNamespace(ws=ws, home=t.home, project=t.project, split=t.split, baseline=t.runs["dummy"],
                          run_id=model, data=data, view=run_report.threshold_view(data))
    t.close()


def test_the_best_non_baseline_run_is_chosen(trained):
    assert run_report.default_run(trained.ws, trained.project, trained.split.id).id == trained.run_id
    assert {r.id for r in run_report.evaluable_runs(trained.ws, trained.project.id)} == {trained.baseline,
                                                                                       trained.run_id}


def test_validation_rows_line_up_with_the_model(trained):
    from core.models.runs import load_run_model
    from core.split.splitting import split_frames

    data = trained.data
    model = load_run_model(trained.ws, trained.run_id)
    positive = list(model.classes_).index(True)
    assert np.allclose(model.predict_proba(data.features)[:, positive], data.predictions["score"])
    rows = split_frames(trained.ws, trained.split, parts=("validation",), with_row_id=True)["validation"]
    assert rows["_row"].tolist() == data.predictions["_row"].tolist()
    assert data.sensitive.columns.tolist() == ["age_band"] and data.sensitive["age_band"].equals(rows["age_band"])


@pytest.mark.parametrize("threshold", [0.1, 0.25, 0.5, 0.73, 0.9])
def test_metrics_at_a_threshold_equal_sklearn(trained, threshold):
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score, recall_score

    y = trained.data.predictions["y_true"].to_numpy()
    flagged = trained.data.predictions["score"].to_numpy() >= threshold
    point = run_report.operating_point(trained.view, threshold, trained.project.criteria)
    assert point["precision"] == pytest.approx(precision_score(y, flagged, zero_division=0))
    assert point["recall"] == pytest.approx(recall_score(y, flagged))
    assert point["f1"] == pytest.approx(f1_score(y, flagged))
    assert point["accuracy"] == pytest.approx(accuracy_score(y, flagged))
    matrix = confusion_matrix(y, flagged, labels=[False, True])
    assert point["counts"].to_numpy().tolist() == matrix.tolist()
    tn, fp, fn, tp = matrix.ravel()
    costs = trained.project.criteria.costs
    hand = (tp * costs["tp"] + fp * costs["fp"] + fn * costs["fn"] + tn * costs["tn"]) / len(y) * 1000
    assert point["value_per_1000"] == pytest.approx(hand)
    recall_check = next(c for c in point["checks"] if c.kind == "primary")
    assert recall_check.passed == (point["recall"] >= 0.7)


def test_curves_equal_sklearn(trained):
    from sklearn.metrics import average_precision_score, roc_auc_score

    y, score = trained.data.predictions["y_true"], trained.data.predictions["score"]
    assert trained.view.roc.area == pytest.approx(roc_auc_score(y, score))
    assert trained.view.pr.area == pytest.approx(average_precision_score(y, score))
    assert trained.view.calibration["rows"].sum() == len(y)
    assert trained.view.lift["cumulative_gain"].iloc[-1] == pytest.approx(1.0)


@pytest.mark.parametrize("threshold", [0.3, 0.6])
def test_fairness_follows_the_threshold(trained, threshold):
    p = trained.data.predictions
    flagged = p["score"].to_numpy() >= threshold
    actual = p["y_true"].to_numpy(dtype=bool)
    band = trained.data.sensitive["age_band"].to_numpy()
    frame = pd.DataFrame({"band": band, "flagged": flagged, "actual": actual})
    selection = frame.groupby("band")["flagged"].mean()
    tpr = frame[frame["actual"]].groupby("band")["flagged"].mean()
    fpr = frame[~frame["actual"]].groupby("band")["flagged"].mean()
    result = run_fairness.fairness_view(trained.data, threshold)
    groups = run_fairness.group_table(result, "age_band").set_index("group")
    assert np.allclose(groups.loc[selection.index, "selection_rate"], selection)
    summary = result.summary.set_index("measure")
    assert summary.loc["demographic_parity_difference", "value"] == pytest.approx(selection.max() - selection.min())
    eo = max(tpr.max() - tpr.min(), fpr.max() - fpr.min())
    assert summary.loc["equalized_odds_difference", "value"] == pytest.approx(eo)
    assert summary.loc["demographic_parity_difference", "limit"] == trained.project.criteria.fairness_tolerance
    assert f"{threshold:.2f}" in run_fairness.fairness_description(trained.data, result, threshold)
    trade = run_fairness.tradeoff_view(trained.data, "age_band").set_index("threshold")
    assert trade.attrs["metric"] == "recall"
    assert trade.loc[threshold, "demographic_parity_difference"] == pytest.approx(selection.max() - selection.min())


def test_fairness_verdict_reads_the_intervals():
    def verdict(rows):
        return run_fairness.fairness_verdict(SimpleNamespace(summary=pd.DataFrame(rows)), 0.5)[0]

    row = {"attribute": "age_band", "measure": "demographic_parity_difference", "limit": 0.1}
    assert verdict([{**row, "verdict": "pass", "passes": True}]) == "pass"
    assert verdict([{**row, "verdict": "unclear", "passes": False}]) == "unclear"
    assert verdict([{**row, "verdict": "fail", "passes": False}]) == "fail"


def test_error_segments_follow_the_threshold(trained):
    p = trained.data.predictions
    for threshold in (0.3, 0.7):
        wrong = (p["score"].to_numpy() >= threshold) != p["y_true"].to_numpy(dtype=bool)
        hand = pd.Series(wrong).groupby(trained.data.features["contract"].to_numpy()).mean()
        table = run_fairness.error_view(trained.data, threshold, top=None)
        contract = table[table["column"] == "contract"].set_index("segment")
        assert np.allclose(contract.loc[hand.index, "error_rate"], hand)
        assert ((contract["ci_low"] <= contract["error_rate"]) & (contract["error_rate"] <= contract["ci_high"])).all()
        assert (table["is_clearly_worse"] == ((table["ci_low"] > table["overall"]) & ~table["is_small"])).all()


def test_misaligned_predictions_are_refused(trained):
    from core.models.runs import get_run, run_predictions

    baseline = get_run(trained.ws, trained.baseline)
    shifted = run_predictions(trained.ws, baseline.id).assign(_row=lambda d: np.arange(len(d)))
    trained.ws.put_frame(baseline.predictions_key, shifted)  # positions instead of dataset row ids
    with pytest.raises(SchemaMismatch, match="do not line up"):
        run_report.load_run_data(trained.ws, baseline.id)


def test_explanations_of_the_run(trained):
    from core.models.runs import load_run_model

    model = load_run_model(trained.ws, trained.run_id)
    data = trained.data
    row = int(data.predictions["_row"].iloc[5])
    fields = run_explain.record_fields(data, row)
    kinds = {f["name"]: f["kind"] for f in fields}
    assert kinds["tenure_months"] == "number" and kinds["contract"] == "choice" and kinds["signup_date"] == "date"
    record = {f["name"]: f["value"] for f in fields}
    out = run_explain.what_if_view(model, data, record, threshold=0.5)
    assert out["result"].prediction == pytest.approx(data.predictions["score"].iloc[5])  # unedited row: same score
    assert "threshold 0.50" in out["decision"]
    longer = run_explain.what_if_view(model, data, {**record, "contract": "two-year"})["result"].prediction
    shorter = run_explain.what_if_view(model, data, {**record, "contract": "month-to-month"})["result"].prediction
    assert longer < shorter
    view = run_explain.importance_view(model, data, n_repeats=2)
    assert set(view.permutation["feature"]) == set(data.features.columns)
    assert view.permutation["sentence"].str.len().gt(10).all() and view.scoring_label == "ROC-AUC"
    assert view.native is not None and view.native["sentence"].notna().all()
    assert run_explain.pdp_view(model, data, "tenure_months").points["prediction"].between(0, 1).all()
    with pytest.raises(NotFound, match="customer_id"):
        run_explain.pdp_view(model, data, "customer_id")
    charts = [run_charts.importance_chart(view.permutation, "p"), run_charts.contributions_chart(out["result"]),
              run_charts.pdp_chart(run_explain.pdp_view(model, data, "contract"))]
    assert all(len(fig.to_json()) < 100_000 for fig in charts)


def test_every_chart_stays_small(trained):
    view, data = trained.view, trained.data
    point = run_report.operating_point(view, 0.4)
    result = run_fairness.fairness_view(data, 0.4)
    figures = [run_charts.threshold_chart(view, point), run_charts.confusion_chart(point["counts"], point["rates"]),
               run_charts.roc_chart(view, point), run_charts.pr_chart(view, point),
               run_charts.calibration_chart(view.calibration), run_charts.lift_chart(view.lift),
               run_charts.segments_chart(run_fairness.error_view(data, 0.4), "error_rate", "share wrong"),
               run_charts.fairness_groups_chart(run_fairness.group_table(result, "age_band"), ("selection_rate",)),
               run_charts.tradeoff_chart(run_fairness.tradeoff_view(data), "recall", 0.1, 0.4)]
    sizes = [len(fig.to_json()) for fig in figures]
    assert max(sizes) < 100_000, sizes


def test_cli_evaluate_reports_the_threshold_metrics_and_fairness(trained, capsys):
    from core.cli import main

    assert main(["--home", str(trained.home), "evaluate", trained.run_id, "--threshold", "0.3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    point = run_report.operating_point(trained.view, 0.3)
    assert out["threshold"] == 0.3
    assert out["metrics"]["precision"] == pytest.approx(point["precision"])
    assert out["metrics"]["value_per_1000"] == pytest.approx(point["value_per_1000"])
    assert out["best_value_threshold"]["threshold"] == pytest.approx(trained.view.best["threshold"])
    assert {m["measure"] for m in out["fairness"]["measures"]} >= {"demographic_parity_difference",
                                                                   "equalized_odds_difference"}
    assert out["fairness"]["status"] in ("pass", "unclear", "fail")
    assert main(["--home", str(trained.home), "evaluate", trained.run_id]) == 0
    assert "Logistic regression" in capsys.readouterr().out
    assert main(["--home", str(trained.home), "evaluate", trained.run_id, "--threshold", "1.5"]) == 2
    assert "between 0 and 1" in capsys.readouterr().err
    assert main(["--home", str(trained.home), "evaluate", "run_nope"]) == 2
    assert "No run 'run_nope'" in capsys.readouterr().err
