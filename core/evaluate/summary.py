"""One run's evaluation as plain JSON-ready data, for the command line and exports: the Evaluate page in one dict."""

from __future__ import annotations

from typing import Any

import pandas as pd

from core.evaluate.report import (
    RATE_METRICS,
    decision_threshold,
    headline,
    load_run_data,
    multiclass_view,
    operating_point,
    plain_value,
    regression_view,
    threshold_view,
)
from core.evaluate.shown_threshold import shown_threshold
from core.evaluate.run_fairness import (
    fairness_description,
    fairness_verdict,
    fairness_view,
)


def summarize_run(ws, run_id: str, threshold: float | None = None) -> dict:
    """Returns a run's evaluation as plain JSON-ready data: metrics at the threshold, best threshold, fairness."""
    data = load_run_data(ws, run_id)
    run = data.run
    out: dict[str, Any] = {"run_id": run.id, "model": run.model_label, "task": run.task, "project": run.project_name,
                           "validation_rows": len(data.predictions), "notes": list(data.notes)}
    used = None
    if run.task == "binary":
        view = threshold_view(data)
        used = decision_threshold(data, threshold)
        point = operating_point(view, used, data.project.criteria, run.validation_metrics)
        out["threshold"] = used
        out["threshold_shown"] = (shown_threshold(run).label if threshold is None  # the one rule, said in words
                                  else f"at the threshold {used:.2f} asked for")
        out["metrics"] = {m: point[m] for m in RATE_METRICS} | {k: point[k] for k in ("tp", "fp", "fn", "tn")}
        out["metrics"]["value_per_1000"] = point["value_per_1000"]
        out["threshold_free_metrics"] = {k: run.validation_metrics[k] for k in ("roc_auc", "pr_auc")
                                         if k in run.validation_metrics}
        out["best_value_threshold"] = _public_row(view.best)
        out["criterion_threshold"] = _public_row(view.criterion)
        out["criterion"] = view.criterion_text
        out["checks"] = [{"rule": c.text, "passed": c.passed} for c in point["checks"]]
        out["headline"] = headline(point)
    elif run.task == "multiclass":
        view = multiclass_view(data)
        out["metrics"] = view["summary"]
        out["per_class"] = view["report"].to_dict("records")
    else:
        out["metrics"] = regression_view(data).summary
    fairness = fairness_view(data, used)
    if fairness is None:
        out["fairness"] = None
    else:
        status, sentence = fairness_verdict(fairness, used)
        out["fairness"] = {"status": status, "verdict": sentence, "passes": fairness.passes,
                           "description": fairness_description(data, fairness, used), "warnings": fairness.warnings,
                           "measures": _records(fairness.summary), "groups": _records(fairness.groups)}
    return out


def _public_row(row: dict | None) -> dict | None:
    if row is None:
        return None
    keep = ("threshold", "tp", "fp", "fn", "tn", *RATE_METRICS, "value", "value_per_1000")
    return {k: plain_value(row[k]) for k in keep if k in row}


def _records(frame: pd.DataFrame) -> list[dict]:
    clean = frame.astype(object).where(frame.notna(), None)
    return [{k: plain_value(v) for k, v in rec.items()} for rec in clean.to_dict("records")]
