"""Gathers one project's story for stakeholders: the decision first, then the few numbers behind it.

`project_snapshot(ws, project_id)` returns a `Snapshot` (plain data, read-only): the decision (ship / hold / roll
back with a one-sentence why), the champion's KPIs (each with its target, the threshold it was measured at and a 95 %
interval), the value of 1,000 decisions against "no model" and against the previous champion, which important
features drifted and whether measured quality moved, the champion's reigns, and launch rehearsals split into
honest ones and "what if" ones with an injected failure, the OKR's key results (core.share.key_results) and the
monitoring loop (core.share.loop: batches, drift and quality per batch, alerts, the pending challenger). The
dashboard page and the lifecycle report draw it.

Adding a section is one builder function returning a small dataclass, one field on `Snapshot` filled in
`project_snapshot`, one block on the page and one in core/share/report.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pandas as pd

from core.errors import WorkbenchError
from core.evaluate.classification import at_threshold, threshold_table
from core.evaluate.fairness import fairness_report
from core.evaluate.shown_threshold import ShownThreshold, depends_on_threshold, shown_threshold
from core.launch.rehearsal import list_simulations
from core.models.leaderboard import best_run, leaderboard_frame
from core.models.runs import get_run, latest_comparison, run_predictions
from core.monitor.reports import DriftReport, list_drift_reports
from core.profile.profiling import data_health
from core.project.criteria import OP_SYMBOLS, describe_criteria, metric_label
from core.project.projects import get_project
from core.registry.versions import LedgerEntry, Version, ledger, list_versions, registry_state
from core.split.splitting import get_split, list_splits, split_frames
from core.share.key_results import KeyResultView, key_results
from core.share.loop import LoopSection, loop_section
from core.stats.memo import content_memo
from core.stats.metric_intervals import rate_interval
from core.store.workspace import Workspace

log = logging.getLogger(__name__)


@dataclass
class Kpi:
    label: str
    value: str
    target: str = ""
    is_ok: bool | None = None  # None: not measured, or nothing to compare with
    help: str = ""
    threshold: str = ""  # which threshold the value was measured at ('' when none applies)
    interval: str = ""  # 95 % interval, '' when the value has none


@dataclass(frozen=True)
class Decision:
    verdict: str  # "Ship" | "Hold" | "Roll back"
    why: str  # one sentence
    reasons: tuple[str, ...] = ()  # every finding behind it, worst first


@dataclass(frozen=True)
class ValueComparison:
    """Value of 1,000 decisions with the project's costs, on the validation rows."""

    model: float
    no_model: float  # without a model: the better single action (flag every row or flag no row), as the gate uses
    baseline_name: str
    previous: float | None = None  # the previous champion at its own threshold
    previous_label: str = ""


@dataclass(frozen=True)
class DriftSummary:
    report: DriftReport
    important_drifted: tuple[str, ...]  # drifted columns among the model's most important ones, most important first
    other_drifted: tuple[str, ...]
    important: tuple[str, ...]  # the columns counted as important
    quality: dict | None  # the report's measured model quality on the new data (label, current, expected, meets…)
    sentence: str


@dataclass(frozen=True)
class Rehearsal:
    id: str
    strategy: str
    decision: str
    sentence: str
    created_at: Any
    injected: str = ""  # '' for an honest rehearsal, else what failure was injected ("degrade from day 6, 30 %")


