"""The monitoring loop at a glance, for the dashboard and the lifecycle report, read-only.

`loop_section(ws, project) -> LoopSection | None` (None before any batch was appended or any monitoring run): the
data batches over time (rows, the day each describes, when it arrived), per batch the newest monitoring run's data
drift and the live model's measured primary metric against the success criteria (at that model's saved threshold,
with a 95 % Wilson interval for rates), which version was champion on each batch, the open alerts, and the pending
challenger of a retrain with its gate result (else the latest decided retrain). Open alerts are those about the live
champion: core.monitor.alertlog closes an earlier champion's alerts as superseded (counted in `superseded`).
Everything comes from the saved records of core.monitor (policy runs, the alert log, loop views) and
core.release.retrain, so a scoped viewer sees only its project's loop: the workspace filters every read by the
view's scope.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from core.errors import NotFound
from core.monitor.alertlog import OPEN, SUPERSEDED, list_alerts
from core.monitor.loop_views import batch_timeline, monitoring_status
from core.monitor.policy import get_policy, list_monitor_runs
from core.project.criteria import OP_SYMBOLS, metric_label
from core.registry.versions import get_version
from core.release.retrain import Retrain, list_retrains, pending_challenger
from core.stats.metric_intervals import RATES, confusion_from_rates, rate_interval
from core.store.workspace import Workspace

BATCH_COLUMNS = ["batch", "label", "as_of", "rows", "labelled", "added_at", "model", "monitoring", "drifted",
                 "compared", "drift_share", "drifted_columns", "metric", "low", "high", "meets", "fairness_gap",
                 "alerts", "alerting", "checked_at"]


@dataclass(frozen=True)
class ChallengerStatus:
    """A retrain's challenger: how it did against the champion on the fresh batch, and its launch gate."""

    retrain_id: str
    challenger: str  # "v3 · Logistic regression"
    champion: str
    holdout: str  # the sentence comparing both on the batch neither saw
    wins: bool
    gate_passed: bool | None  # None: no gate result stored
    failed: tuple[str, ...]  # labels of the gate checks that failed
    not_yet: tuple[str, ...]  # labels of the checks that could not be judged yet (never failures)
    gate_at: str
    decision: str  # "" (waiting), "keep", "promote", "discard"
    decided_by: str = ""
    reason: str = ""
    at: str = ""

    @property
    def is_pending(self) -> bool:
        return self.decision in ("", "keep")

    @property
    def sentence(self) -> str:
        gate = ("its launch gate passed" if self.gate_passed else
                f"its launch gate failed ({'; '.join(self.failed)})" if self.gate_passed is False else
                "its launch gate has not run")
        if self.is_pending:
            head = f"{self.challenger} is waiting for a decision" + (" (kept testing)" if self.decision else "")
        else:
            head = f"The latest retrain's challenger {self.challenger} was {_DONE[self.decision]} by {self.decided_by}"
        return f"{head}: {self.holdout} {gate[0].upper()}{gate[1:]}."


_DONE = {"promote": "promoted", "discard": "discarded", "keep": "kept testing"}


@dataclass(frozen=True)
class LoopSection:
    """The loop as plain data; `batches` has one row per batch, oldest first (columns `BATCH_COLUMNS`)."""

    status: str  # the current champion's newest run: "healthy" | "alert" | "error"; or "not checked" | "never run"
    status_at: str | None
    batches: pd.DataFrame
    metric: str
    metric_label: str
    target: str  # "≥ 0.7"
    target_value: float
    op: str
    threshold_note: str  # at which threshold the per-batch metric was measured
    drift_line: float  # the policy's share of drifted inputs that raises a data-drift alert
    open_alerts: tuple[dict, ...] = ()
    alerts: int = 0  # every alert raised so far
    superseded: int = 0  # alerts closed because the model they were about is no longer champion
    served: dict = field(default_factory=dict)  # version id -> labels of the batches monitored with it as champion
    challenger: ChallengerStatus | None = None  # the pending one, else the latest decided retrain
    sentence: str = ""
    champion: str | None = None  # the current champion's label, for "not checked yet"
    previous_check: str = ""  # when not checked: which earlier champion the newest run checked, on which batch

    @property
    def alerts_caption(self) -> str:
        """What the open-alert count leaves out: "of 7 raised; 5 closed when their model was replaced"."""
        text = f"of {self.alerts} raised"
        if self.superseded:
            text += f"; {self.superseded} closed when {'its' if self.superseded == 1 else 'their'} model was replaced"
        return text

    @property
    def monitored(self) -> pd.DataFrame:
        """The batches with a monitoring run, oldest first."""
        return self.batches[self.batches["monitoring"] != ""].reset_index(drop=True)


