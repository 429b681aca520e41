"""Model registry: frozen versions of saved runs, their champion / challenger / archived aliases, and the ledger.

Public API (the Registry, Scoring, Drift and Launch pages build on it):
- `register_run(ws, run_id, note="", by="") -> Version`; `get_version(ws, id)`, `list_versions(ws, project_id)`
  (newest first), `resolve_version(ws, ref)` (an id, or "PROJECT:NUMBER"), `champion(ws, project_id)`.
- `promote(ws, version_id, by, why="", override_reason=None, expected_seq=None) -> LedgerEntry` runs the launch
  gate (core.gate); past a failed gate only with a written override reason. `rollback(ws, project_id, by, ...)`,
  `set_challenger(...)`, `archive_version(..., archived=True)` are recorded the same way.
- `registry_state(ws, project_id) -> RegistryState`, `ledger(ws, project_id) -> [LedgerEntry]` (oldest first),
  `champion_timeline(...)` and `compare_versions(...)` as frames for charts.
- `load_version_model(ws, version)`: the fitted pipeline, checksum and type allow-list checked before every load.
- `version_predictions(ws, version)`: its validation predictions with decisions at the version's threshold.

Record "version" (id "ver_<12 hex>", project_id). Frozen at registration and covered by `content_hash`: number,
run_id, model_key, model_label, task, target, positive_class, classes, threshold, score_kind, metrics (validation,
at the threshold), cv_summary, dataset_id, dataset_hash, split_id, split_hash, features, schema (core.scoring),
receipt (core.receipts), artifact {path, sha256} (a copy of the run's model file), predictions_key, note,
registered_by, registered_at. Kept up to date: `aliases`, `gate` (the last launch gate, core.gate.GateResult
as a dict) and `final_check` (the one-time test-set check, never repeated).
Record "ledger" (id "led_<project id>_<seq:06d>", append-only). Payload: seq, action ("register" | "promote" |
"rollback" | "challenger" | "archive" | "restore"), version_id, version_number, by, why, at (ISO time), gate,
override (bool), champion_after, challenger_after. A sequence number can be written once, so two sessions that
change the registry at the same moment cannot both succeed: the second is refused with RegistryConflict.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pandas as pd

from core.errors import ArtifactRejected, NameInvalid, NotFound, SpecInvalid, WorkbenchError, unknown
from core.workspace import ArtifactRef, Workspace, new_id

KIND = "version"
LEDGER = "ledger"
SCHEMA = 1
MODEL_FILENAME = "model.wbm"
ALIASES = ("champion", "challenger", "archived")
FROZEN = ("number", "run_id", "model_key", "model_label", "task", "target", "positive_class", "classes", "threshold",
          "score_kind", "metrics", "cv_summary", "dataset_id", "dataset_hash", "split_id", "split_hash", "features",
          "schema", "receipt", "artifact", "predictions_key", "note", "registered_by", "registered_at")
_LOCKS: dict[tuple[str, str], threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()


class RegistryConflict(WorkbenchError):
    """Someone else changed the registry between reading it and writing to it."""


@dataclass(frozen=True)
class Version:
    """A registered model version, read back from the workspace."""

    id: str
    project_id: str
    number: int
    run_id: str
    model_key: str
    model_label: str
    task: str
    target: str | None
    artifact: ArtifactRef
    content_hash: str
    positive_class: Any = None
    classes: tuple = ()
    threshold: float | None = None
    score_kind: str | None = None
    metrics: dict = field(default_factory=dict)
    cv_summary: dict = field(default_factory=dict)
    dataset_id: str = ""
    dataset_hash: str = ""
    split_id: str = ""
    split_hash: str = ""
    features: tuple = ()
    schema: dict = field(default_factory=dict)
    receipt: dict = field(default_factory=dict)
    predictions_key: str | None = None
    note: str = ""
    registered_by: str = ""
    registered_at: str = ""
    aliases: tuple = ()
    gate: dict | None = None
    final_check: dict | None = None
    payload: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def label(self) -> str:
        return f"v{self.number}"

    @property
    def is_intact(self) -> bool:
        """Whether the frozen fields still hash to the content hash recorded at registration."""
        return content_hash(self.payload) == self.content_hash

    @classmethod
    def from_record(cls, rec: dict) -> "Version":
        return cls(id=rec["id"], project_id=rec["project_id"], number=int(rec["number"]), run_id=rec["run_id"],
                   model_key=rec["model_key"], model_label=rec.get("model_label", rec["model_key"]), task=rec["task"],
                   target=rec.get("target"), artifact=ArtifactRef.from_dict(rec["artifact"]),
                   content_hash=rec["content_hash"], positive_class=rec.get("positive_class"),
                   classes=tuple(rec.get("classes") or ()), threshold=rec.get("threshold"),
                   score_kind=rec.get("score_kind"), metrics=dict(rec.get("metrics") or {}),
                   cv_summary=dict(rec.get("cv_summary") or {}), dataset_id=rec.get("dataset_id", ""),
                   dataset_hash=rec.get("dataset_hash", ""), split_id=rec.get("split_id", ""),
                   split_hash=rec.get("split_hash", ""), features=tuple(rec.get("features") or ()),
                   schema=dict(rec.get("schema") or {}), receipt=dict(rec.get("receipt") or {}),
                   predictions_key=rec.get("predictions_key"), note=rec.get("note", ""),
                   registered_by=rec.get("registered_by", ""), registered_at=rec.get("registered_at", ""),
                   aliases=tuple(rec.get("aliases") or ()), gate=rec.get("gate"), final_check=rec.get("final_check"),
                   payload={k: rec.get(k) for k in FROZEN})


@dataclass(frozen=True)
class LedgerEntry:
    seq: int
    action: str
    version_id: str
    version_number: int
    by: str
    why: str
    at: str
    gate: dict | None = None
    override: bool = False
    champion_after: str | None = None
    challenger_after: str | None = None

    @classmethod
    def from_record(cls, rec: dict) -> "LedgerEntry":
        return cls(**{k: rec.get(k) for k in cls.__dataclass_fields__ if k in rec})


@dataclass
class RegistryState:
    """Who holds which alias after replaying the ledger; `stack` lists champions in the order a rollback unwinds."""

    seq: int = 0
    champion: str | None = None
    challenger: str | None = None
    archived: set = field(default_factory=set)
    stack: list = field(default_factory=list)

    def aliases_of(self, version_id: str) -> list[str]:
        out = ["champion"] if self.champion == version_id else []
        out += ["challenger"] if self.challenger == version_id else []
        return out + (["archived"] if version_id in self.archived else [])

    def rollback_targets(self) -> list[str]:
        """Earlier champions a rollback can return to, nearest first (archived ones left out)."""
        return [v for v in reversed(self.stack[:-1]) if v not in self.archived and v != self.champion]


# -- hashing and locks -------------------------------------------------------------------------------------------------
def content_hash(frozen: dict) -> str:
    """Returns the SHA-256 of a version's frozen fields in canonical JSON."""
    body = json.dumps({k: frozen.get(k) for k in FROZEN}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def _lock(ws: Workspace, project_id: str) -> threading.RLock:
    key = (str(ws.db_path), project_id)
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.RLock())


