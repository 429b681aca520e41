"""Builds the complete sample story a product manager can present without preparation.

The story, in order: month 1 (churn.csv, the 2025 history): five models are compared and the best one (validation
ROC-AUC), at a threshold chosen on validation to meet the launch rule, the guardrail and the fairness target with the
most value, passes the launch gate and becomes the first champion without an override; the February 2026 batch
drifts and monitoring raises alerts; once March's labelled batch is in, the champion's recipe is retrained on
February (the new regime) and both models are judged on March, which neither saw; the challenger wins there, a canary
rehearsal replaying March's real rows ships it, and it is promoted through the launch gate without an override.
Last, a separate and clearly labelled "what if" rehearsal injects a failure into a canary and shows the rollback.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from core.catalog import ModelSpec
from core.data.batches import append_batch, list_batches
from core.data.samples import SAMPLE_DIR
from core.errors import NotFound, SpecInvalid
from core.evaluate.classification import best_value_threshold, threshold_table
from core.evaluate.fairness import equal_opportunity_difference
from core.launch.rehearsal import default_pair, list_simulations, simulate_launch
from core.launch.replay import Contender, ReplaySource
from core.launch.sim import RolloutSpec
from core.models.folds import plan_for_split
from core.models.runs import (
    choose_project_features,
    latest_comparison,
    run_predictions,
    save_comparison,
    set_run_threshold,
)
from core.models.training import compare
from core.monitor.policy import list_monitor_runs, run_monitor
from core.monitor.reports import latest_drift_status, run_check, save_drift_report
from core.monitor.sources import SourceSpec
from core.profile.profiling import profile_dataset
from core.registry.versions import champion, get_version, list_versions
from core.release.actions import promote, register_run
from core.release.retrain import (
    THRESHOLD_MARGIN,
    RetrainSpec,
    decide_retrain,
    list_retrains,
    retrain,
)
from core.split.demo_seed import seed_demo_project
from core.split.splitting import list_splits, split_frames
from core.store.workspace import Workspace

DEMO_MODELS = ("dummy", "logreg", "tree", "rf", "xgb")
DEMO_BATCHES = (("churn_2026_02.csv", "2026-02", "2026-02-01"), ("churn_2026_03.csv", "2026-03", "2026-03-01"))
WHAT_IF_LABEL = "What if (injected failure on day 6, not real data)"
Progress = Callable[[float | None, str], None]  # (fraction done, or None to keep it; what is happening)


@dataclass
class DemoResult:
    project_id: str
    seconds: float
    steps: list[str] = field(default_factory=list)


def build_demo(ws: Workspace, progress: Progress | None = None, seed: int = 42) -> DemoResult:
    """Creates or completes the churn demo: project, split, trained models, the first champion (through the gate), a
    drift report on next month's batch, then the monitoring loop of `_loop`.

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
    split = list_splits(ws, project.id)[-1]  # the first split: later ones are retrains on stacked batches

    say(0.05, "Profiling the data…")
    for name in ("churn", "churn_next_month"):
        profile_dataset(ws, name)
    steps.append(f"Project {project.name!r} with split {split.name!r}")

    runs = [r for r in latest_comparison(ws, project.id, split_id=split.id) if not r.error]
    if len(runs) < 3:
        say(0.1, "Training five models (5-fold cross-validation)…")
        parts = split_frames(ws, split, parts=("train", "validation"), with_row_id=True)
        result = compare(parts["train"], parts["validation"], project.target, project.task,
                         [ModelSpec(k) for k in DEMO_MODELS], ws.dataset(project.dataset_id).kinds(), cv=5, seed=seed,
                         positive_class=project.positive_class, primary_metric=project.criteria.primary_metric,
                         progress=lambda f, t="": say(None if f is None else 0.1 + 0.5 * float(f), f"Training: {t}"),
                         features=choose_project_features(ws, project), cv_plan=plan_for_split(ws, split))
        save_comparison(ws, project, split, result)
        runs = [r for r in latest_comparison(ws, project.id, split_id=split.id) if not r.error]
    steps.append(f"{len(runs)} models trained")

    ranked = sorted((r for r in runs if not r.is_baseline),
                    key=lambda r: (r.validation_metrics or {}).get("roc_auc") or 0, reverse=True)
    say(0.65, "Registering the best model and promoting it through the launch gate…")
    if not list_versions(ws, project.id) and ranked:
        best = ranked[0]
        _choose_threshold(ws, project, best, split)
        first = register_run(ws, best.id, note="Best model of the comparison (validation ROC-AUC)", by="demo")
        try:
            promote(ws, first.id, by="demo", why="Initial launch: the best model of the comparison passed the gate")
        except SpecInvalid as err:
            # Only if a library change moved the numbers: launch anyway, and say so in the ledger and the steps.
            promote(ws, first.id, by="demo", why="Initial launch",
                    override_reason=f"Demo: the launch gate did not pass ({err}); launched to show the ledger")
            steps.append(f"The first champion needed an override: {err}")
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

    _loop(ws, project, say, steps, seed)
    say(1.0, "Demo ready.")
    return DemoResult(project.id, time.perf_counter() - started, steps)


