"""The OKR's key results as a stakeholder reads them: criterion, target, the measured value at the threshold it was
measured at, its 95 % interval, and met or missed.

`key_results(ws, project, model, shown, at)` builds on `core.release.gate.key_result_status` (which key results
exist, which the launch gate checks, the champion's validation value) and adds the threshold and the interval from
the same validation rows the dashboard's KPIs use: Wilson for rates (recall, precision, ...), a bootstrap for
ROC-AUC (core.stats.metric_intervals), none for other metrics (said so, never invented).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from core.evaluate.shown_threshold import ShownThreshold, depends_on_threshold
from core.project.criteria import OP_SYMBOLS, natural_op
from core.registry.versions import Version
from core.release.gate import key_result_status
from core.stats.metric_intervals import RATES, auc_interval, rate_interval
from core.store.workspace import Workspace


@dataclass(frozen=True)
class KeyResultView:
    text: str  # the key result as written on the Define page
    metric: str  # its metric's label, '' when it names none
    target: str  # "≥ 0.7", '' when none
    value: float | None  # measured on validation, None when not a model metric or not measured yet
    threshold: str  # "at the saved threshold 0.18", "threshold-free", ''
    low: float | None = None
    high: float | None = None
    is_met: bool | None = None
    measured_on: str = ""  # "v1 (champion), 900 validation rows", "tracked by people", ...
    checked_by_gate: bool = False

    @property
    def value_text(self) -> str:
        return "—" if self.value is None else f"{self.value:.3f}"

    @property
    def interval_text(self) -> str:
        return "" if self.low is None or self.high is None else f"{self.low:.2f}–{self.high:.2f}"

    @property
    def status(self) -> str:
        return {True: "met", False: "missed", None: "not measured"}[self.is_met]


def key_results(ws: Workspace, project, model, shown: ShownThreshold, at: dict) -> list[KeyResultView]:
    """Returns every key result with its value, threshold, interval and status ([] without an OKR).

    `model` is the champion (a Version) or, before there is one, the best run; `at` holds the metrics at the shown
    threshold with the threshold-table row (`_row`) and validation predictions (`_preds`) behind them.
    """
    rows = key_result_status(ws, project)
    out = []
    for kr, status in zip(project.criteria.okr.key_results if rows else [], rows, strict=True):
        metric = kr.metric
        op = natural_op(metric) if metric else ">="
        target = f"{OP_SYMBOLS.get(op, op)} {kr.target:g}" if metric and kr.target is not None else ""
        value, where = _value(metric, status, model, at)
        if value is None:
            out.append(KeyResultView(status["key result"], status["metric"], target, None, "",
                                     measured_on=where, checked_by_gate=bool(status["checked by the gate"])))
            continue
        ci = _interval(metric, at, project)
        met = value >= kr.target - 1e-12 if op == ">=" else value <= kr.target + 1e-12
        threshold = shown.label if depends_on_threshold(metric) and shown.label else "threshold-free"
        out.append(KeyResultView(status["key result"], status["metric"], target, value, threshold,
                                 ci[0] if ci else None, ci[1] if ci else None, met, where,
                                 bool(status["checked by the gate"])))
    return out


def _value(metric: str, status: dict, model, at: dict) -> tuple[float | None, str]:
    """The champion's validation value (the gate's, from its registered metrics), else the best run's at the shown
    threshold; the interval is then computed on the same rows at the same threshold."""
    if not metric:
        return None, "tracked by people (no model metric)"
    rows = len(at["_preds"]) if at.get("_preds") is not None else None
    on = f", {rows:,} validation rows" if rows else ", validation"
    if isinstance(model, Version):
        current = status.get("current")
        if current is None or not math.isfinite(float(current)):
            return None, status["measured on"]
        return float(current), f"{model.label} (champion){on}"
    value = at.get(metric)
    if model is None or value is None or not math.isfinite(float(value)) or (
            depends_on_threshold(metric) and metric not in at.get("_at_threshold", ())):
        return None, "no model measured yet" if model is None else "not measured at the shown threshold"
    return float(value), f"{model.model_label} (best model so far; no champion yet){on}"


def _interval(metric: str, at: dict, project) -> tuple[float, float] | None:
    if metric in RATES:
        return rate_interval(metric, at.get("_row"))
    preds = at.get("_preds")
    if metric == "roc_auc" and preds is not None and "score" in preds and project.task == "binary":
        return auc_interval(preds["y_true"].astype(str).to_numpy() == str(project.positive_class),
                            preds["score"].to_numpy(dtype=float))
    return None


def key_result_table(rows: list[KeyResultView]) -> pd.DataFrame:
    """The key results as a table: the key result, its criterion, the measured value with its interval, the
    threshold it was measured at, and met or missed (where it was measured: `measured_on`)."""
    return pd.DataFrame({"Key result": [r.text for r in rows],
                         "Criterion": [f"{r.metric} {r.target}".strip() for r in rows],
                         "Measured (95 % CI)": [r.value_text + (f" ({r.interval_text})" if r.interval_text else "")
                                                for r in rows],
                         "Status": [r.status for r in rows],
                         "Threshold": [r.threshold.removeprefix("at the ") for r in rows]},
                        columns=["Key result", "Criterion", "Measured (95 % CI)", "Status", "Threshold"])
