"""A project's success criteria: the launch rule, guardrails, costs, fairness and OKR, with checks and warnings.

Public API (other pages build on it):
- `SuccessCriteria` (with `Guardrail`, `Okr`, `KeyResult`): plain data, `to_dict()` / `from_dict()`.
  `costs` holds the money VALUE of one decision of each kind, keys "tp", "fp", "fn", "tn": positive = a gain,
  negative = a loss (the convention of `core.evaluate.classification.expected_value`). Regression projects use
  `cost_per_unit_error` instead: money lost per unit of absolute error (a positive number).
- `default_criteria(task, class_shares=None) -> SuccessCriteria`: a sensible starting point for a task.
- `validate_criteria(criteria, task, columns=None)`: raises SpecInvalid for anything unusable.
- `criteria_warnings(criteria, task, class_shares=None) -> list[str]` and `metric_warnings(...)`: advice in
  business words when a metric does not fit the task or the class balance (accuracy on a 95/5 target).
- `metric_choices(task)`, `metric_meaning(key)`, `metric_label(key)`: the catalog's metrics for a form.
- `evaluate_criteria(criteria, metrics, champion=None) -> list[CriterionCheck]` and `meets_criteria(...)`:
  checks measured metrics against the launch rule, guardrails, minimum improvement and OKR key results.
- `describe_criteria(criteria, task=None) -> list[str]`: short plain lines for a banner or a report.

Metric meanings come from `core.catalog.METRICS` (entries with key, label, tasks, higher_is_better, meaning).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

from core.catalog import METRICS, UNIT
from core.errors import SpecInvalid, did_you_mean, unknown

TASKS = ("binary", "multiclass", "regression", "clustering")
TASK_LABELS = {"binary": "binary classification (two outcomes)", "multiclass": "multiclass classification",
               "regression": "regression (predict a number)", "clustering": "clustering (no target)"}
OPS = (">=", "<=")
OP_SYMBOLS = {">=": "≥", "<=": "≤"}
COST_KEYS = ("tp", "fp", "fn", "tn")
COST_LABELS = {"tp": "caught case (true positive)", "fp": "false alarm (false positive)",
               "fn": "missed case (false negative)", "tn": "correct all-clear (true negative)"}
MAX_KEY_RESULTS = 5
MIN_KEY_RESULTS = 2
IMBALANCE_SHARE = 0.80  # above this majority share, accuracy stops telling good models from "always the majority"
RARE_SHARE = 0.10
# Metrics whose values live between 0 and 1, so a launch threshold outside that range can never be met.
_UNIT_RANGE = frozenset(m.key for m in METRICS if m.bounds == UNIT)
_DEFAULTS = {  # (preferred metric keys in order, threshold for each)
    "binary": (("roc_auc", 0.75), ("f1", 0.6), ("recall", 0.7)),
    "multiclass": (("f1_macro", 0.6), ("balanced_accuracy", 0.6), ("accuracy", 0.7)),
    "regression": (("r2", 0.5), ("mae", None), ("rmse", None)),
    "clustering": (("silhouette", 0.25),),
}


@dataclass
class Guardrail:
    metric: str
    op: str = ">="
    value: float = 0.0


@dataclass
class KeyResult:
    text: str
    metric: str
    target: float


@dataclass
class Okr:
    objective: str
    key_results: list[KeyResult] = field(default_factory=list)


@dataclass
class SuccessCriteria:
    """What "good enough to launch" means for one project, stored as data."""

    primary_metric: str
    threshold: float
    op: str = ">="
    guardrails: list[Guardrail] = field(default_factory=list)
    min_improvement: float = 0.0  # a challenger must beat the champion's primary metric by at least this much
    costs: dict[str, float] = field(default_factory=dict)  # value per decision: tp/fp/fn/tn, gain > 0, loss < 0
    cost_per_unit_error: float | None = None  # regression: money lost per unit of absolute error
    sensitive_attributes: list[str] = field(default_factory=list)
    fairness_tolerance: float = 0.10  # largest allowed gap of the primary metric between groups
    okr: Okr | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "SuccessCriteria":
        """Builds criteria from a dict (a stored record or a form); blank guardrail / key-result rows are dropped."""
        okr = d.get("okr")
        okr_obj = None
        if okr and (okr.get("objective") or okr.get("key_results")):
            krs = [KeyResult(str(k.get("text") or "").strip(), str(k.get("metric") or ""), _num(k.get("target")))
                   for k in okr.get("key_results") or [] if _filled(k.get("metric")) or _filled(k.get("text"))]
            okr_obj = Okr(str(okr.get("objective") or "").strip(), krs)
        guards = [Guardrail(str(g["metric"]), str(g.get("op") or ">="), _num(g.get("value")))
                  for g in d.get("guardrails") or [] if _filled(g.get("metric"))]
        costs = {k: _num(v) for k, v in (d.get("costs") or {}).items() if v is not None and not _is_nan(v)}
        cpu = d.get("cost_per_unit_error")
        return cls(primary_metric=str(d.get("primary_metric") or ""), threshold=_num(d.get("threshold")),
                   op=str(d.get("op") or ">="), guardrails=guards, min_improvement=_num(d.get("min_improvement") or 0.0),
                   costs=costs, cost_per_unit_error=None if cpu is None or _is_nan(cpu) else _num(cpu),
                   sensitive_attributes=[str(a) for a in d.get("sensitive_attributes") or []],
                   fairness_tolerance=_num(d.get("fairness_tolerance", 0.10)), okr=okr_obj)


@dataclass(frozen=True)
class CriterionCheck:
    """One line of a criteria check: what was required, what was measured, and whether it passed."""

    kind: str  # primary | guardrail | improvement | key_result
    metric: str
    op: str
    target: float
    actual: float | None
    passed: bool | None  # None when the metric was not measured
    text: str


# -- the catalog's metrics ---------------------------------------------------------------------------------------------
def _metric_index() -> dict[str, Any]:
    entries = METRICS.values() if isinstance(METRICS, Mapping) else METRICS
    return {e.key: e for e in entries}


def _fits(entry: Any, task: str) -> bool:
    tasks = set(entry.tasks)
    return task in tasks or (task in ("binary", "multiclass") and "classification" in tasks)


def metric_choices(task: str) -> list[str]:
    """Returns the catalog's metric keys that fit a task, in catalog order."""
    return [k for k, e in _metric_index().items() if _fits(e, task)]