@dataclass
class Snapshot:
    """Everything the dashboard and the lifecycle report show, as plain data."""

    project: Any
    criteria_lines: list[str]
    dataset: dict
    data_health: dict | None
    split: dict | None
    leaderboard: pd.DataFrame | None
    champion: Version | None
    champion_run: Any
    shown: ShownThreshold = ShownThreshold(None, "none")
    decision: Decision | None = None
    kpis: list[Kpi] = field(default_factory=list)
    value: ValueComparison | None = None
    versions: list[Version] = field(default_factory=list)  # oldest first
    ledger: list[LedgerEntry] = field(default_factory=list)  # oldest first
    drift: DriftReport | None = None
    drift_summary: DriftSummary | None = None
    rehearsals: list[Rehearsal] = field(default_factory=list)  # honest ones, newest first
    what_ifs: list[Rehearsal] = field(default_factory=list)  # with an injected failure, newest first
    key_results: list[KeyResultView] = field(default_factory=list)
    loop: LoopSection | None = None  # batches, drift and quality per batch, alerts, the pending challenger
    notes: list[str] = field(default_factory=list)

    @property
    def simulation(self) -> Rehearsal | None:
        """The newest honest rehearsal (an injected failure is a 'what if', never the verdict on the model)."""
        return self.rehearsals[0] if self.rehearsals else None

    def champion_history(self) -> pd.DataFrame:
        """Every registry action in order: when, action, version number, by, why."""
        return pd.DataFrame([{"when": e.at, "action": e.action, "version": e.version_number, "by": e.by, "why": e.why}
                             for e in self.ledger if e.version_id], columns=["when", "action", "version", "by", "why"])

    def champion_reigns(self, now: datetime | None = None) -> pd.DataFrame:
        """One row per reign: version, model, start, end (now for the current one), how long, how, by, why, and the
        data batches monitored while it was champion ('' when none)."""
        labels = {v.id: v.model_label for v in self.versions}
        rows: list[dict] = []
        for e in self.ledger:
            if e.action not in ("promote", "rollback") or not e.version_id:
                continue
            at = datetime.fromisoformat(e.at)
            if rows:
                rows[-1]["end"] = at
            served = self.loop.served.get(e.version_id, ()) if self.loop is not None else ()
            rows.append({"version": f"v{e.version_number}", "model": labels.get(e.version_id, ""), "start": at,
                         "end": None, "how": e.action, "by": e.by,
                         "why": e.why + (" (gate overridden)" if e.override else ""),
                         "batches monitored": ", ".join(served)})
        if rows:
            rows[-1]["end"] = now or datetime.now(timezone.utc).replace(tzinfo=None)
        frame = pd.DataFrame(rows, columns=["version", "model", "start", "end", "how", "by", "why",
                                            "batches monitored"])
        frame.insert(4, "how long", [_duration((r["end"] - r["start"]).total_seconds()) for r in rows])
        return frame[["version", "model", "start", "end", "how long", "batches monitored", "how", "by", "why"]]


def _duration(seconds: float) -> str:
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def champion_figure(reigns: pd.DataFrame):
    """The champion's reigns as bars over time (core.release.charts), or None before the first promotion."""
    from core.release.charts import champion_timeline_figure

    return champion_timeline_figure(reigns)


def _safe(what: str, fn, *args, default=None, notes: list[str] | None = None):
    # A stakeholder view must never fail because one section cannot be computed: say which one, show the rest.
    try:
        return fn(*args)
    except (WorkbenchError, KeyError, ValueError) as err:
        log.warning("dashboard: %s unavailable: %s", what, err)
        if notes is not None:
            notes.append(f"{what} could not be shown: {err}")
        return default


