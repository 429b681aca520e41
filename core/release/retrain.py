"""Retrain as one action: the champion's recipe on a new training window, judged on a fresh batch, then decided.

`retrain(ws, project, RetrainSpec(window="all" | "rolling" | "latest", ...), by)` takes the champion's receipt
(features, model and parameters, cross-validation folds, split strategy and seed), stacks the chosen batches into
one dataset (core.data.batches), splits and trains it, sets the decision threshold the way the project's criterion
asks (on validation, with a margin so the untouched test set still meets it), registers the challenger, and scores
champion and challenger on the SAME fresh holdout: the newest labelled batch, which neither model trained on. It
then saves a drift report of the holdout against the challenger's training rows, runs the launch gate
(core.release.gate, unchanged) and marks the new version as challenger. `decide_retrain(ws, retrain_id, decision,
by, reason)` records promote (through the gate), keep testing, or discard (archived), with the reason.

Record "retrain" (id "rtr_<12 hex>", project_id): spec, champion_version_id, challenger_version_id, run_id,
split_id, window_dataset_id, train_batches, holdout_batch, holdout (rows, both models' metrics, paired bootstrap
of the primary metric's gain), gate, notes, by, at, decision {action, by, reason, at} or None.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from core.catalog import ModelSpec
from core.data.batches import Batch, dataset_batches, list_batches, window_dataset
from core.errors import NotFound, SpecInvalid, WorkbenchError
from core.evaluate.classification import best_value_threshold, threshold_meeting, threshold_table
from core.models.runs import get_run, run_predictions, save_comparison, set_run_threshold
from core.models.training import compare
from core.monitor.reports import run_check, save_drift_report
from core.monitor.sources import SourceSpec
from core.project.criteria import metric_label, natural_op
from core.registry.versions import champion, get_version, load_version_model, registry_state
from core.release.actions import archive_version, promote, register_run, set_challenger
from core.release.gate import evaluate_gate, finite_metrics, metrics_at_threshold, paired_bootstrap, predict_frame
from core.split.spec import SplitSpec
from core.split.splitting import split_frames, split_project
from core.store.workspace import Workspace, new_id, now_utc

KIND = "retrain"
SCHEMA = 1
WINDOWS = {"all": "All batches up to now", "rolling": "A rolling window (the last N days)",
           "latest": "The latest N batches"}
DECISIONS = ("promote", "keep", "discard")
THRESHOLD_MARGIN = 0.03  # validation must beat the criterion by this much, so the test set still meets it
N_BOOT = 1000


@dataclass(frozen=True)
class RetrainSpec:
    window: str = "all"
    latest_n: int = 1
    rolling_days: int = 60
    holdout_batch: str | None = None  # id; default: the newest labelled batch

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict | None) -> "RetrainSpec":
        d = d or {}
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


@dataclass(frozen=True)
class RetrainPlan:
    champion_id: str
    train: tuple  # Batch
    holdout: Batch
    receipt: dict


@dataclass(frozen=True)
class Retrain:
    id: str
    project_id: str
    spec: RetrainSpec
    champion_version_id: str
    challenger_version_id: str
    train_batches: tuple
    holdout_batch: dict
    holdout: dict
    gate: dict
    notes: tuple = ()
    by: str = ""
    at: str = ""
    decision: dict | None = None
    run_id: str = ""
    split_id: str = ""
    window_dataset_id: str = ""

    @property
    def challenger_wins(self) -> bool:
        return bool(self.holdout.get("challenger_wins"))

    @property
    def gate_passed(self) -> bool:
        return bool(self.gate.get("passed"))

    @classmethod
    def from_record(cls, rec: dict) -> "Retrain":
        return cls(id=rec["id"], project_id=rec["project_id"], spec=RetrainSpec.from_dict(rec.get("spec")),
                   champion_version_id=rec["champion_version_id"], challenger_version_id=rec["challenger_version_id"],
                   train_batches=tuple(rec.get("train_batches") or ()), holdout_batch=dict(rec["holdout_batch"]),
                   holdout=dict(rec["holdout"]), gate=dict(rec.get("gate") or {}), notes=tuple(rec.get("notes") or ()),
                   by=rec.get("by", ""), at=rec.get("at", ""), decision=rec.get("decision"),
                   run_id=rec.get("run_id", ""), split_id=rec.get("split_id", ""),
                   window_dataset_id=rec.get("window_dataset_id", ""))


# -- planning ----------------------------------------------------------------------------------------------------------
def plan_retrain(ws: Workspace, project, spec: RetrainSpec) -> RetrainPlan:
    """Chooses the training batches and the fresh holdout. Raises: SpecInvalid (no champion, too few batches)."""
    if spec.window not in WINDOWS:
        raise SpecInvalid(f"{spec.window!r} is not a training window; choose {', '.join(WINDOWS)}.")
    current = champion(ws, project.id)
    if current is None:
        raise SpecInvalid("There is no champion to retrain. Promote a version on the Registry page first.")
    labelled = [b for b in list_batches(ws, project) if b.labelled]
    if spec.holdout_batch:
        holdout = next((b for b in labelled if b.id == spec.holdout_batch), None)
        if holdout is None:
            raise SpecInvalid(f"Batch {spec.holdout_batch!r} is not a labelled batch of {project.name!r}.")
    elif labelled:
        holdout = labelled[-1]
    else:
        holdout = None
    seen = set(dataset_batches(ws, project, current.dataset_id))
    if holdout is None or len(labelled) < 2:
        raise SpecInvalid("Retraining needs at least two labelled batches: one or more to train on and a newer one "
                          "to judge both models on. Append the next labelled batch first.")
    if holdout.id in seen:
        raise SpecInvalid(f"The champion {current.label} was trained on {holdout.name}, so it is not a fresh holdout. "
                          "Append a newer labelled batch first.")
    before = [b for b in labelled if b.seq < holdout.seq]
    if spec.window == "latest":
        n = int(spec.latest_n)
        if n < 1:
            raise SpecInvalid("The latest-N window needs N of at least 1.")
        train = before[-n:]
    elif spec.window == "rolling":
        days = int(spec.rolling_days)
        if days < 1:
            raise SpecInvalid("A rolling window needs at least 1 day.")
        start = date.fromisoformat(holdout.as_of) - timedelta(days=days)
        train = [b for b in before if b.as_of and date.fromisoformat(b.as_of) >= start]
    else:
        train = before
    if not train:
        raise SpecInvalid(f"No labelled batch falls in that window before the holdout ({holdout.name}). Widen it.")
    receipt = current.receipt or {}
    if not receipt.get("model"):
        raise SpecInvalid(f"{current.label} has no receipt, so its recipe cannot be repeated. Register it again.")
    return RetrainPlan(current.id, tuple(train), holdout, receipt)


# -- retraining --------------------------------------------------------------------------------------------------------
def retrain(ws: Workspace, project, spec: RetrainSpec, by: str, progress=None) -> Retrain:
    """Trains a challenger with the champion's recipe on the window, gates it on the fresh holdout and saves it.

    Raises: SpecInvalid, NotFound, ArtifactRejected, PermissionDenied.
    """
    ws.require_editor()
    say = progress or (lambda _f, _t: None)
    plan = plan_retrain(ws, project, spec)
    old = get_version(ws, plan.champion_id)
    receipt, model = plan.receipt, plan.receipt["model"]
    notes: list[str] = []
    say(0.05, "Stacking the training window…")
    window = window_dataset(ws, project, [b.id for b in plan.train])
    split_spec = SplitSpec.from_dict(receipt.get("split", {}).get("spec") or {"strategy": "stratified"})
    label = "Retrain · " + (f"batch {plan.train[0].seq}" if len(plan.train) == 1 else
                            f"batches {plan.train[0].seq}–{plan.train[-1].seq}")
    try:
        split = split_project(ws, project, split_spec, name=label, dataset_id=window.id,
                              batches=[b.id for b in plan.train])
    except WorkbenchError as err:  # a time split's dates, say, may not fit the new window
        fallback = SplitSpec("stratified" if project.task in ("binary", "multiclass") else "random",
                             ratios=split_spec.ratios, seed=split_spec.seed)
        notes.append(f"The champion's split ({split_spec.strategy}) does not fit the window ({err}); used a "
                     f"{fallback.strategy} split with the same shares and seed.")
        split = split_project(ws, project, fallback, name=label, dataset_id=window.id,
                              batches=[b.id for b in plan.train])
    features = list(model["features"])
    kinds = window.kinds()
    columns = {c: kinds[c] for c in [*features, project.target]}
    frames = split_frames(ws, split, parts=("train", "validation"), columns=list(columns), with_row_id=True)
    say(0.15, f"Training {model['label']} on {len(frames['train']):,} rows…")
    result = compare(frames["train"], frames["validation"], project.target, project.task,
                     [ModelSpec(model["key"], dict(model.get("params") or {}))], columns,
                     cv=int(model.get("cv_folds") or 0), seed=int(model.get("seed") or 0),
                     positive_class=project.positive_class, primary_metric=project.criteria.primary_metric,
                     progress=lambda f, t="": say(None if f is None else 0.15 + 0.5 * float(f), f"Training: {t}"))
    runs = [get_run(ws, r) for r in save_comparison(ws, project, split, result)]
    run = next((r for r in runs if r.model_key == model["key"]), runs[-1])  # the comparison adds a baseline
    run_id = run.id
    if not run.is_ok:
        raise SpecInvalid(f"The retrained {model['label']} failed: {run.error}")
    threshold_note = _choose_threshold(ws, project, run_id)
    if threshold_note:
        notes.append(threshold_note)
    say(0.7, "Registering the challenger…")
    window_text = ", ".join(b.name for b in plan.train)
    new = register_run(ws, run_id, note=f"Retrained on {window_text} with {old.label}'s recipe", by=by)
    say(0.75, f"Scoring both models on {plan.holdout.name}…")
    holdout = holdout_comparison(ws, project, old, new, plan.holdout)
    say(0.85, "Checking the holdout for drift against the challenger's training rows…")
    try:
        check = run_check(ws, SourceSpec("split", window.id, split.id, "train"),
                          SourceSpec("dataset", plan.holdout.dataset_id), project=project, columns=features)
        check.version_id, check.model_label = new.id, new.label
        save_drift_report(ws, check, project.id, by=by)
    except WorkbenchError as err:
        notes.append(f"No drift report for the challenger: {err}")
    say(0.9, "Running the launch gate…")
    gate = evaluate_gate(ws, new, old)
    set_challenger(ws, new.id, by=by, why=f"Retrained; judged on {plan.holdout.name}")
    rec_id = new_id("rtr")
    payload = {"schema": SCHEMA, "spec": spec.to_dict(), "champion_version_id": old.id, "challenger_version_id": new.id,
               "run_id": run_id, "split_id": split.id, "window_dataset_id": window.id,
               "train_batches": [b.to_dict() for b in plan.train], "holdout_batch": plan.holdout.to_dict(),
               "holdout": holdout, "gate": gate.to_dict(), "notes": notes, "by": by,
               "at": now_utc().isoformat(timespec="seconds"), "decision": None}
    say(1.0, "Challenger ready.")
    return Retrain.from_record(ws.put_record(KIND, rec_id, payload, project_id=project.id))


def _choose_threshold(ws: Workspace, project, run_id: str) -> str:
    """Sets the threshold meeting the primary criterion on validation with a margin, else the best-value one."""
    if project.task != "binary":
        return ""
    preds = run_predictions(ws, run_id)
    crit = project.criteria
    table = threshold_table(preds["y_true"], preds["score"], project.positive_class, costs=crit.costs)
    margin = THRESHOLD_MARGIN if crit.op == ">=" else -THRESHOLD_MARGIN
    # Among the thresholds meeting the criterion (and the guardrails, where any meets them), the most valuable one
    # under the project's value per decision: the gate compares the decisions' value with having no model.
    prefer = "value" if "value" in table.columns else None
    guarded = _meeting_guardrails(table, crit)
    row = threshold_meeting(guarded, crit.primary_metric, crit.op, crit.threshold + margin, prefer=prefer) \
        if len(guarded) else None
    if row is None:
        row = threshold_meeting(table, crit.primary_metric, crit.op, crit.threshold + margin, prefer=prefer)
    note = ""
    if row is None:
        row = threshold_meeting(table, crit.primary_metric, crit.op, crit.threshold)
        note = "No threshold met the criterion with a margin on validation; the one meeting it exactly was used."
    if row is None:
        row = best_value_threshold(table)
        note = "No threshold met the primary criterion on validation; the best-value threshold was used."
    if row is not None:
        set_run_threshold(ws, run_id, float(row["threshold"]))
    return note


def _meeting_guardrails(table, crit):
    """The threshold rows that meet every guardrail the table can measure."""
    keep = np.ones(len(table), dtype=bool)
    for g in crit.guardrails or []:
        if g.metric in table.columns:
            values = table[g.metric].to_numpy(dtype=float)
            keep &= values >= g.value if g.op == ">=" else values <= g.value
    return table.loc[keep].reset_index(drop=True)


def holdout_comparison(ws: Workspace, project, old, new, batch: Batch, n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """Scores both versions on the labelled rows of one batch; the primary metric's gain with a paired bootstrap."""
    rows = ws.frame(batch.dataset_id, columns=list(dict.fromkeys([*old.features, *new.features, project.target])))
    rows = rows[rows[project.target].notna()].reset_index(drop=True)
    if rows.empty:
        raise SpecInvalid(f"{batch.name} has no labelled rows to judge the models on.")
    y = rows[project.target].to_numpy() if project.task != "regression" else \
        pd.to_numeric(rows[project.target], errors="coerce").to_numpy(dtype=float)
    scored = {}
    for side, v in (("champion", old), ("challenger", new)):
        p = predict_frame(load_version_model(ws, v), v, rows)
        p["y_true"] = y
        scored[side] = p
    metrics = {side: finite_metrics(metrics_at_threshold(v, scored[side]))
               for side, v in (("champion", old), ("challenger", new))}
    metric = project.criteria.primary_metric
    shared = scored["challenger"].join(scored["champion"].drop(columns=["y_true"]), rsuffix="_old")
    shared["_row"] = np.arange(len(shared))
    point, low, high = paired_bootstrap(shared, new, old, metric, n_boot, seed)
    wins = math.isfinite(point) and point >= project.criteria.min_improvement - 1e-12 and low > 0
    return {"rows": len(rows), "batch": batch.name, "metric": metric, "metric_label": metric_label(metric),
            "champion": metrics["champion"], "challenger": metrics["challenger"],
            "gain": point, "ci": [low, high], "higher_is_better": natural_op(metric) == ">=",
            "min_improvement": project.criteria.min_improvement, "challenger_wins": bool(wins),
            "champion_label": old.label, "challenger_label": new.label,
            "sentence": (f"On {len(rows):,} rows of {batch.name}, which neither model saw: {metric_label(metric)} "
                         f"{_f(metrics['champion'].get(metric))} for {old.label} vs "
                         f"{_f(metrics['challenger'].get(metric))} for {new.label} (gain {point:+.3f}, 95% interval "
                         f"{low:+.3f} to {high:+.3f}).")}


