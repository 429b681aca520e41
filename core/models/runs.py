"""Saved training runs: every model trained on a split, with its metrics, costs, fitted pipeline and predictions.

Public API (the Evaluate, Registry and Launch pages build on it):
- `save_run(ws, project, split, result, comparison_id=None) -> run_id` saves one `core.models.leaderboard.RunResult`;
  `save_comparison(ws, project, split, comparison) -> [run_id]` saves every run of a `ComparisonResult` under its id.
- `list_runs(ws, project_id, comparison_id=None, split_id=None) -> [Run]` (newest first), `get_run(ws, run_id) -> Run`,
  `latest_comparison(ws, project_id) -> [Run]` (the runs of the newest comparison, in training order).
- `load_run_model(ws, run_id)`: the fitted sklearn Pipeline, after checking the file's SHA-256 and its types against
  `core.store.artifacts`' allow-list (never unpickled). It exposes `classes_` (original labels), `feature_names_in_`,
  `predict`, `predict_proba` (when `score_kind == "probability"`) and `model[:-1].get_feature_names_out()`.
- `run_predictions(ws, run_id) -> DataFrame` (validation rows), `set_run_threshold(ws, run_id, t)`.

Record: kind "run", id "run_<12 hex>", project_id = the project's id. Payload (schema 1):
    schema            1
    comparison_id     "cmp_…": runs trained together share it
    project_name, dataset_id, target, task ("binary" | "multiclass" | "regression" | "clustering")
    positive_class    binary only (native type: True for the churn demo); None otherwise
    classes           class labels in the model's order (classification), else []
    split_id, split_name, split_hash   the split and its content hash (rows + assignments) when trained
    model_key, model_label, params (resolved hyperparameters), seed, is_baseline
    cv_folds          k of the k-fold CV on the train set (0 = none)
    fold_metrics      [{"fold": 1, "<metric>": value, …}, …] — same folds for every run of a comparison
    cv_summary        {"<metric>": {"mean": m, "sd": s}}   (SD over folds, ddof=1)
    validation_metrics, train_metrics   {"<metric>": value} (keys from core.catalog.METRICS, at threshold 0.5)
    fit_seconds, predict_ms_per_1k (a fixed batch of 1,000 rows resampled from validation), predict_ms_per_row,
    size_bytes, train_rows (after any stated sample), train_rows_total
    features          the input columns the pipeline reads, in order
    evidence          [{"column", "metric", "value"}]: single columns that alone reached ROC-AUC / R² >= 0.98 on
                      validation (why a "suspiciously perfect" warning names them)
    feature_choice    {"used", "left_out": [{"column", "reason"}], "sensitive_used", "sensitive_reason", "chosen"}
                      ({} for runs saved before features were chosen)
    cv_scheme         {"kind", "folds", "column", "description"}: the CV the folds followed (core.models.folds)
    versions          {"python", "sklearn", "xgboost", "numpy", "pandas", "skops"}
    artifact          {"path", "sha256"} from ws.write_artifact, or None when the model failed
    predictions_key   "run:<id>:val" — ws.get_frame key of the validation predictions, or None
    threshold         decision threshold on `score` for binary runs (default 0.5), else None
    score_kind        "probability" | "margin" (decision score squashed to 0–1: ranks, not probabilities) | None
    error             None, or the plain message of why this model failed
    warnings, notes   plain sentences (leaderboard warnings; stated samples and caps)
    tuning            None, or {"method", "trials", "seconds", "metric", "default_score", "best_score", "gain",
                      "best_params", "history": [{"trial", "params", "score"}]}
    total_seconds     all the model's work (CV folds + final fit, summed over workers)
    extras            {} — clustering runs: {"k_table": [{"k", "inertia", "silhouette"}], "best_k", "profiles": [...],
                      "descriptions": [...], "explained": [{"component", "variance_ratio", "cumulative"}]}
Validation predictions (`run_predictions`): `_row` (dataset row id), `y_true`, `y_pred`, then `score` (binary:
positive-class score) or `proba_<class>` per class (multiclass, columns in `classes` order); regression has no score.
Clustering runs store instead a sample of at most 5,000 training rows: `_row`, `y_pred` (group, 1-based), `x`, `y`
(the PCA map).

`train_and_save(ws, project, split, specs, ...)` and `cluster_and_save(ws, project, split, ...)` read the split,
train, and save in one call (the Train page runs them as background jobs; the CLI calls them directly).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from core.errors import ArtifactRejected, NotFound, SpecInvalid, WorkbenchError, unknown
from core.models.clustering import cluster, cluster_run, project_pca
from core.models.features import MODEL_KINDS, FeatureChoice, choose_features, leak_suspects
from core.models.folds import plan_for_split
from core.models.training import compare
from core.profile.profiling import profile_dataset
from core.split.splitting import split_frames
from core.store.artifacts import dump_model, load_model
from core.store.workspace import ArtifactRef, Workspace, new_id

KIND = "run"
SCHEMA = 1
MODEL_FILENAME = "model.wbm"


@dataclass(frozen=True)
class Run:
    """A saved run, read back from the workspace."""

    id: str
    project_id: str
    comparison_id: str | None
    split_id: str
    split_hash: str
    model_key: str
    model_label: str
    task: str
    params: dict
    seed: int
    target: str | None = None
    dataset_id: str = ""
    split_name: str = ""
    project_name: str = ""
    positive_class: Any = None
    classes: tuple = ()
    cv_folds: int = 0
    fold_metrics: tuple = ()
    cv_summary: dict = field(default_factory=dict)
    validation_metrics: dict = field(default_factory=dict)
    train_metrics: dict = field(default_factory=dict)
    fit_seconds: float | None = None
    predict_ms_per_1k: float | None = None
    size_bytes: int | None = None
    train_rows: int = 0
    train_rows_total: int = 0
    features: tuple = ()
    versions: dict = field(default_factory=dict)
    artifact: ArtifactRef | None = None
    predictions_key: str | None = None
    threshold: float | None = None
    score_kind: str | None = None
    error: str | None = None
    warnings: tuple = ()
    notes: tuple = ()
    tuning: dict | None = None
    is_baseline: bool = False
    total_seconds: float | None = None
    extras: dict = field(default_factory=dict)
    created_at: datetime | None = None
    predict_ms_per_row: float | None = None
    feature_choice: dict = field(default_factory=dict)
    cv_scheme: dict = field(default_factory=dict)
    evidence: tuple = ()

    @property
    def key(self) -> str:
        return self.model_key

    @property
    def label(self) -> str:
        return self.model_label

    @property
    def is_ok(self) -> bool:
        return self.error is None

    @classmethod
    def from_record(cls, rec: dict) -> "Run":
        art = rec.get("artifact")
        return cls(
            id=rec["id"], project_id=rec["project_id"], comparison_id=rec.get("comparison_id"),
            split_id=rec["split_id"], split_hash=rec.get("split_hash", ""), model_key=rec["model_key"],
            model_label=rec.get("model_label", rec["model_key"]), task=rec["task"], params=dict(rec.get("params") or {}),
            seed=int(rec.get("seed", 0)), target=rec.get("target"), dataset_id=rec.get("dataset_id", ""),
            split_name=rec.get("split_name", ""), project_name=rec.get("project_name", ""),
            positive_class=rec.get("positive_class"), classes=tuple(rec.get("classes") or ()),
            cv_folds=int(rec.get("cv_folds") or 0), fold_metrics=tuple(rec.get("fold_metrics") or ()),
            cv_summary=dict(rec.get("cv_summary") or {}), validation_metrics=dict(rec.get("validation_metrics") or {}),
            train_metrics=dict(rec.get("train_metrics") or {}), fit_seconds=rec.get("fit_seconds"),
            predict_ms_per_1k=rec.get("predict_ms_per_1k"), size_bytes=rec.get("size_bytes"),
            train_rows=int(rec.get("train_rows") or 0), train_rows_total=int(rec.get("train_rows_total") or 0),
            features=tuple(rec.get("features") or ()), versions=dict(rec.get("versions") or {}),
            artifact=ArtifactRef.from_dict(art) if art else None, predictions_key=rec.get("predictions_key"),
            threshold=rec.get("threshold"), score_kind=rec.get("score_kind"), error=rec.get("error"),
            warnings=tuple(rec.get("warnings") or ()), notes=tuple(rec.get("notes") or ()), tuning=rec.get("tuning"),
            is_baseline=bool(rec.get("is_baseline")), total_seconds=rec.get("total_seconds"),
            extras=dict(rec.get("extras") or {}), created_at=rec.get("created_at"),
            predict_ms_per_row=rec.get("predict_ms_per_row"), feature_choice=dict(rec.get("feature_choice") or {}),
            cv_scheme=dict(rec.get("cv_scheme") or {}), evidence=tuple(rec.get("evidence") or ()))


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _clean_metrics(metrics: dict) -> dict:
    return {str(k): _finite_or_none(float(v)) if isinstance(v, (int, float)) and not isinstance(v, bool) else v
            for k, v in (metrics or {}).items()}


def save_run(ws: Workspace, project, split, result, comparison_id: str | None = None) -> str:
    """Saves one trained model (its record, model file and validation predictions) and returns the run id.

    Raises: PermissionDenied (viewer).
    """
    ws.require_editor()
    run_id = new_id("run")
    artifact = None
    if result.error is None and result.pipeline is not None:
        data = result.model_bytes if result.model_bytes is not None else dump_model(result.pipeline)
        artifact = ws.write_artifact(run_id, MODEL_FILENAME, data).to_dict()
    predictions_key = None
    if result.predictions is not None and len(result.predictions):
        predictions_key = f"run:{run_id}:val"
        ws.put_frame(predictions_key, result.predictions.reset_index(drop=True))
    payload = {
        "schema": SCHEMA, "comparison_id": comparison_id, "project_name": project.name,
        "dataset_id": split.dataset_id, "target": project.target, "task": project.task,
        "positive_class": project.positive_class if project.task == "binary" else None,
        "classes": list(result.classes or ()), "split_id": split.id, "split_name": split.name,
        "split_hash": split.content_hash, "model_key": result.key, "model_label": result.label,
        "params": dict(result.params or {}), "seed": int(result.seed), "is_baseline": bool(result.is_baseline),
        "cv_folds": int(result.cv_folds), "fold_metrics": [_clean_metrics(f) for f in result.fold_metrics],
        "cv_summary": {k: _clean_metrics(v) for k, v in result.cv_summary.items()},
        "validation_metrics": _clean_metrics(result.validation_metrics),
        "train_metrics": _clean_metrics(result.train_metrics), "fit_seconds": result.fit_seconds,
        "predict_ms_per_1k": result.predict_ms_per_1k, "size_bytes": result.size_bytes,
        "train_rows": int(result.train_rows), "train_rows_total": int(result.train_rows_total),
        "features": list(result.features), "versions": dict(result.versions), "artifact": artifact,
        "predictions_key": predictions_key,
        "threshold": 0.5 if project.task == "binary" and result.error is None else None,
        "score_kind": result.score_kind, "error": result.error, "warnings": list(result.warnings),
        "notes": list(result.notes), "tuning": result.tuning, "total_seconds": result.total_seconds,
        "extras": dict(result.extras or {}),
        "predict_ms_per_row": getattr(result, "predict_ms_per_row", None),
        "feature_choice": dict(getattr(result, "feature_choice", None) or {}),
        "cv_scheme": dict(getattr(result, "cv_scheme", None) or {}),
        "evidence": list(getattr(result, "evidence", None) or ()),
    }
    ws.put_record(KIND, run_id, payload, project_id=project.id)
    return run_id


def save_comparison(ws: Workspace, project, split, comparison) -> list[str]:
    """Saves every run of a comparison under the comparison's id, in training order; returns the run ids."""
    return [save_run(ws, project, split, r, comparison_id=comparison.id) for r in comparison.runs]


