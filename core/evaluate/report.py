"""One saved run judged on its validation rows: thresholds and value, curves, errors and fairness, as small data.

Every function returns plain, chart-ready data (frames, dicts, result dataclasses) so the Evaluate page and the
`workbench evaluate` command only draw. The heavy part of a two-outcome run, the threshold table, is computed once
(`threshold_view`); moving the threshold then only looks rows up (`operating_point`). Explanations (importance,
partial dependence, what-if) live in `core.evaluate.run_explain`, errors and fairness in `core.evaluate.run_fairness`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.catalog import metric_entry
from core.errors import NotFound, SchemaMismatch
from core.evaluate.classification import (
    at_threshold,
    best_value_threshold,
    calibration_points,
    confusion,
    lift_gain,
    multiclass_summary,
    per_class_report,
    pr_points,
    roc_points,
    threshold_table,
)
from core.evaluate.error_analysis import regression_views
from core.models.runs import Run, get_run, latest_comparison, list_runs, run_predictions
from core.project.criteria import OP_SYMBOLS, evaluate_criteria, metric_label
from core.project.projects import get_project
from core.split.splitting import get_split

RATE_METRICS = ("precision", "recall", "f1", "accuracy", "fpr", "selection_rate")  # the threshold table's metrics
THRESHOLD_STEP = 0.01  # the slider's step: marked thresholds are picked from this grid so a person can set them
RANKING_METRIC = {"binary": "roc_auc", "multiclass": "f1", "regression": "r2"}
SMALL_SEGMENT = 30  # rows under which a segment's or a group's rate is flagged as too uncertain to read
_OPS = {">=": np.greater_equal, ">": np.greater, "<=": np.less_equal, "<": np.less}


@dataclass(frozen=True)
class RunData:
    """A run with its project, its validation predictions and the same rows' input and sensitive columns."""

    run: Run
    project: Any  # core.project.projects.Project
    predictions: pd.DataFrame  # _row, y_true, y_pred, score | proba_<class>; ordered by _row
    features: pd.DataFrame  # the model's input columns for the same rows, same order
    sensitive: pd.DataFrame  # the project's sensitive columns for the same rows (may have no columns)
    notes: tuple[str, ...] = ()

    @property
    def task(self) -> str:
        return self.run.task

    @property
    def positive_class(self) -> Any:
        return self.run.positive_class

    @property
    def costs(self) -> dict[str, float] | None:
        """The project's value per decision, or None when every value is zero (nothing to maximise)."""
        costs = {k: float(v) for k, v in (self.project.criteria.costs or {}).items()}
        return costs if any(costs.values()) else None


@dataclass(frozen=True)
class ThresholdView:
    """Everything a two-outcome run needs for the threshold slider, computed once from its validation scores."""

    table: pd.DataFrame  # core.evaluate.classification.threshold_table (+ value_per_1000 with costs): every distinct score
    grid: pd.DataFrame  # the same rows at the thresholds a person can pick (0.00, 0.01, …, 1.00)
    best: dict | None  # the grid row with the highest expected value (None without costs)
    criterion: dict | None  # the grid row that meets the launch rule (None when none does or it needs no threshold)
    criterion_text: str
    roc: Any  # core.evaluate.classification.CurveResult
    pr: Any
    calibration: pd.DataFrame | None
    calibration_note: str
    lift: pd.DataFrame
    labels: tuple  # (negative class, positive class)


# -- loading -----------------------------------------------------------------------------------------------------------
def evaluable_runs(ws, project_id: str, split_id: str | None = None) -> list[Run]:
    """Lists the project's runs that have a model and validation predictions, newest first."""
    return [r for r in list_runs(ws, project_id, split_id=split_id) if r.is_ok and r.predictions_key]


