"""The model side of drift monitoring: prediction drift and quality on new data, drift over time, what-if shifts.

Public API (the Drift page and core.monitor.reports build on it):
- `ModelChoice(run_id, label, version_id=None)`; `model_choices(ws, project) -> [ModelChoice]`: registered
  versions first (records of kind "version", the champion on top), then the project's other working runs.
- `attach_model_results(ws, check, project, model, reference, current, options)`: prediction drift and, when the
  current rows carry labels, the model's primary metric there against its validation value and the project's
  threshold; returns both sides' predicted labels (for Evidently's quality preset).
- `check_over_time(ws, project, reference, dataset, time_column, freq="M", options=None, model=None)` ->
  `core.monitor.windows.OverTimeResult`; `window_strengths(result)`: per window and column how far past its threshold.
- `whatif_choices(ws, project, reference) -> WhatIfChoices`; `run_whatif(ws, project, reference, shifts, ...)`
  -> `WhatIfResult`: synthetic shifts on a copy of held-out rows from the reference's own data (simulated data).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.errors import NotFound, SchemaMismatch, SpecInvalid, unknown
from core.models.metrics import compute_metrics
from core.models.runs import get_run, list_runs, load_run_model
from core.models.workers import predict_scores
from core.monitor.checks import (
    DriftOptions,
    DriftResult,
    check_drift,
    check_prediction_drift,
    summarize_reference,
)
from core.monitor.sources import SourceSpec, describe_source, load_source
from core.monitor.summaries import compared_columns, reference_summary
from core.monitor.windows import OverTimeResult, apply_shift, drift_over_time
from core.project.criteria import metric_label
from core.registry.versions import get_version, list_versions, load_version_model
from core.split.splitting import get_split
from core.store.workspace import Workspace

PREDICTION = "model prediction"
WHATIF_STEPS = (0.0, 0.25, 0.5, 0.75, 1.0)
MAX_WHATIF_CATEGORIES = 50


@dataclass(frozen=True)
class ModelChoice:
    """A model whose predictions to check: a saved run, registered as a version or not."""

    run_id: str
    label: str
    version_id: str | None = None


@dataclass
class WhatIfChoices:
    """What a what-if can shift in the held-out rows: numeric columns, categories with their shares, the label."""

    numeric: dict[str, tuple[float, float]] = field(default_factory=dict)        # column -> (mean, std)
    categorical: dict[str, dict[str, float]] = field(default_factory=dict)       # column -> {category: share}
    label: str | None = None
    base_label: str = ""


@dataclass
class WhatIfResult:
    """Drift and model quality as synthetic shifts grow from nothing to full strength (simulated data)."""

    result: DriftResult                  # at full strength
    steps: pd.DataFrame                  # strength, drift_share, drifted, metric
    base_label: str
    metric_label: str | None = None
    metric_threshold: float | None = None
    notes: list[str] = field(default_factory=list)


def model_choices(ws: Workspace, project) -> list[ModelChoice]:
    """Lists the project's models that can score data: versions (champion first), then other working runs."""
    runs = {r.id: r for r in list_runs(ws, project.id) if r.is_ok and r.artifact is not None}
    out, seen = [], set()
    versions = sorted(list_versions(ws, project.id), key=lambda v: ("champion" not in v.aliases, -int(v.number or 0)))
    for v in versions:
        aliases = [a for a in v.aliases if a != "archived"]
        if "archived" in v.aliases or not v.artifact:
            continue
        label = f"Version {v.number}" + (f" ({', '.join(aliases)})" if aliases else "")
        out.append(ModelChoice(v.run_id, f"{label} · {v.model_label or v.model_key or 'model'}", v.id))
        seen.add(v.run_id)
    for run in runs.values():
        if run.id not in seen and not run.is_baseline:
            out.append(ModelChoice(run.id, f"Run {run.model_label} · {run.split_name} · {run.id[-6:]}"))
    return out


