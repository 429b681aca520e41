"""Model cards and registry views: what a version is, how it did, and when it was live.

- `model_card_markdown(ws, version)` / `model_card_html(ws, version)`: intended use, data, metrics at the chosen
  threshold, fairness, limitations, the launch gate and its reigns as champion (HTML: every string escaped).
- `champion_timeline(ws, project_id)`, `compare_versions(ws, project_id, ids)`, `gate_status(version, entries)`:
  small frames and labels for the Registry page.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pandas as pd

from core.errors import WorkbenchError
from core.evaluate.fairness import fairness_report
from core.models.runs import get_run
from core.project.criteria import describe_criteria, format_class, metric_label
from core.project.projects import get_project
from core.release.gate import GateResult, version_predictions
from core.registry.versions import get_version, ledger, list_versions, registry_state
from core.store.workspace import Workspace


@dataclass(frozen=True)
class Section:
    title: str
    lines: list[str] = field(default_factory=list)  # plain text; rendered escaped
    table: list[dict] | None = None


def build_card(ws: Workspace, version) -> tuple[str, list[Section]]:
    """Returns the card's title and its sections, from the version, its project, run and gate."""
    version = get_version(ws, version) if isinstance(version, str) else version
    project = get_project(ws, version.project_id)
    run = get_run(ws, version.run_id)
    receipt = version.receipt
    aliases = ", ".join(registry_state(ws, project.id).aliases_of(version.id)) or "none"
    title = f"Model card: {project.name} {version.label} ({version.model_label})"
    sections = [Section("Summary", [
        f"Project: {project.name}. Version {version.number}, registered {version.registered_at[:16].replace('T', ' ')} "
        f"by {version.registered_by}. Aliases now: {aliases}.",
        f"Note: {version.note}" if version.note else "No note was written at registration.",
        f"Content hash {version.content_hash}; model file SHA-256 {version.artifact.sha256}.",
    ])]
    use = [project.problem or "No problem statement was written for this project.",
           project.users_and_decision or "Who uses the predictions, and for what decision, was not written down."]
    if version.task == "binary":
        use.append(f"It predicts whether {project.target!r} is {format_class(version.positive_class)!r}; rows scoring "
                   f"at or above {version.threshold:g} are flagged.")
    elif version.target:
        use.append(f"It predicts {project.target!r} ({version.task}).")
    sections.append(Section("Intended use", use + describe_criteria(project.criteria, project.task)))
    split = receipt.get("split", {})
    sizes = split.get("sizes", {})
    sections.append(Section("Data", [
        f"Dataset {receipt.get('dataset', {}).get('name', '?')!r}, {receipt.get('dataset', {}).get('rows', 0):,} rows, "
        f"content hash {version.dataset_hash[:16]}…",
        f"Split {split.get('name', '?')!r} ({split.get('spec', {}).get('strategy', '?')}, seed {split.get('seed')}): "
        f"train {sizes.get('train', 0):,}, validation {sizes.get('validation', 0):,}, test {sizes.get('test', 0):,} rows.",
        f"Model: {version.model_label} with " + (", ".join(f"{k}={v}" for k, v in run.params.items()) or "defaults")
        + f"; seed {run.seed}; {len(version.features)} input columns: {', '.join(version.features)}.",
    ]))
    sections.append(_features_section(receipt, run))
    test = (version.final_check or {}).get("metrics", {})
    rows = [{"metric": metric_label(k), "validation": _num(v), "test (final check)": _num(test.get(k)) if test else "—",
             "CV mean ± SD": _cv(version.cv_summary.get(k))} for k, v in version.metrics.items()]
    where = f" at threshold {version.threshold:g}" if version.threshold is not None else ""
    sections.append(Section("Metrics" + where, [
        "Validation rows chose the model; the test set is scored once, at the final check, and never used to choose."
        + ("" if test else " The final check has not run yet.")], rows))
    sections.append(_fairness_section(ws, version, project))
    sections.append(Section("Limitations", _limitations(version, run, project)))
    sections.append(_gate_section(version))
    reigns = champion_timeline(ws, project.id)
    reigns = reigns[reigns["version_id"] == version.id]
    sections.append(Section("Time as champion", [
        f"From {r.start:%Y-%m-%d %H:%M} to {r.end:%Y-%m-%d %H:%M} ({r.how} by {r.by})" for r in reigns.itertuples()]
        or ["It has not been champion."]))
    return title, sections