def metric_label(key: str) -> str:
    """Returns a metric's label for people ('ROC AUC'), or the key itself when unknown."""
    entry = _metric_index().get(key)
    return entry.label if entry is not None else str(key)


def metric_meaning(key: str) -> str:
    """Returns a metric's one-line meaning in business words ('' when unknown)."""
    entry = _metric_index().get(key)
    return entry.meaning if entry is not None else ""


def natural_op(key: str) -> str:
    """Returns '>=' for metrics where higher is better and '<=' for errors and losses."""
    entry = _metric_index().get(key)
    return ">=" if entry is None or entry.higher_is_better else "<="


def default_criteria(task: str, class_shares: Mapping[Any, float] | None = None) -> SuccessCriteria:
    """Returns a starting point for a task: the first fitting preferred metric with a modest threshold."""
    index = _metric_index()
    choices = metric_choices(task)
    for key, threshold in _DEFAULTS.get(task, ()):
        if key in index and key in choices:
            break
    else:
        if not choices:
            raise SpecInvalid(f"No metric in the catalog fits {TASK_LABELS.get(task, task)}.")
        key, threshold = choices[0], None
    if threshold is None:
        threshold = 0.5 if index[key].higher_is_better else 1.0
    crit = SuccessCriteria(primary_metric=key, threshold=float(threshold), op=natural_op(key))
    if task == "regression":
        crit.cost_per_unit_error = 1.0
    elif task in ("binary", "multiclass"):
        crit.costs = {"tp": 0.0, "fp": 0.0, "fn": 0.0, "tn": 0.0}
    return crit


def suggested_threshold(task: str, metric: str) -> float:
    """Returns a modest starting threshold for a metric: the task's default where one is set, else 0.5 (or 1.0)."""
    for key, threshold in _DEFAULTS.get(task, ()):
        if key == metric and threshold is not None:
            return float(threshold)
    entry = _metric_index().get(metric)
    return 0.5 if entry is None or entry.higher_is_better else 1.0