def loop_section(ws: Workspace, project) -> LoopSection | None:
    """Returns the project's monitoring loop, or None while it has one batch and no monitoring run."""
    runs = list_monitor_runs(ws, project.id)  # newest first
    timeline = batch_timeline(ws, project)
    retrains = list_retrains(ws, project.id)
    if not runs and len(timeline) < 2 and not retrains:
        return None
    crit = project.criteria
    newest: dict[str, object] = {}
    for run in runs:
        newest.setdefault(run.batch_id, run)
    rows = [_batch_row(ws, project, b, newest.get(b["id"])) for b in timeline.to_dict("records")]
    served: dict[str, list[str]] = {}
    for run in reversed(runs):
        if run.version_id:
            labels = served.setdefault(run.version_id, [])
            if run.batch_label not in labels:
                labels.append(run.batch_label)
    alerts = list_alerts(ws, project.id)
    open_ = tuple(a for a in alerts if a["state"] == OPEN)
    status = monitoring_status(ws, project)
    section = LoopSection(
        status=status["status"], status_at=status["at"], batches=pd.DataFrame(rows, columns=BATCH_COLUMNS),
        champion=status.get("champion"),
        previous_check=(f"newest run checked {status['previous']['model']} on batch {status['previous']['batch']}"
                        if status.get("previous") and status["status"] == "not checked" else ""),
        metric=crit.primary_metric, metric_label=metric_label(crit.primary_metric),
        target=f"{OP_SYMBOLS.get(crit.op, crit.op)} {crit.threshold:g}", target_value=float(crit.threshold),
        op=crit.op, threshold_note=("at its saved threshold"
                                    if project.task == "binary" else ""),
        drift_line=float(get_policy(ws, project.id).drift_share), open_alerts=open_, alerts=len(alerts),
        superseded=sum(a["state"] == SUPERSEDED for a in alerts),
        served={k: tuple(v) for k, v in served.items()}, challenger=_challenger(ws, project, retrains))
    return _with_sentence(section)


def _batch_row(ws: Workspace, project, b: dict, run) -> dict:
    row = {"batch": int(b["batch"]), "label": b["label"], "as_of": b["as_of"], "rows": int(b["rows"]),
           "labelled": bool(b["labelled"]), "added_at": b["added_at"], "model": "", "monitoring": "",
           "drifted": None, "compared": None, "drift_share": None, "drifted_columns": "", "metric": None, "low": None,
           "high": None, "meets": None, "fairness_gap": None, "alerts": 0, "alerting": (), "checked_at": ""}
    if run is None:
        return row
    row.update(model=run.version_label, monitoring=run.status, alerts=len(run.alerts), checked_at=run.started_at,
               alerting=tuple(c.key for c in run.checks if c.status == "alert"))
    drift = run.check("data_drift")
    if drift is not None and drift.status in ("healthy", "alert"):
        d = drift.details
        row.update(drifted=len(d.get("drifted") or ()), compared=d.get("n_compared"), drift_share=d.get("drift_share"),
                   drifted_columns=", ".join(d.get("drifted") or ()))
    perf = run.check("performance")
    crit = project.criteria
    if perf is not None and perf.status in ("healthy", "alert"):
        metrics = perf.details.get("metrics") or {}
        value = metrics.get(crit.primary_metric)
        if value is not None and math.isfinite(value):
            row["metric"] = float(value)
            row["meets"] = value >= crit.threshold if crit.op == ">=" else value <= crit.threshold
            ci = _batch_interval(ws, project, b, metrics, int(perf.details.get("rows") or 0))
            if ci is not None:
                row["low"], row["high"] = ci
    fair = run.check("fairness")
    if fair is not None and fair.status in ("healthy", "alert") and fair.details.get("groups"):
        row["fairness_gap"] = max(float(g["gap"]) for g in fair.details["groups"])
    return row


def _batch_interval(ws: Workspace, project, b: dict, metrics: dict, rows: int) -> tuple[float, float] | None:
    """The Wilson interval of the primary metric on the batch's labelled rows, from the counts behind it."""
    metric = project.criteria.primary_metric
    if project.task != "binary" or metric not in RATES or rows <= 0:
        return None
    target = ws.frame(b["dataset_id"], columns=[project.target])[project.target].dropna()
    positives = int((target.astype(str) == str(project.positive_class)).sum())
    counts = confusion_from_rates(metrics.get("recall"), metrics.get("precision"), positives, len(target))
    return rate_interval(metric, counts)


