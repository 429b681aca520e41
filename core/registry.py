"""Model registry: frozen versions of saved runs, their champion / challenger / archived aliases, and the ledger.

Public API (the Registry, Scoring, Drift and Launch pages build on it):
- `register_run(ws, run_id, note="", by="") -> Version`; `get_version(ws, id)`, `list_versions(ws, project_id)`
  (newest first), `champion(ws, project_id)`.
- `promote(ws, version_id, by, why="", override_reason=None, expected_seq=None) -> LedgerEntry` runs the launch
  gate (core.gate); past a failed gate only with a written override reason. `rollback(ws, project_id, by, ...)`,
  `set_challenger(...)`, `archive_version(..., archived=True)` are recorded the same way.
- `registry_state(ws, project_id) -> RegistryState`, `ledger(ws, project_id) -> [LedgerEntry]` (oldest first);
  the timeline, the version comparison and the gate badge for the page live in core.modelcard.
- `load_version_model(ws, version)`: the fitted pipeline, checksum and type allow-list checked before every load;
  `core.gate.version_predictions(ws, version)`: validation predictions with decisions at the version's threshold.

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
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

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
        values = {k: rec[k] for k in cls.__dataclass_fields__ if rec.get(k) is not None and k != "payload"}
        values.update(number=int(rec["number"]), artifact=ArtifactRef.from_dict(rec["artifact"]),
                      payload={k: rec.get(k) for k in FROZEN})
        for key in ("classes", "features", "aliases"):
            values[key] = tuple(values.get(key) or ())
        for key in ("metrics", "cv_summary", "schema", "receipt"):
            values[key] = dict(values.get(key) or {})
        return cls(**values)


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


# -- registering -------------------------------------------------------------------------------------------------------
def register_run(ws: Workspace, run_id: str, note: str = "", by: str = "") -> Version:
    """Freezes a saved run as the project's next version (model file copied, checked and hashed).

    Raises: SpecInvalid (failed or unsupported run, already registered), ArtifactRejected, NotFound, PermissionDenied.
    """
    from core.artifacts import load_model
    from core.receipts import build_receipt
    from core.gate import finite_metrics, metrics_at_threshold, version_predictions
    from core.runs import get_run, run_predictions
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
    try:
        preds = run_predictions(ws, run.id)
    except NotFound:
        raise SpecInvalid(f"Run {run.model_label!r} has no validation predictions (its split has no validation set), "
                          "so the launch gate could not judge it. Train it on a split with validation rows.") from None
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
        _append(ws, version, "register", by, _clean_text(note) or "Registered", ledger(ws, run.project_id))
    return version


# -- alias changes -----------------------------------------------------------------------------------------------------
@contextmanager
def _changing(ws: Workspace, project_id: str, expected_seq: int | None) -> Iterator[list[LedgerEntry]]:
    """Holds the project's lock while a change reads the ledger, checks it and appends to it."""
    ws._require_editor()
    with _lock(ws, project_id):
        entries = ledger(ws, project_id)
        head = entries[-1].seq if entries else 0
        if expected_seq is not None and int(expected_seq) != head:
            last = entries[-1] if entries else None
            raise RegistryConflict("The registry changed since you opened it" + (
                f": {last.by} recorded '{last.action}' of v{last.version_number} at {last.at}" if last else "")
                + ". Look at the new state, then try again.")
        yield entries


def _append(ws: Workspace, version: Version, action: str, by: str, why: str, entries: list[LedgerEntry],
            gate: dict | None = None, override: bool = False) -> LedgerEntry:
    """Writes the next ledger entry; its sequence number can be written once, so a lost race is refused."""
    seq = (entries[-1].seq if entries else 0) + 1
    entry = LedgerEntry(seq, action, version.id, version.number, by, why, _now(), gate, override)
    after = registry_state(ws, version.project_id, [*entries, entry])
    payload = {"schema": SCHEMA, **asdict(entry), "champion_after": after.champion, "challenger_after": after.challenger}
    try:
        ws.append_record(LEDGER, f"led_{version.project_id}_{seq:06d}", payload, project_id=version.project_id)
    except NameInvalid:
        raise RegistryConflict("Someone else changed this project's registry at the same moment, so your change was "
                               "not recorded. Reload to see the new state, then try again.") from None
    for rec in ws.list_records(KIND, project_id=version.project_id):  # the ledger is the truth; records mirror it
        if list(rec.get("aliases") or []) != after.aliases_of(rec["id"]):
            _update(ws, rec, aliases=after.aliases_of(rec["id"]))
    return LedgerEntry.from_record(payload)


