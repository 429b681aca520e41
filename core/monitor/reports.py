"""Drift checks on workspace data: both sides chosen from the workspace, cached reference summaries, saved reports.

Public API (the Drift page, the `workbench drift` command, Home and the dashboards build on it):
- Both sides of a check are `SourceSpec`s (core.monitor.sources, re-exported here with `load_source`,
  `describe_source`, `time_windows`, `date_columns`, `default_reference` and `default_current`).
- `run_check(ws, reference, current, options=None, *, project=None, columns=None, model=None, with_report=False,
  report_rows=REPORT_ROWS) -> DriftCheck`: our drift table (reference summary cached in the workspace), optional
  prediction drift and model quality (core.monitor.model), and Evidently's report on a stated sample.
- `save_drift_report(ws, check, project_id, by=None) -> DriftReport`; `list_drift_reports(ws, project_id)`,
  `get_drift_report(ws, id)`, `report_html(ws, report) -> str | None`, `latest_drift_status(ws, project_id)`.

Record "drift_report" (schema 1, project_id = the project's id or None from the CLI without a project):
    verdict, is_drifted, drifted_share, reference, current (labels), reference_spec, current_spec (SourceSpec
    dicts), by, options (DriftOptions dict), results (DriftResult.to_dict()), version_id, run_id, model_label,
    model_quality ({metric, label, current, expected, threshold, op, n_labelled, meets} or None),
    html ({"path", "sha256"} of the Evidently report written with ws.write_artifact, or None), report_notes.
Reference summaries are cached by core.monitor.summaries (record "drift_reference").
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from core.errors import NotFound
from core.monitor.checks import ColumnDrift, DriftOptions, DriftResult, check_drift
from core.monitor.evidently_report import ReportFailed, build_evidently_report
from core.monitor.model import attach_model_results
from core.monitor.reference import ReferenceSummary, bucket, column_counts
from core.monitor.sources import (
    SOURCE_KINDS,
    SourceSpec,
    TimeWindow,
    date_columns,
    default_current,
    default_reference,
    describe_source,
    load_source,
    time_windows,
)
from core.monitor.stats import align
from core.monitor.summaries import compared_columns, reference_summary
from core.store.workspace import ArtifactRef, Workspace, new_id

KIND = "drift_report"
SCHEMA = 1
REPORT_ROWS = 5_000       # per side for Evidently's report on the page: ~10 s with its import on this hardware
HISTOGRAM_COLUMNS = 4
HISTOGRAM_BINS = 20


@dataclass
class DriftCheck:
    """A finished check: the drift table, both sides, model results, histograms and Evidently's report."""

    result: DriftResult
    reference: SourceSpec
    current: SourceSpec
    reference_label: str
    current_label: str
    columns: dict[str, str]
    reference_cached: bool = False
    histograms: dict[str, pd.DataFrame] = field(default_factory=dict)
    model_label: str | None = None
    version_id: str | None = None
    run_id: str | None = None
    model_quality: dict | None = None
    report: object | None = None           # core.monitor.evidently_report.ReportResult
    report_error: str | None = None
    notes: list[str] = field(default_factory=list)
    report_id: str | None = None


@dataclass(frozen=True)
class DriftReport:
    """A saved drift report, read back from the workspace."""

    id: str
    project_id: str | None
    created_at: datetime | None
    by: str
    verdict: str
    is_drifted: bool
    drifted_share: float
    reference: str
    current: str
    version_id: str | None
    model_label: str | None
    payload: dict

    @property
    def has_html(self) -> bool:
        return bool(self.payload.get("html"))

    def result(self) -> DriftResult:
        """Rebuilds the drift table that was saved."""
        r = self.payload["results"]
        cols = [ColumnDrift(**c) for c in r["columns"]]
        pred = ColumnDrift(**r["prediction"]) if r.get("prediction") else None
        return DriftResult(cols, DriftOptions.from_dict(r["options"]), r["n_reference"], r["n_current"], pred,
                           list(r.get("notes") or []))

    @classmethod
    def from_record(cls, rec: dict) -> "DriftReport":
        return cls(id=rec["id"], project_id=rec.get("project_id"), created_at=rec.get("created_at"),
                   by=rec.get("by", ""), verdict=rec["verdict"], is_drifted=bool(rec["is_drifted"]),
                   drifted_share=float(rec["drifted_share"]), reference=rec["reference"], current=rec["current"],
                   version_id=rec.get("version_id"), model_label=rec.get("model_label"), payload=rec)


# -- the check -------------------------------------------------------------------------------------------------------