def project_snapshot(ws: Workspace, project_id: str, important_features=None, with_split: bool = True) -> Snapshot:
    """Returns the project's current state across the lifecycle, read-only.

    `important_features(ws, run) -> list[str]` names the model's most important inputs, most important first
    (default: permutation importance on the validation rows, `important_features` below); pages pass a cached one.
    `with_split=False` leaves out the latest split (`split` is None), for a view that does not show it: it then
    does not read the project's splits, so a cache of it outlives a new split.
    """
    project = get_project(ws, project_id)
    notes: list[str] = []
    info = ws.dataset(project.dataset_id)
    dataset = {"name": info.name, "rows": info.rows, "columns": len(info.columns), "added": info.created_at}
    health = _safe("Data health", data_health, ws, info.id, notes=notes)
    split = _safe("Split", _latest_split, ws, project, notes=notes) if with_split else None
    runs = _safe("Models", latest_comparison, ws, project.id, default=[], notes=notes)
    leaderboard = _safe("Leaderboard", _leaderboard, runs, project, notes=notes) if runs else None
    versions = sorted(list_versions(ws, project.id), key=lambda v: v.number)
    entries = ledger(ws, project.id)
    champion = next((v for v in versions if "champion" in v.aliases), None)
    champion_run = None
    if champion is None and runs:
        notes.append("No champion is registered yet; the figures below are for the best model trained so far.")
        champion_run = _best_run(runs, project)
    elif champion is not None:
        champion_run = _safe("Champion", get_run, ws, champion.run_id, notes=notes)
    drifts = list_drift_reports(ws, project.id)
    honest, what_ifs = _rehearsals(ws, project.id)
    shown = shown_threshold(champion or champion_run) if (champion or champion_run) else ShownThreshold(None, "none")
    snap = Snapshot(project=project, criteria_lines=describe_criteria(project.criteria, project.task), dataset=dataset,
                    data_health=health, split=split, leaderboard=leaderboard, champion=champion,
                    champion_run=champion_run, shown=shown, versions=versions, ledger=entries,
                    drift=drifts[0] if drifts else None, rehearsals=honest, what_ifs=what_ifs, notes=notes)
    at = _safe("Metrics at the threshold", _metrics_at, ws, project, champion_run, shown, notes=notes) \
        if champion_run is not None else None
    snap.kpis = _kpis(ws, project, champion, champion_run, at or {}, snap, notes)
    snap.value = _safe("Value", _value, ws, project, at, champion, versions, entries, notes=notes) if at else None
    snap.key_results = _safe("Key results", key_results, ws, project, champion or champion_run, shown, at or {},
                             default=[], notes=notes)
    snap.loop = _safe("Monitoring loop", loop_section, ws, project, notes=notes)
    if snap.drift is not None and champion_run is not None:
        finder = important_features or globals()["important_features"]
        measured = snap.loop is not None and snap.loop.monitored["metric"].notna().any()
        snap.drift_summary = _safe("Drift of important columns", _drift_summary, ws, snap.drift, champion_run, finder,
                                   measured,
                                   notes=notes)
    snap.decision = decide(snap)
    return snap


def _latest_split(ws: Workspace, project) -> dict | None:
    splits = list_splits(ws, project.id)
    if not splits:
        return None
    s = splits[0]
    return {"name": s.name, "sizes": dict(s.sizes), "hash": s.content_hash,
            "findings": [f.get("title", "") if isinstance(f, dict) else getattr(f, "title", str(f))
                         for f in (s.leak_checks or [])]}


def _best_run(runs, project):
    real = [r for r in runs if not r.is_baseline and not r.error] or runs
    return best_run(real, project.criteria.primary_metric)


def _leaderboard(runs, project) -> pd.DataFrame:
    """The comparison as a stakeholder reads it: model, the launch metric on validation and in CV, and the verdict.

    Training measures every model at the default threshold, and the column says so: the champion's KPI beside it
    is at its saved threshold (core.evaluate.shown_threshold).
    """
    full = leaderboard_frame(runs, project.task, project.criteria.primary_metric, project.criteria)
    if full.empty:
        return full
    metric = project.criteria.primary_metric
    at = " at 0.50" if project.task == "binary" and depends_on_threshold(metric) else ""
    label = metric_label(metric)
    return pd.DataFrame({
        "Rank": full["rank"], "Model": full["model"],
        f"{label}{at} (validation)": full["validation"].round(3),
        f"{label}{at} (cross-validation)": [None if pd.isna(m) else f"{m:.3f} ± {0 if pd.isna(s) else s:.3f}"
                                            for m, s in zip(full["cv_mean"], full["cv_sd"])],
        "Meets the criteria": full["meets_criteria"].map({True: "yes", False: "no"}).fillna(""),
        "Warnings": full["n_warnings"]})


def _metrics_at(ws: Workspace, project, run, shown: ShownThreshold) -> dict:
    """The run's validation metrics at the shown threshold, with the threshold-table row behind them."""
    out = dict(run.validation_metrics or {})
    if project.task != "binary" or shown.value is None:
        return out
    preds = run_predictions(ws, run.id)
    costs = project.criteria.costs if any(project.criteria.costs.values()) else None
    table = threshold_table(preds["y_true"], preds["score"], run.positive_class, costs=costs)
    row = at_threshold(table, shown.value)
    rates = tuple(k for k in ("precision", "recall", "f1", "accuracy", "fpr", "selection_rate") if k in row)
    out.update({k: float(row[k]) for k in rates})
    out["_row"] = row
    out["_table"] = table
    out["_preds"] = preds
    out["_at_threshold"] = rates
    return out