def default_run(ws, project, split_id: str | None = None) -> Run | None:
    """Returns the best non-baseline run of the newest comparison (by the project's primary metric when it ranks)."""
    runs = [r for r in latest_comparison(ws, project.id, split_id) if r.is_ok and r.predictions_key]
    if not runs:
        runs = evaluable_runs(ws, project.id, split_id)[:1]
    real = [r for r in runs if not r.is_baseline] or runs
    if not real:
        return None
    metric, higher = ranking_metric(project)

    def score(run: Run) -> float:
        value = run.validation_metrics.get(metric)
        if value is None or not np.isfinite(value):
            return -np.inf
        return float(value) if higher else -float(value)

    return max(real, key=score)  # max keeps the first (earliest trained) of equal scores


def ranking_metric(project) -> tuple[str, bool]:
    """Returns the metric runs are ranked by for this project, and whether higher is better."""
    metric = project.criteria.primary_metric
    # A two-outcome rule such as "recall >= 0.7" is met by moving the threshold, so rank by how well models order rows.
    if not metric or (project.task == "binary" and metric in RATE_METRICS):
        metric = RANKING_METRIC.get(project.task, "accuracy")
    try:
        return metric, metric_entry(metric).higher_is_better
    except NotFound:  # a metric outside the catalog ranks as higher-is-better
        return metric, True


def load_run_data(ws, run_id: str) -> RunData:
    """Loads a run, its project, its validation predictions and the same rows' input and sensitive columns.

    Raises:
        NotFound: unknown run, or a run without a model or predictions.
        SchemaMismatch: the dataset no longer holds the validation rows.
    """
    run = get_run(ws, run_id)
    project = get_project(ws, run.project_id)
    predictions = run_predictions(ws, run_id)
    info = ws.dataset(run.dataset_id)
    present = set(info.column_names)
    features = [c for c in run.features if c in present]
    if len(features) != len(run.features):
        gone = [c for c in run.features if c not in present]
        raise SchemaMismatch(f"The dataset no longer has {', '.join(map(repr, gone[:5]))}, which model "
                             f"{run.model_label!r} reads. Train it again on the current data.")
    wanted = list(project.criteria.sensitive_attributes)
    sensitive = [c for c in wanted if c in present]
    notes = [f"Sensitive column {c!r} is no longer in the dataset, so it is left out."
             for c in wanted if c not in present]
    columns = list(dict.fromkeys(features + sensitive + ([run.target] if run.target in present else [])))
    rows = ws.frame(info.id, columns, row_ids=predictions["_row"].tolist(), with_row_id=True).set_index("_row")
    missing = predictions["_row"][~predictions["_row"].isin(rows.index)]
    if len(missing):
        raise SchemaMismatch(f"{len(missing):,} validation rows of {run.model_label!r} are no longer in the dataset. "
                             "Train the model again on the current data.")
    rows = rows.loc[predictions["_row"].to_numpy()].reset_index(drop=True)
    if run.target in rows.columns and not _same_outcomes(rows[run.target], predictions["y_true"]):
        # Row ids that are positions instead of dataset ids would pair each prediction with another row's inputs.
        raise SchemaMismatch(f"The saved predictions of {run.model_label!r} do not line up with the dataset's rows "
                             "(their outcomes differ). Train the model again on the Train page.")
    try:
        if get_split(ws, run.split_id).content_hash != run.split_hash:
            notes.append("The split has changed since this model was trained; the figures use the model's own "
                         "validation rows.")
    except NotFound:  # a deleted split does not stop the evaluation of rows already scored
        notes.append("The split this model was trained on has been deleted; the figures use its saved predictions.")
    return RunData(run, project, predictions, rows[features], rows[sensitive], tuple(notes))