def list_runs(ws: Workspace, project_id: str, comparison_id: str | None = None,
              split_id: str | None = None) -> list[Run]:
    """Lists a project's runs, newest first, optionally of one comparison or one split."""
    runs = [Run.from_record(r) for r in ws.list_records(KIND, project_id=project_id)]
    return [r for r in runs if (comparison_id is None or r.comparison_id == comparison_id)
            and (split_id is None or r.split_id == split_id)]


def latest_comparison(ws: Workspace, project_id: str, split_id: str | None = None) -> list[Run]:
    """Returns the runs of the project's newest comparison (optionally on one split), in training order."""
    runs = list_runs(ws, project_id, split_id=split_id)
    if not runs:
        return []
    newest = runs[0].comparison_id
    if newest is None:
        return [runs[0]]
    return list(reversed([r for r in runs if r.comparison_id == newest]))


def get_run(ws: Workspace, run_id: str) -> Run:
    """Returns a saved run by id. Raises: NotFound."""
    rec = ws.get_record(KIND, run_id)
    if rec is None:
        raise unknown("run", run_id, [r["id"] for r in ws.list_records(KIND)][:200])
    return Run.from_record(rec)


def load_run_model(ws: Workspace, run_id: str):
    """Loads a run's fitted pipeline after checking its checksum and its types. Raises: ArtifactRejected, NotFound."""
    run = get_run(ws, run_id)
    if run.artifact is None:
        raise ArtifactRejected(f"Run {run.model_label!r} has no saved model"
                               + (f" because it failed ({run.error})" if run.error else "")
                               + ". Train it again on the Train page.")
    return load_model(ws.read_artifact(run.artifact))


