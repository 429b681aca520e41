"""Projects: one use case tied to one dataset, with its target, task and success criteria, kept in the workspace.

Public API:
- `Project` (dataclass; `criteria` is a `core.project.criteria.SuccessCriteria`), stored as record kind "project" with
  `project_id` = its own id. `classes` lists the target's values for classification (native types: a yes/no column
  loads as booleans, so the churn project's positive class is `True`, shown as "yes" by `format_class`).
- `create_project(ws, name, dataset, target=None, *, task=None, positive_class=None, problem="",
  users_and_decision="", criteria=None) -> Project`; the task is detected from the target when not given.
- `get_project(ws, ref)` (id or exact name), `list_projects(ws, include_archived=False)` (newest first),
  `update_project(ws, id, **changes)`, `rename_project`, `duplicate_project`, `archive_project(ws, id, archived=True)`.
- `detect_task(ws, dataset, target) -> (task, classes, positive_class_guess)`, computed in DuckDB;
  `class_shares(ws, dataset, target) -> {class: share}` for the metric warnings.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from core.errors import (
    InUse,
    NameInvalid,
    SpecInvalid,
    TargetNotUsable,
    WorkbenchError,
    unknown,
)
from core.project.criteria import (
    SuccessCriteria,
    default_criteria,
    format_class,
    validate_criteria,
)
from core.store.workspace import Workspace, new_id, quote_ident

__all__ = ["Project", "archive_project", "class_shares", "create_project", "detect_task", "duplicate_project",
           "format_class", "get_project", "list_projects", "project_exists", "rename_project", "update_project"]

log = logging.getLogger(__name__)

KIND = "project"
SCHEMA = 1
MAX_CLASSES = 50  # beyond this a text column is an identifier or free text, not an outcome to classify
MAX_INT_CLASSES = 10  # whole numbers with at most this many values read as classes (ratings 1–5), else a quantity
_POSITIVE_WORDS = ("yes", "true", "1", "y", "positive", "churn", "churned", "fraud", "spam", "default", "1.0")
_UPDATABLE = {"problem", "users_and_decision", "dataset_id", "target", "task", "positive_class", "criteria"}


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    dataset_id: str
    target: str | None
    task: str
    positive_class: Any = None
    classes: tuple = ()
    problem: str = ""
    users_and_decision: str = ""
    criteria: SuccessCriteria = field(default_factory=lambda: SuccessCriteria("", 0.0))
    archived: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def is_classification(self) -> bool:
        return self.task in ("binary", "multiclass")

    def to_payload(self) -> dict:
        return {"schema": SCHEMA, "name": self.name, "dataset_id": self.dataset_id, "target": self.target,
                "task": self.task, "positive_class": self.positive_class, "classes": list(self.classes),
                "problem": self.problem, "users_and_decision": self.users_and_decision,
                "criteria": self.criteria.to_dict(), "archived": self.archived}

    @classmethod
    def from_record(cls, rec: dict) -> "Project":
        return cls(id=rec["id"], name=rec["name"], dataset_id=rec["dataset_id"], target=rec.get("target"),
                   task=rec["task"], positive_class=rec.get("positive_class"), classes=tuple(rec.get("classes") or ()),
                   problem=rec.get("problem", ""), users_and_decision=rec.get("users_and_decision", ""),
                   criteria=SuccessCriteria.from_dict(rec.get("criteria") or {}), archived=bool(rec.get("archived")),
                   created_at=rec.get("created_at"), updated_at=rec.get("updated_at"))


# -- target and task ---------------------------------------------------------------------------------------------------
def _target_stats(ws: Workspace, dataset: str, target: str) -> tuple[Any, list[tuple[Any, int]], int, int, bool]:
    info = ws.dataset(dataset)
    col = info.column(target)
    q = quote_ident(target)
    table = quote_ident(info.table)
    n_rows, n_null, n_distinct = ws.read_rows(
        f"SELECT count(*), count(*) - count({q}), count(DISTINCT {q}) FROM {table}")[0]
    counts = []
    if n_distinct <= MAX_CLASSES:
        counts = ws.read_rows(f"SELECT {q}, count(*) FROM {table} WHERE {q} IS NOT NULL GROUP BY 1 ORDER BY 1")
    is_integer = col.is_numeric and bool(ws.read_rows(
        f"SELECT bool_and({q} = round({q})) FROM {table} WHERE {q} IS NOT NULL")[0][0])
    return col, counts, int(n_rows), int(n_null), is_integer and int(n_distinct) <= MAX_INT_CLASSES


def detect_task(ws: Workspace, dataset: str, target: str | None) -> tuple[str, list, Any]:
    """Detects the task from the target column: (task, classes, positive class guess). Raises: TargetNotUsable, NotFound."""
    if not target:
        return "clustering", [], None
    col, counts, n_rows, n_null, few_whole_numbers = _target_stats(ws, dataset, target)
    n_distinct = len(counts) if counts else None
    if n_null == n_rows:
        raise TargetNotUsable(f"Column {target!r} is empty in every row, so there is nothing to predict. "
                              "Choose another target.")
    if counts and len(counts) == 1:
        raise TargetNotUsable(f"Column {target!r} has only one value ({format_class(counts[0][0])!r}), so there is "
                              "nothing to predict. Choose another target, or upload rows that include other outcomes.")
    if col.kind == "datetime":
        raise TargetNotUsable(f"Column {target!r} holds dates. Predict something derived from it (days until an "
                              "event, or whether it happened) and choose that column instead.")
    if col.is_numeric and not few_whole_numbers and n_distinct != 2:
        return "regression", [], None
    if n_distinct is None:
        raise TargetNotUsable(f"Column {target!r} has more than {MAX_CLASSES} different values and is not a number, "
                              "so it looks like an identifier or free text rather than an outcome. Choose another target.")
    classes = [v for v, _ in counts]
    if n_distinct == 2:
        return "binary", classes, _guess_positive(counts)
    return "multiclass", classes, None


def _guess_positive(counts: list[tuple[Any, int]]) -> Any:
    for value, _ in counts:
        if value is True or str(value).strip().lower() in _POSITIVE_WORDS:
            return value
    return min(counts, key=lambda vc: (vc[1], str(vc[0])))[0]  # the rarer outcome is usually the one to find


def class_shares(ws: Workspace, dataset: str, target: str) -> dict[Any, float]:
    """Returns each target value's share of the rows with a value (empty for more than MAX_CLASSES values)."""
    _, counts, *_ = _target_stats(ws, dataset, target)
    total = sum(n for _, n in counts)
    return {v: n / total for v, n in counts} if total else {}