def _loop(ws: Workspace, project, say: Progress, steps: list[str], seed: int) -> None:
    """Months 2 and 3: batches arrive, monitoring alerts, a retrained challenger is gated on March and shipped."""
    for i, (filename, label, as_of) in enumerate(DEMO_BATCHES):
        path = SAMPLE_DIR / filename
        if not path.is_file():
            steps.append(f"No {filename} in sample_data/, so the monitoring story stops here")
            return
        say(0.72 + 0.04 * i, f"Month {i + 2}: the {label} batch arrives; monitoring runs…")
        batch = append_batch(ws, project, path, label=label, by="demo", as_of=as_of).batch
        if not any(r.batch_id == batch.id for r in list_monitor_runs(ws, project.id)):
            run_monitor(ws, project, batch, by="demo")
    runs = list_monitor_runs(ws, project.id)
    steps.append(f"{len(list_batches(ws, project))} batches; {len(runs)} monitoring runs, "
                 f"{sum(len(r.alerts) for r in runs)} alerts")

    if not list_retrains(ws, project.id):
        say(0.8, "Retraining the champion's recipe on February (the new regime), judged on March…")
        retrain(ws, project, RetrainSpec(window="latest", latest_n=1), by="demo",
                progress=lambda f, t: say(None if f is None else 0.8 + 0.08 * float(f), t))
    item = list_retrains(ws, project.id)[0]
    steps.append(f"Retrained: {item.holdout.get('sentence', '')}")

    new = get_version(ws, item.challenger_version_id)
    old = get_version(ws, item.champion_version_id)
    shipped = [s for s in list_simulations(ws, project.id, "canary")
               if s.challenger.version_id == new.id and not s.spec.inject]
    if not shipped and item.decision is None:
        say(0.9, "Rehearsing the challenger's canary on March's real rows…")
        march = list_batches(ws, project)[-1]
        spec = RolloutSpec("canary", days=20, traffic_per_day=50_000, steps=(1, 5, 10, 25, 50, 100), step_days=2,
                           seed=seed)
        sim = simulate_launch(ws, project, _contender(old), _contender(new),
                              ReplaySource("dataset", dataset=march.dataset_id), spec)
        steps.append(f"Canary rehearsal on March's real rows: {sim.decision}")
    if item.decision is None:
        say(0.94, "Promoting the challenger through the launch gate…")
        decide_retrain(ws, item.id, "promote", by="demo",
                       reason="Beat the champion on March, which neither model saw; canary rehearsal shipped")
    current = champion(ws, project.id)
    steps.append(f"Champion now v{current.number}" if current else "No champion")

    if not any(s.spec.inject for s in list_simulations(ws, project.id)):
        say(0.97, "A separate what-if rehearsal: a canary with an injected failure…")
        champ, chall = default_pair(ws, project)
        spec = RolloutSpec("canary", days=20, traffic_per_day=50_000, steps=(1, 5, 10, 25, 50, 100), step_days=2,
                           inject={"kind": "degrade", "day": 6, "amount": 0.5}, seed=seed)
        simulate_launch(ws, project, champ, replace(chall, label=f"{WHAT_IF_LABEL} · {chall.label}"),
                        ReplaySource("test"), spec)
    what_if = next(s for s in list_simulations(ws, project.id) if s.spec.inject)
    steps.append(f"What-if canary with an injected failure (labelled as such): {what_if.decision}")


