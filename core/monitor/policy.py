"""Monitoring policy and runs: which checks run on each new batch, their thresholds, and the saved result.

Public API (`workbench monitor`, the Monitoring page and the dashboard build on it):
- `MonitorPolicy` (checks on/off, drift options, quality severities, schedule, notification channels) with
  `get_policy(ws, project_id)` (the default until one is saved) and `save_policy(ws, project_id, policy)`.
- `run_monitor(ws, project, batch=None, policy=None, by="") -> MonitorRun`: runs every enabled check on one batch
  (the newest when none is given) against the champion's training rows, and saves the run as ONE record, so a
  run killed at any point leaves a complete run or none. Checks: data drift (calibrated thresholds and
  Benjamini-Hochberg: the sound-statistics mode of core.monitor.checks), data quality (new problem or warning
  alerts of core.profile compared with batch 1), prediction drift (champion scores on the batch vs on its own
  validation rows), performance against the success criteria (labelled batches only) and fairness (the primary
  metric's gap between groups of each sensitive column, labelled batches only).
- `list_monitor_runs(ws, project_id)` newest first, `latest_monitor_run`, `monitor_timeline(ws, project_id)` (one
  row per run and check, for the timeline), `monitor_lock(home, wait)` (one monitor per workspace at a time).

Record "monitor_policy" (id "mpol_<project id>"), record "monitor_run" (id "mon_<12 hex>", project_id): schema,
batch_id, batch_seq, batch_label, version_id, version_label, status ("healthy" | "alert" | "error"), checks (key,
label, status "healthy" | "alert" | "not-run" | "error", evidence, details), alerts (id, check, title, evidence,
severity, batch_id, batch_label), started_at, finished_at, by, policy, request_id, ledger_seq (the registry ledger's
last entry when the run began, so the alert log knows which champion changes came after it).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core.data.batches import Batch, list_batches
from core.errors import SpecInvalid, WorkbenchError, WorkspaceLocked
from core.models.metrics import compute_metrics
from core.models.workers import predict_scores
from core.monitor.checks import DriftOptions, check_drift, check_prediction_drift
from core.profile.profiling import profile_dataset
from core.project.criteria import OP_SYMBOLS, evaluate_criteria, metric_label
from core.registry.versions import get_version, load_version_model, registry_state
from core.split.splitting import get_split, split_frames
from core.store.workspace import Workspace, new_id, now_utc

log = logging.getLogger(__name__)

POLICY = "monitor_policy"
RUN = "monitor_run"
SCHEMA = 1
HEALTHY, ALERT, NOT_RUN, ERROR = "healthy", "alert", "not-run", "error"
CHECKS = {"data_drift": "Data drift", "data_quality": "Data quality", "prediction_drift": "Prediction drift",
          "performance": "Performance vs success criteria", "fairness": "Fairness"}
MIN_GROUP = 30
_DRIFT_KINDS = {"number": "numeric", "category": "categorical", "boolean": "categorical"}


@dataclass(frozen=True)
class MonitorPolicy:
    checks: dict = field(default_factory=lambda: {k: True for k in CHECKS})
    alpha: float = 0.05           # false-alarm rate per column (calibrated thresholds) and for Benjamini-Hochberg
    drift_share: float = 0.3      # share of the model's inputs that must drift to raise a data-drift alert
    quality_severities: tuple = ("problem", "warning")
    schedule: str = "0 6 * * *"   # cron expression, for the README's cron line and systemd timer
    channels: tuple = ()          # dicts, see core.monitor.notify
    run_in_app: bool = False      # the app server also runs the checks on this schedule (core.monitor.schedule)

    def enabled(self, key: str) -> bool:
        return bool(self.checks.get(key, True))

    def drift_options(self) -> DriftOptions:
        return DriftOptions(calibrated=True, bh=True, alpha=self.alpha, drift_share=self.drift_share)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["quality_severities"], d["channels"] = list(self.quality_severities), [dict(c) for c in self.channels]
        return d

    @classmethod
    def from_dict(cls, d: dict | None) -> "MonitorPolicy":
        d = dict(d or {})
        base = cls()
        checks = {k: bool((d.get("checks") or {}).get(k, True)) for k in CHECKS}
        return cls(checks=checks, alpha=float(d.get("alpha", base.alpha)),
                   drift_share=float(d.get("drift_share", base.drift_share)),
                   quality_severities=tuple(d.get("quality_severities") or base.quality_severities),
                   schedule=str(d.get("schedule") or base.schedule), channels=tuple(d.get("channels") or ()),
                   run_in_app=bool(d.get("run_in_app", False)))


@dataclass(frozen=True)
class CheckResult:
    key: str
    label: str
    status: str
    evidence: str
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class MonitorRun:
    id: str
    project_id: str
    batch_id: str
    batch_seq: int
    batch_label: str
    version_id: str | None
    version_label: str
    status: str
    checks: tuple
    alerts: tuple
    started_at: str
    finished_at: str
    by: str = ""
    request_id: str | None = None  # the queued request (core.monitor.queue) or schedule slot it answers
    ledger_seq: int | None = None  # the registry ledger's last entry when the run began (None: saved before it was kept)

    @property
    def exit_code(self) -> int:
        return {HEALTHY: 0, ALERT: 1}.get(self.status, 2)

    def check(self, key: str) -> CheckResult | None:
        return next((c for c in self.checks if c.key == key), None)

    @classmethod
    def from_record(cls, rec: dict) -> "MonitorRun":
        return cls(id=rec["id"], project_id=rec["project_id"], batch_id=rec["batch_id"], batch_seq=int(rec["batch_seq"]),
                   batch_label=rec.get("batch_label", ""), version_id=rec.get("version_id"),
                   version_label=rec.get("version_label", ""), status=rec["status"],
                   checks=tuple(CheckResult(**c) for c in rec.get("checks") or ()),
                   alerts=tuple(rec.get("alerts") or ()), started_at=rec.get("started_at", ""),
                   finished_at=rec.get("finished_at", ""), by=rec.get("by", ""), request_id=rec.get("request_id"),
                   ledger_seq=rec.get("ledger_seq"))

    def to_dict(self) -> dict:
        return {"id": self.id, "project_id": self.project_id, "batch_id": self.batch_id, "batch_seq": self.batch_seq,
                "batch_label": self.batch_label, "version_id": self.version_id, "version_label": self.version_label,
                "status": self.status, "checks": [asdict(c) for c in self.checks], "alerts": list(self.alerts),
                "started_at": self.started_at, "finished_at": self.finished_at, "by": self.by,
                "request_id": self.request_id, "ledger_seq": self.ledger_seq}


# -- policy --------------------------------------------------------------------------------------------------------------
def get_policy(ws: Workspace, project_id: str) -> MonitorPolicy:
    """Returns the project's monitoring policy (the default when none is saved)."""
    rec = ws.get_record(POLICY, f"mpol_{project_id}")
    return MonitorPolicy.from_dict(rec.get("policy") if rec else None)


