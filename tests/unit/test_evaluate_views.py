"""The Evaluate page's tiles, segment measure, class report and fairness pickers (core.evaluate.views), on real runs
of the demo project and on the sample datasets."""

from __future__ import annotations

import numpy as np
import pytest

from core.evaluate import report as run_report
from core.evaluate import run_fairness
from core.evaluate.classification import multiclass_summary, per_class_report
from core.evaluate.error_analysis import regression_views
from core.evaluate.views import (FairnessChoices, Kpi, binary_kpis, class_report, fairness_choices, multiclass_kpis,
                                 regression_kpis, segment_measure, shown_checks)
from core.project.criteria import format_class


@pytest.fixture(scope="module")
def binary(trained_workspace):
    """RunData of the demo project's logistic regression, on its validation rows."""
    trained = trained_workspace(("logreg",))
    try:
        yield run_report.load_run_data(trained.ws, trained.runs["logreg"])
    finally:
        trained.close()


def test_binary_tiles_read_the_operating_point(binary):
    view = run_report.threshold_view(binary)
    point = run_report.operating_point(view, 0.5, binary.project.criteria, binary.run.validation_metrics)
    tiles = binary_kpis(point)
    assert [t.label for t in tiles] == ["Precision", "Recall", "F1", "Value per 1,000 decisions"]
    assert tiles[1].value == f"{point['recall']:.3f}" and tiles[0].help.startswith("Of the flagged rows")
    value = point["value_per_1000"]
    assert tiles[3].value == ("no costs set" if value is None else f"{value:+,.0f}")
    assert binary_kpis({**point, "value_per_1000": None})[3].value == "no costs set"
    assert binary_kpis({**point, "value_per_1000": 1234.4})[3].value == "+1,234"
    assert all(isinstance(t, Kpi) and t.delta is None and t.delta_color == "normal" for t in tiles)


def test_only_the_launch_rule_and_guardrails_are_listed(binary):
    view = run_report.threshold_view(binary)
    point = run_report.operating_point(view, 0.5, binary.project.criteria, binary.run.validation_metrics)
    listed = shown_checks(point["checks"])
    assert listed == [c for c in point["checks"] if c.kind != "key_result"] and listed
    assert shown_checks(run_report.criteria_checks(binary)) == run_report.criteria_checks(binary)


def test_fairness_choices_follow_the_result(binary):
    result = run_fairness.fairness_view(binary, 0.5)
    assert result is not None  # the demo project declares age_band as sensitive
    choices = fairness_choices(result)
    assert choices == FairnessChoices(attributes=list(dict.fromkeys(result.groups["attribute"])),
                                      outcomes=[o for o in dict.fromkeys(result.groups["outcome"]) if o is not None],
                                      measures=("selection_rate", "recall", "fpr"))
    assert "age_band" in choices.attributes


def test_multiclass_tiles_and_class_report_on_real_labels(seeded_workspace):
    frame = seeded_workspace.ws.frame("churn")
    truth = frame["region"].to_numpy()
    guess = np.where(np.arange(len(truth)) % 3 == 0, np.roll(truth, 1), truth)  # a third answered wrongly-ish
    summary = multiclass_summary(truth, guess)
    tiles = multiclass_kpis(summary)
    assert [t.label for t in tiles] == ["Accuracy", "Balanced accuracy", "Macro F1", "Kappa"]
    assert tiles[0].value == f"{summary['accuracy']:.3f}"
    assert tiles[0].help == f"Always answering the commonest class: {summary['majority_accuracy']:.3f}."
    report = per_class_report(truth, guess)
    before = report["class"].tolist()
    shown = class_report(report)
    assert list(shown["class"]) == [format_class(c) for c in before]
    assert report["class"].tolist() == before  # the input is left as it was


def test_regression_tiles_on_real_prices(seeded_workspace):
    price = seeded_workspace.ws.frame("house_prices")["price"].to_numpy(dtype=float)
    views = regression_views(price, price * 0.9)  # predicts 10% too low: positive bias
    summary = {**views.summary, "cost_per_1000": None}
    tiles = regression_kpis(summary)
    assert [t.label for t in tiles] == ["MAE", "RMSE", "R²", "Bias", "Cost per 1,000 predictions"]
    assert tiles[3].value.startswith("+") and tiles[4].value == "no cost set"
    assert tiles[0].value == run_report.format_number(summary["mae"])
    costly = regression_kpis({**summary, "cost_per_1000": summary["mae"] * 2000})
    assert costly[4].value == run_report.format_number(summary["mae"] * 2000)
    assert not regression_kpis({**summary, "bias": -summary["bias"]})[3].value.startswith("+")


def test_segment_measure_per_task():
    assert segment_measure("regression") == ("mae", "mean absolute error")
    assert segment_measure("binary") == segment_measure("multiclass") == ("error_rate", "share predicted wrongly")