def run_check(ws: Workspace, reference: SourceSpec, current: SourceSpec, options: DriftOptions | None = None, *,
              project=None, columns: list[str] | None = None, model=None, with_report: bool = False,
              report_rows: int = REPORT_ROWS) -> DriftCheck:
    """Compares the current set with the reference column by column; optionally the model's predictions too.

    `model` is a `core.monitor.model.ModelChoice`; `with_report` also builds Evidently's report (slow: its import
    alone takes seconds) on at most `report_rows` rows per side, and says so when it samples.

    Raises:
        SchemaMismatch: a column is missing on one side or holds another sort of values there.
        SpecInvalid: too few rows, an empty column, bad options or too many columns.
        NotFound: an unknown dataset, split or model.
    """
    options = options or DriftOptions()
    kinds = compared_columns(ws, reference, columns)
    summary, cached = reference_summary(ws, reference, kinds, options)
    cur = load_source(ws, current)
    result = check_drift(summary, cur, options=options)
    extra = [c for c in cur.columns if c not in kinds]
    notes = [f"Only in the current set, not compared: {', '.join(repr(c) for c in extra[:10])}"
             + (" …" if len(extra) > 10 else "") + "."] if extra else []
    check = DriftCheck(result, reference, current, describe_source(ws, reference), describe_source(ws, current),
                       kinds, cached, notes=notes)
    check.histograms = {c.column: histogram_frame(summary, cur, c.column)
                        for c in result.drifted[:HISTOGRAM_COLUMNS]}
    ref = load_source(ws, reference) if model is not None or with_report else None
    predictions = None
    if model is not None:
        predictions = attach_model_results(ws, check, project, model, ref, cur, options)
    if with_report:
        _attach_report(check, ref, cur, project, predictions, report_rows)
    return check


def _attach_report(check: DriftCheck, ref: pd.DataFrame, cur: pd.DataFrame, project, predictions,
                   report_rows: int) -> None:
    """Builds Evidently's report; with a model and labels on both sides, its quality preset too."""
    kw = {}
    target = getattr(project, "target", None)
    if (predictions is not None and target and target in check.columns and target in cur.columns
            and cur[target].notna().any()):
        name = next(n for n in ("prediction", "model_prediction", "_prediction") if n not in check.columns)
        ref, cur = ref.assign(**{name: predictions[0]}), cur.assign(**{name: predictions[1]})
        task = "regression" if project.task == "regression" else "classification"
        kw = {"target": target, "prediction": name, "task": task,
              "positive_label": project.positive_class if project.task == "binary" else None}
    columns = dict(check.columns)
    if not check.result.options.is_sound:   # Evidently parity: the report types columns as the table tested them
        columns |= {c.column: c.kind for c in check.result.compared if c.kind in ("numeric", "categorical")}
    try:
        check.report = build_evidently_report(ref, cur, columns, max_rows=report_rows, **kw)
    except ReportFailed as err:
        check.report_error = str(err)


def histogram_frame(summary: ReferenceSummary, current: pd.DataFrame, column: str,
                    bins: int = HISTOGRAM_BINS) -> pd.DataFrame:
    """Returns binned shares of one column on both sides (columns bin, side, share), for an overlaid histogram."""
    col = summary.columns[column]
    cur, _ = column_counts(current[column], col.kind, "current")
    if col.kind == "numeric":
        lo, hi = min(col.counts.keys[0], cur.keys[0]), max(col.counts.keys[-1], cur.keys[-1])
        edges = np.linspace(lo, hi, bins + 1) if hi > lo else np.array([lo - 0.5, lo + 0.5])
        ref_h = np.histogram(col.counts.keys, edges, weights=col.counts.counts)[0]
        cur_h = np.histogram(cur.keys, edges, weights=cur.counts)[0]
        labels = [f"{_short(a)}–{_short(b)}" for a, b in zip(edges[:-1], edges[1:])]
    else:
        if col.kept is not None:
            cur = bucket(cur, col.kept)

        keys, ref_h, cur_h = align(col.counts, cur)
        labels = [str(k)[:40] for k in keys]
    ref_share, cur_share = ref_h / max(ref_h.sum(), 1), cur_h / max(cur_h.sum(), 1)
    return pd.DataFrame({"bin": labels * 2, "side": ["reference"] * len(labels) + ["current"] * len(labels),
                         "share": np.concatenate([ref_share, cur_share])})