def match_class(value: Any, classes: list | tuple) -> Any:
    """Returns the class equal to `value`, matching typed text ('yes', '1') to booleans and numbers. Raises: NotFound."""
    for c in classes:
        if value == c and type(value) is type(c):
            return c
    text = str(value).strip().lower()
    for c in classes:
        if text == format_class(c).lower() or text == str(c).strip().lower():
            return c
        if isinstance(c, bool) and text in (("true", "1", "y") if c else ("false", "0", "n")):
            return c
    raise unknown("class", str(value), [format_class(c) for c in classes], where="the target")


# -- records ---------------------------------------------------------------------------------------------------------
def _save(ws: Workspace, project: Project) -> Project:
    rec = ws.put_record(KIND, project.id, project.to_payload(), project_id=project.id)
    return Project.from_record(rec)


def _clean_name(name: str) -> str:
    text = " ".join("".join(ch for ch in str(name or "") if ch.isprintable()).split())[:80]
    if not text:
        raise NameInvalid("A project needs a name, e.g. 'Customer churn'. Type one.")
    return text


def _check_name_free(ws: Workspace, name: str, except_id: str | None = None) -> None:
    for rec in ws.list_records(KIND):
        if rec["name"].lower() == name.lower() and rec["id"] != except_id:
            raise NameInvalid(f"A project named {rec['name']!r} already exists. Choose another name.")


def _resolve(ws: Workspace, *, dataset_id: str, target: str | None, task: str | None, positive_class: Any,
             criteria: SuccessCriteria | None, old: Project | None = None) -> dict:
    """Checks dataset, target, task, positive class and criteria together; returns the fields to store."""
    info = ws.dataset(dataset_id)
    if target:
        info.column(target)
    detected, classes, guess = detect_task(ws, info.id, target or None)
    task = task or detected
    if task == "clustering":
        target, classes, positive_class = None, [], None
    elif not target:
        raise SpecInvalid(f"A {task} project needs a target column. Choose one, or pick clustering.")
    elif task in ("binary", "multiclass"):
        if detected == "regression":
            raise TargetNotUsable(f"Column {target!r} holds many different numbers, so it is a quantity to estimate, "
                                  "not a set of classes. Choose regression, or another target.")
        if task == "binary" and len(classes) != 2:
            raise TargetNotUsable(f"Binary classification needs exactly two outcomes, but {target!r} has "
                                  f"{len(classes)}. Choose multiclass, or another target.")
        if task == "binary":
            positive_class = guess if positive_class is None else match_class(positive_class, classes)
        else:
            positive_class = None
    elif task == "regression":
        if not info.column(target).is_numeric:
            raise TargetNotUsable(f"Regression predicts a number, but {target!r} holds text. Choose "
                                  "classification, or a numeric target.")
        classes, positive_class = [], None
    else:
        raise SpecInvalid(f"{task!r} is not a task here; choose binary, multiclass, regression or clustering.")
    if criteria is not None and old is not None and criteria is old.criteria and old.task != task:
        try:  # the old criteria may still fit the new task; keep them if so
            validate_criteria(criteria, task, info.column_names)
        except WorkbenchError:
            criteria = None
    if criteria is None:
        shares = class_shares(ws, info.id, target) if task in ("binary", "multiclass") else None
        criteria = default_criteria(task, shares)
    validate_criteria(criteria, task, info.column_names)
    return {"dataset_id": info.id, "target": target or None, "task": task, "classes": tuple(classes),
            "positive_class": positive_class, "criteria": criteria}


