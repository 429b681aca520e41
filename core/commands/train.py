"""CLI: train and compare models on a project's split, and list the saved runs."""

from __future__ import annotations

import math

from core.catalog import models_for
from core.commands import workspace_for
from core.errors import NotFound, SpecInvalid, unknown
from core.models.leaderboard import leaderboard_frame, verdict
from core.models.runs import cluster_and_save, list_runs, train_and_save
from core.project.projects import get_project
from core.split.splitting import list_splits


def register(sub) -> None:
    p = sub.add_parser("train", help="compare models on a project's split (cross-validation, then validation)")
    p.add_argument("project", help="project name or id")
    p.add_argument("--models", help="catalog keys separated by commas, e.g. logreg,rf,xgb (default: all for the task)")
    p.add_argument("--split", help="split name or id (default: the project's newest split)")
    p.add_argument("--cv", type=int, default=5, help="cross-validation folds, 2-10 (0 = none)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--tune", type=int, default=0, metavar="N", help="random-search N settings per model")
    p.add_argument("--tune-minutes", type=float, default=None, help="time budget per model for tuning")
    p.add_argument("--features", help="the input columns, separated by commas (default: every usable column minus "
                                      "the target, identifiers, leak suspects and sensitive attributes)")
    p.add_argument("--exclude", help="columns to leave out, separated by commas")
    p.add_argument("--sensitive-reason", help="why a sensitive attribute named in --features is used as an input "
                                              "(recorded on the runs and the model card)")
    p.add_argument("--k", default="2-8", help="clustering projects: range of group counts to try, e.g. 2-8")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=train)

    ls = sub.add_parser("runs", help="list a project's saved training runs")
    ls.add_argument("project", help="project name or id")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=runs)


def _split(ws, project, ref):
    splits = list_splits(ws, project.id)
    if not splits:
        raise NotFound(f"Project {project.name!r} has no split yet. Create one with: workbench split "
                       f"{project.name!r}")
    if not ref:
        return splits[0]
    for s in splits:
        if ref in (s.id, s.name):
            return s

    raise unknown("split", ref, [s.name for s in splits], where=project.name)


def _plain(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _records(df) -> list[dict]:
    return [{k: _plain(v) for k, v in row.items()} for row in df.to_dict("records")]


def _names(text: str | None) -> list[str] | None:
    """A comma-separated list of column names; None when the option was not given ('' gives an empty list)."""
    if text is None:
        return None
    return [n.strip() for n in text.split(",") if n.strip()]


def train(args):
    ws = workspace_for(args)
    project = get_project(ws, args.project)
    split = _split(ws, project, args.split)
    if project.task == "clustering":
        try:
            low, high = (int(x) for x in args.k.split("-"))
        except ValueError:
            raise SpecInvalid(f"--k takes a range such as 2-8, not {args.k!r}.") from None
        result, pca, run_id = cluster_and_save(ws, project, split, range(low, high + 1), args.seed)
        out = {"run_id": run_id, "best_k": result.best_k, "k_table": _records(result.k_table),
               "groups": result.descriptions, "notes": result.notes,
               "explained_variance": _records(pca.explained)}
        return out if args.json else "\n".join([f"Best k = {result.best_k} (highest silhouette)."] + result.descriptions)
    keys = [k.strip() for k in args.models.split(",") if k.strip()] if args.models else \
        [m.key for m in models_for(project.task)]
    result, _ = train_and_save(ws, project, split, keys, cv=args.cv, seed=args.seed, tune_trials=args.tune,
                               tune_seconds=args.tune_minutes * 60 if args.tune_minutes else None,
                               features=_names(args.features), exclude=_names(args.exclude) or (),
                               sensitive_reason=args.sensitive_reason)

    saved = list(reversed(list_runs(ws, project.id, comparison_id=result.id)))
    board = leaderboard_frame(saved, project.task, result.primary_metric, project.criteria)
    out = {"comparison_id": result.id, "project": project.name, "split": split.name,
           "primary_metric": result.primary_metric, "cv_folds": result.cv, "seconds": round(result.seconds, 2),
           "verdict": verdict(saved, result.primary_metric, project.criteria), "notes": result.notes,
           "cross_validation": result.cv_scheme, "features": result.feature_choice,
           "leaderboard": _records(board)}
    if args.json:
        return out
    choice = result.feature_choice
    lines = [out["verdict"], f"Cross-validation: {result.cv_scheme.get('description', '')}",
             f"Features ({len(choice['used'])}): {', '.join(choice['used'])}"]
    lines += [f"  left out {d['column']}: {d['reason']}" for d in choice["left_out"]]
    if choice.get("sensitive_used"):
        lines.append(f"Sensitive attribute(s) used on purpose: {', '.join(choice['sensitive_used'])} — "
                     f"{choice['sensitive_reason']}")
    lines.append("")
    for r in out["leaderboard"]:
        val = "n/a" if r["validation"] is None else f"{r['validation']:.4f}"
        cv = "n/a" if r["cv_mean"] is None else f"{r['cv_mean']:.4f} ± {r['cv_sd']:.4f}"
        lines.append(f"{r['rank']:>2}. {r['model']:<24} CV {cv:<18} validation {val:<8} "
                     + (f"FAILED: {r['error']}" if r["error"] else ("meets criteria" if r["meets_criteria"] else "")))
    return "\n".join(lines)


def runs(args):
    ws = workspace_for(args)
    project = get_project(ws, args.project)
    saved = list_runs(ws, project.id)
    rows = [{"id": r.id, "comparison_id": r.comparison_id, "model": r.model_label, "key": r.model_key,
             "split": r.split_name, "split_hash": r.split_hash, "params": r.params, "seed": r.seed,
             "validation_metrics": {k: _plain(v) for k, v in r.validation_metrics.items()},
             "cv_summary": r.cv_summary, "fit_seconds": r.fit_seconds, "size_bytes": r.size_bytes,
             "error": r.error, "warnings": list(r.warnings), "created_at": r.created_at} for r in saved]
    if args.json:
        return rows
    if not rows:
        return f"No runs yet. Train some with: workbench train {project.name!r}"
    return "\n".join(f"{r['created_at']:%Y-%m-%d %H:%M}  {r['model']:<24} {r['split']:<28} {r['id']}"
                     + (f"  FAILED: {r['error']}" if r["error"] else "") for r in rows)
