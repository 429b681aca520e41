"""Gathers one project's story for stakeholders: definition, data, split, models, champion, drift, launch, ledger."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from core.errors import WorkbenchError
from core.evaluate.classification import at_threshold, threshold_table
from core.evaluate.fairness import fairness_report
from core.launch.rehearsal import SimulationVerdict, simulation_verdicts
from core.models.leaderboard import best_run, leaderboard_frame
from core.models.runs import get_run, latest_comparison, run_predictions
from core.monitor.reports import DriftReport, list_drift_reports
from core.profile.profiling import data_health
from core.project.criteria import OP_SYMBOLS, describe_criteria, metric_label
from core.project.projects import get_project
from core.registry.versions import LedgerEntry, Version, ledger, list_versions
from core.split.splitting import get_split, list_splits, split_frames
from core.store.workspace import Workspace

log = logging.getLogger(__name__)


@dataclass
class Kpi:
    label: str
    value: str
    target: str = ""
    is_ok: bool | None = None  # None: not measured yet
    help: str = ""


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
    kpis: list[Kpi] = field(default_factory=list)
    versions: list[Version] = field(default_factory=list)  # oldest first
    ledger: list[LedgerEntry] = field(default_factory=list)  # oldest first
    drift: DriftReport | None = None
    simulation: SimulationVerdict | None = None
    notes: list[str] = field(default_factory=list)

    def champion_history(self) -> pd.DataFrame:
        """Every registry action in order: when, action, version number, by, why."""
        return pd.DataFrame([{"when": e.at, "action": e.action, "version": e.version_number, "by": e.by, "why": e.why}
                             for e in self.ledger if e.version_id], columns=["when", "action", "version", "by", "why"])


def champion_figure(history: pd.DataFrame):
    """A step chart of which version was champion when (promotions and rollbacks), or None before the first one."""
    import plotly.graph_objects as go

    reigns = history[history["action"].isin(["promote", "rollback"])]
    if reigns.empty:
        return None
    fig = go.Figure(go.Scatter(x=reigns["when"], y=reigns["version"], mode="lines+markers", line_shape="hv",
                               hovertext=reigns["why"], name="champion"))
    fig.update_layout(height=260, margin=dict(l=10, r=10, t=10, b=10), yaxis_title="champion version",
                      yaxis=dict(dtick=1))
    return fig


def _safe(what: str, fn, *args, default=None, notes: list[str] | None = None):
    # A stakeholder view must never fail because one section cannot be computed: say which one, show the rest.
    try:
        return fn(*args)
    except (WorkbenchError, KeyError, ValueError) as err:
        log.warning("dashboard: %s unavailable: %s", what, err)
        if notes is not None:
            notes.append(f"{what} could not be shown: {err}")
        return default


def project_snapshot(ws: Workspace, project_id: str) -> Snapshot:
    """Returns the project's current state across the lifecycle, read-only."""
    project = get_project(ws, project_id)
    notes: list[str] = []
    info = ws.dataset(project.dataset_id)
    dataset = {"name": info.name, "rows": info.rows, "columns": len(info.columns), "added": info.created_at}
    health = _safe("Data health", data_health, ws, info.id, notes=notes)
    split = _safe("Split", _latest_split, ws, project, notes=notes)
    runs = _safe("Models", _latest_runs, ws, project, default=[], notes=notes)
    leaderboard = _safe("Leaderboard", _leaderboard, runs, project, notes=notes) if runs else None
    versions = sorted(list_versions(ws, project.id), key=lambda v: v.number)
    entries = ledger(ws, project.id)
    champion = next((v for v in versions if "champion" in v.aliases), None)
    champion_run = None
    if champion is None and runs:
        notes.append("No champion is registered yet; the figures below are for the best model trained so far.")
        champion_run = _best_run(runs, project)
    elif champion is not None:
        champion_run = _safe("Champion", _run, ws, champion.run_id, notes=notes)
    drifts = list_drift_reports(ws, project.id)
    sims = simulation_verdicts(ws, project.id)
    snap = Snapshot(project=project, criteria_lines=describe_criteria(project.criteria, project.task), dataset=dataset,
                    data_health=health, split=split, leaderboard=leaderboard, champion=champion,
                    champion_run=champion_run, versions=versions, ledger=entries,
                    drift=drifts[0] if drifts else None, simulation=sims[0] if sims else None, notes=notes)
    snap.kpis = _kpis(ws, project, champion, champion_run, snap, notes)
    return snap


def _latest_split(ws: Workspace, project) -> dict | None:
    splits = list_splits(ws, project.id)
    if not splits:
        return None
    s = splits[0]
    return {"name": s.name, "sizes": dict(s.sizes), "hash": s.content_hash,
            "findings": [getattr(f, "title", str(f)) for f in (s.leak_checks or [])]}


def _latest_runs(ws: Workspace, project) -> list:
    return latest_comparison(ws, project.id)


def _run(ws: Workspace, run_id: str):
    return get_run(ws, run_id)


def _best_run(runs, project):
    real = [r for r in runs if not r.is_baseline and not r.error] or runs
    return best_run(real, project.criteria.primary_metric)


