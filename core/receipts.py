"""Receipts and exact re-runs: what a model was trained from, retraining from that, and projects as a YAML spec.

- `build_receipt(ws, run) -> dict`: dataset hash, split spec and seed, model spec and parameters, library versions
  and metrics of a saved run (a version freezes its receipt at registration). `receipt_json(receipt) -> str`.
- `rerun(ws, receipt) -> RerunResult`: retrains the model on the same split rows through the same training code
  (core.training.compare, with the receipt's folds and seed) and reports, metric by metric, whether it matches
  exactly.
- `export_project(ws, project) -> dict` / `export_yaml(...) -> str`: a declarative spec (dataset, target, task,
  criteria, split spec, models); `run_spec(ws, spec, base_dir=None) -> dict` runs one headless end to end:
  ingest if needed, project, split, train, save the runs, register the best one.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import NotFound, SpecInvalid
from core.workspace import Workspace

RECEIPT_SCHEMA = 1
SPEC_SCHEMA = 1


@dataclass(frozen=True)
class RerunResult:
    """How a re-run compares with its receipt: one row per metric, plus checks of data, split and libraries."""

    is_exact: bool
    metrics: list[dict]  # {"metric", "set", "original", "rerun", "matches"}
    notes: list[str] = field(default_factory=list)
    run: Any = None  # the re-trained core.leaderboard.RunResult

    def to_dict(self) -> dict:
        return {"is_exact": self.is_exact, "metrics": self.metrics, "notes": self.notes}


def build_receipt(ws: Workspace, run) -> dict:
    """Returns the receipt of a saved run: everything needed to train it again and check the result."""
    from core.splitting import get_split

    split = get_split(ws, run.split_id)
    info = ws.dataset(run.dataset_id)
    return {
        "receipt": RECEIPT_SCHEMA, "run_id": run.id, "created_at": str(run.created_at or ""),
        "project": {"id": run.project_id, "name": run.project_name, "task": run.task, "target": run.target,
                    "positive_class": run.positive_class},
        "dataset": {"id": info.id, "name": info.name, "content_hash": info.content_hash, "rows": info.rows},
        "split": {"id": split.id, "name": split.name, "content_hash": split.content_hash, "spec": split.spec.to_dict(),
                  "seed": split.spec.seed, "sizes": split.sizes},
        "model": {"key": run.model_key, "label": run.model_label, "params": dict(run.params), "seed": run.seed,
                  "cv_folds": run.cv_folds, "features": list(run.features), "is_baseline": run.is_baseline},
        "libraries": dict(run.versions),
        "metrics": {"validation": dict(run.validation_metrics), "folds": [dict(f) for f in run.fold_metrics],
                    "threshold": 0.5 if run.task == "binary" else None},
        "threshold": run.threshold,
        "artifact_sha256": run.artifact.sha256 if run.artifact else None,
    }


def receipt_json(receipt: dict) -> str:
    """Returns a receipt as indented JSON text."""
    return json.dumps(receipt, indent=2, sort_keys=True, default=str)


def load_receipt(text: str | bytes) -> dict:
    """Parses receipt JSON. Raises: SpecInvalid."""
    try:
        data = json.loads(text)
    except (ValueError, TypeError) as err:
        raise SpecInvalid(f"The receipt is not valid JSON ({err}). Download it again from the Registry page.") from None
    if not isinstance(data, dict) or data.get("receipt") != RECEIPT_SCHEMA or "model" not in data:
        raise SpecInvalid("This file is not a workbench receipt. Download one from the Registry page or with "
                          "`workbench receipt VERSION`.")
    return data


# -- re-running --------------------------------------------------------------------------------------------------------
def rerun(ws: Workspace, receipt: dict, *, n_jobs: int | None = None, progress=None) -> RerunResult:
    """Retrains a receipt's model on the same split rows and compares every metric exactly. Raises: NotFound."""
    from core.catalog import ModelSpec
    from core.splitting import get_split, split_frames
    from core.training import compare, library_versions

    notes = []
    info = ws.dataset_by_hash(receipt["dataset"]["content_hash"])
    if info is None:
        raise NotFound(f"The dataset of this receipt ({receipt['dataset']['name']!r}, hash "
                       f"{receipt['dataset']['content_hash'][:12]}…) is not in this workspace. Load the same file "
                       "again, then re-run.")
    split = _split_for(ws, receipt, info.id)
    model = receipt["model"]
    project = receipt["project"]
    kinds = info.kinds()
    columns = {c: kinds[c] for c in model["features"]}
    columns[project["target"]] = kinds[project["target"]]
    frames = split_frames(ws, split, parts=("train", "validation"), columns=list(columns), with_row_id=True)
    result = compare(frames["train"], frames["validation"], project["target"], project["task"],
                     [ModelSpec(model["key"], model["params"])], columns, cv=int(model["cv_folds"]),
                     seed=int(model["seed"]), positive_class=project["positive_class"], n_jobs=n_jobs,
                     progress=progress)
    run = next(r for r in result.runs if r.key == model["key"])
    if run.error:
        return RerunResult(False, [], [f"The re-run failed: {run.error}"], run)
    rows = _compare_metrics("validation", receipt["metrics"]["validation"], run.validation_metrics)
    for i, (old, new) in enumerate(zip(receipt["metrics"].get("folds") or [], run.fold_metrics), start=1):
        rows += _compare_metrics(f"CV fold {i}", {k: v for k, v in old.items() if k != "fold"},
                                 {k: v for k, v in new.items() if k != "fold"})
    now = library_versions()
    changed = [f"{lib} {old} → {now.get(lib, 'missing')}" for lib, old in receipt.get("libraries", {}).items()
               if now.get(lib) != old]
    if changed:
        notes.append("Library versions differ from the receipt's: " + ", ".join(changed) + ".")
    is_exact = bool(rows) and all(r["matches"] for r in rows)
    notes.append("Every metric matches exactly." if is_exact else
                 f"{sum(not r['matches'] for r in rows)} metric value(s) differ from the receipt.")
    return RerunResult(is_exact, rows, notes, run)