def save_policy(ws: Workspace, project_id: str, policy: MonitorPolicy) -> MonitorPolicy:
    """Saves the project's monitoring policy after checking it. Raises: SpecInvalid, PermissionDenied."""
    from core.monitor.notify import validate_channel

    if not 0 < policy.alpha < 0.5:
        raise SpecInvalid(f"The false-alarm rate must be between 0 and 0.5, not {policy.alpha:g}.")
    if not 0 < policy.drift_share <= 1:
        raise SpecInvalid(f"The share of drifted inputs must be above 0 and at most 1, not {policy.drift_share:g}.")
    from core.monitor.cron import parse_cron

    if len(policy.schedule.split()) != 5:
        raise SpecInvalid(f"{policy.schedule!r} is not a cron schedule; give five fields, e.g. '0 6 * * *' (06:00 daily).")
    parse_cron(policy.schedule)
    channels = tuple(validate_channel(c) for c in policy.channels)
    clean = MonitorPolicy(policy.checks, policy.alpha, policy.drift_share, policy.quality_severities, policy.schedule,
                          channels, bool(policy.run_in_app))
    ws.put_record(POLICY, f"mpol_{project_id}", {"schema": SCHEMA, "policy": clean.to_dict()}, project_id=project_id)
    return clean


# -- running -------------------------------------------------------------------------------------------------------------
def run_monitor(ws: Workspace, project, batch: Batch | None = None, policy: MonitorPolicy | None = None,
                by: str = "", request_id: str | None = None) -> MonitorRun:
    """Runs every enabled check on a batch and saves the run as one record. Raises: PermissionDenied."""
    ws.require_editor()
    policy = policy or get_policy(ws, project.id)
    batches = list_batches(ws, project)
    batch = batch or batches[-1]
    started = now_utc().isoformat(timespec="seconds")
    registry = registry_state(ws, project.id)  # its seq tells the alert log which promotions came after this run
    version = get_version(ws, registry.champion) if registry.champion else None
    ctx = _Context(ws, project, batch, batches[0], version, policy)
    checks = []
    for key, label in CHECKS.items():
        if not policy.enabled(key):
            checks.append(CheckResult(key, label, NOT_RUN, "Switched off in the monitoring policy."))
            continue
        t0 = time.perf_counter()
        try:
            status, evidence, details = _RUNNERS[key](ctx)
        except WorkbenchError as err:
            status, evidence, details = ERROR, str(err), {}
        except Exception as err:  # a broken check must not stop the others; it is logged and shown as an error
            log.exception("monitoring check %s failed", key)
            status, evidence, details = ERROR, f"The check failed unexpectedly ({type(err).__name__}: {err}).", {}
        checks.append(CheckResult(key, label, status, evidence, {**details, "seconds": round(time.perf_counter() - t0, 2)}))
    run_id = new_id("mon")
    alerts = [{"id": f"{run_id}:{c.key}", "check": c.key, "title": f"{c.label}: alert on {batch.name}",
               "evidence": c.evidence, "severity": "alert", "batch_id": batch.id, "batch_label": batch.label,
               "batch_seq": batch.seq, "at": started} for c in checks if c.status == ALERT]
    status = ERROR if any(c.status == ERROR for c in checks) else ALERT if alerts else HEALTHY
    run = MonitorRun(run_id, project.id, batch.id, batch.seq, batch.label, version.id if version else None,
                     version.label if version else "", status, tuple(checks), tuple(alerts), started,
                     now_utc().isoformat(timespec="seconds"), str(by or "")[:80], request_id, registry.seq)
    payload = {"schema": SCHEMA, **run.to_dict(), "policy": policy.to_dict()}
    for k in ("id", "project_id"):
        payload.pop(k)
    ws.put_record(RUN, run_id, payload, project_id=project.id)
    return run