def _now() -> str:
    return datetime.now(timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds")


def _clean_name(by: str) -> str:
    text = " ".join("".join(ch for ch in str(by or "") if ch.isprintable()).split())[:80]
    if not text:
        raise NameInvalid("Type your name, so the ledger shows who made this change.")
    return text


def _clean_text(text: str | None, limit: int = 1000) -> str:
    return " ".join("".join(ch for ch in str(text or "") if ch.isprintable() or ch == "\n").split())[:limit]


# -- reading -----------------------------------------------------------------------------------------------------------
def get_version(ws: Workspace, version_id: str) -> Version:
    """Returns a version by id. Raises: NotFound."""
    rec = ws.get_record(KIND, version_id)
    if rec is None:
        raise unknown("model version", version_id, [r["id"] for r in ws.list_records(KIND)][:200])
    return Version.from_record(rec)


def list_versions(ws: Workspace, project_id: str) -> list[Version]:
    """Lists a project's versions, newest (highest number) first."""
    return sorted((Version.from_record(r) for r in ws.list_records(KIND, project_id=project_id)),
                  key=lambda v: -v.number)


def resolve_version(ws: Workspace, ref: str) -> Version:
    """Returns a version by id or by 'PROJECT:NUMBER' (name or id, number with or without 'v'). Raises: NotFound."""
    if ws.get_record(KIND, ref) is not None:
        return get_version(ws, ref)
    project_ref, sep, number = str(ref).rpartition(":")
    if sep and number.lower().lstrip("v").isdigit():
        from core.projects import get_project

        project = get_project(ws, project_ref)
        for v in list_versions(ws, project.id):
            if v.number == int(number.lower().lstrip("v")):
                return v
        raise NotFound(f"Project {project.name!r} has no version {number}. Its versions: "
                       f"{', '.join(v.label for v in list_versions(ws, project.id)) or 'none yet'}.")
    raise NotFound(f"No model version {ref!r}. Give a version id, or the project and number such as "
                   "'Customer churn:2'.")


def ledger(ws: Workspace, project_id: str) -> list[LedgerEntry]:
    """Returns the project's ledger entries, oldest first."""
    return sorted((LedgerEntry.from_record(r) for r in ws.list_records(LEDGER, project_id=project_id)),
                  key=lambda e: e.seq)


def registry_state(ws: Workspace, project_id: str, entries: list[LedgerEntry] | None = None) -> RegistryState:
    """Replays the ledger into the current aliases."""
    state = RegistryState()
    for e in entries if entries is not None else ledger(ws, project_id):
        state.seq = e.seq
        v = e.version_id
        if e.action == "promote":
            state.stack = [x for x in state.stack if x != v] + [v]
            state.champion, state.challenger = v, None if state.challenger == v else state.challenger
            state.archived.discard(v)
        elif e.action == "rollback":
            while state.stack and state.stack[-1] != v:
                state.stack.pop()
            state.champion, state.challenger = v, None if state.challenger == v else state.challenger
        elif e.action == "challenger":
            state.challenger = v
        elif e.action == "archive":
            state.archived.add(v)
            state.challenger = None if state.challenger == v else state.challenger
        elif e.action == "restore":
            state.archived.discard(v)
    return state


def champion(ws: Workspace, project_id: str) -> Version | None:
    """Returns the project's champion version, or None."""
    current = registry_state(ws, project_id).champion
    return get_version(ws, current) if current else None


def load_version_model(ws: Workspace, version: Version | str):
    """Loads a version's pipeline after checking its SHA-256 and its types. Raises: ArtifactRejected, NotFound."""
    from core.artifacts import load_model

    version = get_version(ws, version) if isinstance(version, str) else version
    return load_model(ws.read_artifact(version.artifact))


def version_predictions(ws: Workspace, version: Version) -> pd.DataFrame:
    """Returns the version's validation predictions (_row, y_true, y_pred, score | proba_*), y_pred at its threshold."""
    import numpy as np

    df = ws.get_frame(version.predictions_key) if version.predictions_key else None
    if df is None:
        raise NotFound(f"Version {version.label} has no saved validation predictions. Register its run again.")
    df = df.sort_values("_row", kind="stable").reset_index(drop=True)
    if version.task == "binary" and "score" in df and version.threshold is not None:
        pos = version.positive_class
        neg = next(c for c in version.classes if c != pos)
        df["y_pred"] = np.where(df["score"].to_numpy(dtype=float) >= version.threshold, pos, neg)
    return df


def finite_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """Returns the metrics with undefined values (NaN, infinity) as None, as runs store them."""
    return {str(k): None if isinstance(v, float) and not math.isfinite(v) else v for k, v in metrics.items()}


def metrics_at_threshold(version_like: Any, df: pd.DataFrame) -> dict[str, float]:
    """Returns the catalog metrics of predictions already cut at the version's threshold."""
    from core.metrics import compute_metrics

    if version_like.task == "regression":
        return compute_metrics("regression", df["y_true"].to_numpy(dtype=float), df["y_pred"].to_numpy(dtype=float))
    if "score" in df:
        scores = df["score"].to_numpy(dtype=float)
    else:
        scores = df[[f"proba_{c}" for c in version_like.classes]].to_numpy(dtype=float)
    return compute_metrics(version_like.task, df["y_true"].to_numpy(), df["y_pred"].to_numpy(), scores,
                           list(version_like.classes), version_like.positive_class,
                           has_probabilities=version_like.score_kind == "probability")


# -- registering -------------------------------------------------------------------------------------------------------
def register_run(ws: Workspace, run_id: str, note: str = "", by: str = "") -> Version:
    """Freezes a saved run as the project's next version (model file copied, checked and hashed).

    Raises: SpecInvalid (failed or unsupported run, already registered), ArtifactRejected, NotFound, PermissionDenied.
    """
    from core.artifacts import load_model
    from core.receipts import build_receipt
    from core.runs import get_run
    from core.scoring import capture_schema
    from core.splitting import get_split

    ws._require_editor()
    run = get_run(ws, run_id)
    if not run.is_ok or run.artifact is None:
        raise SpecInvalid(f"Run {run.model_label!r} has no saved model" + (f" ({run.error})" if run.error else "")
                          + ", so it cannot be registered. Register a run that trained successfully.")
    if run.task not in ("binary", "multiclass", "regression"):
        raise SpecInvalid(f"A {run.task} run groups rows rather than predicting a target; the registry holds "
                          "models that predict. Register a classification or regression run.")
    by = _clean_name(by or "analyst")
    data = ws.read_artifact(run.artifact)
    load_model(data)  # refuse a tampered or foreign file now, not when someone scores with it
    split = get_split(ws, run.split_id)
    preds = _run_predictions_or_refuse(ws, run)
    with _lock(ws, run.project_id):
        existing = list_versions(ws, run.project_id)
        twin = next((v for v in existing if v.run_id == run.id), None)
        if twin is not None:
            raise SpecInvalid(f"Run {run.model_label!r} is already registered as {twin.label}. Use that version.")
        version_id = new_id("ver")
        number = max((v.number for v in existing), default=0) + 1
        artifact = ws.write_artifact(version_id, MODEL_FILENAME, data)
        predictions_key = f"version:{version_id}:val"
        ws.put_frame(predictions_key, preds)
        frozen = {"number": number, "run_id": run.id, "model_key": run.model_key, "model_label": run.model_label,
                  "task": run.task, "target": run.target, "positive_class": run.positive_class,
                  "classes": list(run.classes), "threshold": run.threshold, "score_kind": run.score_kind,
                  "cv_summary": run.cv_summary, "dataset_id": run.dataset_id,
                  "dataset_hash": ws.dataset(run.dataset_id).content_hash, "split_id": split.id,
                  "split_hash": run.split_hash, "features": list(run.features),
                  "schema": capture_schema(ws, run, split), "receipt": build_receipt(ws, run),
                  "artifact": artifact.to_dict(), "predictions_key": predictions_key,
                  "note": _clean_text(note), "registered_by": by, "registered_at": _now()}
        holder = Version.from_record({**frozen, "id": version_id, "project_id": run.project_id, "content_hash": ""})
        frozen["metrics"] = finite_metrics(metrics_at_threshold(holder, version_predictions(ws, holder)))
        frozen["receipt"]["version"] = {"id": version_id, "number": number, "threshold": run.threshold}
        payload = {"schema_version": SCHEMA, **frozen, "content_hash": content_hash(frozen), "aliases": [],
                   "gate": None, "final_check": None}
        ws.put_record(KIND, version_id, payload, project_id=run.project_id)
        version = get_version(ws, version_id)
        _append(ws, version, "register", by, note or "Registered", registry_state(ws, run.project_id))
    return version


def _run_predictions_or_refuse(ws: Workspace, run) -> pd.DataFrame:
    from core.runs import run_predictions

    try:
        return run_predictions(ws, run.id)
    except NotFound:
        raise SpecInvalid(f"Run {run.model_label!r} has no validation predictions (its split has no validation "
                          "set), so the launch gate could not judge it. Train it on a split with a validation "
                          "set, then register it.") from None


# -- alias changes -----------------------------------------------------------------------------------------------------
def _append(ws: Workspace, version: Version, action: str, by: str, why: str, state: RegistryState,
            gate: dict | None = None, override: bool = False) -> LedgerEntry:
    """Writes the next ledger entry; its sequence number can be written once, so a lost race is refused."""
    seq = state.seq + 1
    after = registry_state(ws, version.project_id, ledger(ws, version.project_id) + [LedgerEntry(
        seq, action, version.id, version.number, by, why, _now())])
    payload = {"schema": SCHEMA, "seq": seq, "action": action, "version_id": version.id,
               "version_number": version.number, "by": by, "why": why, "at": _now(), "gate": gate,
               "override": override, "champion_after": after.champion, "challenger_after": after.challenger}
    try:
        ws.append_record(LEDGER, f"led_{version.project_id}_{seq:06d}", payload, project_id=version.project_id)
    except NameInvalid:
        raise RegistryConflict("Someone else changed this project's registry at the same moment, so your change was "
                               "not recorded. Reload to see the new state, then try again.") from None
    _sync_aliases(ws, version.project_id, after)
    return LedgerEntry.from_record(payload)


def _sync_aliases(ws: Workspace, project_id: str, state: RegistryState) -> None:
    """Writes each version's aliases as the ledger says (the ledger is the source of truth)."""
    for rec in ws.list_records(KIND, project_id=project_id):
        wanted = state.aliases_of(rec["id"])
        if list(rec.get("aliases") or []) != wanted:
            _update(ws, rec, aliases=wanted)


def _update(ws: Workspace, rec: dict, **changes: Any) -> None:
    """Changes a version's mutable fields (aliases, gate, final check); the frozen ones are never touched."""
    if set(changes) & set(FROZEN):
        raise SpecInvalid("A registered version is frozen; register the run again to change it.")
    payload = {k: v for k, v in rec.items() if k not in ("id", "kind", "project_id", "created_at", "updated_at")}
    payload.update(changes)
    ws.put_record(KIND, rec["id"], payload, project_id=rec["project_id"])


def save_gate_fields(ws: Workspace, version_id: str, **changes: Any) -> None:
    """Stores a version's latest gate result or its final check (used by core.gate)."""
    rec = ws.get_record(KIND, version_id)
    if rec is None:
        raise unknown("model version", version_id, [])
    _update(ws, rec, **changes)


def _begin(ws: Workspace, project_id: str, expected_seq: int | None) -> tuple[list[LedgerEntry], RegistryState]:
    entries = ledger(ws, project_id)
    state = registry_state(ws, project_id, entries)
    if expected_seq is not None and int(expected_seq) != state.seq:
        last = entries[-1]
        raise RegistryConflict(f"The registry changed since you opened it: {last.by} recorded '{last.action}' of "
                               f"v{last.version_number} at {last.at}. Look at the new state, then try again.")
    return entries, state


def _check_intact(ws: Workspace, version: Version) -> None:
    if not version.is_intact:
        raise ArtifactRejected(f"Version {version.label}'s frozen fields no longer match its content hash, so it "
                               "cannot go live. Register its run again.")
    ws.read_artifact(version.artifact)


def promote(ws: Workspace, version_id: str, by: str, why: str = "", override_reason: str | None = None,
            expected_seq: int | None = None, **gate_options: Any) -> LedgerEntry:
    """Runs the launch gate and makes the version champion; a failed gate needs a written override reason.

    Raises: SpecInvalid (failed gate without override, archived, already champion), RegistryConflict,
    ArtifactRejected, NameInvalid (no name), PermissionDenied.
    """
    from core.gate import evaluate_gate

    ws._require_editor()
    by = _clean_name(by)
    version = get_version(ws, version_id)
    with _lock(ws, version.project_id):
        _, state = _begin(ws, version.project_id, expected_seq)
        if state.champion == version.id:
            raise SpecInvalid(f"{version.label} is already the champion; nothing to change.")
        if version.id in state.archived:
            raise SpecInvalid(f"{version.label} is archived. Restore it first, then promote it.")
        _check_intact(ws, version)
        current = get_version(ws, state.champion) if state.champion else None
        gate = evaluate_gate(ws, version, current, **gate_options)
        reason = _clean_text(override_reason)
        if not gate.passed and not reason:
            failed = ", ".join(c.label for c in gate.checks if c.status == "fail")
            raise SpecInvalid(f"{version.label} failed the launch gate ({failed}), so it was not promoted. Fix "
                              "those checks, or promote it with an override and a written reason.")
        text = _clean_text(why) or (f"Override: {reason}" if not gate.passed else "Passed the launch gate")
        if not gate.passed and reason not in text:
            text = f"{text} — override: {reason}"
        return _append(ws, version, "promote", by, text, state, gate=gate.to_dict(), override=not gate.passed)


def rollback(ws: Workspace, project_id: str, by: str, to_version_id: str | None = None, why: str = "",
             expected_seq: int | None = None) -> LedgerEntry:
    """Makes the previous champion (or an earlier one) champion again, without a gate, and records it.

    Raises: SpecInvalid (nothing to roll back to), RegistryConflict, NameInvalid, PermissionDenied.
    """
    ws._require_editor()
    by = _clean_name(by)
    with _lock(ws, project_id):
        _, state = _begin(ws, project_id, expected_seq)
        if state.champion is None:
            raise SpecInvalid("There is no champion yet, so there is nothing to roll back. Promote a version first.")
        targets = state.rollback_targets()
        if not targets:
            raise SpecInvalid(f"{get_version(ws, state.champion).label} is the only champion so far (earlier ones "
                              "are archived or were rolled back from), so there is no earlier one to return to.")
        target_id = to_version_id or targets[0]
        if target_id not in targets:
            label = get_version(ws, target_id).label
            raise SpecInvalid(f"{label} is not an earlier champion you can return to. Promote it instead: that "
                              "runs the launch gate.")
        target = get_version(ws, target_id)
        _check_intact(ws, target)
        text = _clean_text(why) or f"Rolled back from {get_version(ws, state.champion).label}"
        return _append(ws, target, "rollback", by, text, state, gate=target.gate)


def set_challenger(ws: Workspace, version_id: str, by: str, why: str = "", expected_seq: int | None = None) -> LedgerEntry:
    """Marks a version as the challenger (the one being tested against the champion). Raises: SpecInvalid."""
    ws._require_editor()
    by = _clean_name(by)
    version = get_version(ws, version_id)
    with _lock(ws, version.project_id):
        _, state = _begin(ws, version.project_id, expected_seq)
        if version.id in (state.champion, state.challenger) or version.id in state.archived:
            role = "the champion" if version.id == state.champion else (
                "already the challenger" if version.id == state.challenger else "archived")
            raise SpecInvalid(f"{version.label} is {role}, so it cannot become the challenger.")
        return _append(ws, version, "challenger", by, _clean_text(why) or "Chosen for testing", state)


def archive_version(ws: Workspace, version_id: str, by: str, why: str = "", archived: bool = True,
                    expected_seq: int | None = None) -> LedgerEntry:
    """Archives a version (kept, but never promoted or rolled back to) or restores it. Raises: SpecInvalid."""
    ws._require_editor()
    by = _clean_name(by)
    version = get_version(ws, version_id)
    with _lock(ws, version.project_id):
        _, state = _begin(ws, version.project_id, expected_seq)
        if archived and state.champion == version.id:
            raise SpecInvalid(f"{version.label} is the champion. Promote or roll back to another version first.")
        if archived == (version.id in state.archived):
            raise SpecInvalid(f"{version.label} is {'already' if archived else 'not'} archived.")
        action = "archive" if archived else "restore"
        return _append(ws, version, action, by, _clean_text(why) or action.capitalize() + "d", state)


# -- views -------------------------------------------------------------------------------------------------------------
def champion_timeline(ws: Workspace, project_id: str, now: datetime | None = None) -> pd.DataFrame:
    """Returns one row per reign: version, start, end (now for the current champion), how it began."""
    rows = []
    for e in ledger(ws, project_id):
        if e.action not in ("promote", "rollback"):
            continue
        at = datetime.fromisoformat(e.at)
        if rows:
            rows[-1]["end"] = at
        rows.append({"version": f"v{e.version_number}", "version_id": e.version_id, "start": at, "end": None,
                     "how": e.action, "by": e.by})
    if rows:
        rows[-1]["end"] = now or datetime.now(timezone.utc).replace(tzinfo=None)
    return pd.DataFrame(rows, columns=["version", "version_id", "start", "end", "how", "by"])


def compare_versions(ws: Workspace, project_id: str, version_ids: list[str] | None = None) -> pd.DataFrame:
    """Returns the versions' validation metrics side by side: one row per metric, one column per version."""
    versions = sorted((v for v in list_versions(ws, project_id) if version_ids is None or v.id in version_ids),
                      key=lambda v: v.number)
    names = sorted({m for v in versions for m in v.metrics})
    data = {"metric": names}
    for v in versions:
        data[v.label] = [v.metrics.get(m) for m in names]
    return pd.DataFrame(data)
