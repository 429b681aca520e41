"""The ready sample project: on first start the app opens on "Customer churn" with a stratified split, no setup.

`seed_demo_project(ws) -> Project | None` creates it once per workspace (a marker record remembers it, so a project
the user deleted does not come back); `core.share.demo.build_demo` builds the rest of the story on top of it.
"""

from __future__ import annotations

import logging

from core.errors import NameInvalid, NotFound, WorkbenchError
from core.project.criteria import Guardrail, KeyResult, Okr, SuccessCriteria
from core.project.projects import (
    Project,
    create_project,
    detect_task,
    get_project,
    list_projects,
    match_class,
)
from core.split.spec import SplitSpec
from core.split.splitting import split_project
from core.store.workspace import Workspace

log = logging.getLogger(__name__)


DEMO_MARKER = ("seed", "demo_project")


def seed_demo_project(ws: Workspace) -> Project | None:
    """Creates, once per workspace, the 'Customer churn' demo project with a stratified split (None without samples)."""
    marker = ws.get_record(*DEMO_MARKER)
    if marker is not None:
        try:
            return get_project(ws, marker["project"]) if marker.get("project") else None
        except NotFound:
            return None  # the user deleted it; do not bring it back
    try:
        info = ws.dataset("churn")
    except NotFound:
        return None
    if "churned" not in info.column_names:
        return None
    try:  # claim the marker first: append-only, so two sessions starting together create one demo, not two
        ws.append_record(*DEMO_MARKER, {"project": None})
    except NameInvalid:
        return seed_demo_project(ws)

    try:
        project = create_project(
            ws, _free_name(ws, "Customer churn"), info.id, "churned", task="binary",
            positive_class=match_class("yes", detect_task(ws, info.id, "churned")[1]),
            problem="Predict which customers will cancel next month, so the retention team can reach them first.",
            users_and_decision="The retention team calls the flagged customers each month and may offer a discount.",
            criteria=_demo_criteria(info.column_names))
    except WorkbenchError as err:
        log.warning("The demo project could not be created: %s", err)
        return None
    ws.put_record(*DEMO_MARKER, {"project": project.id})
    try:
        split_project(ws, project, SplitSpec(strategy="stratified"), name="Stratified 70/15/15")
    except WorkbenchError as err:
        log.warning("The demo project's split could not be created: %s", err)
    return project


def _demo_criteria(columns: list[str]) -> SuccessCriteria:
    return SuccessCriteria(
        primary_metric="recall", op=">=", threshold=0.70,
        guardrails=[Guardrail("precision", ">=", 0.40)],
        min_improvement=0.01,
        # A retention offer costs 20; a saved customer keeps about 200 of margin (offer accepted about half the time).
        costs={"tp": 80.0, "fp": -20.0, "fn": -200.0, "tn": 0.0},
        sensitive_attributes=["age_band"] if "age_band" in columns else [],
        fairness_tolerance=0.10,
        okr=Okr("Keep more customers without wasting retention budget", [
            KeyResult("Catch at least 70% of customers who are about to leave", "recall", 0.70),
            KeyResult("At least 40% of retention offers reach a customer who would have left", "precision", 0.40),
            KeyResult("Rank leavers above stayers most of the time", "roc_auc", 0.80),
        ]))


def _free_name(ws: Workspace, name: str) -> str:
    taken = {p.name.lower() for p in list_projects(ws, include_archived=True)}
    out, i = name, 2
    while out.lower() in taken:
        out, i = f"{name} ({i})", i + 1
    return out
