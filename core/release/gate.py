"""The launch gate: every check a version must pass to become champion, each with a status and one line of evidence.

Checks, in order: the primary criterion on validation; the one-time final check on the untouched test set (run the
first time a version is proposed, stored with its metrics, then reused and never silently repeated); each
guardrail; the minimum improvement over the current champion with a paired bootstrap interval on the validation
rows both scored; fairness, judged by the Evaluate page's `fairness_report` (each measure against its one named
tolerance, simultaneous 95 % intervals; "not enough data" is "not-run", not a failure); the newest drift report and the launch simulator's verdict, when they exist.
A check is "pass", "fail" or "not-run"; the gate passes when no check fails ("not-run" is never a failure).

Also here, shared by scoring and the model card: `version_predictions(ws, version)` (validation predictions with
y_pred cut at the version's threshold), `metrics_at_threshold(version, frame)`, `predict_frame(model, version, X)`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from core.catalog import metric_entry
from core.errors import NotFound
from core.evaluate.fairness import fairness_report
from core.evaluate.run_fairness import MEASURE_LABELS
from core.launch.rehearsal import simulation_verdicts
from core.models.metrics import compute_metrics
from core.models.workers import predict_scores
from core.monitor.reports import list_drift_reports
from core.project.criteria import (
    OP_SYMBOLS,
    evaluate_criteria,
    metric_label,
    natural_op,
)
from core.project.projects import get_project
from core.registry.versions import (
    champion as current_champion,
    get_version,
    list_versions,
    load_version_model,
    save_gate_fields,
)
from core.release.value import baseline_values, compare_values, row_values
from core.split.splitting import get_split, split_frames

PASS, FAIL, NOT_RUN = "pass", "fail", "not-run"
N_BOOT = 1000
CONFIDENCE = 0.95
MIN_GROUP = 30  # groups with fewer validation rows are flagged too uncertain to read, as on the Evaluate page
MIN_SHARED_ROWS = 30


@dataclass(frozen=True)
class GateCheck:
    key: str  # primary | final_check | guardrail:<metric> | improvement | fairness | drift | simulation
    label: str
    status: str  # pass | fail | not-run
    evidence: str  # one line for people
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class GateResult:
    version_id: str
    checks: tuple[GateCheck, ...]
    evaluated_at: str
    champion_version_id: str | None = None

    @property
    def passed(self) -> bool:
        return all(c.status != FAIL for c in self.checks)

    @property
    def failed(self) -> list[GateCheck]:
        return [c for c in self.checks if c.status == FAIL]

    def check(self, key: str) -> GateCheck:
        return next(c for c in self.checks if c.key == key)

    def to_dict(self) -> dict:
        return {"version_id": self.version_id, "evaluated_at": self.evaluated_at, "passed": self.passed,
                "champion_version_id": self.champion_version_id, "checks": [asdict(c) for c in self.checks]}

    @classmethod
    def from_dict(cls, d: dict) -> "GateResult":
        return cls(d["version_id"], tuple(GateCheck(**c) for c in d.get("checks") or ()), d.get("evaluated_at", ""),
                   d.get("champion_version_id"))


def evaluate_gate(ws, version, champion=None, *, n_boot: int = N_BOOT, seed: int = 0, save: bool = True) -> GateResult:
    """Runs every launch check for a version against the current champion; stores the result with the version.

    The final check on the test set runs once per version and is then reused. Raises: ArtifactRejected, NotFound.
    """
    if isinstance(version, str):
        version = get_version(ws, version)
    project = get_project(ws, version.project_id)
    crit = project.criteria
    checks: list[GateCheck] = []
    rows = _validation_rows(ws, version)
    for c in evaluate_criteria(crit, version.metrics):
        if c.kind == "primary":
            checks.append(_rule_check("primary", f"Primary: {c.text.split(' (')[0]} on validation", c, rows))
    checks.append(_final_check(ws, version, crit, save))
    for c in evaluate_criteria(crit, version.metrics):
        if c.kind == "guardrail":
            checks.append(_rule_check(f"guardrail:{c.metric}", f"Guardrail: {c.text.split(' (')[0]}", c, rows))
    checks.append(improvement_check(ws, version, champion, crit.primary_metric, crit.min_improvement, n_boot, seed))
    checks.extend(value_checks(ws, version, champion, crit, seed))
    checks.extend(key_result_checks(crit, version))
    checks.append(fairness_check(ws, version, crit.primary_metric, crit.sensitive_attributes, crit.fairness_tolerance))
    checks.append(_drift_check(ws, version))
    checks.append(_simulation_check(ws, version))
    result = GateResult(version.id, tuple(checks), _now(), champion.id if champion is not None else None)
    if save and ws.is_editor:
        save_gate_fields(ws, version.id, gate=result.to_dict())
    return result


def _now() -> str:
    return datetime.now(timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds")


def _fmt(x: float | None) -> str:
    return "not measured" if x is None or not math.isfinite(x) else f"{x:.3f}"


def _validation_rows(ws, version) -> int:
    try:
        return len(version_predictions(ws, version))
    except NotFound:
        return 0


def _rule_check(key: str, label: str, c, rows: int) -> GateCheck:
    need = f"needs {OP_SYMBOLS.get(c.op, c.op)} {c.target:g}"
    if c.actual is None:
        return GateCheck(key, label, FAIL, f"{metric_label(c.metric)} could not be measured on validation ({need}).",
                         {"metric": c.metric, "actual": None, "target": c.target})
    status = PASS if c.passed else FAIL
    return GateCheck(key, label, status, f"{metric_label(c.metric)} {c.actual:.3f} on {rows:,} validation rows ({need}).",
                     {"metric": c.metric, "actual": c.actual, "target": c.target, "op": c.op})


# -- predictions and metrics at the version's threshold -------------------------------------------------------------
def version_predictions(ws, version) -> pd.DataFrame:
    """Returns the version's validation predictions (_row, y_true, y_pred, score | proba_*), y_pred at its threshold."""
    df = ws.get_frame(version.predictions_key) if version.predictions_key else None
    if df is None:
        raise NotFound(f"Version {version.label} has no saved validation predictions. Register its run again.")
    df = df.sort_values("_row", kind="stable").reset_index(drop=True)
    if version.task == "binary" and "score" in df and version.threshold is not None:
        pos = version.positive_class
        neg = next(c for c in version.classes if c != pos)
        df["y_pred"] = np.where(df["score"].to_numpy(dtype=float) >= version.threshold, pos, neg)
    return df


