"""Projects as a declarative YAML spec: export one, or run one headless from data to a registered model.

- `export_project(ws, project) -> dict` / `export_yaml(...) -> str`: dataset, target, task, criteria, split spec,
  training (cv, seed, features, and the reason when a sensitive attribute is one), models, and retrain (window kind
  all / rolling / latest N batches, holdout = the newest labelled batch, what the gate's verdict does: see
  core.release.retrain_policy); `load_spec(text) -> dict` checks one. `training.features` / `training.exclude` and
  `retrain` are optional (defaults: the project's default choice; the default retrain settings).
- `run_spec(ws, spec, base_dir=None) -> dict` runs one end to end: ingest if needed, project, split, train, save the
  runs, register the best one, save the retrain settings on the new project.
"""

from __future__ import annotations

from pathlib import Path

from core.catalog import ModelSpec, metric_entry
from core.data.ingest import ingest_path
from core.errors import AlreadyLoaded, NotFound, SpecInvalid
from core.models.features import choose_features
from core.models.folds import plan_for_split
from core.models.runs import choose_project_features, get_run, latest_comparison, list_runs, save_comparison
from core.models.training import compare
from core.project.criteria import SuccessCriteria
from core.project.projects import create_project, get_project, list_projects
from core.release.actions import register_run
from core.release.retrain_policy import RetrainPolicy, get_retrain_policy, save_retrain_policy
from core.registry.versions import champion
from core.split.spec import SplitSpec
from core.split.splitting import get_split, list_splits, split_frames, split_project
from core.store.workspace import Workspace

SPEC_SCHEMA = 1


def export_project(ws: Workspace, project_ref: str) -> dict:
    """Returns a project as a declarative spec: dataset, target, task, criteria, split spec and models.

    Raises: NotFound, SpecInvalid (no split or no trained models yet).
    """
    project = get_project(ws, project_ref)
    info = ws.dataset(project.dataset_id)
    best = champion(ws, project.id)
    runs = [r for r in list_runs(ws, project.id, comparison_id=get_run(ws, best.run_id).comparison_id)] if best \
        else latest_comparison(ws, project.id)
    runs = [r for r in runs if r.is_ok]
    if not runs:
        raise SpecInvalid(f"Project {project.name!r} has no trained models yet, so there is nothing to export. Train "
                          "models first.")
    split = get_split(ws, runs[0].split_id) if runs else (list_splits(ws, project.id) or [None])[0]
    return {
        "workbench_spec": SPEC_SCHEMA,
        "dataset": {"name": info.name, "content_hash": info.content_hash, "rows": info.rows,
                    "file": info.source_file or None},
        "project": {"name": project.name, "problem": project.problem, "users_and_decision": project.users_and_decision,
                    "target": project.target, "task": project.task, "positive_class": project.positive_class,
                    "criteria": project.criteria.to_dict()},
        "split": split.spec.to_dict(),
        "training": _training_section(runs[0]),
        "models": [{"key": r.model_key, "params": dict(r.params)} for r in sorted(runs, key=lambda r: r.is_baseline)
                   if not r.is_baseline],
        "register": {"pick": "best", "metric": project.criteria.primary_metric},
        "retrain": get_retrain_policy(ws, project.id).to_spec(),
    }


def _training_section(run) -> dict:
    out = {"cv": run.cv_folds, "seed": run.seed, "features": list(run.features)}
    chosen = run.feature_choice or {}
    if chosen.get("sensitive_used"):
        out["sensitive_reason"] = chosen.get("sensitive_reason")
    return out


def export_yaml(ws: Workspace, project_ref: str) -> str:
    """Returns the project's spec as YAML text."""
    import yaml

    return yaml.safe_dump(export_project(ws, project_ref), sort_keys=False, allow_unicode=True)


def load_spec(text: str) -> dict:
    """Parses a YAML project spec. Raises: SpecInvalid."""
    import yaml

    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise SpecInvalid(f"The spec is not valid YAML ({str(err).splitlines()[0]}). Export it again with "
                          "`workbench export PROJECT`.") from None
    if not isinstance(spec, dict) or spec.get("workbench_spec") != SPEC_SCHEMA:
        raise SpecInvalid("This file is not a workbench project spec (it lacks 'workbench_spec: 1'). Export one with "
                          "`workbench export PROJECT`.")
    for key in ("dataset", "project", "split", "models"):
        if not spec.get(key):
            raise SpecInvalid(f"The spec has no {key!r} section. Export it again with `workbench export PROJECT`.")
    RetrainPolicy.from_spec(spec.get("retrain"))
    return spec


