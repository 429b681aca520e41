"""CLI: create, list, show, rename, duplicate and archive projects."""

from __future__ import annotations

import re

from core.commands import workspace_for
from core.errors import SpecInvalid
from core.project.criteria import (
    Guardrail,
    SuccessCriteria,
    default_criteria,
    describe_criteria,
    format_class,
    natural_op,
)
from core.project.projects import (
    archive_project,
    class_shares,
    create_project,
    detect_task,
    duplicate_project,
    get_project,
    list_projects,
    rename_project,
)


def register(sub) -> None:
    p = sub.add_parser("project", help="define projects: problem, target, task and success criteria")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    c = actions.add_parser("create", help="create a project on a dataset")
    c.add_argument("--name", required=True)
    c.add_argument("--dataset", required=True, help="dataset name or id")
    c.add_argument("--target", help="column to predict (leave out for clustering)")
    c.add_argument("--task", choices=["binary", "multiclass", "regression", "clustering"],
                   help="default: detected from the target")
    c.add_argument("--positive-class", help="the outcome to find (binary), e.g. yes")
    c.add_argument("--problem", default="", help="the problem in one or two sentences")
    c.add_argument("--users", default="", help="who uses the predictions and what decision they drive")
    c.add_argument("--metric", help="primary metric key, e.g. recall (default: chosen for the task)")
    c.add_argument("--threshold", type=float, help="launch threshold for the primary metric")
    c.add_argument("--guardrail", action="append", default=[], metavar="METRIC>=VALUE",
                   help="a guardrail such as precision>=0.4 (repeatable)")
    c.add_argument("--min-improvement", type=float, default=0.0)
    c.add_argument("--cost", action="append", default=[], metavar="OUTCOME=VALUE",
                   help="value of one decision, gain > 0, loss < 0: tp=80 fp=-20 fn=-200 tn=0 (repeatable)")
    c.add_argument("--cost-per-unit-error", type=float, help="regression: money lost per unit of error")
    c.add_argument("--sensitive", action="append", default=[], metavar="COLUMN", help="sensitive attribute")
    c.add_argument("--fairness-tolerance", type=float, default=0.10)
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=create)

    ls = actions.add_parser("list", help="list projects")
    ls.add_argument("--all", action="store_true", help="include archived projects")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=list_)

    for name, func, help_ in (("show", show, "show one project"), ("archive", archive, "archive a project")):
        a = actions.add_parser(name, help=help_)
        a.add_argument("project", help="project name or id")
        if name == "archive":
            a.add_argument("--restore", action="store_true", help="bring an archived project back")
        a.add_argument("--json", action="store_true")
        a.set_defaults(func=func)

    r = actions.add_parser("rename", help="rename a project")
    r.add_argument("project")
    r.add_argument("new_name")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=rename)

    d = actions.add_parser("duplicate", help="copy a project's definition and criteria")
    d.add_argument("project")
    d.add_argument("--name", help="name of the copy")
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=duplicate)


def describe(project) -> dict:
    """Returns a project as plain JSON-ready data."""
    return {"id": project.id, "name": project.name, "dataset_id": project.dataset_id, "target": project.target,
            "task": project.task, "positive_class": project.positive_class,
            "classes": [format_class(c) for c in project.classes], "problem": project.problem,
            "users_and_decision": project.users_and_decision, "archived": project.archived,
            "criteria": project.criteria.to_dict(), "criteria_text": describe_criteria(project.criteria, project.task),
            "created_at": project.created_at}


def _pairs(items: list[str], pattern: str, what: str) -> list[tuple[str, str, float]]:
    out = []
    for item in items:
        m = re.fullmatch(pattern, item.replace(" ", ""))
        if not m:
            raise SpecInvalid(f"{item!r} is not a {what}.")
        out.append((m.group(1), m.group(2), float(m.group(3))))
    return out


def create(args):
    ws = workspace_for(args)
    criteria = None
    if args.metric or args.guardrail or args.cost or args.sensitive or args.cost_per_unit_error is not None \
            or args.threshold is not None or args.min_improvement:
        task = args.task or detect_task(ws, args.dataset, args.target)[0]
        shares = class_shares(ws, args.dataset, args.target) if task in ("binary", "multiclass") else None
        criteria = default_criteria(task, shares)
        if args.metric:
            criteria.primary_metric, criteria.op = args.metric, natural_op(args.metric)
        if args.threshold is not None:
            criteria.threshold = args.threshold
        num = r"(-?[0-9.eE+-]+)"
        criteria.guardrails = [Guardrail(m, op, v) for m, op, v in
                               _pairs(args.guardrail, r"([A-Za-z0-9_]+)(>=|<=)" + num, "guardrail like precision>=0.4")]
        if args.cost:
            criteria.costs = {k.lower(): v for k, _, v in _pairs(args.cost, r"([A-Za-z]+)(=)" + num, "cost like fp=-20")}
        if args.cost_per_unit_error is not None:
            criteria.cost_per_unit_error = args.cost_per_unit_error
        criteria.min_improvement = args.min_improvement
        criteria.sensitive_attributes = list(args.sensitive)
        criteria.fairness_tolerance = args.fairness_tolerance
        criteria = SuccessCriteria.from_dict(criteria.to_dict())
    project = create_project(ws, args.name, args.dataset, args.target, task=args.task,
                             positive_class=args.positive_class, problem=args.problem,
                             users_and_decision=args.users, criteria=criteria)
    return describe(project) if args.json else f"Created project {project.name!r} ({project.id}), task {project.task}."


def list_(args):
    projects = list_projects(workspace_for(args), include_archived=args.all)
    if args.json:
        return [describe(p) for p in projects]
    if not projects:
        return "No projects yet. Create one with: workbench project create --name NAME --dataset DATA --target COLUMN"
    return "\n".join(f"{p.name:<30} {p.task:<11} target={p.target or '-':<20} {p.id}"
                     + ("  (archived)" if p.archived else "") for p in projects)


def show(args):
    out = describe(get_project(workspace_for(args), args.project))
    if args.json:
        return out
    return "\n".join([f"{out['name']} ({out['id']}): {out['task']}, target {out['target']}"] + out["criteria_text"])


def rename(args):
    ws = workspace_for(args)
    project = rename_project(ws, get_project(ws, args.project).id, args.new_name)
    return describe(project) if args.json else f"Renamed to {project.name!r}."


def duplicate(args):
    ws = workspace_for(args)
    project = duplicate_project(ws, get_project(ws, args.project).id, args.name)
    return describe(project) if args.json else f"Created {project.name!r} ({project.id})."


def archive(args):
    ws = workspace_for(args)
    project = archive_project(ws, get_project(ws, args.project).id, archived=not args.restore)
    return describe(project) if args.json else f"{'Restored' if args.restore else 'Archived'} {project.name!r}."