def finite_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """Returns the metrics with undefined values (NaN, infinity) as None, as runs store them."""
    return {str(k): None if isinstance(v, float) and not math.isfinite(v) else v for k, v in metrics.items()}


def metrics_at_threshold(version_like: Any, df: pd.DataFrame) -> dict[str, float]:
    """Returns the catalog metrics of predictions already cut at the version's threshold."""
    if version_like.task == "regression":
        return compute_metrics("regression", df["y_true"].to_numpy(dtype=float), df["y_pred"].to_numpy(dtype=float))
    if "score" in df:
        scores = df["score"].to_numpy(dtype=float)
    else:
        scores = df[[f"proba_{c}" for c in version_like.classes]].to_numpy(dtype=float)
    return compute_metrics(version_like.task, df["y_true"].to_numpy(), df["y_pred"].to_numpy(), scores,
                           list(version_like.classes), version_like.positive_class,
                           has_probabilities=version_like.score_kind == "probability")



# -- the final check on the test set -----------------------------------------------------------------------------------
def _final_check(ws, version, crit, save: bool) -> GateCheck:
    label = f"Final check: {metric_label(crit.primary_metric)} on the untouched test set"
    done = version.final_check
    if done is None:
        done = run_final_check(ws, version, save=save)
        if done is None:
            return GateCheck("final_check", label, NOT_RUN, "This split has no test set, so there is no final check. "
                             "Split with a test share to get one.")
        reused = ""
    else:
        reused = f" Checked once on {done['at'][:16].replace('T', ' ')}; not repeated."
    primary = next(c for c in evaluate_criteria(crit, done["metrics"]) if c.kind == "primary")
    others = _test_uses(ws, version)
    note = f" The test set has now been used by {others + 1} versions of this split." if others else ""
    need = f"needs {OP_SYMBOLS.get(primary.op, primary.op)} {primary.target:g}"
    status = FAIL if primary.passed is not True else PASS
    return GateCheck("final_check", label, status,
                     f"{metric_label(primary.metric)} {_fmt(primary.actual)} on {done['rows']:,} test rows ({need})."
                     + reused + note, {"metrics": done["metrics"], "at": done["at"], "rows": done["rows"]})