def _features_section(receipt: dict, run) -> Section:
    """Which columns the model reads and which it leaves out with why, any sensitive opt-in, and the CV it used."""
    chosen = receipt.get("features") or dict(run.feature_choice or {})
    lines = []
    if chosen.get("sensitive_used"):
        lines.append(f"Sensitive attribute(s) used as inputs on purpose: {', '.join(chosen['sensitive_used'])}. "
                     f"Reason given: {chosen.get('sensitive_reason') or 'none recorded'}")
    else:
        lines.append("No sensitive attribute of the project is an input.")
    cv = receipt.get("cross_validation") or dict(run.cv_scheme or {})
    if cv.get("description"):
        lines.append(f"Cross-validation: {cv['description']}")
    rows = [{"column": d.get("column", ""), "left out because": d.get("reason", "")}
            for d in chosen.get("left_out") or ()]
    if not chosen:
        lines.append("Saved before features were chosen and recorded: it reads every usable column.")
    return Section("Features", lines, rows or None)


def _num(v: Any) -> str:
    return "—" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.4f}"


def _cv(s: dict | None) -> str:
    return "—" if not s else f"{s.get('mean', float('nan')):.4f} ± {s.get('sd', float('nan')):.4f}"


def _fairness_section(ws: Workspace, version, project) -> Section:
    attrs = list(project.criteria.sensitive_attributes)
    if not attrs:
        return Section("Fairness", ["No sensitive columns are declared for this project, so fairness was not measured. "
                                    "Declare them on the Define page."])
    try:
        preds = version_predictions(ws, version)
        groups = ws.frame(version.dataset_id, columns=attrs, row_ids=preds["_row"].tolist(), with_row_id=True)
        data = preds.merge(groups, on="_row", how="left")
        task = "regression" if version.task == "regression" else "classification"
        scores = data["score"] if version.task == "binary" else data["y_pred"]
        report = fairness_report(data["y_true"], scores, data[attrs],
                                 positive_class=version.positive_class if version.task == "binary" else None,
                                 threshold=version.threshold or 0.5, tolerance=project.criteria.fairness_tolerance,
                                 task=task, intersections=False)
    except WorkbenchError as err:
        return Section("Fairness", [f"Fairness could not be measured: {err}"])
    rows = [{"column": r["attribute"], "measure": r["measure"].replace("_", " "), "value": _num(r["value"]),
             "95% interval": f"{_num(r['ci_low'])} to {_num(r['ci_high'])}", "limit": _num(r["limit"]),
             "verdict": r["verdict"]} for r in report.summary.to_dict("records")
            if r["outcome"] in (None, version.positive_class) or version.task != "binary"]
    return Section("Fairness (validation rows)", [report.description, *report.warnings], rows)


def _limitations(version, run, project) -> list[str]:
    out = list(run.warnings) + list(run.notes)
    if version.score_kind == "margin":
        out.append("Its scores are squashed decision values: they rank rows but are not probabilities.")
    if not version.final_check:
        out.append("It has not been checked on the untouched test set yet.")
    if run.train_rows and run.train_rows_total and run.train_rows < run.train_rows_total:
        out.append(f"It learned from a sample of {run.train_rows:,} of {run.train_rows_total:,} training rows.")
    out.append("It has only seen data like its training rows; new kinds of customers or changed behaviour lower its "
               "accuracy. Check drift on new data before relying on it.")
    return out


def _gate_section(version) -> Section:
    if not version.gate:
        return Section("Launch gate", ["The launch gate has not been run for this version."])
    gate = GateResult.from_dict(version.gate)
    verdict = "passed" if gate.passed else "failed"
    return Section("Launch gate", [f"Evaluated {gate.evaluated_at.replace('T', ' ')}: {verdict}."],
                   [{"check": c.label, "status": c.status, "evidence": c.evidence} for c in gate.checks])