def _kpis(ws: Workspace, project, champion: Version | None, run, at: dict, snap: Snapshot,
          notes: list[str]) -> list[Kpi]:
    crit = project.criteria
    key = crit.primary_metric
    target = f"{OP_SYMBOLS.get(crit.op, crit.op)} {crit.threshold:g}"
    if run is None:
        return [Kpi(metric_label(key), "—", target, None, "No model trained yet.")]
    value = at.get(key)
    ok = None if value is None else (value >= crit.threshold if crit.op == ">=" else value <= crit.threshold)
    who = champion.label if champion else run.model_label
    shown = snap.shown.label if depends_on_threshold(key) else ""
    ci = rate_interval(key, at.get("_row")) if depends_on_threshold(key) else None
    row = at.get("_row")
    rows = f"{sum(int(row[c]) for c in ('tp', 'fp', 'fn', 'tn')):,} " if row else ""
    kpis = [Kpi(f"{metric_label(key)} · {who}", "—" if value is None else f"{value:.3f}", target, ok,
                f"The launch criterion, measured on the {rows}validation rows; 95 % Wilson interval.",
                shown, f"{ci[0]:.2f}–{ci[1]:.2f}" if ci else "")]
    gap = _safe("Fairness", _fairness_gap, ws, project, run, snap.shown, notes=notes)
    if gap is not None:
        tol = crit.fairness_tolerance
        kpis.append(Kpi("Fairness gap", f"{gap['value']:.3f}", f"≤ {tol:g}", gap["value"] <= tol,
                        f"{gap['meaning']} across {gap['attribute']}.", snap.shown.label,
                        f"{gap['ci_low']:.2f}–{gap['ci_high']:.2f}" if gap.get("ci_low") is not None else ""))
    return kpis


def _value(ws: Workspace, project, at: dict, champion: Version | None, versions: list[Version],
           entries: list[LedgerEntry]) -> ValueComparison | None:
    row, table = at.get("_row"), at.get("_table")
    if row is None or "value_per_row" not in row:
        return None
    # Without a model one would take the better single action, the same baseline the gate uses
    # (core.release.value.baseline_values): flag no row (the table's last row sits above every score) or flag every row.
    nobody = table.iloc[-1]
    n = max(int(nobody["tp"] + nobody["fp"] + nobody["fn"] + nobody["tn"]), 1)
    positives, negatives = int(nobody["fn"]), int(nobody["tn"])
    costs = {k: float((project.criteria.costs or {}).get(k, 0.0) or 0.0) for k in ("tp", "fp", "fn", "tn")}
    everyone = (positives * costs["tp"] + negatives * costs["fp"]) / n
    no_one = float(nobody["value_per_row"])
    base_value, base_name = (everyone, "no model (flag every row)") if everyone >= no_one else \
        (no_one, "no model (flag no row)")
    previous, previous_label = None, ""
    state = registry_state(ws, project.id, entries)
    earlier = [v for v in state.stack[:-1] if v != state.champion]
    if champion is not None and earlier:
        prev = next((v for v in versions if v.id == earlier[-1]), None)
        if prev is not None and prev.predictions_key:
            preds = ws.get_frame(prev.predictions_key)
            if preds is not None and "score" in preds:
                t = shown_threshold(prev)
                prow = at_threshold(threshold_table(preds["y_true"], preds["score"], prev.positive_class,
                                                    costs=project.criteria.costs), t.value)
                previous, previous_label = float(prow["value_per_row"]) * 1000, f"{prev.label} {t.label}"
    return ValueComparison(float(row["value_per_row"]) * 1000, base_value * 1000, base_name, previous, previous_label)


def important_features(ws: Workspace, run, top: int = 5) -> list[str]:
    """The model's `top` input columns by importance, most important first.

    The estimator's own importance summed back to input columns when it has one (trees, linear models), else
    permutation importance on up to 500 validation rows: a ranking, not a measurement, so the cheap one will do.
    """
    from core.evaluate.explain import native_importances, permutation_importance_table
    from core.evaluate.report import load_run_data
    from core.evaluate.run_explain import IMPORTANCE_SCORING
    from core.models.runs import load_run_model

    data = load_run_data(ws, run.id)
    model = load_run_model(ws, run.id)
    table = native_importances(model, feature_names=list(data.features.columns))
    if table is None:
        table = permutation_importance_table(model, data.features, data.predictions["y_true"].to_numpy(),
                                             scoring=IMPORTANCE_SCORING[data.task][0], n_repeats=2, max_rows=500,
                                             positive_class=data.positive_class if data.task == "binary" else None,
                                             target_name=data.project.target)
    column = next((c for c in ("share", "importance", "mean") if c in table.columns), None)
    if column is not None:
        table = table.sort_values(column, ascending=False)
    return [str(f) for f in table["feature"].head(top)]


