"""Model registry records: frozen versions of saved runs, their champion / challenger / archived aliases, the ledger.

Public API (the Registry, Scoring, Drift and Launch pages and core.release build on it):
- `get_version(ws, id)`, `list_versions(ws, project_id)` (newest first), `champion(ws, project_id)`,
  `registry_state(ws, project_id) -> RegistryState`, `ledger(ws, project_id) -> [LedgerEntry]` (oldest first).
- `load_version_model(ws, version)`: the fitted pipeline, checksum and type allow-list checked before every load.
- Writes, used only by core.release: `store_version`, `append_ledger` (next entry, aliases mirrored onto the
  versions), `save_gate_fields` (gate result, final check). Registering, promoting, rolling back, choosing a
  challenger and archiving are `core.release.actions`; the launch gate is `core.release.gate`; the timeline and the
  version comparison for the page live in core.release.modelcard.

Record "version" (id "ver_<12 hex>", project_id). Frozen at registration and covered by `content_hash`: number,
run_id, model_key, model_label, task, target, positive_class, classes, threshold, score_kind, metrics (validation,
at the threshold), cv_summary, dataset_id, dataset_hash, split_id, split_hash, features, schema (core.release.scoring),
receipt (core.models.receipts), artifact {path, sha256} (a copy of the run's model file), predictions_key, note,
registered_by, registered_at. Kept up to date: `aliases`, `gate` (the last launch gate, core.release.gate.GateResult
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
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from core.errors import NameInvalid, SpecInvalid, WorkbenchError, unknown
from core.split.splitting import get_split
from core.store.artifacts import load_model
from core.store.workspace import ArtifactRef, Workspace

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


def project_lock(ws: Workspace, project_id: str) -> threading.RLock:
    key = (str(ws.db_path), project_id)
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.RLock())


def now_iso() -> str:
    return datetime.now(timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds")


def clean_name(by: str) -> str:
    text = " ".join("".join(ch for ch in str(by or "") if ch.isprintable()).split())[:80]
    if not text:
        raise NameInvalid("Type your name, so the ledger shows who made this change.")
    return text


def clean_text(text: str | None, limit: int = 1000) -> str:
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
    version = get_version(ws, version) if isinstance(version, str) else version
    return load_model(ws.read_artifact(version.artifact))


def version_batches(ws: Workspace, version: Version) -> list[str]:
    """Returns the ids of the data batches a version was trained on (its split's batches); [] when unknown."""
    try:
        return list(get_split(ws, version.split_id).batches)
    except WorkbenchError:
        return []


# -- registering -------------------------------------------------------------------------------------------------------


# -- alias changes -----------------------------------------------------------------------------------------------------


def update_mutable(ws: Workspace, rec: dict, **changes: Any) -> None:
    """Changes a version's mutable fields (aliases, gate, final check); the frozen ones are never touched."""
    if set(changes) & set(FROZEN):
        raise SpecInvalid("A registered version is frozen; register the run again to change it.")
    payload = {k: v for k, v in rec.items() if k not in ("id", "kind", "project_id", "created_at", "updated_at")}
    ws.put_record(KIND, rec["id"], {**payload, **changes}, project_id=rec["project_id"])


def store_version(ws: Workspace, version_id: str, payload: dict, project_id: str) -> None:
    """Saves a newly registered version's record (core.release.actions.register_run builds it)."""
    ws.put_record(KIND, version_id, payload, project_id=project_id)


def append_ledger(ws: Workspace, version: Version, action: str, by: str, why: str, entries: list[LedgerEntry],
            gate: dict | None = None, override: bool = False) -> LedgerEntry:
    """Writes the next ledger entry and mirrors the aliases onto the versions (core.release.actions calls it).

    Its sequence number can be written once, so a lost race is refused. Raises: RegistryConflict.
    """
    seq = (entries[-1].seq if entries else 0) + 1
    entry = LedgerEntry(seq, action, version.id, version.number, by, why, now_iso(), gate, override)
    after = registry_state(ws, version.project_id, [*entries, entry])
    payload = {"schema": SCHEMA, **asdict(entry), "champion_after": after.champion, "challenger_after": after.challenger}
    try:
        ws.append_record(LEDGER, f"led_{version.project_id}_{seq:06d}", payload, project_id=version.project_id)
    except NameInvalid:
        raise RegistryConflict("Someone else changed this project's registry at the same moment, so your change was "
                               "not recorded. Reload to see the new state, then try again.") from None
    for rec in ws.list_records(KIND, project_id=version.project_id):  # the ledger is the truth; records mirror it
        if list(rec.get("aliases") or []) != after.aliases_of(rec["id"]):
            update_mutable(ws, rec, aliases=after.aliases_of(rec["id"]))
    return LedgerEntry.from_record(payload)


def save_gate_fields(ws: Workspace, version_id: str, **changes: Any) -> None:
    """Stores a version's latest gate result or its final check (used by core.release.gate)."""
    update_mutable(ws, ws.get_record(KIND, version_id) or {"id": version_id, "project_id": None}, **changes)