def create_project(ws: Workspace, name: str, dataset: str, target: str | None = None, *, task: str | None = None,
                   positive_class: Any = None, problem: str = "", users_and_decision: str = "",
                   criteria: SuccessCriteria | None = None) -> Project:
    """Creates a project on a dataset (id or name). Raises: NameInvalid, NotFound, TargetNotUsable, SpecInvalid."""
    name = _clean_name(name)
    _check_name_free(ws, name)
    fields = _resolve(ws, dataset_id=dataset, target=target, task=task, positive_class=positive_class,
                      criteria=criteria)
    project = Project(id=new_id("prj"), name=name, problem=str(problem or "").strip(),
                      users_and_decision=str(users_and_decision or "").strip(), **fields)
    return _save(ws, project)


def get_project(ws: Workspace, ref: str) -> Project:
    """Returns a project by id or exact name (archived ones too). Raises: NotFound."""
    rec = ws.get_record(KIND, ref)
    if rec is None:
        named = [r for r in ws.list_records(KIND) if r["name"] == ref]
        if not named:
            raise unknown("project", ref, [r["name"] for r in ws.list_records(KIND)])
        rec = named[0]
    return Project.from_record(rec)


def project_exists(ws: Workspace, project_id: str) -> bool:
    """Whether a project with this id is saved (archived ones included)."""
    return ws.get_record(KIND, project_id) is not None


def list_projects(ws: Workspace, include_archived: bool = False) -> list[Project]:
    """Lists projects, newest first; archived ones only when asked."""
    projects = [Project.from_record(r) for r in ws.list_records(KIND)]
    return [p for p in projects if include_archived or not p.archived]


def update_project(ws: Workspace, project_id: str, **changes: Any) -> Project:
    """Changes a project's problem, users, dataset, target, task, positive class or criteria.

    Raises: NotFound, InUse (another dataset while splits exist), TargetNotUsable, SpecInvalid.
    """
    old = get_project(ws, project_id)
    extra = set(changes) - _UPDATABLE
    if extra:
        raise SpecInvalid(f"Cannot change {', '.join(sorted(extra))} here; use rename or archive.")
    if "dataset_id" in changes and ws.dataset(changes["dataset_id"]).id != old.dataset_id:
        # Splits, runs and reports of this project name its dataset; the store finds them without reading their kinds.
        if any(d["project_id"] == old.id and d["kind"] != KIND for d in ws.dependents(old.dataset_id)):
            raise InUse(f"Project {old.name!r} has saved splits or results of its current dataset. To add newer rows "
                        "with the same columns, append them as a batch (Monitoring page, or `workbench append`); "
                        "to work on another dataset, duplicate the project, so earlier results stay comparable.")
    merged = {k: changes.get(k, getattr(old, k)) for k in ("dataset_id", "target", "task", "positive_class",
                                                             "criteria")}
    if "target" in changes and "task" not in changes:
        merged["task"] = None  # a new target gets a freshly detected task
    if merged["target"] != old.target and "positive_class" not in changes:
        merged["positive_class"] = None
    fields = _resolve(ws, old=old, **merged)
    project = replace(old, problem=str(changes.get("problem", old.problem) or "").strip(),
                      users_and_decision=str(changes.get("users_and_decision", old.users_and_decision) or "").strip(),
                      **fields)
    return _save(ws, project)


def rename_project(ws: Workspace, project_id: str, new_name: str) -> Project:
    """Renames a project. Raises: NotFound, NameInvalid."""
    project = get_project(ws, project_id)
    name = _clean_name(new_name)
    _check_name_free(ws, name, except_id=project.id)
    return _save(ws, replace(project, name=name))


def duplicate_project(ws: Workspace, project_id: str, new_name: str | None = None) -> Project:
    """Copies a project's definition and criteria (not its splits or models) under a new name. Raises: NameInvalid."""
    project = get_project(ws, project_id)
    taken = {r["name"].lower() for r in ws.list_records(KIND)}
    name = _clean_name(new_name) if new_name else None
    if name is None:
        name, i = f"{project.name} (copy)", 2
        while name.lower() in taken:
            name, i = f"{project.name} (copy {i})", i + 1
    _check_name_free(ws, name)
    copy = replace(project, id=new_id("prj"), name=name, archived=False,
                   criteria=SuccessCriteria.from_dict(project.criteria.to_dict()))
    return _save(ws, copy)


def archive_project(ws: Workspace, project_id: str, archived: bool = True) -> Project:
    """Archives a project (hidden from pickers, kept with its results) or restores it. Raises: NotFound."""
    return _save(ws, replace(get_project(ws, project_id), archived=archived))


# -- demo ---------------------------------------------------------------------------------------------------------------


