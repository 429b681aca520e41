"""Builds the complete sample story a product manager can present without preparation."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from core.catalog import ModelSpec
from core.errors import NotFound
from core.evaluate.classification import (
    best_value_threshold,
    threshold_meeting,
    threshold_table,
)
from core.launch.rehearsal import demo_simulation, latest_simulation
from core.models.folds import plan_for_split
from core.models.runs import (
    choose_project_features,
    latest_comparison,
    run_predictions,
    save_comparison,
    set_run_threshold,
)
from core.models.training import compare
from core.monitor.reports import latest_drift_status, run_check, save_drift_report
from core.monitor.sources import SourceSpec
from core.profile.profiling import profile_dataset
from core.release.actions import promote, register_run, set_challenger
from core.registry.versions import champion, list_versions
from core.split.demo_seed import seed_demo_project
from core.split.splitting import list_splits, split_frames
from core.store.workspace import Workspace

DEMO_MODELS = ("dummy", "logreg", "tree", "rf", "xgb")
Progress = Callable[[float | None, str], None]  # (fraction done, or None to keep it; what is happening)


@dataclass
class DemoResult:
    project_id: str
    seconds: float
    steps: list[str] = field(default_factory=list)


def build_demo(ws: Workspace, progress: Progress | None = None, seed: int = 42) -> DemoResult:
    """Creates or completes the churn demo: project, split, trained models, champion and challenger, a drift report on
    next month's batch, and a canary rehearsal that catches an injected degradation.

    Every step reuses what already exists, so running it twice adds nothing twice. Raises: WorkbenchError subclasses.
    """
    started = time.perf_counter()
    say = progress or (lambda _f, _t: None)
    steps: list[str] = []
    say(0.02, "Creating the churn project…")
    project = seed_demo_project(ws)
    if project is None:
        raise NotFound("The sample dataset 'churn' is not in the workspace, so the demo cannot be built. Run the "
                       "demo from a checkout of the project (its sample_data/ folder loads into a new workspace), or "
                       "delete the workspace folder and restart the app there.")
    split = list_splits(ws, project.id)[0]

    say(0.05, "Profiling the data…")
    for name in ("churn", "churn_next_month"):
        profile_dataset(ws, name)
    steps.append(f"Project {project.name!r} with split {split.name!r}")

    runs = [r for r in latest_comparison(ws, project.id) if not r.error]
    if len(runs) < 3:
        say(0.1, "Training five models (5-fold cross-validation)…")
        parts = split_frames(ws, split, parts=("train", "validation"), with_row_id=True)
        result = compare(parts["train"], parts["validation"], project.target, project.task,
                         [ModelSpec(k) for k in DEMO_MODELS], ws.dataset(project.dataset_id).kinds(), cv=5, seed=seed,
                         positive_class=project.positive_class, primary_metric=project.criteria.primary_metric,
                         progress=lambda f, t="": say(None if f is None else 0.1 + 0.5 * float(f), f"Training: {t}"),
                         features=choose_project_features(ws, project), cv_plan=plan_for_split(ws, split))
        save_comparison(ws, project, split, result)
        runs = [r for r in latest_comparison(ws, project.id) if not r.error]
    steps.append(f"{len(runs)} models trained")

    ranked = sorted((r for r in runs if not r.is_baseline),
                    key=lambda r: (r.validation_metrics or {}).get("roc_auc") or 0, reverse=True)
    say(0.65, "Registering a champion and a challenger…")
    if not list_versions(ws, project.id) and len(ranked) >= 2:
        for run in ranked[:2]:
            _choose_threshold(ws, project, run)
        second, best = register_run(ws, ranked[1].id, note="First model in production", by="demo"), None
        promote(ws, second.id, by="demo", why="Initial launch",
                override_reason="Demo: launched before the final check, to show the ledger")
        best = register_run(ws, ranked[0].id, note="Best model of the comparison", by="demo")
        set_challenger(ws, best.id, by="demo", why="Best cross-validated ROC-AUC; rehearse its launch first")
    current = champion(ws, project.id)
    steps.append(f"Champion v{current.number}" if current else "No champion")

    if latest_drift_status(ws, project.id) is None:
        say(0.75, "Checking next month's batch for drift…")
        reference = SourceSpec(kind="split", dataset_id=project.dataset_id, split_id=split.id, part="train")
        nxt = ws.dataset("churn_next_month")
        check = run_check(ws, reference, SourceSpec(kind="dataset", dataset_id=nxt.id), project=project,
                          with_report=True)
        save_drift_report(ws, check, project.id, by="demo")
    steps.append("Drift report on churn_next_month")

    if latest_simulation(ws, project.id) is None:
        say(0.9, "Rehearsing a canary launch with an injected degradation…")
        demo_simulation(ws, project, seed=seed)
    steps.append("Canary rehearsal")
    say(1.0, "Demo ready.")
    return DemoResult(project.id, time.perf_counter() - started, steps)


def _choose_threshold(ws: Workspace, project, run) -> None:
    """Sets the run's threshold where it meets the primary criterion with the best value, as an analyst would."""
    if project.task != "binary":
        return
    preds = run_predictions(ws, run.id)
    crit = project.criteria
    table = threshold_table(preds["y_true"], preds["score"], run.positive_class, costs=crit.costs)
    row = threshold_meeting(table, crit.primary_metric, crit.op, crit.threshold) or best_value_threshold(table)
    if row is not None:
        set_run_threshold(ws, run.id, float(row["threshold"]))