def run_spec(ws: Workspace, spec: dict, base_dir: str | Path | None = None, *, by: str = "workbench run",
             n_jobs: int | None = None, progress=None) -> dict:
    """Runs a project spec headless: ingest if needed, project, split, train, register the best model.

    Raises: NotFound (no dataset), SpecInvalid, TargetNotUsable, CsvUnreadable.
    """
    info, note = _dataset_for(ws, spec["dataset"], base_dir)
    p = spec["project"]
    training = spec.get("training") or {}
    wanted = training.get("features")
    if wanted is not None and not isinstance(wanted, list):
        raise SpecInvalid("training.features in the spec must be a list of column names.")
    # A bad feature list or retrain section is refused before the project and split are made: nothing half-saved.
    retrain_policy = RetrainPolicy.from_spec(spec.get("retrain"))
    choose_features(info.kinds(), p.get("target"), wanted, training.get("exclude") or (),
                    list((p.get("criteria") or {}).get("sensitive_attributes") or ()), training.get("sensitive_reason"))
    taken = {x.name.lower() for x in list_projects(ws, include_archived=True)}
    name, i = p["name"], 2
    while name.lower() in taken:
        name, i = f"{p['name']} (run {i})", i + 1
    project = create_project(ws, name, info.id, p.get("target"), task=p.get("task"),
                             positive_class=p.get("positive_class"), problem=p.get("problem", ""),
                             users_and_decision=p.get("users_and_decision", ""),
                             criteria=SuccessCriteria.from_dict(p["criteria"]) if p.get("criteria") else None)
    save_retrain_policy(ws, project.id, retrain_policy)
    split = split_project(ws, project, SplitSpec.from_dict(spec["split"]))
    frames = split_frames(ws, split, parts=("train", "validation"), with_row_id=True)
    metric = (spec.get("register") or {}).get("metric") or project.criteria.primary_metric
    features = choose_project_features(ws, project, wanted, training.get("exclude") or (),
                                       training.get("sensitive_reason"))
    result = compare(frames["train"], frames["validation"], project.target, project.task,
                     [ModelSpec.from_dict(m) for m in spec["models"]], info.kinds(), cv=int(training.get("cv", 5)),
                     seed=int(training.get("seed", 42)), positive_class=project.positive_class,
                     primary_metric=metric, n_jobs=n_jobs, progress=progress, features=features,
                     cv_plan=plan_for_split(ws, split))
    run_ids = save_comparison(ws, project, split, result)
    runs = [get_run(ws, rid) for rid in run_ids]
    candidates = [r for r in runs if r.is_ok and not r.is_baseline and r.validation_metrics.get(metric) is not None]
    if not candidates:
        raise SpecInvalid(f"No model of the spec trained successfully with a {metric!r} score, so none was "
                          "registered. See the runs on the Train page.")
    higher = metric_entry(metric).higher_is_better
    best = (max if higher else min)(candidates, key=lambda r: r.validation_metrics[metric])
    version = register_run(ws, best.id, note=f"Best {metric} of a headless run of the spec", by=by)
    return {"project_id": project.id, "project": project.name, "dataset": info.name, "dataset_note": note,
            "split_id": split.id, "metric": metric,
            "runs": [{"run_id": r.id, "model": r.model_label, metric: r.validation_metrics.get(metric),
                      "error": r.error} for r in runs],
            "best_run_id": best.id, "version_id": version.id, "version": version.number,
            "retrain": retrain_policy.to_spec()}


def _dataset_for(ws: Workspace, want: dict, base_dir: str | Path | None):
    if want.get("content_hash"):
        found = ws.dataset_by_hash(want["content_hash"])
        if found is not None:
            return found, f"Used dataset {found.name!r} (same content)."
    if want.get("file"):
        path = Path(want["file"])
        if not path.is_absolute():
            path = Path(base_dir or ".") / path
        if path.is_file():
            try:
                result = ingest_path(ws, path, name=ws.unique_name(want.get("name") or path.name))
                info = result.dataset
            except AlreadyLoaded as err:
                info = ws.dataset(err.dataset_id)
            if want.get("content_hash") and info.content_hash != want["content_hash"]:
                return info, f"Loaded {path.name!r}; its content differs from the exported dataset's."
            return info, f"Loaded {path.name!r} as {info.name!r}."
    raise NotFound(f"The spec's dataset {want.get('name')!r} is not in this workspace and its file "
                   f"{want.get('file')!r} was not found. Put the file next to the spec, or load it first.")