def run_final_check(ws, version, save: bool = True) -> dict | None:
    """Scores the version once on its split's test rows and records it; None when the split has no test set."""
    stored = get_version(ws, version.id).final_check
    if stored is not None:
        return stored
    split = get_split(ws, version.split_id)
    if not split.sizes.get("test"):
        return None
    test = split_frames(ws, split, parts=("test",), columns=[*version.features, version.target])["test"]
    test = test[test[version.target].notna()].reset_index(drop=True)
    preds = predict_frame(load_version_model(ws, version), version, test)
    preds["y_true"] = test[version.target].to_numpy() if version.task != "regression" else \
        pd.to_numeric(test[version.target], errors="coerce").to_numpy(dtype=float)
    metrics = finite_metrics(metrics_at_threshold(version, preds))
    record = {"at": _now(), "rows": len(test), "metrics": metrics, "split_id": split.id,
              "split_hash": split.content_hash}
    if save and ws.is_editor:
        save_gate_fields(ws, version.id, final_check=record)
    return record


def predict_frame(model, version, X: pd.DataFrame) -> pd.DataFrame:
    """Returns y_pred (at the version's threshold) and score / proba_<class> columns for rows of features."""
    pred, scores, _ = predict_scores(model, X[list(version.features)], version.task, version.positive_class)
    out = pd.DataFrame({"y_pred": pred})
    if version.task == "binary":
        neg = next(c for c in version.classes if c != version.positive_class)
        out["score"] = scores
        out["y_pred"] = np.where(scores >= (version.threshold if version.threshold is not None else 0.5),
                                 version.positive_class, neg)
    elif scores is not None:
        for j, c in enumerate(version.classes):
            out[f"proba_{c}"] = scores[:, j]
    return out


def _test_uses(ws, version) -> int:
    return sum(1 for v in list_versions(ws, version.project_id)
               if v.id != version.id and v.split_id == version.split_id and v.final_check)


# -- improvement over the champion -------------------------------------------------------------------------------------
def improvement_check(ws, version, champion, metric: str, min_improvement: float, n_boot: int = N_BOOT,
                      seed: int = 0) -> GateCheck:
    """Compares the primary metric with the champion's on the validation rows both scored (paired bootstrap)."""
    label = f"Beats the champion by ≥ {min_improvement:g} {metric_label(metric)}"
    if champion is None or champion.id == version.id:
        return GateCheck("improvement", label, NOT_RUN, "No champion yet, so there is nothing to beat.")
    higher = natural_op(metric) == ">="
    new, old = version_predictions(ws, version), version_predictions(ws, champion)
    shared = new.merge(old, on="_row", suffixes=("", "_old")) if version.dataset_hash == champion.dataset_hash \
        else new.iloc[:0]
    if len(shared) < MIN_SHARED_ROWS:
        a, b = version.metrics.get(metric), champion.metrics.get(metric)
        if a is None or b is None:
            return GateCheck("improvement", label, FAIL, f"{metric_label(metric)} is not measured for both versions.")
        gain = (a - b) if higher else (b - a)
        status = PASS if gain >= min_improvement - 1e-12 else FAIL
        return GateCheck("improvement", label, status,
                         f"Gain {gain:+.3f} over {champion.label} from their stored metrics; they share no validation "
                         "rows, so there is no interval.", {"gain": gain, "ci": None, "shared_rows": len(shared)})
    point, low, high = paired_bootstrap(shared, version, champion, metric, n_boot, seed)
    details = {"gain": point, "ci": [low, high], "shared_rows": len(shared), "champion": champion.label,
               "confidence": CONFIDENCE, "n_boot": n_boot}
    span = f"gain {point:+.3f} (95% interval {low:+.3f} to {high:+.3f}) over {champion.label} on {len(shared):,} rows"
    if not math.isfinite(point):
        return GateCheck("improvement", label, FAIL, f"{metric_label(metric)} could not be measured on the shared "
                         "rows.", details)
    if point < min_improvement - 1e-12:
        return GateCheck("improvement", label, FAIL, f"{metric_label(metric)} {span}: below the required "
                         f"{min_improvement:g}.", details)
    if not low > 0:
        return GateCheck("improvement", label, FAIL, f"{metric_label(metric)} {span}: the interval includes no gain, "
                         "so it is not clearly better.", details)
    return GateCheck("improvement", label, PASS, f"{metric_label(metric)} {span}.", details)