def _drift_summary(ws: Workspace, report: DriftReport, run, finder, monitored: bool = False) -> DriftSummary:
    result = report.result()
    drifted = [c.column for c in result.columns if c.drift]
    important = tuple(finder(ws, run))
    imp_drifted = tuple(c for c in important if c in drifted)
    others = tuple(c for c in drifted if c not in important)
    quality = report.payload.get("model_quality")
    parts = []
    if imp_drifted:
        parts.append(f"{len(imp_drifted)} of the model's {len(important)} most important columns moved "
                     f"({', '.join(imp_drifted)})")
    else:
        parts.append(f"none of the model's {len(important)} most important columns moved")
    if others:
        parts.append(f"{len(others)} other column{'s' if len(others) != 1 else ''} moved")
    if quality and quality.get("current") is not None:
        moved = "still meets" if quality.get("meets") else "misses"
        parts.append(f"measured {quality.get('label', 'quality')} on the new labelled rows is "
                     f"{quality['current']:.3f} (expected {quality.get('expected', float('nan')):.3f}), which "
                     f"{moved} the target")
    elif monitored:
        parts.append("this check did not score the model; monitoring measures its quality on each labelled batch "
                     "(the loop below)")
    else:
        parts.append("the new rows have no outcomes yet, so quality is not measured")
    return DriftSummary(report, imp_drifted, others, important, quality, "; ".join(parts) + ".")


def _rehearsals(ws: Workspace, project_id: str) -> tuple[list[Rehearsal], list[Rehearsal]]:
    honest, what_ifs = [], []
    for sim in list_simulations(ws, project_id):
        inject = sim.spec.inject
        text = ""
        if inject:
            text = f"{inject.get('kind', 'problem')} injected from day {inject.get('day')}"
            if inject.get("amount") is not None:
                text += f" ({float(inject['amount']):.0%})"
        item = Rehearsal(sim.id or "", sim.strategy, sim.decision, sim.sentence, sim.created_at, text)
        (what_ifs if inject else honest).append(item)
    return honest, what_ifs


def decide(snap: Snapshot) -> Decision:
    """Ship, hold or roll back the champion, with the one sentence that says why (worst finding first)."""
    if snap.champion is None:
        return Decision("Hold", "No version is the champion yet: register the best model and promote it through the "
                                "launch gate.")
    who = f"{snap.champion.label} ({snap.champion.model_label})"
    rollback, hold = [], []
    drift = snap.drift_summary
    if drift is not None and drift.quality and drift.quality.get("current") is not None and not drift.quality.get(
            "meets", True):
        rollback.append(f"on new labelled data {who}'s {drift.quality.get('label', 'quality')} fell to "
                        f"{drift.quality['current']:.3f}, missing the target")
    if snap.simulation is not None and snap.simulation.decision == "Roll back":
        rollback.append(f"the latest {snap.simulation.strategy} rehearsal rolled back: {snap.simulation.sentence}")
    for k in snap.kpis:
        if k.is_ok is False:
            hold.append(f"{k.label.split(' · ')[0]} is {k.value}{' ' + k.threshold if k.threshold else ''}, "
                        f"missing the target {k.target}")
    if drift is not None and drift.important_drifted and not (drift.quality and drift.quality.get("current")
                                                               is not None):
        hold.append(f"important columns moved ({', '.join(drift.important_drifted)}) and quality on the new data "
                    "is not measured yet")
    _monitoring_findings(snap, who, rollback, hold)
    gate = snap.champion.gate or {}
    if gate and gate.get("passed") is False:
        hold.append(f"{who} was promoted although its launch gate did not pass")
    if rollback:
        has_previous = len(registry_stack(snap)) > 1
        verdict = "Roll back" if has_previous else "Hold"
        return Decision(verdict, f"{rollback[0][0].upper()}{rollback[0][1:]}"
                        + ("; roll back to the previous champion." if has_previous else "; retrain before relying "
                                                                                        "on it."),
                        tuple(rollback + hold))
    if hold:
        return Decision("Hold", f"{hold[0][0].upper()}{hold[0][1:]}.", tuple(hold))
    primary = snap.kpis[0] if snap.kpis else None
    why = f"{who} meets the launch rule" + (f" ({primary.label.split(' · ')[0]} {primary.value} "
                                            f"{primary.threshold}, target {primary.target})" if primary else "")
    if drift is not None:
        why += ", no important column moved" if not drift.important_drifted else ", and quality held on new data"
    return Decision("Ship", why + ".")


