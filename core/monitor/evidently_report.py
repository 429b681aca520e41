"""Evidently reports for display and export: explicit column definitions, stated samples, safe HTML embedding.

Evidently 0.7.23 API used (read from site-packages/evidently): `Dataset.from_pandas(df, data_definition=
DataDefinition(numerical_columns=..., categorical_columns=..., classification=[BinaryClassification(...)] |
regression=[Regression(...)]))`, `Report([DataDriftPreset(), ClassificationPreset()], include_tests=True)
.run(current, reference)` -> Snapshot with `.get_html_str(as_iframe=False)`, `.json()`. With include_tests each
`ValueDrift` carries a test whose status is FAIL when Evidently finds drift (metrics/column_statistics.py).

Its HTML (legacy/utils/dashboard.py `file_html_template`) puts the data in `<script>var metric_… = {json};</script>`
with json.dumps, which leaves `</script>` inside strings as it is: a column named `<script>…</script>` ends the data
block and runs as markup. So the data block is rewritten with `\\u003c` escapes, and the page shows the report only
inside a nested frame with `sandbox="allow-scripts"` (an opaque origin: no access to the app, its cookies or DOM).
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.errors import SpecInvalid, WorkbenchError
from core.monitor.checks import DriftOptions, summarize_reference
from core.monitor.reference import OTHER, check_present, check_rows, check_same_family

MAX_REPORT_ROWS = 20_000   # per side; Evidently takes ~7 s for 50k vs 50k rows x 20 columns
_DATA_BLOCK = re.compile(r"<script>\s*var (metric_[0-9a-f]+) = ")
_POSITIVE = ("1", "true", "yes", "y", "positive", "pos")


class ReportFailed(WorkbenchError):
    """Evidently could not build its report from data that passed our checks."""


@dataclass
class ReportResult:
    """An Evidently report: its HTML (data block escaped), whether it ran on a sample, and its own verdicts."""

    html: str
    sampled: bool
    n_ref: int
    n_cur: int
    evidently_summary: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def build_evidently_report(reference: pd.DataFrame, current: pd.DataFrame, columns: dict[str, str],
                           target: str | None = None, prediction: str | None = None, task: str | None = None,
                           max_rows: int = MAX_REPORT_ROWS, seed: int = 0,
                           positive_label: object | None = None) -> ReportResult:
    """Builds Evidently's drift report (plus classification/regression quality when labels and predictions exist).

    Raises:
        SchemaMismatch, SpecInvalid: the same input checks as the drift table.
        ReportFailed: Evidently failed on data that passed them.
    """
    ref, cur, definition, notes = _prepare(reference, current, columns, target, prediction, task, positive_label)
    sampled = len(ref) > max_rows or len(cur) > max_rows
    if sampled:
        n_ref0, n_cur0 = len(ref), len(cur)
        ref = ref.sample(min(max_rows, len(ref)), random_state=seed) if len(ref) > max_rows else ref
        cur = cur.sample(min(max_rows, len(cur)), random_state=seed + 1) if len(cur) > max_rows else cur
        notes.append(f"Evidently ran on a random sample: {len(ref):,} of {n_ref0:,} reference rows and "
                     f"{len(cur):,} of {n_cur0:,} current rows (seed {seed}); its verdicts can differ from the "
                     "table above, which uses every row.")
    snapshot = _run(ref, cur, definition, with_quality=task is not None and target is not None
                    and prediction is not None)
    try:
        report_html = snapshot.get_html_str(as_iframe=False)
    except Exception as err:  # Evidently's renderer: any failure is a failed report, not a crash
        raise ReportFailed(f"Evidently could not draw its report ({type(err).__name__}). The drift table is "
                           "unaffected; try fewer columns.") from err
    summary = summarize_snapshot(snapshot)
    return ReportResult(safe_download_html(report_html), sampled, len(ref), len(cur), summary, notes)


def evidently_column_verdicts(reference: pd.DataFrame, current: pd.DataFrame,
                              columns: dict[str, str]) -> dict[str, dict]:
    """Runs a plain DataDriftPreset and returns Evidently's own verdict per column: method, threshold, score, drift.

    Raises:
        SchemaMismatch, SpecInvalid: the same input checks as the drift table.
        ReportFailed: Evidently failed on data that passed them.
    """
    ref, cur, definition, _ = _prepare(reference, current, columns, None, None, None, None)
    return summarize_snapshot(_run(ref, cur, definition, with_quality=False))["columns"]


def sandboxed_html(report_html: str, height: int = 900) -> str:
    """Wraps a report in a page whose only content is a nested frame sandboxed to scripts without same-origin.

    The frame's document comes from `srcdoc` (escaped, so the report can never close the attribute), runs in an
    opaque origin and so cannot reach the embedding app; meant for `streamlit.components.v1.html(page, height)`.
    """
    body = html.escape(safe_download_html(report_html), quote=True)
    return (
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
        "<style>html,body{margin:0;padding:0;background:#fff}iframe{display:block;width:100%;border:0}</style>"
        "</head><body>"
        f"<iframe title=\"Evidently report\" sandbox=\"allow-scripts\" referrerpolicy=\"no-referrer\" "
        f"height=\"{int(height)}\" style=\"height:{int(height)}px\" srcdoc=\"{body}\"></iframe>"
        "</body></html>")


def safe_download_html(report_html: str) -> str:
    """Returns the report's own self-contained HTML with its data block escaped, so data cannot become markup."""
    match = _DATA_BLOCK.search(report_html)
    if match is None:
        return report_html
    start = match.end()
    # json.dumps never writes a raw newline, so the first newline-then-</script> closes the real data block.
    end = report_html.find("\n</script>", start)
    if end < 0:
        return report_html
    data = report_html[start:end].replace("<", "\\u003c").replace(">", "\\u003e")
    return report_html[:start] + data + report_html[end:]