def run_predictions(ws: Workspace, run_id: str) -> pd.DataFrame:
    """Returns a run's validation predictions (_row, y_true, y_pred, score | proba_<class>). Raises: NotFound."""
    run = get_run(ws, run_id)
    df = ws.get_frame(run.predictions_key) if run.predictions_key else None
    if df is None:
        raise NotFound(f"Run {run.model_label!r} has no saved validation predictions"
                       + (" because it failed" if run.error else "") + ". Train it again on the Train page.")
    return df.sort_values("_row", kind="stable").reset_index(drop=True)


def set_run_threshold(ws: Workspace, run_id: str, threshold: float) -> Run:
    """Sets the decision threshold of a binary run (0 to 1). Raises: SpecInvalid, NotFound, PermissionDenied."""
    run = get_run(ws, run_id)
    if run.task != "binary":
        raise SpecInvalid(f"Run {run.model_label!r} is {run.task}; only a two-outcome model has a threshold.")
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        raise SpecInvalid(f"The threshold must be a number between 0 and 1, not {threshold!r}.") from None
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise SpecInvalid(f"The threshold must lie between 0 and 1, not {value:g}. Scores are on a 0–1 scale.")
    rec = ws.get_record(KIND, run_id)
    payload = {k: v for k, v in rec.items() if k not in ("id", "kind", "project_id", "created_at", "updated_at")}
    payload["threshold"] = value
    return Run.from_record(ws.put_record(KIND, run_id, payload, project_id=rec["project_id"]))