# -- validation ---------------------------------------------------------------------------------------------------------
def validate_criteria(criteria: SuccessCriteria, task: str, columns: Sequence[str] | None = None) -> None:
    """Checks that the criteria can be measured for this task. Raises: SpecInvalid, NotFound."""
    index = _metric_index()
    if task not in TASKS:
        raise SpecInvalid(f"{task!r} is not a task here; choose one of {', '.join(TASKS)}.")
    fitting = metric_choices(task)
    named = [("primary metric", criteria.primary_metric, criteria.op, criteria.threshold)]
    named += [("guardrail", g.metric, g.op, g.value) for g in criteria.guardrails]
    for role, key, op, value in named:
        if key not in index:
            raise unknown("metric", key, index)
        if key not in fitting:
            raise SpecInvalid(f"The {role} {metric_label(key)!r} cannot be measured for {TASK_LABELS[task]}. "
                              f"Choose one of: {', '.join(metric_label(k) for k in fitting)}.")
        if op not in OPS:
            raise SpecInvalid(f"The {role} rule {op!r} is not a comparison here; use '>=' or '<='.")
        if not _finite(value):
            raise SpecInvalid(f"The {role} {metric_label(key)} needs a number as its limit, not {value!r}.")
        if key in _UNIT_RANGE and not 0.0 <= value <= 1.0:
            raise SpecInvalid(f"{metric_label(key)} runs from 0 to 1, so the limit {value:g} can never be met. "
                              "Type a value between 0 and 1 (0.8 means 80%).")
    if not _finite(criteria.min_improvement) or criteria.min_improvement < 0:
        raise SpecInvalid(f"The minimum improvement must be zero or more, not {criteria.min_improvement!r}.")
    for k, v in criteria.costs.items():
        if k not in COST_KEYS:
            raise SpecInvalid(f"{k!r} is not an outcome; costs are given for {', '.join(COST_KEYS)}.")
        if not _finite(v):
            raise SpecInvalid(f"The value of a {COST_LABELS[k]} must be a number, not {v!r}.")
    if criteria.cost_per_unit_error is not None and (not _finite(criteria.cost_per_unit_error)
                                                     or criteria.cost_per_unit_error < 0):
        raise SpecInvalid("The cost per unit of error must be zero or a positive number.")
    if not _finite(criteria.fairness_tolerance) or not 0.0 <= criteria.fairness_tolerance <= 1.0:
        raise SpecInvalid(f"The fairness tolerance is a gap between 0 and 1 (0.05 = five points), "
                          f"not {criteria.fairness_tolerance!r}.")
    if columns is not None:
        for col in criteria.sensitive_attributes:
            if col not in columns:
                raise unknown("column", col, columns)
    if criteria.okr is not None:
        _validate_okr(criteria.okr, fitting)


def _validate_okr(okr: Okr, fitting: Sequence[str]) -> None:
    if not okr.objective:
        raise SpecInvalid("An OKR needs an objective: one sentence saying what the project should achieve.")
    n = len(okr.key_results)
    if not MIN_KEY_RESULTS <= n <= MAX_KEY_RESULTS:
        raise SpecInvalid(f"An OKR has {MIN_KEY_RESULTS} to {MAX_KEY_RESULTS} key results; this one has {n}. "
                          f"{'Add' if n < MIN_KEY_RESULTS else 'Remove'} some.")
    for kr in okr.key_results:
        if kr.metric not in fitting:
            raise SpecInvalid(f"Key result {kr.text or kr.metric!r} is tied to {kr.metric!r}, which cannot be "
                              f"measured here. Choose one of: {', '.join(fitting)}.")
        if not _finite(kr.target):
            raise SpecInvalid(f"Key result {kr.text or kr.metric!r} needs a number as its target.")


