"""Drift checks on workspace data: both sides chosen from the workspace, cached reference summaries, saved reports.

Public API (the Drift page, the `workbench drift` command, Home and the dashboards build on it):
- `SourceSpec(kind, dataset_id, split_id=None, part="train", time_column=None, start=None, end=None)`: one side
  of a check, choices only. Kinds: "split" (one part of a saved split), "dataset" (a whole dataset, e.g. an
  uploaded batch) and "window" (rows of a dataset whose `time_column` lies in [start, end)).
- `default_reference(ws, project) -> (SourceSpec, why) | None` (the champion's training split, else the latest
  split's train part, else the project's dataset); `default_current(ws, project, reference) -> SourceSpec | None`.
- `describe_source(ws, spec) -> str`, `load_source(ws, spec, columns=None) -> DataFrame`, `date_columns(info)`,
  `time_windows(ws, dataset, time_column, freq="M") -> [TimeWindow]`.
- `run_check(ws, reference, current, options=None, *, project=None, columns=None, model=None, with_report=False,
  report_rows=REPORT_ROWS) -> DriftCheck`: our drift table (reference summary cached in the workspace), optional
  prediction drift and model quality (core.drift_monitor), and Evidently's report on a stated sample.
- `save_drift_report(ws, check, project_id, by=None) -> DriftReport`; `list_drift_reports(ws, project_id)`,
  `get_drift_report(ws, id)`, `report_html(ws, report) -> str | None`, `latest_drift_status(ws, project_id)`.

Record "drift_report" (schema 1, project_id = the project's id or None from the CLI without a project):
    verdict, is_drifted, drifted_share, reference, current (labels), reference_spec, current_spec (SourceSpec
    dicts), by, options (DriftOptions dict), results (DriftResult.to_dict()), version_id, run_id, model_label,
    model_quality ({metric, label, current, expected, threshold, op, n_labelled, meets} or None),
    html ({"path", "sha256"} of the Evidently report written with ws.write_artifact, or None), report_notes.
Record "drift_reference" (id "ref_<hash>"): a ReferenceSummary's meta, its counts in frame "drift_reference:<id>".
The id hashes the dataset's content hash, the split's content hash and part or the window, the compared columns
with their kinds and the category cap, so an unchanged reference is summarized once.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from core.drift import ColumnDrift, DriftOptions, DriftResult, check_drift, summarize_reference
from core.drift_summary import ReferenceSummary, bucket, column_counts
from core.errors import NotFound, SpecInvalid
from core.workspace import ArtifactRef, DatasetInfo, Workspace, new_id, quote_ident

KIND = "drift_report"
REFERENCE_KIND = "drift_reference"
SCHEMA = 1
SOURCE_KINDS = {"split": "Part of a saved split", "dataset": "A dataset or uploaded batch",
                "window": "A time window of a dataset"}
FREQ_SQL = {"D": "day", "W": "week", "M": "month"}
REPORT_ROWS = 5_000       # per side for Evidently's report on the page: ~10 s with its import on this hardware
HISTOGRAM_COLUMNS = 4
HISTOGRAM_BINS = 20
PREFERRED_CURRENT = "churn_next_month"


@dataclass(frozen=True)
class SourceSpec:
    """Where one side of a drift check comes from; building one checks nothing (`load_source` does)."""

    kind: str = "dataset"
    dataset_id: str = ""
    split_id: str | None = None
    part: str = "train"
    time_column: str | None = None
    start: str | None = None   # ISO date or timestamp, inclusive
    end: str | None = None     # exclusive

    def to_dict(self) -> dict:
        """Returns the choices as a JSON-safe dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "SourceSpec":
        """Builds a spec from `to_dict` output, ignoring unknown keys."""
        return cls(**{k: v for k, v in (data or {}).items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class TimeWindow:
    """One day, week or month of a dataset that holds rows."""

    start: pd.Timestamp
    end: pd.Timestamp
    rows: int
    label: str


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
    report: object | None = None           # core.drift_report.ReportResult
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


# -- sources -------------------------------------------------------------------------------------------------------------
def date_columns(info: DatasetInfo) -> list[str]:
    """Lists a dataset's date and timestamp columns."""
    return [c.name for c in info.columns if c.kind == "datetime"]


def time_windows(ws: Workspace, dataset: str, time_column: str, freq: str = "M") -> list[TimeWindow]:
    """Lists the day / week / month windows of a dataset that hold rows, oldest first.

    Raises:
        SpecInvalid: an unknown window length or a column without dates.
        NotFound: an unknown dataset or column.
    """
    if freq not in FREQ_SQL:
        raise SpecInvalid(f"Unknown window {freq!r}; use 'D' (day), 'W' (week) or 'M' (month).")
    info = ws.dataset(dataset)
    info.column(time_column)
    stamp = f"TRY_CAST({quote_ident(time_column)} AS TIMESTAMP)"
    # The unit is one of three fixed words, never user text.
    rows = ws.read_rows(f"SELECT date_trunc('{FREQ_SQL[freq]}', {stamp}) AS s, count(*) FROM "
                        f"{quote_ident(info.table)} WHERE {stamp} IS NOT NULL GROUP BY 1 ORDER BY 1")
    if not rows:
        raise SpecInvalid(f"Column {time_column!r} of {info.name!r} holds no dates, so it cannot be split into time "
                          "windows. Choose a date column.")
    step = {"D": pd.DateOffset(days=1), "W": pd.DateOffset(weeks=1), "M": pd.DateOffset(months=1)}[freq]
    out = []
    for start, n in rows:
        start = pd.Timestamp(start)
        label = {"D": f"{start:%Y-%m-%d}", "W": f"week of {start:%Y-%m-%d}", "M": f"{start:%Y-%m}"}[freq]
        out.append(TimeWindow(start, start + step, int(n), label))
    return out


def describe_source(ws: Workspace, spec: SourceSpec) -> str:
    """Returns a short readable name for one side of a check. Raises: NotFound."""
    info = ws.dataset(spec.dataset_id)
    if spec.kind == "split":
        from core.splitting import get_split

        return f"{info.name} · {spec.part} part of split {get_split(ws, spec.split_id).name!r}"
    if spec.kind == "window":
        return f"{info.name} · {spec.time_column} from {_day(spec.start)} to before {_day(spec.end)}"
    return info.name


def load_source(ws: Workspace, spec: SourceSpec, columns: list[str] | None = None) -> pd.DataFrame:
    """Returns the rows of one side of a check, in file order.

    Raises:
        SpecInvalid: an unknown kind, a missing split part or window bounds.
        NotFound: an unknown dataset, split or column.
    """
    if spec.kind not in SOURCE_KINDS:
        raise SpecInvalid(f"Unknown data source {spec.kind!r}; use one of: {', '.join(SOURCE_KINDS)}.")
    info = ws.dataset(spec.dataset_id)
    if spec.kind == "dataset":
        return ws.frame(info.id, columns)
    if spec.kind == "split":
        from core.splitting import get_split, split_frames

        split = get_split(ws, spec.split_id or "")
        if split.dataset_id != info.id:
            raise SpecInvalid(f"Split {split.name!r} belongs to another dataset than {info.name!r}. Pick it again.")
        return split_frames(ws, split, [spec.part], columns)[spec.part]
    if not spec.time_column or not spec.start or not spec.end:
        raise SpecInvalid("A time window needs a date column, a start and an end. Pick a window.")
    info.column(spec.time_column)
    names = list(columns) if columns is not None else info.column_names
    for n in names:
        info.column(n)
    stamp = f"TRY_CAST({quote_ident(spec.time_column)} AS TIMESTAMP)"
    sql = (f"SELECT {', '.join(quote_ident(n) for n in names)} FROM {quote_ident(info.table)} "
           f"WHERE {stamp} >= ? AND {stamp} < ? ORDER BY rowid")
    return ws.read_arrow(sql, [_stamp(spec.start), _stamp(spec.end)]).to_pandas()


def default_reference(ws: Workspace, project) -> tuple[SourceSpec, str] | None:
    """Returns the reference a check starts from and why: the champion's training split, else the latest split's."""
    from core.splitting import get_split, list_splits

    for version in ws.list_records("version", project_id=project.id):
        if "champion" not in (version.get("aliases") or []):
            continue
        run = ws.get_record("run", version.get("run_id") or "")
        try:
            split = get_split(ws, run["split_id"]) if run else None
        except NotFound:
            split = None
        if split is not None:
            return (SourceSpec("split", split.dataset_id, split.id, "train"),
                    f"the training rows of the champion (version {version.get('number', '?')})")
    splits = [s for s in list_splits(ws, project.id) if s.sizes.get("train")]
    if splits:
        return SourceSpec("split", splits[0].dataset_id, splits[0].id, "train"), "the latest split's training rows"
    try:
        ws.dataset(project.dataset_id)
    except NotFound:
        return None
    return SourceSpec("dataset", project.dataset_id), "the project's whole dataset (it has no split yet)"


def default_current(ws: Workspace, project, reference: SourceSpec | None) -> SourceSpec | None:
    """Returns the current set a check starts from: a newer dataset with the reference's columns, else a window."""
    if reference is None:
        return None
    try:
        ref_info = ws.dataset(reference.dataset_id)
    except NotFound:
        return None
    wanted = set(ref_info.column_names)
    same = [d for d in ws.datasets() if d.id != ref_info.id and wanted <= set(d.column_names)]
    if same:
        preferred = [d for d in same if d.name == PREFERRED_CURRENT]
        return SourceSpec("dataset", (preferred or same)[0].id)
    for column in date_columns(ref_info):
        windows = time_windows(ws, ref_info.id, column, "M")
        if len(windows) >= 2:
            last = windows[-1]
            return SourceSpec("window", ref_info.id, time_column=column, start=_iso(last.start), end=_iso(last.end))
    if reference.kind == "split":
        return SourceSpec("split", reference.dataset_id, reference.split_id, "test")
    return None


# -- the check -----------------------------------------------------------------------------------------------------------
def compared_columns(ws: Workspace, reference: SourceSpec, columns: list[str] | None = None) -> dict[str, str]:
    """Returns {column: kind} of the reference dataset (all columns, or the chosen ones). Raises: NotFound."""
    info = ws.dataset(reference.dataset_id)
    kinds = info.kinds()
    if not columns:
        return kinds
    for name in columns:
        info.column(name)
    return {name: kinds[name] for name in columns}


def reference_summary(ws: Workspace, reference: SourceSpec, columns: dict[str, str],
                      options: DriftOptions) -> tuple[ReferenceSummary, bool]:
    """Returns the reference's summary and whether it came from the workspace's cache (saved when new).

    Raises:
        SchemaMismatch, SpecInvalid, NotFound: as `load_source` and `summarize_reference`.
    """
    key = _reference_key(ws, reference, columns, options)
    rec = ws.get_record(REFERENCE_KIND, key)
    counts = ws.get_frame(f"{REFERENCE_KIND}:{key}") if rec is not None else None
    if rec is not None and counts is not None:
        counts = counts.sort_values("i", kind="stable").drop(columns="i").reset_index(drop=True)
        return ReferenceSummary.from_payload(rec["meta"], counts), True
    summary = summarize_reference(load_source(ws, reference, list(columns)), columns, options)
    if ws.is_editor:
        meta, counts = summary.to_payload()
        counts = counts.assign(i=np.arange(len(counts), dtype=np.int64),
                               label=counts["label"].astype(object).where(counts["label"].notna(), None))
        ws.put_frame(f"{REFERENCE_KIND}:{key}", counts)
        ws.put_record(REFERENCE_KIND, key, {"schema": SCHEMA, "meta": meta, "source": reference.to_dict()})
    return summary, False


def run_check(ws: Workspace, reference: SourceSpec, current: SourceSpec, options: DriftOptions | None = None, *,
              project=None, columns: list[str] | None = None, model=None, with_report: bool = False,
              report_rows: int = REPORT_ROWS) -> DriftCheck:
    """Compares the current set with the reference column by column; optionally the model's predictions too.

    `model` is a `core.drift_monitor.ModelChoice`; `with_report` also builds Evidently's report (slow: its import
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
        from core.drift_monitor import attach_model_results

        predictions = attach_model_results(ws, check, project, model, ref, cur, options)
    if with_report:
        _attach_report(check, ref, cur, project, predictions, report_rows)
    return check


def _attach_report(check: DriftCheck, ref: pd.DataFrame, cur: pd.DataFrame, project, predictions,
                   report_rows: int) -> None:
    """Builds Evidently's report; with a model and labels on both sides, its quality preset too."""
    from core.drift_report import ReportFailed, build_evidently_report

    kw = {}
    target = getattr(project, "target", None)
    if (predictions is not None and target and target in check.columns and target in cur.columns
            and cur[target].notna().any()):
        name = next(n for n in ("prediction", "model_prediction", "_prediction") if n not in check.columns)
        ref, cur = ref.assign(**{name: predictions[0]}), cur.assign(**{name: predictions[1]})
        task = "regression" if project.task == "regression" else "classification"
        kw = {"target": target, "prediction": name, "task": task,
              "positive_label": project.positive_class if project.task == "binary" else None}
    try:
        check.report = build_evidently_report(ref, cur, dict(check.columns), max_rows=report_rows, **kw)
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
        from core.drift_stats import align

        keys, ref_h, cur_h = align(col.counts, cur)
        labels = [str(k)[:40] for k in keys]
    ref_share, cur_share = ref_h / max(ref_h.sum(), 1), cur_h / max(cur_h.sum(), 1)
    return pd.DataFrame({"bin": labels * 2, "side": ["reference"] * len(labels) + ["current"] * len(labels),
                         "share": np.concatenate([ref_share, cur_share])})


# -- saved reports -------------------------------------------------------------------------------------------------------
def current_user() -> str:
    """Names who runs the check: $WORKBENCH_USER, else the operating-system user."""
    try:
        return os.environ.get("WORKBENCH_USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def save_drift_report(ws: Workspace, check: DriftCheck, project_id: str | None, by: str | None = None) -> DriftReport:
    """Saves a check as a drift report (with Evidently's HTML as an artifact) and returns it. Raises: PermissionDenied."""
    ws._require_editor()
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


# -- helpers -------------------------------------------------------------------------------------------------------------
def _reference_key(ws: Workspace, reference: SourceSpec, columns: dict[str, str], options: DriftOptions) -> str:
    info = ws.dataset(reference.dataset_id)
    parts = {"schema": SCHEMA, "dataset": info.content_hash, "kind": reference.kind,
             "columns": sorted(columns.items()), "max_categories": options.max_categories,
             "max_columns": options.max_columns}
    if reference.kind == "split":
        from core.splitting import get_split

        parts |= {"split": get_split(ws, reference.split_id or "").content_hash, "part": reference.part}
    elif reference.kind == "window":
        parts |= {"window": [reference.time_column, reference.start, reference.end]}
    return "ref_" + hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:32]


def _stamp(text: str) -> datetime:
    try:
        return pd.Timestamp(text).to_pydatetime()
    except (ValueError, TypeError):
        raise SpecInvalid(f"{text!r} is not a date. Write it as 2025-12-01.") from None


def _iso(ts: pd.Timestamp) -> str:
    return ts.isoformat()


def _day(text: str | None) -> str:
    if not text:
        return "?"
    ts = pd.Timestamp(text)
    return f"{ts:%Y-%m-%d}" if ts == ts.normalize() else f"{ts:%Y-%m-%d %H:%M}"


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
           "compared_columns", "reference_summary", "run_check", "histogram_frame",
           "current_user", "save_drift_report", "list_drift_reports", "get_drift_report", "report_html",
           "latest_drift_status"]