# -- train and save in one call (the page's background job, the CLI) ---------------------------------------------------
def _columns_and_frames(ws: Workspace, project, split, parts: tuple[str, ...]):
    if split.project_id != project.id:
        raise SpecInvalid(f"Split {split.name!r} belongs to another project. Choose one of {project.name!r}'s splits.")
    if (split.target or None) != (project.target or None):
        raise SpecInvalid(f"Split {split.name!r} was made when the target was {split.target!r}, but the project now "
                          f"predicts {project.target!r}. Create a new split on the Split page.")
    columns = ws.dataset(split.dataset_id).kinds()
    return columns, split_frames(ws, split, [p for p in parts if p in split.parts], with_row_id=True)


def choose_project_features(ws: Workspace, project, features=None, exclude=(),
                            sensitive_reason: str | None = None) -> FeatureChoice:
    """The features a project's models read: `features` / `exclude` as given, else every usable column minus the
    target, identifiers, the profile's leak suspects and the project's sensitive attributes.

    Raises: SpecInvalid (empty list, only the target, a sensitive attribute without a reason), NotFound (unknown
    column, with the nearest names).
    """
    info = ws.dataset(project.dataset_id)
    suspects = {}
    if features is None and project.target:
        try:
            suspects = leak_suspects(profile_dataset(ws, info.id, project.target))
        except WorkbenchError:
            suspects = {}  # a profile that cannot be made (an unusual target) flags nothing; the rest still applies
    return choose_features(info.kinds(), project.target, features, exclude,
                           list(project.criteria.sensitive_attributes or ()), sensitive_reason, suspects)