# -- two outcomes: thresholds, value, curves ---------------------------------------------------------------------------
def threshold_view(data: RunData, step: float = THRESHOLD_STEP) -> ThresholdView:
    """Returns the threshold table with the project's costs, the best-value and criterion rows, and every curve.

    The marked thresholds come from the grid of thresholds a person can pick (every `step`), so setting the slider
    to a marker gives exactly the figures the marker promises.

    Raises:
        SchemaMismatch: the run saved no scores.
        TargetNotUsable: the validation rows hold only one outcome.
    """
    if "score" not in data.predictions.columns:
        raise SchemaMismatch(f"Run {data.run.model_label!r} saved no scores, so its threshold cannot be moved. "
                             "Train it again on the Train page.")
    y, score, positive = data.predictions["y_true"], data.predictions["score"], data.positive_class
    table = threshold_table(y, score, positive, data.costs)
    if data.costs is not None:
        table["value_per_1000"] = table["value_per_row"] * 1000
    grid = grid_table(table, step)
    best = best_value_row(grid)
    criterion, text = criterion_row(grid, data.project.criteria)
    calibration, note = None, ""
    if data.run.score_kind == "probability":
        calibration = calibration_points(y, score, positive)
    else:
        note = ("This model's scores rank rows but are not probabilities, so a calibration curve would mislead; "
                "use the ranking views (ROC, lift) instead.")
    negative = next((c for c in data.run.classes if not _same(c, positive)), "other")
    return ThresholdView(table, grid, best, criterion, text, roc_points(y, score, positive, max_points=400),
                         pr_points(y, score, positive, max_points=400), calibration, note,
                         lift_gain(y, score, positive), (negative, positive))


def grid_table(table: pd.DataFrame, step: float = THRESHOLD_STEP) -> pd.DataFrame:
    """Returns the threshold table's row in force at each threshold 0, step, 2·step, …, 1 (score >= t is flagged)."""
    thresholds = np.round(np.arange(0.0, 1.0 + step / 2, step), 6)
    rows = [at_threshold(table, t) for t in thresholds]
    grid = pd.DataFrame(rows).drop(columns="grid_threshold")
    grid.attrs.update(table.attrs)
    return grid


def best_value_row(table: pd.DataFrame) -> dict | None:
    """Returns the value-maximising row of a threshold table (None without costs), with value per 1,000 decisions."""
    row = best_value_threshold(table)
    if row is not None:
        row["value_per_1000"] = row["value_per_row"] * 1000
    return row


def criterion_row(table: pd.DataFrame, criteria) -> tuple[dict | None, str]:
    """Returns the threshold row that meets the primary rule (and its threshold-dependent guardrails), with a sentence.

    Among passing thresholds it keeps the one with the best counterpart metric (precision for a recall rule, else
    recall), ties to the higher threshold: core.evaluate.classification.threshold_meeting's rule, applied to every rule at once.
    """
    metric = criteria.primary_metric
    rule = f"{metric_label(metric)} {OP_SYMBOLS.get(criteria.op, criteria.op)} {criteria.threshold:g}"
    if metric not in RATE_METRICS:
        return None, f"{rule} does not depend on the threshold: every threshold gives the same {metric_label(metric)}."
    ok = _OPS[criteria.op](table[metric].to_numpy(), float(criteria.threshold))
    guards = [g for g in criteria.guardrails if g.metric in RATE_METRICS]
    both = ok.copy()
    for g in guards:
        both &= _OPS[g.op](table[g.metric].to_numpy(), float(g.value))
    if not ok.any():
        return None, f"No threshold reaches {rule} on the validation rows."
    passing = np.flatnonzero(both if both.any() else ok)
    prefer = "precision" if metric == "recall" else "recall"
    goal = table[prefer].to_numpy()[passing]
    index = int(passing[goal == goal.max()][-1])
    row = {c: plain_value(table[c].iat[index]) for c in table.columns}
    text = f"Threshold {row['threshold']:.2f} meets {rule} with the highest {prefer} ({row[prefer]:.2f})"
    if guards and not both.any():
        text += "; no threshold also meets the guardrails"
    elif guards:
        text += " while meeting the guardrails"
    return row, text + "."


