"""Success criteria: round trips, validation, metric-fit warnings and checks against measured metrics."""

from __future__ import annotations

import pytest

from core.project.criteria import (
    Guardrail,
    KeyResult,
    Okr,
    SuccessCriteria,
    criteria_warnings,
    default_criteria,
    describe_criteria,
    evaluate_criteria,
    meets_criteria,
    metric_choices,
    metric_meaning,
    metric_warnings,
    natural_op,
    validate_criteria,
)
from core.errors import NotFound, SpecInvalid

SKEWED = {"no": 0.95, "yes": 0.05}
EVEN = {"no": 0.5, "yes": 0.5}


def _full() -> SuccessCriteria:
    return SuccessCriteria(
        "recall", 0.7, ">=", [Guardrail("precision", ">=", 0.4)], min_improvement=0.02,
        costs={"tp": 80.0, "fp": -20.0, "fn": -200.0, "tn": 0.0}, sensitive_attributes=["age"],
        fairness_tolerance=0.05,
        okr=Okr("Keep customers", [KeyResult("catch leavers", "recall", 0.7), KeyResult("few wasted offers", "precision", 0.4)]))


def test_round_trip_and_blank_form_rows_dropped():
    crit = _full()
    assert SuccessCriteria.from_dict(crit.to_dict()) == crit
    form = crit.to_dict()
    form["guardrails"].append({"metric": None, "op": ">=", "value": None})
    form["okr"]["key_results"].append({"text": "", "metric": "", "target": float("nan")})
    form["costs"]["tn"] = float("nan")
    back = SuccessCriteria.from_dict(form)
    assert len(back.guardrails) == 1 and len(back.okr.key_results) == 2 and "tn" not in back.costs


def test_every_task_has_metrics_with_meanings_and_valid_defaults():
    for task in ("binary", "multiclass", "regression", "clustering"):
        keys = metric_choices(task)
        assert keys, task
        assert all(metric_meaning(k) for k in keys)
        validate_criteria(default_criteria(task), task)
    assert "recall" in metric_choices("binary") and "recall" not in metric_choices("regression")


def test_validate_accepts_full_criteria_and_refuses_bad_ones():
    validate_criteria(_full(), "binary", ["age", "x"])
    cases = [
        (SuccessCriteria("recal", 0.7), NotFound, "Did you mean 'recall'"),
        (SuccessCriteria("recall", 0.7), SpecInvalid, "cannot be measured for regression"),
        (SuccessCriteria("recall", 70), SpecInvalid, "runs from 0 to 1"),
        (SuccessCriteria("recall", float("nan")), SpecInvalid, "needs a number"),
        (SuccessCriteria("recall", 0.7, op=">"), SpecInvalid, "not a comparison"),
        (SuccessCriteria("recall", 0.7, min_improvement=-1), SpecInvalid, "minimum improvement"),
        (SuccessCriteria("recall", 0.7, costs={"tx": 1.0}), SpecInvalid, "not an outcome"),
        (SuccessCriteria("recall", 0.7, fairness_tolerance=3), SpecInvalid, "fairness tolerance"),
        (SuccessCriteria("recall", 0.7, sensitive_attributes=["agee"]), NotFound, "Did you mean 'age'"),
        (SuccessCriteria("recall", 0.7, okr=Okr("Grow", [KeyResult("one", "recall", 0.7)])), SpecInvalid, "2 to 5"),
        (SuccessCriteria("recall", 0.7, okr=Okr("", [])), SpecInvalid, "needs an objective"),
    ]
    for crit, error, message in cases:
        task = "regression" if "regression" in message else "binary"
        with pytest.raises(error, match=message):
            validate_criteria(crit, task, ["age", "x"])


def test_accuracy_on_a_skewed_target_warns_and_on_an_even_one_does_not():
    skewed = metric_warnings("binary", "accuracy", 0.9, ">=", SKEWED)
    assert any("95% of rows are 'no'" in w and "0.95" in w for w in skewed)
    assert any("no better than always answering 'no'" in w for w in skewed)
    assert metric_warnings("binary", "accuracy", 0.8, ">=", EVEN) == []


def test_warnings_for_wrong_task_wrong_direction_and_missing_counterweight():
    assert any("does not apply" in w for w in metric_warnings("regression", "recall"))
    error_metric = next(k for k in metric_choices("regression") if natural_op(k) == "<=")
    assert any("lower is better" in w for w in metric_warnings("regression", error_metric, 1.0, ">="))
    lonely = criteria_warnings(SuccessCriteria("recall", 0.7), "binary", EVEN, "yes")
    assert any("precision guardrail" in w for w in lonely)
    assert not any("precision guardrail" in w for w in criteria_warnings(_full(), "binary", EVEN, "yes"))
    cheap = criteria_warnings(SuccessCriteria("precision", 0.04, guardrails=[Guardrail("recall", ">=", 0.5)],
                                              costs={"fp": -1.0, "fn": -50.0}), "binary", SKEWED, "yes")
    assert any("proves nothing" in w for w in cheap) and any("recall (catching cases) fits better" in w for w in cheap)


def test_evaluate_criteria_checks_rules_guardrails_improvement_and_okr():
    crit = _full()
    good = {"recall": 0.75, "precision": 0.45}
    checks = evaluate_criteria(crit, good, champion={"recall": 0.72})
    assert [c.kind for c in checks] == ["primary", "guardrail", "improvement", "key_result", "key_result"]
    assert all(c.passed for c in checks)
    assert checks[2].actual == pytest.approx(0.03)
    assert meets_criteria(crit, good, champion={"recall": 0.72})
    assert not meets_criteria(crit, good, champion={"recall": 0.74})  # only +0.01, the rule asks +0.02
    assert not meets_criteria(crit, {"recall": 0.75, "precision": 0.3})
    missing = evaluate_criteria(crit, {"recall": 0.8})
    assert missing[1].passed is None and "not measured" in missing[1].text
    assert not meets_criteria(crit, {"recall": 0.8})


def test_improvement_for_a_lower_is_better_metric():
    error_metric = next(k for k in metric_choices("regression") if natural_op(k) == "<=")
    crit = SuccessCriteria(error_metric, 10.0, "<=", min_improvement=1.0)
    assert meets_criteria(crit, {error_metric: 8.0}, champion={error_metric: 9.5})
    assert not meets_criteria(crit, {error_metric: 9.0}, champion={error_metric: 9.5})


def test_describe_criteria_reads_plainly():
    lines = describe_criteria(_full(), "binary")
    assert lines[0].startswith("Launch when") and "≥ 0.7" in lines[0]
    assert any(line.startswith("Guardrail:") and "0.4" in line for line in lines)
    assert any("FN -200" in line for line in lines)
    assert any("age" in line and "0.05" in line for line in lines)
    assert lines[-1] == "Objective: Keep customers"