def _monitoring_findings(snap: Snapshot, who: str, rollback: list[str], hold: list[str]) -> None:
    """What the newest monitoring run of the current champion found: quality below the target on labelled new data
    is a reason to roll back; a fairness, quality or guardrail alert, or drift while quality is unmeasured, to hold."""
    loop = snap.loop
    if loop is None or snap.champion is None:
        return
    mine = loop.monitored[loop.monitored["model"] == snap.champion.label]
    if not len(mine):
        return
    last = mine.iloc[-1]
    batch = f"batch {last['batch']} · {last['label']}"
    alerting = set(last["alerting"])
    if _is_false(last["meets"]):
        rollback.append(f"on {batch} (new labelled data) {who}'s {loop.metric_label} was {last['metric']:.3f}, "
                        f"missing the target {loop.target}")
    elif "performance" in alerting:
        hold.append(f"on {batch} {who} missed a guardrail of the success criteria")
    if "fairness" in alerting:
        hold.append(f"on {batch} the gap between groups ({last['fairness_gap']:.3f}) is above the fairness tolerance")
    if "data_quality" in alerting:
        hold.append(f"{batch} has new data-quality problems")
    if alerting & {"data_drift", "prediction_drift"} and pd.isna(last["metric"]):
        hold.append(f"{batch} drifted and has no outcomes yet, so {who}'s quality on it is not measured")


def _is_false(value) -> bool:
    return value is not None and not pd.isna(value) and not bool(value)


def registry_stack(snap: Snapshot) -> list[str]:
    """Champions in promotion order, as the ledger replays them (a rollback returns to an earlier one)."""
    stack: list[str] = []
    for e in snap.ledger:
        if e.action == "promote" and e.version_id:
            stack.append(e.version_id)
        elif e.action == "rollback" and e.version_id and e.version_id in stack:
            stack = stack[:stack.index(e.version_id) + 1]
    return stack


def _fairness_gap(ws: Workspace, project, run, shown: ShownThreshold) -> dict | None:
    attrs = list(project.criteria.sensitive_attributes or [])
    if not attrs or project.task not in ("binary", "regression"):
        return None
    preds = run_predictions(ws, run.id)
    rows = split_frames(ws, get_split(ws, run.split_id), parts=("validation",), columns=attrs,
                        with_row_id=True)["validation"]
    merged = preds.merge(rows, on="_row", how="left")
    scores = merged["score"] if project.task == "binary" else merged["y_pred"]
    worst = _worst_gap(merged["y_true"], scores, merged[attrs], run.positive_class,
                       shown.value if shown.value is not None else 0.5, project.criteria.fairness_tolerance,
                       project.task)
    return dict(worst) if worst is not None else None


@content_memo(maxsize=32)  # a bootstrap with a fixed seed, on every dashboard view: once per champion and threshold
def _worst_gap(y_true, scores, groups, positive_class, threshold, tolerance, task) -> dict | None:
    report = fairness_report(y_true, scores, groups, positive_class=positive_class, threshold=threshold,
                             tolerance=tolerance, n_boot=50, intersections=False,
                             task="classification" if task == "binary" else "regression")
    measure = "equal_opportunity_difference" if task == "binary" else "mae_difference"
    rows = report.summary[report.summary["measure"] == measure]
    if rows.empty:
        return None
    worst = rows.sort_values("value", ascending=False).iloc[0]
    meaning = ("Largest difference in recall between groups" if task == "binary"
               else "Largest difference in mean absolute error between groups")
    out = {"attribute": worst["attribute"], "value": float(worst["value"]), "meaning": meaning}
    for k in ("ci_low", "ci_high"):
        out[k] = float(worst[k]) if k in worst and pd.notna(worst[k]) else None
    return out