def _split_for(ws: Workspace, receipt: dict, dataset_id: str):
    from core.projects import get_project
    from core.splitting import SplitSpec, get_split, split_project

    want = receipt["split"]
    rec = ws.get_record("split", want["id"])
    if rec is not None and rec.get("content_hash") == want["content_hash"]:
        return get_split(ws, want["id"])
    try:
        project = get_project(ws, receipt["project"]["id"])
    except NotFound:
        raise NotFound(f"The split {want['name']!r} of this receipt and its project are not in this workspace. Use "
                       "`workbench run` with an exported project spec instead.") from None
    split = split_project(ws, project, SplitSpec.from_dict(want["spec"]), name=f"{want['name']} (re-run)")
    if split.content_hash != want["content_hash"] or split.dataset_id != dataset_id:
        raise SpecInvalid(f"Re-creating split {want['name']!r} from its spec gave different rows, so the metrics "
                          "could not be compared. Re-run on the workspace where the receipt was made.")
    return split


def _compare_metrics(part: str, old: dict, new: dict) -> list[dict]:
    def same(a, b) -> bool:
        missing_a = a is None or (isinstance(a, float) and math.isnan(a))
        missing_b = b is None or (isinstance(b, float) and math.isnan(b))
        return (missing_a and missing_b) or (not missing_a and not missing_b and float(a) == float(b))

    return [{"metric": k, "set": part, "original": old.get(k), "rerun": new.get(k), "matches": same(old.get(k), new.get(k))}
            for k in sorted(set(old) | set(new))]


# -- project specs -----------------------------------------------------------------------------------------------------
def export_project(ws: Workspace, project_ref: str) -> dict:
    """Returns a project as a declarative spec: dataset, target, task, criteria, split spec and models.

    Raises: NotFound, SpecInvalid (no split or no trained models yet).
    """
    from core.projects import get_project
    from core.registry import champion
    from core.runs import get_run, latest_comparison, list_runs
    from core.splitting import get_split, list_splits

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
        "training": {"cv": runs[0].cv_folds, "seed": runs[0].seed},
        "models": [{"key": r.model_key, "params": dict(r.params)} for r in sorted(runs, key=lambda r: r.is_baseline)
                   if not r.is_baseline],
        "register": {"pick": "best", "metric": project.criteria.primary_metric},
    }


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
    return spec


def run_spec(ws: Workspace, spec: dict, base_dir: str | Path | None = None, *, by: str = "workbench run",
             n_jobs: int | None = None, progress=None) -> dict:
    """Runs a project spec headless: ingest if needed, project, split, train, register the best model.

    Raises: NotFound (no dataset), SpecInvalid, TargetNotUsable, CsvUnreadable.
    """
    from core.catalog import ModelSpec, metric_entry
    from core.criteria import SuccessCriteria
    from core.projects import create_project, list_projects
    from core.registry import register_run
    from core.runs import get_run, save_comparison
    from core.splitting import SplitSpec, split_frames, split_project
    from core.training import compare

    info, note = _dataset_for(ws, spec["dataset"], base_dir)
    p = spec["project"]
    taken = {x.name.lower() for x in list_projects(ws, include_archived=True)}
    name, i = p["name"], 2
    while name.lower() in taken:
        name, i = f"{p['name']} (run {i})", i + 1
    project = create_project(ws, name, info.id, p.get("target"), task=p.get("task"),
                             positive_class=p.get("positive_class"), problem=p.get("problem", ""),
                             users_and_decision=p.get("users_and_decision", ""),
                             criteria=SuccessCriteria.from_dict(p["criteria"]) if p.get("criteria") else None)
    split = split_project(ws, project, SplitSpec.from_dict(spec["split"]))
    training = spec.get("training") or {}
    frames = split_frames(ws, split, parts=("train", "validation"), with_row_id=True)
    metric = (spec.get("register") or {}).get("metric") or project.criteria.primary_metric
    result = compare(frames["train"], frames["validation"], project.target, project.task,
                     [ModelSpec.from_dict(m) for m in spec["models"]], info.kinds(), cv=int(training.get("cv", 5)),
                     seed=int(training.get("seed", 42)), positive_class=project.positive_class,
                     primary_metric=metric, n_jobs=n_jobs, progress=progress)
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
            "best_run_id": best.id, "version_id": version.id, "version": version.number}


def _dataset_for(ws: Workspace, want: dict, base_dir: str | Path | None):
    from core.errors import AlreadyLoaded
    from core.ingest import ingest_path

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