def find_model(ws: Workspace, project, ref: str) -> ModelChoice:
    """Finds a project's model by version number ("2", "v2"), alias ("champion"), version id or run id.

    Raises:
        NotFound: nothing matches, or the run belongs to another project or has no saved model.
    """
    raw = str(ref).strip()
    number = raw[1:] if raw[:1].lower() == "v" and raw[1:].isdigit() else raw
    choices = model_choices(ws, project)
    for v in list_versions(ws, project.id):
        if raw == v.id or number == str(v.number) or raw.lower() in v.aliases:
            found = [c for c in choices if c.version_id == v.id]
            if found:
                return found[0]
    found = [c for c in choices if c.run_id == raw]
    if found:
        return found[0]
    try:
        run = get_run(ws, raw)
    except NotFound:
        raise unknown("model version", raw, [c.version_id or c.run_id for c in choices], where=project.name) from None
    if run.project_id != project.id or run.artifact is None:
        raise NotFound(f"Run {raw!r} is not a working model of project {project.name!r}. Pick one of its versions.")
    return ModelChoice(run.id, f"Run {run.model_label} · {run.id[-6:]}")


# -- scoring ---------------------------------------------------------------------------------------------------------
@dataclass
class _Scorer:
    choice: ModelChoice
    pipeline: Any
    task: str
    features: list[str]
    positive_class: Any
    threshold: float
    expected: dict


def _load(ws: Workspace, model: ModelChoice) -> _Scorer:
    """Loads a version's frozen model (its own copy, threshold and metrics), or a run's."""
    if model.version_id is not None:
        v = get_version(ws, model.version_id)
        return _Scorer(model, load_version_model(ws, v), v.task, list(v.features), v.positive_class,
                       0.5 if v.threshold is None else float(v.threshold), dict(v.metrics))

    run = get_run(ws, model.run_id)
    return _Scorer(model, load_run_model(ws, run.id), run.task, list(run.features), run.positive_class,
                   0.5 if run.threshold is None else float(run.threshold), dict(run.validation_metrics))


def _predict(scorer: _Scorer, frame: pd.DataFrame, side: str) -> tuple[np.ndarray, np.ndarray | None, str | None]:
    """Returns (predicted labels, scores, score kind) with the run's own decision threshold."""
    missing = [c for c in scorer.features if c not in frame.columns]
    if missing:
        raise SchemaMismatch(f"The model {scorer.choice.label!r} reads column {missing[0]!r}, which the {side} set "
                             f"lacks ({len(missing)} missing). Choose data with the columns it was trained on.")

    pred, scores, kind = predict_scores(scorer.pipeline, frame[scorer.features], scorer.task, scorer.positive_class)
    if scorer.task == "binary":
        classes = np.asarray(scorer.pipeline.classes_)
        pos = int(np.flatnonzero(classes == scorer.positive_class)[0]) if scorer.positive_class in classes else 1
        pred = np.where(scores >= scorer.threshold, classes[pos], classes[1 - pos])
    return pred, scores, kind


def _prediction_series(scorer: _Scorer, pred, scores) -> tuple[pd.Series, str]:
    if scorer.task == "binary":
        return pd.Series(scores, name=PREDICTION, dtype=float), "numeric"
    if scorer.task == "regression":
        return pd.Series(pred, name=PREDICTION, dtype=float), "numeric"
    return pd.Series([str(p) for p in pred], name=PREDICTION, dtype=object), "categorical"


def _metric(project, scorer: _Scorer, frame: pd.DataFrame, side: str = "current") -> tuple[float | None, int]:
    """The project's primary metric of the model on the rows that carry a label, and how many rows that was."""
    target = project.target
    if not target or target not in frame.columns:
        return None, 0
    rows = frame[frame[target].notna()]
    if len(rows) == 0:
        return None, 0
    pred, scores, kind = _predict(scorer, rows, side)
    metrics = compute_metrics(scorer.task, rows[target].to_numpy(), pred, scores,
                              np.asarray(getattr(scorer.pipeline, "classes_", [])), scorer.positive_class,
                              has_probabilities=kind == "probability")
    value = metrics.get(project.criteria.primary_metric)
    return (float(value) if value is not None and np.isfinite(value) else None), len(rows)