def _contender(version) -> Contender:
    return Contender(ref=version.id, run_id=version.run_id, label=f"{version.label} · {version.model_label}",
                     model_label=version.model_label, version_id=version.id, threshold=version.threshold)


def _choose_threshold(ws: Workspace, project, run, split) -> None:
    """Sets the run's threshold on validation as an analyst would, and as a retrain does (core.release.retrain): among
    the thresholds that meet the primary criterion with a margin (so the untouched test set still meets it), every
    guardrail and the fairness target the dashboard shows (the largest recall gap between groups of each sensitive
    column, within the project's tolerance), the one worth most under the project's value per decision. Each
    condition that no threshold can meet is dropped, fairness first, then the guardrails, then the margin."""
    if project.task != "binary":
        return
    preds = run_predictions(ws, run.id)
    crit = project.criteria
    table = threshold_table(preds["y_true"], preds["score"], run.positive_class, costs=crit.costs)
    thresholds = table["threshold"].to_numpy(dtype=float)
    guarded = np.ones(len(table), dtype=bool)
    for g in crit.guardrails or []:
        if g.metric in table.columns:
            values = table[g.metric].to_numpy(dtype=float)
            guarded &= values >= g.value if g.op == ">=" else values <= g.value
    attrs = list(crit.sensitive_attributes or [])
    groups = split_frames(ws, split, parts=("validation",), columns=attrs, with_row_id=True)["validation"] \
        if attrs else None
    if groups is not None:
        groups = preds[["_row"]].merge(groups, on="_row", how="left")
    negative = next(c for c in run.classes if c != run.positive_class)
    scores = preds["score"].to_numpy(dtype=float)

    def is_fair(threshold: float) -> bool:
        if groups is None:
            return True
        flagged = np.where(scores >= threshold, run.positive_class, negative)
        return all(equal_opportunity_difference(preds["y_true"], flagged, groups[a], run.positive_class)
                   <= crit.fairness_tolerance + 1e-12 for a in attrs)

    metric = table[crit.primary_metric].to_numpy(dtype=float)
    margin = THRESHOLD_MARGIN if crit.op == ">=" else -THRESHOLD_MARGIN

    def meets(needed: float) -> np.ndarray:
        return metric >= needed if crit.op == ">=" else metric <= needed

    value = table["value"].to_numpy(dtype=float) if "value" in table.columns else -thresholds
    chosen = None
    for mask, check_fairness in ((meets(crit.threshold + margin) & guarded, True),
                                 (meets(crit.threshold + margin) & guarded, False),
                                 (meets(crit.threshold + margin), False), (meets(crit.threshold), False)):
        # most valuable first; among equal values the higher threshold, which acts on fewer rows
        for i in sorted(np.flatnonzero(mask), key=lambda j: (-value[j], -thresholds[j])):
            if not check_fairness or is_fair(thresholds[i]):
                chosen = float(thresholds[i])
                break
        if chosen is not None:
            break
    if chosen is None:
        best = best_value_threshold(table)
        chosen = float(best["threshold"]) if best is not None else None
    if chosen is not None:
        set_run_threshold(ws, run.id, chosen)
