"""Receipts and exact re-runs: what a model was trained from, and retraining from that.

- `build_receipt(ws, run) -> dict`: dataset hash, split spec and seed, model spec and parameters, library versions
  and metrics of a saved run (a version freezes its receipt at registration). `receipt_json(receipt) -> str`.
- `rerun(ws, receipt) -> RerunResult`: retrains the model on the same split rows through the same training code
  (core.models.training.compare, with the receipt's folds and seed) and reports, metric by metric, whether it matches
  exactly.
Projects as a declarative spec (export and run) live in core.share.spec.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from core.catalog import ModelSpec
from core.errors import NotFound, SpecInvalid
from core.models.folds import plan_for_split
from core.models.pipeline import library_versions
from core.models.training import compare
from core.project.projects import get_project
from core.split.spec import SplitSpec
from core.split.splitting import get_split, split_frames, split_project
from core.store.workspace import Workspace

RECEIPT_SCHEMA = 1


@dataclass(frozen=True)
class RerunResult:
    """How a re-run compares with its receipt: one row per metric, plus checks of data, split and libraries."""

    is_exact: bool
    metrics: list[dict]  # {"metric", "set", "original", "rerun", "matches"}
    notes: list[str] = field(default_factory=list)
    run: Any = None  # the re-trained core.models.leaderboard.RunResult

    def to_dict(self) -> dict:
        return {"is_exact": self.is_exact, "metrics": self.metrics, "notes": self.notes}


def build_receipt(ws: Workspace, run) -> dict:
    """Returns the receipt of a saved run: everything needed to train it again and check the result."""
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
        "features": _features_section(run),
        "cross_validation": dict(run.cv_scheme) or {"kind": "unrecorded", "folds": run.cv_folds, "column": None,
                                                    "description": "Saved before the CV scheme was recorded."},
        "libraries": dict(run.versions),
        "metrics": {"validation": dict(run.validation_metrics), "folds": [dict(f) for f in run.fold_metrics],
                    "threshold": 0.5 if run.task == "binary" else None},
        "threshold": run.threshold,
        "artifact_sha256": run.artifact.sha256 if run.artifact else None,
    }


def _features_section(run) -> dict:
    """Features used and left out, each with why, and any sensitive attribute used on purpose with its reason."""
    choice = dict(run.feature_choice or {})
    return {"used": list(choice.get("used") or run.features), "left_out": list(choice.get("left_out") or ()),
            "sensitive_used": list(choice.get("sensitive_used") or ()),
            "sensitive_reason": choice.get("sensitive_reason"), "chosen": choice.get("chosen", "unrecorded")}


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
    plan = plan_for_split(ws, split) if receipt.get("cross_validation", {}).get("kind") not in (None, "unrecorded") \
        else None  # a receipt from before CV followed the split was made with shuffled folds
    extra = [c for c in (plan.group_column, plan.time_column) if c and c not in columns] if plan else []
    frames = split_frames(ws, split, parts=("train", "validation"), columns=list(columns) + extra, with_row_id=True)
    result = compare(frames["train"], frames["validation"], project["target"], project["task"],
                     [ModelSpec(model["key"], model["params"])], columns, cv=int(model["cv_folds"]),
                     seed=int(model["seed"]), positive_class=project["positive_class"], n_jobs=n_jobs,
                     progress=progress, features=list(model["features"]), cv_plan=plan)
    run = next(r for r in result.runs if r.key == model["key"])
    if run.error:
        return RerunResult(False, [], [f"The re-run failed: {run.error}"], run)
    rows = _compare_metrics("validation", receipt["metrics"]["validation"], run.validation_metrics)
    for i, (old, new) in enumerate(zip(receipt["metrics"].get("folds") or [], run.fold_metrics), start=1):
        rows += _compare_metrics(f"CV fold {i}", {k: v for k, v in old.items() if k != "fold"},
                                 {k: v for k, v in new.items() if k != "fold"})
    now = library_versions()
    compute_keys = ("compute", "compute_workers", "dask", "distributed")
    changed = [f"{lib} {old} → {now.get(lib, 'missing')}" for lib, old in receipt.get("libraries", {}).items()
               if lib not in compute_keys and now.get(lib) != old]
    was, is_now = receipt.get("libraries", {}).get("compute", "local"), run.versions.get("compute", "local")
    notes.append(f"Trained on {_where(receipt.get('libraries', {}))}; re-run on {_where(run.versions)}"
                 + (" (a different backend)." if was != is_now else "."))
    if changed:
        notes.append("Library versions differ from the receipt's: " + ", ".join(changed) + ".")
    is_exact = bool(rows) and all(r["matches"] for r in rows)
    notes.append("Every metric matches exactly." if is_exact else
                 f"{sum(not r['matches'] for r in rows)} metric value(s) differ from the receipt.")
    return RerunResult(is_exact, rows, notes, run)


def _where(versions: dict) -> str:
    backend = versions.get("compute", "local")
    workers = versions.get("compute_workers")
    return backend + (f" with {workers} workers" if workers else "")


def _split_for(ws: Workspace, receipt: dict, dataset_id: str):
    want = receipt["split"]
    try:
        kept = get_split(ws, want["id"])
    except NotFound:
        kept = None
    if kept is not None and kept.content_hash == want["content_hash"]:
        return kept
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