def paired_bootstrap(shared: pd.DataFrame, version, champion, metric: str, n_boot: int = N_BOOT,
                     seed: int = 0) -> tuple[float, float, float]:
    """Returns the gain (new minus old, in the better direction) and its percentile interval over resampled rows."""
    sign = 1.0 if natural_op(metric) == ">=" else -1.0
    new_fn, old_fn = _metric_fn(version, metric, ""), _metric_fn(champion, metric, "_old")
    point = sign * (new_fn(shared) - old_fn(shared))
    rng = np.random.default_rng(seed)
    n = len(shared)
    gains = np.empty(n_boot)
    for b in range(n_boot):
        sample = shared.iloc[rng.integers(0, n, n)]
        gains[b] = sign * (new_fn(sample) - old_fn(sample))
    gains = gains[np.isfinite(gains)]
    tail = (1 - CONFIDENCE) / 2
    low, high = np.quantile(gains, [tail, 1 - tail]) if len(gains) else (math.nan, math.nan)
    return float(point), float(low), float(high)


def _metric_fn(version, metric: str, suffix: str):
    """Returns f(frame) -> the metric of one version's columns (y_true, y_pred<suffix>, score<suffix>, …)."""
    needs_scores = metric_entry(metric).needs_scores
    proba = [f"proba_{c}{suffix}" for c in version.classes]

    def fn(df: pd.DataFrame) -> float:
        scores = None
        if needs_scores and version.task == "binary":
            scores = df[f"score{suffix}"].to_numpy(dtype=float)
        elif needs_scores and version.task == "multiclass":
            scores = df[proba].to_numpy(dtype=float)
        y_true = df["y_true"].to_numpy()
        if version.task == "regression":
            y_true = y_true.astype(float)
        out = compute_metrics(version.task, y_true, df[f"y_pred{suffix}"].to_numpy(), scores, list(version.classes),
                              version.positive_class, has_probabilities=version.score_kind == "probability")
        return float(out.get(metric, math.nan))

    return fn


# -- expected value and key results -----------------------------------------------------------------------------------
def value_checks(ws, version, champion, crit, seed: int = 0) -> list[GateCheck]:
    """Expected value per validation row against having no model, and against the champion, each with an interval.

    Clearly more value passes, clearly less fails, an interval across 0 is "not yet" (not-run), never a failure.
    """
    base_label = "Value: the model's decisions are worth more than no model"
    champ_label = "Value: worth more than the champion's decisions"
    try:
        frame = version_predictions(ws, version)
    except NotFound as err:
        return [GateCheck("value_baseline", base_label, NOT_RUN, str(err))]
    mine = row_values(version, frame, crit)
    if mine is None:
        return [GateCheck("value_baseline", base_label, NOT_RUN, "No value per decision is set on the Define page, "
                          "so the expected value is not checked (not a failure).")]
    baseline, action = baseline_values(version, frame, crit)
    out = [_value_check("value_baseline", base_label, compare_values(mine, baseline, seed), f"no model ({action})")]
    if champion is None or champion.id == version.id:
        out.append(GateCheck("value_champion", champ_label, NOT_RUN, "No champion yet, so there is nothing to "
                             "compare with."))
        return out
    old = version_predictions(ws, champion)
    shared = frame.merge(old, on="_row", suffixes=("", "_old")) if version.dataset_hash == champion.dataset_hash \
        else frame.iloc[:0]
    if len(shared) < MIN_SHARED_ROWS:
        out.append(GateCheck("value_champion", champ_label, NOT_RUN, f"The versions share {len(shared)} validation "
                             f"rows (fewer than {MIN_SHARED_ROWS}), so their value cannot be compared row by row."))
        return out
    ours, theirs = row_values(version, shared, crit), row_values(champion, shared, crit, suffix="_old")
    out.append(_value_check("value_champion", champ_label, compare_values(ours, theirs, seed), champion.label))
    return out


def _value_check(key: str, label: str, c, against: str) -> GateCheck:
    span = (f"{c.gain:+,.3g} per row (95% interval {c.low:+,.3g} to {c.high:+,.3g}) against {against}, on "
            f"{c.rows:,} validation rows: {c.mine:,.3g} vs {c.theirs:,.3g} per row")
    details = {"gain": c.gain, "ci": [c.low, c.high], "rows": c.rows, "value": c.mine, "compared_value": c.theirs,
               "against": against, "confidence": CONFIDENCE}
    if c.finding == "better":
        return GateCheck(key, label, PASS, f"Worth {span}.", details)
    if c.finding == "worse":
        return GateCheck(key, label, FAIL, f"Worth less: {span}.", details)
    return GateCheck(key, label, NOT_RUN, f"Not yet: {span}; the interval includes 0, so more rows would tell.",
                     details)


