"""What the Registry page shows and offers: which runs can be registered, which actions a version allows, and the
versions, ledger and metric-trend tables. Pure reshaping of core.registry's records (model card views, the
champion timeline and the side-by-side comparison live in core.release.modelcard).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from core.models.runs import Run
from core.project.criteria import metric_label
from core.registry.versions import LedgerEntry, RegistryState, Version
from core.release.gate import GateResult
from core.release.modelcard import compare_versions, gate_status
from core.store.workspace import Workspace

GATE_BADGES = {"passed": "✅ passed", "failed": "❌ failed", "overridden": "⚠️ failed, overridden",
               "not run": "— not run"}


def registrable_runs(runs: list[Run], versions: list[Version]) -> list[Run]:
    """Trained runs that can become a version: finished without error, not registered yet, and not clustering."""
    registered = {v.run_id for v in versions}
    return [r for r in runs if r.is_ok and r.id not in registered and r.task != "clustering"]


def scorable_versions(versions: list[Version]) -> list[Version]:
    """Versions batch scoring offers: every version that is not archived, in the registry's order."""
    return [v for v in versions if "archived" not in v.aliases]


@dataclass(frozen=True)
class VersionActions:
    """Which ledger actions the registry offers for one version (the core actions still check everything again)."""

    can_propose: bool      # run the launch gate and promote: neither champion already nor archived
    can_challenge: bool    # make challenger: not champion, not challenger already, not archived
    can_archive: bool      # archive or restore: anything but the champion
    archived: bool         # so the archive action is a restore

    @classmethod
    def of(cls, state: RegistryState, version_id: str) -> "VersionActions":
        archived = version_id in state.archived
        live = version_id == state.champion
        return cls(can_propose=not live and not archived,
                   can_challenge=version_id not in (state.champion, state.challenger) and not archived,
                   can_archive=not live, archived=archived)


def default_version(state: RegistryState, versions: list[Version]) -> str:
    """The version the page opens on: the challenger (the one to decide about), else the newest."""
    ids = {v.id for v in versions}
    return state.challenger if state.challenger in ids else versions[0].id


def versions_table(versions: list[Version], state: RegistryState, entries: list[LedgerEntry],
                   metric: str) -> pd.DataFrame:
    """One row per version: aliases, the launch gate's badge, the primary metric on validation and test, who, why."""
    name = metric_label(metric)
    return pd.DataFrame([{
        "Version": v.label, "Model": v.model_label, "Aliases": ", ".join(state.aliases_of(v.id)) or "—",
        "Launch gate": GATE_BADGES[gate_status(v, entries)], f"{name} (validation)": v.metrics.get(metric),
        f"{name} (test, final check)": (v.final_check or {}).get("metrics", {}).get(metric),
        "Threshold": v.threshold, "Registered": v.registered_at[:16].replace("T", " "), "By": v.registered_by,
        "Note": v.note} for v in versions])


def gate_summary(version: Version, gate: GateResult, versions_by_id: dict[str, Version]) -> str:
    """The gate's one-line outcome in Markdown: passed or how many checks failed, when, and against which champion."""
    verdict = "passed" if gate.passed else f"failed {len(gate.failed)} check(s)"
    against = gate.champion_version_id in versions_by_id
    return (f"**{version.label} {verdict}** · evaluated {gate.evaluated_at.replace('T', ' ')} UTC"
            + (f" against champion {versions_by_id[gate.champion_version_id].label}" if against else ""))


def ledger_table(entries: list[LedgerEntry]) -> pd.DataFrame:
    """The ledger newest first, with the gate outcome each change carried (failed, overridden, passed)."""
    return pd.DataFrame([{"#": e.seq, "When (UTC)": e.at.replace("T", " "), "Action": e.action,
                          "Version": f"v{e.version_number}", "By": e.by, "Why": e.why,
                          "Gate": "—" if not e.gate else ("passed" if e.gate.get("passed") else
                                                          "failed" + (", overridden" if e.override else ""))}
                         for e in reversed(entries)])


def comparison_table(ws: Workspace, project_id: str, version_ids: list[str]) -> pd.DataFrame:
    """`modelcard.compare_versions` with each metric named as people read it ("Recall", not "recall")."""
    side = compare_versions(ws, project_id, version_ids)
    side["metric"] = side["metric"].map(metric_label)
    return side


def metric_trend(versions: list[Version], version_ids: list[str], metric: str) -> pd.DataFrame:
    """The primary metric per chosen version on validation and, once measured, on the test set: oldest first."""
    chosen = [v for v in versions if v.id in version_ids]
    rows = ([{"version": v.number, "registered": v.registered_at, "value": v.metrics.get(metric),
              "set": "validation"} for v in chosen]
            + [{"version": v.number, "registered": v.registered_at, "set": "test (final check)",
                "value": v.final_check["metrics"].get(metric)} for v in chosen if v.final_check])
    return pd.DataFrame(rows, columns=["version", "registered", "value", "set"]).sort_values("version")