# -- advice -------------------------------------------------------------------------------------------------------------
def metric_warnings(task: str, metric: str, threshold: float | None = None, op: str | None = None,
                    class_shares: Mapping[Any, float] | None = None) -> list[str]:
    """Returns plain warnings when a metric does not fit the task, the class balance or its threshold direction."""
    index = _metric_index()
    entry = index.get(metric)
    if entry is None:
        return [f"{metric!r} is not a metric the workbench knows.{_near(metric, index)}"]
    label = entry.label
    out: list[str] = []
    if not _fits(entry, task):
        fitting = ", ".join(metric_label(k) for k in metric_choices(task)[:6])
        out.append(f"{label} does not apply to {TASK_LABELS.get(task, task)}. Choose one of: {fitting}.")
        return out
    if op is not None and op != natural_op(metric):
        better = "higher" if entry.higher_is_better else "lower"
        out.append(f"For {label}, {better} is better, so the rule should read {OP_SYMBOLS[natural_op(metric)]} "
                   f"(as written, a worse model passes more easily).")
    shares = _shares(class_shares)
    if task in ("binary", "multiclass") and shares:
        major, major_share = max(shares.items(), key=lambda kv: kv[1])
        minor, minor_share = min(shares.items(), key=lambda kv: kv[1])
        if metric == "accuracy" and major_share >= IMBALANCE_SHARE:
            out.append(f"{major_share:.0%} of rows are {_fmt(major)}: a model that always answers {_fmt(major)} "
                       f"scores accuracy {major_share:.2f} and still misses every other case. Choose recall, "
                       "precision, F1 or PR-AUC, which look at the rare outcome.")
        if metric == "accuracy" and threshold is not None and threshold <= major_share:
            out.append(f"An accuracy of {threshold:g} is no better than always answering {_fmt(major)} "
                       f"({major_share:.2f}). Raise the threshold above {major_share:.2f}.")
        if metric in ("roc_auc", "roc_auc_ovr") and minor_share < RARE_SHARE:
            alt = next((k for k in ("pr_auc", "average_precision") if k in index), None)
            if alt:
                out.append(f"Only {minor_share:.0%} of rows are {_fmt(minor)}. {label} can look high when cases are "
                           f"rare; {metric_label(alt)} shows the trade-off on the rare cases better.")
    return out


def criteria_warnings(criteria: SuccessCriteria, task: str, class_shares: Mapping[Any, float] | None = None,
                      positive_class: Any = None) -> list[str]:
    """Returns every warning for a set of criteria: metric fit, balance, missing counterweights, costs."""
    out = metric_warnings(task, criteria.primary_metric, criteria.threshold, criteria.op, class_shares)
    for g in criteria.guardrails:
        out += [f"Guardrail: {w}" for w in metric_warnings(task, g.metric, g.value, g.op, class_shares)]
    guards = {g.metric for g in criteria.guardrails}
    if task == "binary":
        shares = _shares(class_shares)
        pos_share = shares.get(positive_class) if positive_class is not None else None
        if criteria.primary_metric == "recall" and "precision" not in guards:
            out.append("Recall alone is met by flagging every row (recall 1.0). Add a precision guardrail so the "
                       "model cannot buy recall with endless false alarms.")
        if criteria.primary_metric == "precision" and "recall" not in guards:
            out.append("Precision alone is met by flagging only the single surest case. Add a recall guardrail so "
                       "the model still catches enough cases.")
        if criteria.primary_metric == "precision" and pos_share is not None and criteria.threshold <= pos_share:
            out.append(f"Flagging every row already gives precision {pos_share:.2f} ({_fmt(positive_class)} is "
                       f"{pos_share:.0%} of rows), so a threshold of {criteria.threshold:g} proves nothing.")
        fp, fn = criteria.costs.get("fp"), criteria.costs.get("fn")
        if fp is not None and fn is not None and fp < 0 and fn < 0:
            if -fn >= 5 * -fp and criteria.primary_metric == "precision":
                out.append(f"A missed case costs {abs(fn) / abs(fp):.0f}× a false alarm, so recall (catching cases) "
                           "fits better than precision as the primary metric.")
            if -fp >= 5 * -fn and criteria.primary_metric == "recall":
                out.append(f"A false alarm costs {abs(fp) / abs(fn):.0f}× a missed case, so precision (being right "
                           "when flagging) fits better than recall as the primary metric.")
    return out