# -- registry views (the page's badge, the timeline, the comparison) -------------------------------------------------------------------------------------------------------------
def gate_status(version, entries: list) -> str:
    """Returns 'not run', 'passed', 'overridden' (failed but promoted with a reason) or 'failed'."""
    if not version.gate:
        return "not run"
    if version.gate.get("passed"):
        return "passed"
    if any(e.override and e.version_id == version.id for e in entries):
        return "overridden"
    return "failed"


def champion_timeline(ws: Workspace, project_id: str, now: datetime | None = None) -> pd.DataFrame:
    """Returns one row per reign: version, start, end (now for the current champion), how it began."""
    rows = []

    for e in ledger(ws, project_id):
        if e.action not in ("promote", "rollback"):
            continue
        at = datetime.fromisoformat(e.at)
        if rows:
            rows[-1]["end"] = at
        rows.append({"version": f"v{e.version_number}", "version_id": e.version_id, "start": at, "end": None,
                     "how": e.action, "by": e.by})
    if rows:
        rows[-1]["end"] = now or datetime.now(timezone.utc).replace(tzinfo=None)
    return pd.DataFrame(rows, columns=["version", "version_id", "start", "end", "how", "by"])


def compare_versions(ws: Workspace, project_id: str, version_ids: list[str] | None = None) -> pd.DataFrame:
    """Returns the versions' validation metrics side by side: one row per metric, one column per version."""
    versions = sorted((v for v in list_versions(ws, project_id) if version_ids is None or v.id in version_ids),
                      key=lambda v: v.number)
    names = sorted({m for v in versions for m in v.metrics})
    data = {"metric": names}
    for v in versions:
        data[v.label] = [v.metrics.get(m) for m in names]
    return pd.DataFrame(data)


# -- rendering ---------------------------------------------------------------------------------------------------------
def _md(text: Any) -> str:
    out = str(text)
    for ch in "\\`*_[]<>|~$#":
        out = out.replace(ch, "\\" + ch)
    return " ".join(out.split())


def render_markdown(title: str, sections: list[Section]) -> str:
    """Returns the card as Markdown, with user text escaped so it shows literally."""
    parts = [f"# {_md(title)}", ""]
    for s in sections:
        parts += [f"## {_md(s.title)}", ""]
        parts += [f"- {_md(line)}" for line in s.lines]
        if s.table:
            cols = list(s.table[0])
            parts += ["", "| " + " | ".join(_md(c) for c in cols) + " |", "|" + "---|" * len(cols)]
            parts += ["| " + " | ".join(_md(r.get(c, "")) for c in cols) + " |" for r in s.table]
        parts.append("")
    return "\n".join(parts)


_CSS = ("body{font-family:system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem;color:#1f2933}"
        "table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #cbd2d9;padding:.3rem .6rem;"
        "text-align:left;vertical-align:top}th{background:#f0f4f8}")


def render_html(title: str, sections: list[Section]) -> str:
    """Returns the card as a standalone HTML page; every string passes through html.escape."""
    e = html.escape
    body = [f"<h1>{e(title)}</h1>"]
    for s in sections:
        body.append(f"<h2>{e(s.title)}</h2>")
        if s.lines:
            body.append("<ul>" + "".join(f"<li>{e(str(line))}</li>" for line in s.lines) + "</ul>")
        if s.table:
            cols = list(s.table[0])
            head = "".join(f"<th>{e(str(c))}</th>" for c in cols)
            rows = "".join("<tr>" + "".join(f"<td>{e(str(r.get(c, '')))}</td>" for c in cols) + "</tr>"
                           for r in s.table)
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{e(title)}</title>"
            f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>")


def model_card_markdown(ws: Workspace, version) -> str:
    """Returns a version's model card as Markdown."""
    return render_markdown(*build_card(ws, version))


def model_card_html(ws: Workspace, version) -> str:
    """Returns a version's model card as a standalone HTML page."""
    return render_html(*build_card(ws, version))