def _prepare(reference: pd.DataFrame, current: pd.DataFrame, columns: dict[str, str], target: str | None,
             prediction: str | None, task: str | None, positive_label: object | None):
    """Validates both sides and returns frames typed for Evidently, its DataDefinition and notes."""
    if task not in (None, "classification", "regression"):
        raise SpecInvalid(f"Unknown task {task!r}; use 'classification' or 'regression'.")
    if (target is None) != (prediction is None) and task is not None:
        raise SpecInvalid("Quality metrics need both the label column and the prediction column, or neither.")
    label_kind = "numeric" if task == "regression" else "categorical"
    extra = {c: label_kind for c in (target, prediction) if c is not None and c not in columns}
    summary = summarize_reference(reference, {**columns, **extra}, DriftOptions())
    names = list(summary.columns)
    check_present(current, names, "current")
    check_rows(len(current), "current")
    numeric, categorical, notes, ref, cur = [], [], [], {}, {}
    for name, col in summary.columns.items():
        if col.excluded:
            notes.append(f"{name!r} left out of the report: {col.excluded}.")
            continue
        check_same_family(name, col.family, current[name])
        if col.kind == "numeric":
            numeric.append(name)
            ref[name] = reference[name].to_numpy(dtype=np.float64, na_value=np.nan)
            cur[name] = current[name].to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            categorical.append(name)
            ref[name], cur[name] = _as_labels(reference[name], col.kept), _as_labels(current[name], col.kept)
            if col.kept is not None:
                notes.append(f"{name!r}: {col.note}.")
    from evidently import (
        BinaryClassification,
        DataDefinition,
        MulticlassClassification,
        Regression,
    )

    kw = {}
    if task is not None and target is not None and prediction is not None:
        if task == "regression":
            kw["regression"] = [Regression(target=target, prediction=prediction)]
        else:
            labels = sorted(set(ref[target].dropna()) | set(ref[prediction].dropna()))
            if len(labels) <= 2:
                pos = str(positive_label) if positive_label is not None else _positive(labels)
                kw["classification"] = [BinaryClassification(target=target, prediction_labels=prediction,
                                                             pos_label=pos)]
            else:
                kw["classification"] = [MulticlassClassification(target=target, prediction_labels=prediction)]
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical, **kw)
    keep = numeric + categorical
    return (pd.DataFrame(ref, columns=keep), pd.DataFrame(cur, columns=keep), definition, notes)


def _as_labels(series: pd.Series, kept: tuple[str, ...] | None) -> pd.Series:
    """Writes categories as text the way the drift table does (1.0 -> '1'), bucketing rare ones, keeping NaN."""
    mask = series.notna().to_numpy()
    values = series[mask]
    if pd.api.types.is_float_dtype(series) and np.all(np.mod(values.to_numpy(), 1) == 0):
        values = values.astype(np.int64)
    labels = values.astype(str).to_numpy(dtype=object)
    if kept is not None:
        labels = np.where(np.isin(labels, np.asarray(kept, dtype=object)), labels, OTHER)
    result = np.full(len(series), np.nan, dtype=object)
    result[mask] = labels
    return pd.Series(result)


def _positive(labels: list[str]) -> str:
    for label in labels:
        if label.lower() in _POSITIVE:
            return label
    return labels[-1] if labels else "1"


def _run(ref: pd.DataFrame, cur: pd.DataFrame, definition, with_quality: bool):
    from evidently import Dataset, Report
    from evidently.presets import (
        ClassificationPreset,
        DataDriftPreset,
        RegressionPreset,
    )

    presets = [DataDriftPreset()]
    if with_quality:
        presets.append(RegressionPreset() if definition.regression else ClassificationPreset())
    try:
        return Report(presets, include_tests=True).run(
            Dataset.from_pandas(cur.reset_index(drop=True), data_definition=definition),
            Dataset.from_pandas(ref.reset_index(drop=True), data_definition=definition))
    except Exception as err:  # Evidently raises bare ValueError/KeyError from deep inside; say it plainly
        raise ReportFailed(f"Evidently could not compute its report: {str(err)[:200]}. The drift table is "
                           "unaffected; try fewer columns or check the label and prediction columns.") from err


def summarize_snapshot(snapshot) -> dict:
    """Extracts Evidently's own numbers: per column method, threshold, score and drift flag; other metric values."""
    data = json.loads(snapshot.json())
    failed = {t["metric_config"]["metric_id"]: t["status"] for t in data["tests"] if t.get("id") == "drift"}
    columns, metrics, drifted = {}, {}, None
    for m in data["metrics"]:
        config = m.get("config", {})
        kind = config.get("type", "")
        if kind.endswith(":ValueDrift"):
            columns[config["column"]] = {
                "method": config.get("method"), "threshold": config.get("threshold"), "score": m["value"],
                "drift": failed.get(m["id"]) == "FAIL"}
        elif kind.endswith(":DriftedColumnsCount"):
            drifted = m["value"]
        else:
            metrics[m["metric_name"]] = m["value"]
    return {"columns": columns, "drifted_columns": drifted, "metrics": metrics}
