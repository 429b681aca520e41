"""Reads where a project stands in the lifecycle, from what the workspace holds."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import NotFound
from core.launch.rehearsal import list_simulations
from core.models.runs import list_runs
from core.monitor.reports import DriftReport, list_drift_reports
from core.project.projects import get_project
from core.registry.versions import list_versions
from core.split.splitting import list_splits
from core.store.workspace import Workspace


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    page: str  # page file the step links to
    is_done: bool
    fact: str  # one short line: what exists, or what to do next


def lifecycle_status(ws: Workspace, project_id: str | None = None) -> list[Step]:
    """Returns the lifecycle steps in order, each with whether it is done and one fact about it.

    Without a project, the steps count what the whole workspace holds.
    """
    datasets = ws.datasets()
    try:
        project = get_project(ws, project_id) if project_id else None
    except NotFound:
        project = None
    splits = list_splits(ws, project_id)
    runs = [r for r in list_runs(ws, project_id) if r.is_ok]
    versions = list_versions(ws, project_id)
    champion = next((v for v in versions if "champion" in v.aliases), None)
    drifts = list_drift_reports(ws, project_id)
    sims = list_simulations(ws, project_id)
    honest = [s for s in sims if not s.spec.inject]  # an injected failure is a "what if", not the model's verdict

    def plural(n: int, word: str) -> str:
        return f"{n:,} {word}{'' if n == 1 else 's'}"

    steps = [
        Step("define", "Define", "pages/01_define.py", project is not None,
             f"Project “{project.name}”" if project else "Write down the problem and what success means"),
        Step("data", "Data", "pages/02_data.py", bool(datasets),
             plural(len(datasets), "dataset") if datasets else "Upload a CSV"),
        Step("split", "Split", "pages/06_split.py", bool(splits),
             plural(len(splits), "split") if splits else "Split train / validation / test"),
        Step("train", "Train", "pages/07_train.py", bool(runs),
             plural(len(runs), "trained model") if runs else "Compare models point-and-click"),
        Step("register", "Register", "pages/09_registry.py", champion is not None,
             f"Champion v{champion.number}" if champion else
             (plural(len(versions), "version") if versions else "Register and promote a champion")),
        Step("drift", "Monitor drift", "pages/11_drift.py", bool(drifts),
             _drift_fact(drifts[0]) if drifts else "Check new data for drift"),
        Step("launch", "Launch", "pages/12_launch.py", bool(sims),
             f"Rehearsed: {honest[0].decision or 'simulated'}" if honest else
             (f"{len(sims)} what-if rehearsal{'s' if len(sims) != 1 else ''} (injected failures)" if sims
              else "Rehearse shadow, A/B or canary")),
    ]
    return steps


def _drift_fact(report: DriftReport) -> str:
    share = report.drifted_share
    moved = f" ({share:.0%} of columns moved)" if isinstance(share, (int, float)) else ""
    return ("Drift detected" if report.is_drifted else "Stable") + moved