def list_monitor_runs(ws: Workspace, project_id: str) -> list[MonitorRun]:
    """Lists a project's monitoring runs, newest first."""
    return [MonitorRun.from_record(r) for r in ws.list_records(RUN, project_id=project_id)]


def find_run_by_request(ws: Workspace, project_id: str, request_id: str) -> MonitorRun | None:
    """Returns the run that answered a queued request or schedule slot, or None when it never landed."""
    return next((r for r in list_monitor_runs(ws, project_id) if r.request_id == request_id), None)


def latest_monitor_run(ws: Workspace, project_id: str) -> MonitorRun | None:
    """Returns the newest monitoring run, or None: the project's current monitoring status."""
    runs = list_monitor_runs(ws, project_id)
    return runs[0] if runs else None


def monitor_timeline(ws: Workspace, project_id: str) -> pd.DataFrame:
    """One row per run and check, oldest run first: run, batch, check, status, evidence."""
    rows = [{"run": r.id, "at": r.started_at, "batch": r.batch_seq, "batch_label": r.batch_label,
             "model": r.version_label, "check": c.label, "key": c.key, "status": c.status, "evidence": c.evidence}
            for r in reversed(list_monitor_runs(ws, project_id)) for c in r.checks]
    return pd.DataFrame(rows, columns=["run", "at", "batch", "batch_label", "model", "check", "key", "status",
                                       "evidence"])


@contextmanager
def monitor_lock(home: str | Path, wait: float = 0.0) -> Iterator[None]:
    """Holds the workspace's monitor lock (a file lock, released by the OS if the process dies).

    Raises: WorkspaceLocked when another monitor run holds it for longer than `wait` seconds.
    """
    import fcntl

    path = Path(home) / "monitor.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a+")
    deadline = time.monotonic() + max(0.0, float(wait))
    try:
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WorkspaceLocked("The workspace is busy: another `workbench monitor` run is still going. "
                                          "Wait for it to finish, or pass --wait SECONDS to queue behind it.") from None
                time.sleep(0.2)
        yield
    finally:
        fh.close()