def operating_point(view: ThresholdView, threshold: float, criteria=None, fixed_metrics: dict | None = None) -> dict:
    """Returns the metrics, confusion (counts and row rates), value and criteria checks at one threshold."""
    row = at_threshold(view.table, threshold)
    negative, positive = view.labels
    counts = pd.DataFrame([[row["tn"], row["fp"]], [row["fn"], row["tp"]]],
                          index=pd.Index([negative, positive], name="actual"),
                          columns=pd.Index([negative, positive], name="predicted"))
    totals = counts.sum(axis=1).to_numpy()[:, None]
    rates = pd.DataFrame(np.divide(counts.to_numpy(), totals, out=np.zeros((2, 2)), where=totals > 0),
                         index=counts.index, columns=counts.columns)
    out = {**row, "counts": counts, "rates": rates,
           "value_per_1000": row["value_per_row"] * 1000 if "value_per_row" in row else None}
    if criteria is not None:
        measured = {**(fixed_metrics or {}), **{m: row[m] for m in RATE_METRICS}}
        out["checks"] = evaluate_criteria(criteria, measured)
    return out


def headline(point: dict, noun: str = "rows") -> str:
    """Returns one sentence on what the model does at an operating point, in business words."""
    n = point["tp"] + point["fp"] + point["fn"] + point["tn"]
    text = (f"At threshold {point['threshold']:.2f} the model flags {point['selection_rate']:.0%} of {noun} "
            f"({point['tp'] + point['fp']:,} of {n:,}), catches {point['recall']:.0%} of the real cases, and "
            f"{point['precision']:.0%} of its flags are right.")
    if point.get("value_per_1000") is not None:
        text += f" Expected value: {point['value_per_1000']:+,.0f} per 1,000 decisions."
    return text


def criteria_checks(data: RunData) -> list:
    """Returns the launch rule and guardrails checked against the run's validation metrics (no threshold involved)."""
    return [c for c in evaluate_criteria(data.project.criteria, data.run.validation_metrics) if c.kind != "key_result"]


def format_number(value: float) -> str:
    """Formats a measured number for people: 44,370 rather than 4.437e+04, 0.1234 rather than 0.12341234."""
    if value is None or not np.isfinite(value):
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.4g}"


# -- several classes, regression ---------------------------------------------------------------------------------------
def multiclass_view(data: RunData) -> dict:
    """Returns the confusion (counts and rates), the per-class report and a summary for a multiclass run."""
    y, pred = data.predictions["y_true"], data.predictions["y_pred"]
    labels = list(data.run.classes) or None
    return {"confusion": confusion(y, pred, labels), "report": per_class_report(y, pred, labels),
            "summary": multiclass_summary(y, pred)}


def regression_view(data: RunData):
    """Returns predicted-vs-actual points, residuals, error by decile and a summary with the cost of errors."""
    views = regression_views(data.predictions["y_true"], data.predictions["y_pred"], max_points=2000)
    cost = data.project.criteria.cost_per_unit_error
    views.summary["cost_per_1000"] = float(cost) * views.summary["mae"] * 1000 if cost else None
    return views


# -- helpers -----------------------------------------------------------------------------------------------------------
def decision_threshold(data: RunData, threshold: float | None = None) -> float:
    """Returns the threshold to judge a two-outcome run at: the one given, else its saved one, else 0.5."""
    if threshold is not None:
        return float(threshold)
    return float(data.run.threshold) if data.run.threshold is not None else 0.5


def _same_outcomes(stored: pd.Series, saved: pd.Series) -> bool:
    a, b = stored.reset_index(drop=True), saved.reset_index(drop=True)
    if a.isna().any():  # rows without an outcome never reach validation predictions
        return False
    if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b) and not pd.api.types.is_bool_dtype(a):
        return bool(np.allclose(a.to_numpy(dtype=float), b.to_numpy(dtype=float), equal_nan=True))
    return bool((a.astype(str) == b.astype(str)).all())


def _same(a: Any, b: Any) -> bool:
    return a == b or str(a) == str(b)


def plain_value(value: Any) -> Any:
    """A numpy scalar as the plain Python value (for JSON); anything else unchanged."""
    return value.item() if hasattr(value, "item") else value