def _f(x) -> str:
    return "not measured" if x is None or not math.isfinite(x) else f"{x:.3f}"


# -- deciding ----------------------------------------------------------------------------------------------------------
def decide_retrain(ws: Workspace, retrain_id: str, decision: str, by: str, reason: str = "",
                   override_reason: str | None = None) -> Retrain:
    """Records promote (through the launch gate), keep testing, or discard (archived), with the reason.

    Raises: SpecInvalid (unknown or repeated decision, failed gate without override), NotFound, RegistryConflict.
    """
    ws.require_editor()
    rec = ws.get_record(KIND, retrain_id)
    if rec is None:
        raise NotFound(f"There is no retrain {retrain_id!r}.")
    item = Retrain.from_record(rec)
    if decision not in DECISIONS:
        raise SpecInvalid(f"{decision!r} is not a decision; choose promote, keep or discard.")
    if item.decision and item.decision.get("action") in ("promote", "discard"):
        raise SpecInvalid(f"This retrain was already decided: {item.decision['action']} by {item.decision['by']}.")
    reason = " ".join(str(reason or "").split())[:1000]
    if decision != "promote" and not reason:
        raise SpecInvalid("Write why you keep testing or discard the challenger, so the ledger explains it.")
    by = " ".join(str(by or "").split())[:80]
    if decision == "promote":
        promote(ws, item.challenger_version_id, by=by, why=reason or item.holdout.get("sentence", ""),
                override_reason=override_reason)
    elif decision == "discard":
        state = registry_state(ws, item.project_id)
        if item.challenger_version_id not in state.archived:
            archive_version(ws, item.challenger_version_id, by=by, why=f"Retrain discarded: {reason}")
    payload = {k: v for k, v in rec.items() if k not in ("id", "kind", "project_id", "created_at", "updated_at")}
    payload["decision"] = {"action": decision, "by": by, "reason": reason, "override": override_reason or None,
                           "at": now_utc().isoformat(timespec="seconds")}
    return Retrain.from_record(ws.put_record(KIND, retrain_id, payload, project_id=item.project_id))


def list_retrains(ws: Workspace, project_id: str) -> list[Retrain]:
    """Lists a project's retrains, newest first."""
    return [Retrain.from_record(r) for r in ws.list_records(KIND, project_id=project_id)]


def pending_challenger(ws: Workspace, project_id: str) -> Retrain | None:
    """The newest retrain nobody has promoted or discarded yet, with its holdout result and gate, or None."""
    for r in list_retrains(ws, project_id):
        if not r.decision or r.decision.get("action") == "keep":
            return r
        return None
    return None


def window_for_drift(project_id: str, latest_n: int = 1) -> dict:
    """The query parameters the Drift page's "Retrain on the latest window" link passes to the Registry page."""
    return {"retrain": "1", "window": "latest", "n": str(int(latest_n))}