def check_summary(check: DriftCheck) -> dict:
    """Returns a JSON-safe summary of a check: verdict, share, sides, the drift table's rows, model results."""
    r = check.result
    return _json_safe({
        "report_id": check.report_id, "verdict": r.verdict, "is_drifted": r.dataset_drift,
        "drifted_share": r.drift_share, "n_drifted": len(r.drifted), "n_compared": len(r.compared),
        "reference": check.reference_label, "current": check.current_label, "n_reference": r.n_reference,
        "n_current": r.n_current, "reference_cached": check.reference_cached, "options": r.options.to_dict(),
        "false_alarm_note": r.false_alarm_note, "notes": list(r.notes) + list(check.notes),
        "columns": r.table().astype(object).where(r.table().notna(), None).to_dict("records"),
        "model": check.model_label, "version_id": check.version_id, "model_quality": check.model_quality,
        "report_notes": list(check.report.notes) if check.report is not None else [],
        "report_error": check.report_error})


# -- saved reports ---------------------------------------------------------------------------------------------------
def current_user() -> str:
    """Names who runs the check: $WORKBENCH_USER, else the operating-system user."""
    try:
        return os.environ.get("WORKBENCH_USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def save_drift_report(ws: Workspace, check: DriftCheck, project_id: str | None, by: str | None = None) -> DriftReport:
    """Saves a check as a drift report, Evidently's HTML as an artifact, and returns it. Raises: PermissionDenied."""
    ws.require_editor()
    report_id = new_id("drf")
    html_ref = None
    if check.report is not None:
        html_ref = ws.write_artifact(report_id, "evidently_report.html", check.report.html.encode()).to_dict()
    r = check.result
    payload = {
        "schema": SCHEMA, "by": by or current_user(), "verdict": r.verdict, "is_drifted": r.dataset_drift,
        "drifted_share": r.drift_share, "reference": check.reference_label, "current": check.current_label,
        "reference_spec": check.reference.to_dict(), "current_spec": check.current.to_dict(),
        "options": r.options.to_dict(), "results": r.to_dict(), "version_id": check.version_id,
        "run_id": check.run_id, "model_label": check.model_label, "model_quality": check.model_quality,
        "html": html_ref, "report_notes": list(check.report.notes) if check.report is not None else [],
        "report_error": check.report_error, "notes": list(check.notes)}
    check.report_id = report_id
    return DriftReport.from_record(ws.put_record(KIND, report_id, _json_safe(payload), project_id=project_id))


def list_drift_reports(ws: Workspace, project_id: str | None) -> list[DriftReport]:
    """Lists a project's saved drift reports, newest first."""
    return [DriftReport.from_record(r) for r in ws.list_records(KIND, project_id=project_id)]


def reports_table(reports: list[DriftReport]) -> pd.DataFrame:
    """Returns saved reports as a table for display: when, who, verdict, drifted share, both sides, model."""
    return pd.DataFrame([{"when": r.created_at, "who": r.by, "drift": "yes" if r.is_drifted else "no",
                          "drifted share": r.drifted_share, "verdict": r.verdict, "reference": r.reference,
                          "current": r.current, "model": r.model_label or "—"} for r in reports],
                        columns=["when", "who", "drift", "drifted share", "verdict", "reference", "current", "model"])


def get_drift_report(ws: Workspace, report_id: str) -> DriftReport:
    """Returns a saved drift report. Raises: NotFound."""
    rec = ws.get_record(KIND, report_id)
    if rec is None:
        raise NotFound(f"No saved drift report {report_id!r}. It may have been deleted; run the check again.")
    return DriftReport.from_record(rec)


def report_html(ws: Workspace, report: DriftReport) -> str | None:
    """Returns the saved Evidently report's HTML (checksum verified), or None when none was built.

    Raises:
        ArtifactRejected: the file is missing or changed since it was saved.
    """
    ref = report.payload.get("html")
    return ws.read_artifact(ArtifactRef.from_dict(ref)).decode() if ref else None


def latest_drift_status(ws: Workspace, project_id: str) -> DriftReport | None:
    """Returns the project's newest drift report (its verdict, is_drifted and drifted_share), or None."""
    reports = list_drift_reports(ws, project_id)
    return reports[0] if reports else None


# -- helpers ---------------------------------------------------------------------------------------------------------


def _short(v: float) -> str:
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"


def _json_safe(value):
    """Replaces NaN and infinities (not valid JSON) with None, recursively."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


__all__ = ["KIND", "SOURCE_KINDS", "SourceSpec", "TimeWindow", "DriftCheck", "DriftReport", "date_columns",
           "time_windows", "describe_source", "load_source", "default_reference", "default_current",
           "compared_columns", "reference_summary", "run_check", "check_summary", "histogram_frame",
           "current_user", "save_drift_report", "list_drift_reports", "reports_table", "get_drift_report",
           "report_html", "latest_drift_status"]
