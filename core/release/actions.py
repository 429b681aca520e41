"""Registry actions: register a run, promote (through the launch gate), roll back, choose a challenger, archive.

Every action holds the project's lock, checks the ledger it read, appends one ledger entry and mirrors the aliases
onto the version records (core.registry.versions owns both record kinds; this module changes them only through it).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from core.errors import ArtifactRejected, NotFound, SpecInvalid
from core.models.receipts import build_receipt
from core.models.runs import get_run, run_predictions
from core.registry.versions import (
    MODEL_FILENAME,
    SCHEMA,
    LedgerEntry,
    RegistryConflict,
    Version,
    append_ledger,
    clean_name,
    clean_text,
    content_hash,
    get_version,
    ledger,
    list_versions,
    now_iso,
    project_lock,
    registry_state,
    store_version,
)
from core.release.gate import (
    evaluate_gate,
    finite_metrics,
    metrics_at_threshold,
    version_predictions,
)
from core.release.scoring import capture_schema
from core.split.splitting import get_split
from core.store.artifacts import load_model
from core.store.workspace import Workspace, new_id


def register_run(ws: Workspace, run_id: str, note: str = "", by: str = "") -> Version:
    """Freezes a saved run as the project's next version (model file copied, checked and hashed).

    Raises: SpecInvalid (failed or unsupported run, already registered), ArtifactRejected, NotFound, PermissionDenied.
    """
    ws.require_editor()
    run = get_run(ws, run_id)
    if not run.is_ok or run.artifact is None:
        raise SpecInvalid(f"Run {run.model_label!r} has no saved model" + (f" ({run.error})" if run.error else "")
                          + ", so it cannot be registered. Register a run that trained successfully.")
    if run.task not in ("binary", "multiclass", "regression"):
        raise SpecInvalid(f"A {run.task} run groups rows rather than predicting a target; the registry holds "
                          "models that predict. Register a classification or regression run.")
    by = clean_name(by or "analyst")
    data = ws.read_artifact(run.artifact)
    load_model(data)  # refuse a tampered or foreign file now, not when someone scores with it
    split = get_split(ws, run.split_id)
    try:
        preds = run_predictions(ws, run.id)
    except NotFound:
        raise SpecInvalid(f"Run {run.model_label!r} has no validation predictions (its split has no validation set), "
                          "so the launch gate could not judge it. Train it on a split with validation rows.") from None
    with project_lock(ws, run.project_id):
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
                  "note": clean_text(note), "registered_by": by, "registered_at": now_iso()}
        holder = Version.from_record({**frozen, "id": version_id, "project_id": run.project_id, "content_hash": ""})
        frozen["metrics"] = finite_metrics(metrics_at_threshold(holder, version_predictions(ws, holder)))
        frozen["receipt"]["version"] = {"id": version_id, "number": number, "threshold": run.threshold}
        payload = {"schema_version": SCHEMA, **frozen, "content_hash": content_hash(frozen), "aliases": [],
                   "gate": None, "final_check": None}
        store_version(ws, version_id, payload, run.project_id)
        version = get_version(ws, version_id)
        append_ledger(ws, version, "register", by, clean_text(note) or "Registered", ledger(ws, run.project_id))
    return version


@contextmanager
def _changing(ws: Workspace, project_id: str, expected_seq: int | None) -> Iterator[list[LedgerEntry]]:
    """Holds the project's lock while a change reads the ledger, checks it and appends to it."""
    ws.require_editor()
    with project_lock(ws, project_id):
        entries = ledger(ws, project_id)
        head = entries[-1].seq if entries else 0
        if expected_seq is not None and int(expected_seq) != head:
            last = entries[-1] if entries else None
            raise RegistryConflict("The registry changed since you opened it" + (
                f": {last.by} recorded '{last.action}' of v{last.version_number} at {last.at}" if last else "")
                + ". Look at the new state, then try again.")
        yield entries




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
    by, version = clean_name(by), get_version(ws, version_id)
    with _changing(ws, version.project_id, expected_seq) as entries:
        state = registry_state(ws, version.project_id, entries)
        if state.champion == version.id:
            raise SpecInvalid(f"{version.label} is already the champion; nothing to change.")
        if version.id in state.archived:
            raise SpecInvalid(f"{version.label} is archived. Restore it first, then promote it.")
        _check_intact(ws, version)
        gate = evaluate_gate(ws, version, get_version(ws, state.champion) if state.champion else None, **gate_options)
        reason = clean_text(override_reason)
        if not gate.passed and not reason:
            failed = ", ".join(c.label for c in gate.failed)
            raise SpecInvalid(f"{version.label} failed the launch gate ({failed}), so it was not promoted. Fix "
                              "those checks, or promote it with an override and a written reason.")
        text = clean_text(why) or ("Passed the launch gate" if gate.passed else "")
        if not gate.passed:
            text = f"{text} — override: {reason}" if text else f"Override: {reason}"
        return append_ledger(ws, version, "promote", by, text, entries, gate=gate.to_dict(), override=not gate.passed)


def rollback(ws: Workspace, project_id: str, by: str, to_version_id: str | None = None, why: str = "",
             expected_seq: int | None = None) -> LedgerEntry:
    """Makes the previous champion (or an earlier one) champion again, without a gate, and records it.

    Raises: SpecInvalid (nothing to roll back to), RegistryConflict, NameInvalid, PermissionDenied.
    """
    by = clean_name(by)
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
        text = clean_text(why) or f"Rolled back from {current.label}"
        return append_ledger(ws, target, "rollback", by, text, entries, gate=target.gate)


def set_challenger(ws: Workspace, version_id: str, by: str, why: str = "", expected_seq: int | None = None) -> LedgerEntry:
    """Marks a version as the challenger (the one being tested against the champion). Raises: SpecInvalid."""
    by, version = clean_name(by), get_version(ws, version_id)
    with _changing(ws, version.project_id, expected_seq) as entries:
        state = registry_state(ws, version.project_id, entries)
        roles = {state.champion: "the champion", state.challenger: "already the challenger",
                 **{a: "archived" for a in state.archived}}
        if version.id in roles:
            raise SpecInvalid(f"{version.label} is {roles[version.id]}, so it cannot become the challenger.")
        return append_ledger(ws, version, "challenger", by, clean_text(why) or "Chosen for testing", entries)


def archive_version(ws: Workspace, version_id: str, by: str, why: str = "", archived: bool = True,
                    expected_seq: int | None = None) -> LedgerEntry:
    """Archives a version (kept, but never promoted or rolled back to) or restores it. Raises: SpecInvalid."""
    by, version = clean_name(by), get_version(ws, version_id)
    with _changing(ws, version.project_id, expected_seq) as entries:
        state = registry_state(ws, version.project_id, entries)
        if archived and state.champion == version.id:
            raise SpecInvalid(f"{version.label} is the champion. Promote or roll back to another version first.")
        if archived == (version.id in state.archived):
            raise SpecInvalid(f"{version.label} is {'already' if archived else 'not'} archived.")
        action = "archive" if archived else "restore"
        return append_ledger(ws, version, action, by, clean_text(why) or action.capitalize() + "d", entries)