def attach_model_results(ws: Workspace, check, project, model: ModelChoice, reference: pd.DataFrame,
                         current: pd.DataFrame, options: DriftOptions) -> tuple[np.ndarray, np.ndarray]:
    """Adds prediction drift and the model's quality on the current rows to a check; returns both sides' labels.

    Raises:
        SchemaMismatch: either side lacks a column the model reads.
        ArtifactRejected, NotFound: the model file is missing, changed or unknown.
    """
    scorer = _load(ws, model)
    ref_pred, ref_scores, _ = _predict(scorer, reference, "reference")
    cur_pred, cur_scores, _ = _predict(scorer, current, "current")
    ref_series, kind = _prediction_series(scorer, ref_pred, ref_scores)
    cur_series, _ = _prediction_series(scorer, cur_pred, cur_scores)
    check.result.prediction = check_prediction_drift(ref_series, cur_series, kind, options)
    check.model_label, check.version_id, check.run_id = model.label, model.version_id, model.run_id
    if project is not None:
        value, n = _metric(project, scorer, current)
        if value is not None:
            check.model_quality = _quality(project, scorer, value, n)
    return ref_pred, cur_pred


def _quality(project, scorer: _Scorer, value: float, n: int) -> dict:
    c = project.criteria
    meets = value >= c.threshold - 1e-12 if c.op == ">=" else value <= c.threshold + 1e-12
    return {"metric": c.primary_metric, "label": metric_label(c.primary_metric), "current": value,
            "expected": scorer.expected.get(c.primary_metric), "threshold": c.threshold, "op": c.op,
            "n_labelled": n, "meets": bool(meets)}


# -- over time -------------------------------------------------------------------------------------------------------
def check_over_time(ws: Workspace, project, reference: SourceSpec, dataset: str, time_column: str, freq: str = "M",
                    options: DriftOptions | None = None, model: ModelChoice | None = None,
                    columns: list[str] | None = None) -> OverTimeResult:
    """Checks each day / week / month of a dataset against the reference; with a model and labels, its metric too.

    Raises:
        SpecInvalid: an unknown window length, a column without dates, too many windows.
        SchemaMismatch: the dataset lacks reference columns (or the model's inputs).
    """
    kinds = {k: v for k, v in compared_columns(ws, reference, columns).items() if k != time_column}
    ref = load_source(ws, reference, list(kinds))
    cur = ws.frame(dataset)
    metric_fn, name, threshold, higher = None, "metric", None, True
    target = getattr(project, "target", None)
    if model is not None and target and target in cur.columns and cur[target].notna().any():
        scorer = _load(ws, model)
        c = project.criteria
        name, threshold, higher = metric_label(c.primary_metric), c.threshold, c.op == ">="

        def metric_fn(rows: pd.DataFrame) -> float:
            value, _ = _metric(project, scorer, rows)
            return float("nan") if value is None else value

    return drift_over_time(ref, cur, time_column, freq, kinds, options, metric_fn, name, threshold, higher)


def window_strengths(result: OverTimeResult) -> pd.DataFrame:
    """Returns per window and compared column how far its statistic is past its threshold (1 = at the threshold)."""
    rows = [{"start": w.start, "column": c.column, "strength": c.severity, "drift": bool(c.drift)}
            for w in result.windows if w.result is not None for c in w.result.compared]
    return pd.DataFrame(rows, columns=["start", "column", "strength", "drift"])