def key_result_checks(crit, version) -> list[GateCheck]:
    """One check per OKR key result that names a model metric, against the version's validation value."""
    out = []
    for kr in (crit.okr.key_results if crit.okr else []):
        if not kr.metric or kr.metric not in version.metrics:
            continue
        actual = version.metrics.get(kr.metric)
        op = natural_op(kr.metric)
        label = f"Key result: {kr.text or metric_label(kr.metric)}"
        need = f"needs {OP_SYMBOLS.get(op, op)} {kr.target:g}"
        details = {"metric": kr.metric, "actual": actual, "target": kr.target, "op": op}
        if actual is None or not math.isfinite(float(actual)):
            out.append(GateCheck(f"okr:{kr.metric}", label, FAIL, f"{metric_label(kr.metric)} could not be "
                                 f"measured on validation ({need}).", details))
            continue
        met = actual >= kr.target - 1e-12 if op == ">=" else actual <= kr.target + 1e-12
        out.append(GateCheck(f"okr:{kr.metric}", label, PASS if met else FAIL,
                             f"{metric_label(kr.metric)} {actual:.3f} on validation ({need}).", details))
    return out


def key_result_status(ws, project) -> list[dict]:
    """Returns every OKR key result with its current value: the champion's validation metric when it is a model
    metric (else the newest version's), or None with the reason, for the Define page and the dashboard."""
    crit = project.criteria
    if not crit.okr or not crit.okr.key_results:
        return []
    source = current_champion(ws, project.id)
    label = "champion"
    if source is None:
        versions = list_versions(ws, project.id)
        source, label = (versions[0], "newest version") if versions else (None, "")
    rows = []
    for kr in crit.okr.key_results:
        value = source.metrics.get(kr.metric) if source is not None and kr.metric else None
        is_model_metric = bool(kr.metric) and source is not None and kr.metric in source.metrics
        met = None
        if value is not None and math.isfinite(float(value)):
            met = value >= kr.target if natural_op(kr.metric) == ">=" else value <= kr.target
        rows.append({"key result": kr.text or metric_label(kr.metric), "metric": metric_label(kr.metric)
                     if kr.metric else "", "target": kr.target, "current": value,
                     "measured on": f"{source.label} ({label}), validation" if is_model_metric else
                     ("no registered version yet" if source is None else "not a model metric"),
                     "met": met, "checked by the gate": is_model_metric})
    return rows


# -- fairness ----------------------------------------------------------------------------------------------------------
_RANK = {"fail": 2, "unclear": 1, "pass": 0}


def fairness_check(ws, version, metric: str, attributes: list[str], tolerance: float) -> GateCheck:
    """Judges fairness exactly as the Evaluate page does: `fairness_report` on the validation predictions at the
    version's threshold, every measure against its one named tolerance (`tolerance_for`), with simultaneous 95 %
    intervals. Pass when every measure is within tolerance beyond doubt, fail when one is outside beyond doubt (its
    whole interval past the limit), not-run ("not yet") when an interval straddles the limit. `metric` is kept for
    callers; the measures are the Evaluate page's, not the primary metric."""
    label = f"Fairness: gaps between groups within the fairness gap tolerance {tolerance:g}"
    if not attributes:
        return GateCheck("fairness", label, NOT_RUN, "No sensitive columns are declared for this project; declare "
                         "them on the Define page to check fairness.")
    result = version_fairness(ws, version, attributes, tolerance)
    summary = result.summary
    worst = [_worst_row(part) for _, part in summary.groupby("attribute", sort=False)]
    rank = max(_RANK[r["verdict"]] for r in worst)
    status = {2: FAIL, 1: NOT_RUN, 0: PASS}[rank]
    parts = [_fairness_line(r, result.mode) for r in worst if not rank or _RANK[r["verdict"]] == rank]
    lead = {2: "Outside beyond doubt: ", 1: "Not yet, more validation rows needed: ", 0: "Within tolerance: "}[rank]
    details = {"measures": summary.to_dict("records"), "worst": worst, "warnings": list(result.warnings),
               "tolerance": tolerance, "tolerance_name": "fairness gap tolerance", "confidence": CONFIDENCE}
    return GateCheck("fairness", label, status, lead + "; ".join(parts) + ".", details)