def feature_candidates(ws: Workspace, project) -> list[str]:
    """The columns a model could read (number, category, yes/no, date, text), the target left out, in file order."""
    return [c for c, k in ws.dataset(project.dataset_id).kinds().items() if k in MODEL_KINDS and c != project.target]


def train_and_save(ws: Workspace, project, split, specs, *, cv: int = 5, seed: int = 42, tune_trials: int = 0,
                   tune_seconds: float | None = None, tune_method: str = "random", n_jobs: int | None = None,
                   progress=None, cancel=None, features=None, exclude=(), sensitive_reason: str | None = None):
    """Compares models on the split's train rows, scores them on validation and saves every run.

    Cross-validation follows the split (core.models.folds); the features are `choose_project_features`.
    Returns (ComparisonResult, run ids). Raises: SpecInvalid, TargetNotUsable, NotFound, TrainingCancelled,
    PermissionDenied; nothing is saved when it raises.
    """
    ws.require_editor()
    columns, frames = _columns_and_frames(ws, project, split, ("train", "validation"))
    choice = choose_project_features(ws, project, features, exclude, sensitive_reason)
    result = compare(frames["train"], frames.get("validation"), project.target, project.task, specs, columns, cv=cv,
                     seed=seed, positive_class=project.positive_class,
                     primary_metric=project.criteria.primary_metric, tune_trials=tune_trials,
                     tune_seconds=tune_seconds, tune_method=tune_method, n_jobs=n_jobs, progress=progress,
                     cancel=cancel, features=choice, cv_plan=plan_for_split(ws, split))
    if progress:
        progress(1.0, "Saving the runs…")
    return result, save_comparison(ws, project, split, result)


def cluster_and_save(ws: Workspace, project, split, k_range=range(2, 9), seed: int = 42, progress=None, cancel=None):
    """Groups the split's train rows with k-means (k chosen by silhouette), maps them with PCA and saves the run.

    Returns (ClusterResult, PcaResult, run id). Raises: SpecInvalid, TrainingCancelled, PermissionDenied.
    """
    ws.require_editor()
    columns, frames = _columns_and_frames(ws, project, split, ("train",))
    train = frames["train"]
    result = cluster(train, columns, k_range, seed, progress=progress, cancel=cancel)
    pca = project_pca(train, columns, seed)
    run = cluster_run(result)
    sample = pca.points.attrs["rows"]  # the rows on the map (at most SAMPLE_ROWS, seeded)
    run.predictions = pd.DataFrame({"_row": train["_row"].to_numpy()[sample], "y_pred": result.labels[sample],
                                    "x": pca.points["x"].to_numpy(), "y": pca.points["y"].to_numpy()})
    run.extras = {"k_table": result.k_table.to_dict("records"), "best_k": result.best_k,
                  "profiles": result.profiles.to_dict("records"), "descriptions": list(result.descriptions),
                  "explained": pca.explained.to_dict("records"), "pca_notes": list(pca.notes)}
    return result, pca, save_run(ws, project, split, run, comparison_id=new_id("cmp"))