def _leaderboard(runs, project) -> pd.DataFrame:
    """The comparison as a stakeholder reads it: model, the launch metric on validation and in CV, and the verdict."""
    full = leaderboard_frame(runs, project.task, project.criteria.primary_metric, project.criteria)
    if full.empty:
        return full
    label = metric_label(project.criteria.primary_metric)
    return pd.DataFrame({
        "Rank": full["rank"], "Model": full["model"],
        f"{label} (validation)": full["validation"].round(3),
        f"{label} (cross-validation)": [None if pd.isna(m) else f"{m:.3f} ± {0 if pd.isna(s) else s:.3f}"
                                        for m, s in zip(full["cv_mean"], full["cv_sd"])],
        "Meets the criteria": full["meets_criteria"].map({True: "yes", False: "no"}).fillna("—"),
        "Warnings": full["n_warnings"]})


def _kpis(ws: Workspace, project, champion: Version | None, run, snap: Snapshot, notes: list[str]) -> list[Kpi]:
    crit = project.criteria
    key = crit.primary_metric
    target = f"{OP_SYMBOLS.get(crit.op, crit.op)} {crit.threshold:g}"
    kpis = []
    if run is None:
        return [Kpi(metric_label(key), "—", target, None, "No model trained yet.")]
    at = _safe("Metrics at the saved threshold", _metrics_at_threshold, ws, project, run, notes=notes) or {}
    value = at.get(key, (run.validation_metrics or {}).get(key))
    ok = None if value is None else (value >= crit.threshold if crit.op == ">=" else value <= crit.threshold)
    who = f"v{champion.number}" if champion else run.model_label
    kpis.append(Kpi(f"{metric_label(key)} · {who}", "—" if value is None else f"{value:.3f}", target, ok,
                    "The launch criterion, measured on the validation rows at the saved threshold."))
    if "value_per_row" in at:
        kpis.append(Kpi("Value / 1,000 decisions", f"{at['value_per_row'] * 1000:+,.0f}", "", None,
                        "Expected value of 1,000 decisions, from the project's value of each outcome (TP, FP, FN, "
                        "TN) at the saved threshold, on the validation rows."))
    gap = _safe("Fairness", _fairness_gap, ws, project, run, notes=notes)
    if gap is not None:
        kpis.append(Kpi("Fairness gap", f"{gap['value']:.3f}",
                        f"≤ {project.criteria.fairness_tolerance:g}", gap["value"] <= project.criteria.fairness_tolerance,
                        f"{gap['meaning'][:-1]}, across {gap['attribute']}."))
    if snap.drift:
        kpis.append(Kpi("Data drift", "drift" if snap.drift.is_drifted else "stable", "", not snap.drift.is_drifted,
                        snap.drift.verdict))
    if snap.simulation:
        # A rolled-back rehearsal is the safety net working, not the product failing: no on/off-target colour.
        kpis.append(Kpi("Launch rehearsal", snap.simulation.decision or "—", "", None,
                        f"Simulated {snap.simulation.strategy} rollout: {snap.simulation.sentence}"))
    return kpis


def _validation(ws: Workspace, run):
    return run_predictions(ws, run.id)


def _metrics_at_threshold(ws: Workspace, project, run) -> dict:
    if project.task != "binary" or run.threshold is None:
        return dict(run.validation_metrics or {})

    preds = _validation(ws, run)
    costs = project.criteria.costs if any(project.criteria.costs.values()) else None
    table = threshold_table(preds["y_true"], preds["score"], run.positive_class, costs=costs)
    row = at_threshold(table, run.threshold)
    out = dict(run.validation_metrics or {})
    out.update({k: float(row[k]) for k in ("precision", "recall", "f1", "accuracy") if k in row})
    if costs and "value_per_row" in row:
        out["value_per_row"] = float(row["value_per_row"])
    return out


def _fairness_gap(ws: Workspace, project, run) -> dict | None:
    attrs = list(project.criteria.sensitive_attributes or [])
    if not attrs or project.task not in ("binary", "regression"):
        return None

    preds = _validation(ws, run)
    rows = split_frames(ws, get_split(ws, run.split_id), parts=("validation",), columns=attrs,
                        with_row_id=True)["validation"]
    merged = preds.merge(rows, on="_row", how="left")
    scores = merged["score"] if project.task == "binary" else merged["y_pred"]
    report = fairness_report(merged["y_true"], scores, merged[attrs], positive_class=run.positive_class,
                             threshold=run.threshold or 0.5, tolerance=project.criteria.fairness_tolerance,
                             n_boot=50, intersections=False,
                             task="classification" if project.task == "binary" else "regression")
    measure = "equal_opportunity_difference" if project.task == "binary" else "mae_difference"
    rows = report.summary[report.summary["measure"] == measure]
    if rows.empty:
        return None
    worst = rows.sort_values("value", ascending=False).iloc[0]
    meaning = ("Largest difference in recall between groups" if project.task == "binary"
               else "Largest difference in mean absolute error between groups")
    return {"attribute": worst["attribute"], "value": float(worst["value"]), "meaning": meaning + "."}