def _challenger(ws: Workspace, project, retrains: list[Retrain]) -> ChallengerStatus | None:
    item = pending_challenger(ws, project.id) or (retrains[0] if retrains else None)
    if item is None:
        return None
    gate = dict(item.gate or {})
    try:
        new = get_version(ws, item.challenger_version_id)
        old = get_version(ws, item.champion_version_id)
    except NotFound:
        return None
    if new.gate and str(new.gate.get("evaluated_at", "")) > str(gate.get("evaluated_at", "")):
        gate = dict(new.gate)  # the gate ran again since (a promotion, a rehearsal): the newest result
    checks = gate.get("checks") or []
    decision = item.decision or {}
    return ChallengerStatus(
        retrain_id=item.id, challenger=f"{new.label} · {new.model_label}",
        champion=f"{old.label} · {old.model_label}",
        holdout=str(item.holdout.get("sentence", "")), wins=item.challenger_wins,
        gate_passed=None if not gate else bool(gate.get("passed")),
        failed=tuple(c["label"] for c in checks if c.get("status") == "fail"),
        not_yet=tuple(c["label"] for c in checks if c.get("status") == "not-run"),
        gate_at=str(gate.get("evaluated_at", "")), decision=str(decision.get("action") or ""),
        decided_by=str(decision.get("by") or ""), reason=str(decision.get("reason") or ""),
        at=str(decision.get("at") or item.at))


def _with_sentence(s: LoopSection) -> LoopSection:
    from dataclasses import replace

    parts = [f"{len(s.batches)} data batch{'es' if len(s.batches) != 1 else ''}"]
    checked = s.monitored
    if len(checked):
        last = checked.iloc[-1]
        text = f"the newest checked (batch {last['batch']} · {last['label']}) is {last['monitoring']}"
        if not pd.isna(last["metric"]):
            text += (f", {s.metric_label} {last['metric']:.3f} for {last['model'] or 'no model'} "
                     f"({'meets' if last['meets'] else 'misses'} {s.target})")
        parts.append(text)
    else:
        parts.append("no monitoring run yet")
    alerts = f"{len(s.open_alerts)} open alert{'s' if len(s.open_alerts) != 1 else ''}"
    if s.superseded:
        alerts += (f" ({s.superseded} about an earlier champion closed as superseded when it was replaced; they stay "
                   "in the alert log)")
    parts.append(alerts)
    if s.challenger is None:
        parts.append("no retrain yet")
    elif s.challenger.is_pending:
        parts.append(f"challenger {s.challenger.challenger} waiting")
    else:
        parts.append(f"the latest challenger ({s.challenger.challenger}) was {_DONE[s.challenger.decision]}")
    return replace(s, sentence="; ".join(parts) + ".")


def batch_table(section: LoopSection) -> pd.DataFrame:
    """The batch timeline as a stakeholder reads it: one row per batch, words and rounded numbers."""
    b = section.batches
    metric = section.metric_label

    def measured(r) -> str:
        if pd.isna(r["metric"]):
            return ""
        ci = "" if pd.isna(r["low"]) or pd.isna(r["high"]) else f" ({r['low']:.2f}–{r['high']:.2f})"
        return f"{r['metric']:.3f}{ci}"

    return pd.DataFrame({
        "Batch": [f"{n} · {label}" for n, label in zip(b["batch"], b["label"], strict=True)], "Rows": b["rows"],
        "Model": b["model"],
        "Status": [m or ("training data" if i == 0 else "not checked") for i, m in enumerate(b["monitoring"])],
        "Drifted": ["" if pd.isna(d) else f"{int(d)} of {int(c)}" for d, c in zip(b["drifted"], b["compared"],
                                                                                  strict=True)],
        f"{metric} (95 % CI)": [measured(r) for r in b.to_dict("records")],
        f"{metric} {section.target}": ["" if m is None or pd.isna(m) else "met" if m else "missed"
                                       for m in b["meets"]],
        "Fairness gap": ["" if pd.isna(g) else f"{g:.3f}" for g in b["fairness_gap"]],
        "Alerts": b["alerts"],
    })


def alert_lines(section: LoopSection, limit: int = 6) -> list[str]:
    """The open alerts, newest first, one line each: what fired, on which batch and model, and its evidence."""
    return [f"{a['title']} (model {a.get('model') or '—'}, {str(a.get('at', ''))[:16].replace('T', ' ')}): "
            f"{a['evidence']}" for a in section.open_alerts[:limit]]