# -- what-if ---------------------------------------------------------------------------------------------------------
def _whatif_frames(ws: Workspace, reference: SourceSpec, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Returns (reference rows, held-out rows from the same data, what the held-out rows are)."""
    if reference.kind == "split":
        split = get_split(ws, reference.split_id or "")
        others = [p for p in ("validation", "test", "train") if p != reference.part and split.sizes.get(p)]
        if others:
            held = SourceSpec("split", reference.dataset_id, reference.split_id, others[0])
            return load_source(ws, reference), load_source(ws, held), describe_source(ws, held)
    frame = load_source(ws, reference)
    order = np.random.default_rng(seed).permutation(len(frame))
    half = len(frame) // 2
    return (frame.iloc[np.sort(order[:half])].reset_index(drop=True),
            frame.iloc[np.sort(order[half:])].reset_index(drop=True),
            f"a random half of {describe_source(ws, reference)} (the other half is the reference)")


def _source_rows(ws: Workspace, spec: SourceSpec) -> int:
    if spec.kind == "split":
        return int(get_split(ws, spec.split_id or "").sizes.get(spec.part, 0))
    return -1


def whatif_choices(ws: Workspace, project, reference: SourceSpec) -> WhatIfChoices:
    """Lists what a what-if can shift in the held-out rows, with their current means and shares."""
    info = ws.dataset(reference.dataset_id)
    _, held, label = _whatif_frames(ws, reference)
    out = WhatIfChoices(base_label=label)
    target = getattr(project, "target", None)
    for col in info.columns:
        values = held[col.name].dropna()
        if col.name == target or not len(values):
            continue
        if col.kind == "number":
            out.numeric[col.name] = (float(values.mean()), float(values.std(ddof=0)))
        elif col.kind in ("category", "boolean"):
            shares = values.astype(str).value_counts(normalize=True)
            if 2 <= len(shares) <= MAX_WHATIF_CATEGORIES:
                out.categorical[col.name] = {str(k): float(v) for k, v in shares.items()}
    if target and target in held.columns and 2 <= held[target].nunique() <= 50 and project.task != "regression":
        out.label = target
    return out


def run_whatif(ws: Workspace, project, reference: SourceSpec, shifts: list[dict], options: DriftOptions | None = None,
               model: ModelChoice | None = None, steps: tuple[float, ...] = WHATIF_STEPS,
               seed: int = 0) -> WhatIfResult:
    """Shifts a copy of held-out rows step by step (see `core.monitor.windows.apply_shift`) and checks each step.

    Strength 0 is the unshifted copy, 1 the full shift; a share shift moves from the rows' own share to the target.

    Raises:
        SpecInvalid: no shift, or a shift that cannot apply; NotFound: an unknown column.
    """
    if not shifts:
        raise SpecInvalid("No shift chosen. Move a slider to shift a column, then try again.")
    options = options or DriftOptions()
    kinds = compared_columns(ws, reference)
    ref, held, base_label = _whatif_frames(ws, reference, seed)
    # Held-out split rows compare with the saved reference itself (its summary is cached); a random half does not.
    summary = (reference_summary(ws, reference, kinds, options)[0] if len(ref) == _source_rows(ws, reference)
               else summarize_reference(ref, kinds, options))
    scorer = _load(ws, model) if model is not None else None
    rows, last = [], None
    for strength in steps:
        shifted = apply_shift(held, [_scaled(s, strength, held) for s in shifts], seed=seed)
        last = check_drift(summary, shifted, options=options)
        metric = _metric(project, scorer, shifted)[0] if scorer is not None and project is not None else None
        rows.append({"strength": strength, "drift_share": last.drift_share,
                     "drifted": ", ".join(c.column for c in last.drifted) or "none", "metric": metric})
    label = threshold = None
    if scorer is not None and project is not None:
        label, threshold = metric_label(project.criteria.primary_metric), project.criteria.threshold
    notes = [f"Simulated: the shifts are applied to a copy of {base_label}; no saved data changes."]
    return WhatIfResult(last, pd.DataFrame(rows), base_label, label, threshold, notes)


def _scaled(shift: dict, strength: float, frame: pd.DataFrame) -> dict:
    """The shift at a fraction of its full strength."""
    kind = shift.get("kind")
    if kind == "mean":
        return {**shift, "delta": float(shift.get("delta", 0.0)) * strength}
    if kind == "flip_labels":
        return {**shift, "fraction": float(shift.get("fraction", 0.0)) * strength}
    if kind == "share" and shift.get("column") in frame.columns:
        values = frame[shift["column"]].dropna().astype(str)
        start = float((values == str(shift.get("category"))).mean()) if len(values) else 0.0
        return {**shift, "share": start + (float(shift.get("share", start)) - start) * strength}
    return shift