def version_fairness(ws, version, attributes: list[str], tolerance: float):
    """Returns the Evaluate page's fairness report for a version's validation predictions at its threshold."""
    preds = version_predictions(ws, version)
    groups = ws.frame(version.dataset_id, columns=list(attributes), row_ids=preds["_row"].tolist(), with_row_id=True)
    data = preds[["_row"]].merge(groups, on="_row", how="left")
    sensitive = data[list(attributes)].reset_index(drop=True)
    common = {"tolerance": tolerance, "min_group": MIN_GROUP}
    if version.task == "binary" and "score" in preds:
        threshold = version.threshold if version.threshold is not None else 0.5
        return fairness_report(preds["y_true"], preds["score"].to_numpy(dtype=float), sensitive,
                               version.positive_class, threshold=threshold, **common)
    task = "regression" if version.task == "regression" else "classification"
    return fairness_report(preds["y_true"], preds["y_pred"], sensitive, task=task, **common)


def _worst_row(part: pd.DataFrame) -> dict:
    """The measure of one attribute furthest from within tolerance: a fail before a not-sure, then the largest excess."""
    def excess(r) -> float:
        higher = r["measure"].endswith("_ratio")
        far = r["limit"] - r["ci_low"] if higher else r["ci_high"] - r["limit"]
        return far if math.isfinite(far) else math.inf

    rows = part.to_dict("records")
    return max(rows, key=lambda r: (_RANK[r["verdict"]], excess(r)))


def _fairness_line(r: dict, mode: str) -> str:
    about = "" if mode != "one-vs-rest" else f" (outcome {r['outcome']!r})"
    side = "≥" if r["measure"].endswith("_ratio") else "≤"
    return (f"{r['attribute']!r}{about} {MEASURE_LABELS.get(r['measure'], r['measure'])} {_fmt(r['value'])} "
            f"(95% interval {_fmt(r['ci_low'])} to {_fmt(r['ci_high'])}) vs {r['tolerance']} {side} "
            f"{r['limit']:.3g}: {r['finding']}")


# -- drift and the launch simulator ------------------------------------------------------------------------------------
def _drift_check(ws, version) -> GateCheck:
    reports = list_drift_reports(ws, version.project_id)
    label = "Drift: new data looks like the training data"
    if not reports:
        return GateCheck("drift", label, NOT_RUN, "No drift check for this project yet (not a failure). Run one on "
                         "the Drift page.")
    report = next((r for r in reports if r.version_id == version.id), reports[0])
    verdict = str(report.verdict or "").strip() or "No verdict recorded."
    when = str(report.created_at or "")[:16]
    status = FAIL if report.is_drifted else PASS
    return GateCheck("drift", label, status, f"{verdict} (report of {when})", {"report_id": report.id})


def _simulation_check(ws, version) -> GateCheck:
    """The newest simulation of this challenger that is not a rehearsal: "Ship" passes, "Keep testing" is "not yet"
    (never a failure), anything else (roll back, stop) fails. Rehearsals (a problem injected on purpose) show the
    safety net works and are never evidence about the model."""
    every = simulation_verdicts(ws, version.project_id, challenger_version_id=version.id)
    sims = [s for s in every if not s.is_rehearsal]
    label = "Launch simulator says ship"
    rehearsals = len(every) - len(sims)
    skipped = (f" {rehearsals} rehearsal(s) with an injected problem not counted: they test the safety net, not the "
               "model.") if rehearsals else ""
    if not sims:
        return GateCheck("simulation", label, NOT_RUN, "No launch simulation with this version as the challenger "
                         "yet (not a failure)." + skipped, {"rehearsals": rehearsals})
    decision = str(sims[0].decision or "no decision")
    sentence = str(sims[0].sentence or "").strip()
    said = f"{decision}: {sentence}" if sentence else decision
    details = {"simulation_id": sims[0].id, "strategy": sims[0].strategy, "decision": decision,
               "rehearsals": rehearsals}
    if decision == "Keep testing":
        return GateCheck("simulation", label, NOT_RUN, f"Not yet: {said}{skipped}", details)
    status = PASS if decision == "Ship" else FAIL
    return GateCheck("simulation", label, status, said + skipped, details)