# -- the checks ------------------------------------------------------------------------------------------------------------
@dataclass
class _Context:
    ws: Workspace
    project: object
    batch: Batch
    first: Batch
    version: object
    policy: MonitorPolicy
    _frame: pd.DataFrame | None = None
    _model: object = None

    def frame(self) -> pd.DataFrame:
        if self._frame is None:
            self._frame = self.ws.frame(self.batch.dataset_id)
        return self._frame

    def labelled(self) -> pd.DataFrame:
        t = self.project.target
        df = self.frame()
        return df[df[t].notna()].reset_index(drop=True) if t and t in df else df.iloc[:0]

    def predict(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        v = self.version
        if self._model is None:
            self._model = load_version_model(self.ws, v)
        pred, scores, _ = predict_scores(self._model, df[list(v.features)], v.task, v.positive_class)
        if v.task == "binary":
            neg = next(c for c in v.classes if c != v.positive_class)
            pred = np.where(scores >= (0.5 if v.threshold is None else v.threshold), v.positive_class, neg)
        return pred, scores


def _drift(ctx: _Context):
    ws, v = ctx.ws, ctx.version
    if v is not None:
        split = get_split(ws, v.split_id)
        features = list(v.features)
        reference = split_frames(ws, split, parts=("train",), columns=features)["train"]
        where = f"the training rows of the champion ({v.label})"
    else:
        info = ws.dataset(ctx.first.dataset_id)
        features = [c.name for c in info.columns if c.name != ctx.project.target]
        reference, where = ws.frame(info.id, features), "batch 1"
    kinds = {c.name: _DRIFT_KINDS[c.kind] for c in ws.dataset(ctx.batch.dataset_id).columns
             if c.name in features and c.kind in _DRIFT_KINDS}
    result = check_drift(reference, ctx.frame(), kinds, ctx.policy.drift_options())
    drifted = [c.column for c in result.drifted]
    details = {"drifted": drifted, "drift_share": result.drift_share, "n_compared": len(result.compared),
               "reference": where, "n_reference": result.n_reference, "n_current": result.n_current,
               "method": "calibrated thresholds + Benjamini-Hochberg", "alpha": ctx.policy.alpha}
    evidence = f"{result.verdict} Compared with {where}; {result.false_alarm_note}"
    return (ALERT if result.dataset_drift else HEALTHY), evidence, details


def _quality(ctx: _Context):
    ws = ctx.ws
    wanted = set(ctx.policy.quality_severities)
    before = {(a["code"], tuple(a["columns"])) for a in profile_dataset(ws, ctx.first.dataset_id)["alerts"]}
    dates = {c.name for c in ws.dataset(ctx.batch.dataset_id).columns if c.kind == "datetime"}
    # a batch covers one period, so its date columns are expected to be (almost) constant
    now = [a for a in profile_dataset(ws, ctx.batch.dataset_id)["alerts"] if a["severity"] in wanted
           and not (a["code"] in ("constant", "almost_constant") and a["columns"] and set(a["columns"]) <= dates)]
    new = [a for a in now if (a["code"], tuple(a["columns"])) not in before]
    details = {"new_alerts": new[:20], "n_alerts": len(now)}
    if not new:
        return HEALTHY, f"No new data-quality problems compared with batch 1 ({len(now)} known alert(s) remain).", details
    shown = "; ".join(f"{a['label']} in {', '.join(a['columns']) or 'the table'}: {a['evidence']}" for a in new[:3])
    return ALERT, f"{len(new)} new data-quality alert(s) compared with batch 1: {shown}", details


def _prediction_drift(ctx: _Context):
    v = ctx.version
    if v is None:
        return NOT_RUN, "No champion yet, so there are no predictions to watch. Promote a version first.", {}
    ref = ctx.ws.get_frame(v.predictions_key) if v.predictions_key else None
    if ref is None:
        return NOT_RUN, f"{v.label} has no saved validation predictions to compare with.", {}
    pred, scores = ctx.predict(ctx.frame())
    if v.task == "binary":
        ref_s, cur_s, kind = ref["score"].astype(float), pd.Series(scores, dtype=float), "numeric"
    elif v.task == "regression":
        ref_s, cur_s, kind = ref["y_pred"].astype(float), pd.Series(pred, dtype=float), "numeric"
    else:
        ref_s, cur_s, kind = ref["y_pred"].astype(str), pd.Series(pred).astype(str), "categorical"
    ref_s.name = cur_s.name = "prediction"
    col = check_prediction_drift(ref_s, cur_s, kind, ctx.policy.drift_options())
    details = {"statistic": col.statistic, "threshold": col.threshold, "p_value": col.p_value, "method": col.method,
               "effect": col.effect, "reference_mean": float(np.mean(ref["score"])) if v.task == "binary" else None,
               "current_mean": float(np.mean(scores)) if v.task == "binary" else None}
    text = f"{v.label}'s predictions on this batch vs on its validation rows: {col.effect or 'no change'} ({col.method})."
    return (ALERT if col.drift else HEALTHY), text, details


def _performance(ctx: _Context):
    v, crit = ctx.version, ctx.project.criteria
    if v is None:
        return NOT_RUN, "No champion yet, so there is no live model to measure.", {}
    rows = ctx.labelled()
    if rows.empty:
        return NOT_RUN, f"{ctx.batch.name} has no labels yet; performance is checked when labels arrive.", {}
    metrics = _metrics(ctx, rows)
    checks = [c for c in evaluate_criteria(crit, metrics) if c.kind in ("primary", "guardrail")]
    failed = [c for c in checks if c.passed is False]
    parts = [f"{metric_label(c.metric)} {_fmt(c.actual)} (needs {OP_SYMBOLS.get(c.op, c.op)} {c.target:g})" for c in checks]
    details = {"metrics": {k: (None if v_ is None or not math.isfinite(v_) else float(v_)) for k, v_ in metrics.items()
                           if isinstance(v_, (int, float))}, "rows": len(rows), "failed": [c.metric for c in failed]}
    text = f"{v.label} on {len(rows):,} labelled rows of {ctx.batch.name}: " + "; ".join(parts) + "."
    return (ALERT if failed else HEALTHY), text, details


def _fairness(ctx: _Context):
    v, crit = ctx.version, ctx.project.criteria
    if not crit.sensitive_attributes:
        return NOT_RUN, "No sensitive columns are declared for this project (Define page).", {}
    if v is None:
        return NOT_RUN, "No champion yet, so there is no live model to check.", {}
    rows = ctx.labelled()
    if rows.empty:
        return NOT_RUN, f"{ctx.batch.name} has no labels yet; fairness is checked when labels arrive.", {}
    pred, scores = ctx.predict(rows)
    worst = None
    groups_out = []
    for attr in crit.sensitive_attributes:
        if attr not in rows:
            continue
        values = {}
        for g, idx in rows.groupby(rows[attr].astype(str)).groups.items():
            if len(idx) < MIN_GROUP:
                continue
            m = _metrics(ctx, rows.loc[idx], pred[np.asarray(idx)], None if scores is None else scores[np.asarray(idx)])
            value = m.get(crit.primary_metric)
            if value is not None and math.isfinite(value):
                values[str(g)] = float(value)
        if len(values) >= 2:
            lo, hi = min(values, key=values.get), max(values, key=values.get)
            gap = values[hi] - values[lo]
            groups_out.append({"attribute": attr, "gap": gap, "lowest": lo, "highest": hi, "values": values})
            if worst is None or gap > worst["gap"]:
                worst = groups_out[-1]
    if worst is None:
        return NOT_RUN, f"Too few labelled rows per group (fewer than {MIN_GROUP}) to judge fairness.", {}
    text = (f"Largest {metric_label(crit.primary_metric)} gap {worst['gap']:.3f} across {worst['attribute']!r} "
            f"({worst['lowest']} {worst['values'][worst['lowest']]:.3f} vs {worst['highest']} "
            f"{worst['values'][worst['highest']]:.3f}; tolerance {crit.fairness_tolerance:g}).")
    return (ALERT if worst["gap"] > crit.fairness_tolerance + 1e-12 else HEALTHY), text, {"groups": groups_out}


def _metrics(ctx: _Context, rows: pd.DataFrame, pred=None, scores=None) -> dict:
    v = ctx.version
    if pred is None:
        pred, scores = ctx.predict(rows)
    y = rows[ctx.project.target].to_numpy()
    if v.task == "regression":
        return compute_metrics("regression", y.astype(float), np.asarray(pred, dtype=float))
    return compute_metrics(v.task, y, pred, scores, list(v.classes), v.positive_class,
                           has_probabilities=v.score_kind == "probability")


def _fmt(x) -> str:
    return "not measured" if x is None or not math.isfinite(x) else f"{x:.3f}"


_RUNNERS = {"data_drift": _drift, "data_quality": _quality, "prediction_drift": _prediction_drift,
            "performance": _performance, "fairness": _fairness}