def _update(ws: Workspace, rec: dict, **changes: Any) -> None:
    """Changes a version's mutable fields (aliases, gate, final check); the frozen ones are never touched."""
    if set(changes) & set(FROZEN):
        raise SpecInvalid("A registered version is frozen; register the run again to change it.")
    payload = {k: v for k, v in rec.items() if k not in ("id", "kind", "project_id", "created_at", "updated_at")}
    ws.put_record(KIND, rec["id"], {**payload, **changes}, project_id=rec["project_id"])


def save_gate_fields(ws: Workspace, version_id: str, **changes: Any) -> None:
    """Stores a version's latest gate result or its final check (used by core.gate)."""
    _update(ws, ws.get_record(KIND, version_id) or {"id": version_id, "project_id": None}, **changes)


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

    by, version = _clean_name(by), get_version(ws, version_id)
    with _changing(ws, version.project_id, expected_seq) as entries:
        state = registry_state(ws, version.project_id, entries)
        if state.champion == version.id:
            raise SpecInvalid(f"{version.label} is already the champion; nothing to change.")
        if version.id in state.archived:
            raise SpecInvalid(f"{version.label} is archived. Restore it first, then promote it.")
        _check_intact(ws, version)
        gate = evaluate_gate(ws, version, get_version(ws, state.champion) if state.champion else None, **gate_options)
        reason = _clean_text(override_reason)
        if not gate.passed and not reason:
            failed = ", ".join(c.label for c in gate.failed)
            raise SpecInvalid(f"{version.label} failed the launch gate ({failed}), so it was not promoted. Fix "
                              "those checks, or promote it with an override and a written reason.")
        text = _clean_text(why) or ("Passed the launch gate" if gate.passed else "")
        if not gate.passed:
            text = f"{text} — override: {reason}" if text else f"Override: {reason}"
        return _append(ws, version, "promote", by, text, entries, gate=gate.to_dict(), override=not gate.passed)


def rollback(ws: Workspace, project_id: str, by: str, to_version_id: str | None = None, why: str = "",
             expected_seq: int | None = None) -> LedgerEntry:
    """Makes the previous champion (or an earlier one) champion again, without a gate, and records it.

    Raises: SpecInvalid (nothing to roll back to), RegistryConflict, NameInvalid, PermissionDenied.
    """
    by = _clean_name(by)
    with _changing(ws, project_id, expected_seq) as entries:
        state = registry_state(ws, project_id, entries)
        if state.champion is None:
            raise SpecInvalid("There is no champion yet, so there is nothing to roll back. Promote a version first.")
        current = get_version(ws, state.champion)
        targets = state.rollback_targets()
        if not targets:
            raise SpecInvalid(f"{current.label} is the only champion so far (earlier ones are archived or were rolled "
                              "back from), so there is no earlier one to return to.")
        if to_version_id is not None and to_version_id not in targets:
            raise SpecInvalid(f"{get_version(ws, to_version_id).label} is not an earlier champion you can return to. "
                              "Promote it instead: that runs the launch gate.")
        target = get_version(ws, to_version_id or targets[0])
        _check_intact(ws, target)
        text = _clean_text(why) or f"Rolled back from {current.label}"
        return _append(ws, target, "rollback", by, text, entries, gate=target.gate)


def set_challenger(ws: Workspace, version_id: str, by: str, why: str = "", expected_seq: int | None = None) -> LedgerEntry:
    """Marks a version as the challenger (the one being tested against the champion). Raises: SpecInvalid."""
    by, version = _clean_name(by), get_version(ws, version_id)
    with _changing(ws, version.project_id, expected_seq) as entries:
        state = registry_state(ws, version.project_id, entries)
        roles = {state.champion: "the champion", state.challenger: "already the challenger",
                 **{a: "archived" for a in state.archived}}
        if version.id in roles:
            raise SpecInvalid(f"{version.label} is {roles[version.id]}, so it cannot become the challenger.")
        return _append(ws, version, "challenger", by, _clean_text(why) or "Chosen for testing", entries)


def archive_version(ws: Workspace, version_id: str, by: str, why: str = "", archived: bool = True,
                    expected_seq: int | None = None) -> LedgerEntry:
    """Archives a version (kept, but never promoted or rolled back to) or restores it. Raises: SpecInvalid."""
    by, version = _clean_name(by), get_version(ws, version_id)
    with _changing(ws, version.project_id, expected_seq) as entries:
        state = registry_state(ws, version.project_id, entries)
        if archived and state.champion == version.id:
            raise SpecInvalid(f"{version.label} is the champion. Promote or roll back to another version first.")
        if archived == (version.id in state.archived):
            raise SpecInvalid(f"{version.label} is {'already' if archived else 'not'} archived.")
        action = "archive" if archived else "restore"
        return _append(ws, version, action, by, _clean_text(why) or action.capitalize() + "d", entries)