# -- checking measured metrics -------------------------------------------------------------------------------------------
def evaluate_criteria(criteria: SuccessCriteria, metrics: Mapping[str, float],
                      champion: Mapping[str, float] | None = None) -> list[CriterionCheck]:
    """Checks measured metrics against the launch rule, guardrails, minimum improvement over a champion and OKR."""
    checks = [_check("primary", criteria.primary_metric, criteria.op, criteria.threshold, metrics)]
    checks += [_check("guardrail", g.metric, g.op, g.value, metrics) for g in criteria.guardrails]
    if champion is not None:
        key = criteria.primary_metric
        new, old = _get(metrics, key), _get(champion, key)
        gain = None if new is None or old is None else (new - old if natural_op(key) == ">=" else old - new)
        passed = None if gain is None else gain >= criteria.min_improvement - 1e-12
        text = (f"Improvement in {metric_label(key)} over the champion ≥ {criteria.min_improvement:g}"
                + ("" if gain is None else f" (got {gain:+.4g})"))
        checks.append(CriterionCheck("improvement", key, ">=", criteria.min_improvement, gain, passed, text))
    if criteria.okr is not None:
        for kr in criteria.okr.key_results:
            c = _check("key_result", kr.metric, natural_op(kr.metric), kr.target, metrics)
            checks.append(CriterionCheck(c.kind, c.metric, c.op, c.target, c.actual, c.passed,
                                         f"{kr.text or metric_label(kr.metric)}: {c.text}"))
    return checks


def meets_criteria(criteria: SuccessCriteria, metrics: Mapping[str, float],
                   champion: Mapping[str, float] | None = None) -> bool:
    """True when the primary rule, every guardrail and (with a champion) the minimum improvement pass."""
    return all(c.passed is True for c in evaluate_criteria(criteria, metrics, champion) if c.kind != "key_result")


def _check(kind: str, metric: str, op: str, target: float, metrics: Mapping[str, float]) -> CriterionCheck:
    actual = _get(metrics, metric)
    passed = None if actual is None else (actual >= target - 1e-12 if op == ">=" else actual <= target + 1e-12)
    text = f"{metric_label(metric)} {OP_SYMBOLS.get(op, op)} {target:g}"
    text += " (not measured)" if actual is None else f" (got {actual:.4g})"
    return CriterionCheck(kind, metric, op, float(target), actual, passed, text)


def _get(metrics: Mapping[str, float], key: str) -> float | None:
    value = metrics.get(key)
    return float(value) if value is not None and _finite(value) else None


# -- description -------------------------------------------------------------------------------------------------------
def describe_criteria(criteria: SuccessCriteria, task: str | None = None) -> list[str]:
    """Returns short plain lines ('Launch when Recall ≥ 0.7', …) for banners, reports and the CLI."""
    sym = OP_SYMBOLS
    lines = [f"Launch when {metric_label(criteria.primary_metric)} {sym.get(criteria.op, criteria.op)} "
             f"{criteria.threshold:g}"]
    lines += [f"Guardrail: {metric_label(g.metric)} {sym.get(g.op, g.op)} {g.value:g}" for g in criteria.guardrails]
    if criteria.min_improvement:
        lines.append(f"A challenger must beat the champion by ≥ {criteria.min_improvement:g} "
                     f"{metric_label(criteria.primary_metric)}")
    if task != "regression" and any(criteria.costs.get(k) for k in COST_KEYS):
        lines.append("Value per decision: " + ", ".join(f"{k.upper()} {criteria.costs.get(k, 0):+g}" for k in COST_KEYS))
    if task in (None, "regression") and criteria.cost_per_unit_error:
        lines.append(f"Each unit of error costs {criteria.cost_per_unit_error:g}")
    if criteria.sensitive_attributes:
        lines.append(f"Fairness: {metric_label(criteria.primary_metric)} may differ by at most "
                     f"{criteria.fairness_tolerance:g} across {', '.join(criteria.sensitive_attributes)}")
    if criteria.okr is not None and criteria.okr.objective:
        lines.append(f"Objective: {criteria.okr.objective}")
    return lines


# -- helpers ------------------------------------------------------------------------------------------------------------
def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _filled(value: Any) -> bool:
    return value is not None and not _is_nan(value) and str(value).strip() != ""


def _shares(class_shares: Mapping[Any, float] | None) -> dict[Any, float]:
    return {k: float(v) for k, v in (class_shares or {}).items() if k is not None}


def format_class(value: Any) -> str:
    """Formats a class value for people: booleans read as yes/no, missing as '(missing)'."""
    if value is None or _is_nan(value):
        return "(missing)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _fmt(value: Any) -> str:
    return repr(format_class(value))


def _near(word: str, choices: Mapping[str, Any]) -> str:
    return did_you_mean(word, choices)
