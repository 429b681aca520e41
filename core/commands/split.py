"""CLI: split a project's data into train / validation / test and report sizes, balance and leak checks."""

from __future__ import annotations

from core.commands import workspace_for
from core.errors import SpecInvalid
from core.project.projects import get_project
from core.split.leakcheck import leak_checks, split_summary
from core.split.spec import SplitSpec
from core.split.splitting import STRATEGY_KEYS, list_splits, split_project
from core.split.timesplit import BACKTEST_MODES

_DEFAULT = SplitSpec()  # the CLI's defaults are the spec's


def register(sub) -> None:
    p = sub.add_parser("split", help="split a project's dataset without leaks")
    p.add_argument("project", help="project name or id")
    p.add_argument("--strategy", choices=STRATEGY_KEYS, default=_DEFAULT.strategy)
    p.add_argument("--ratios", default=",".join(map(str, _DEFAULT.ratios)), help="train,validation,test shares summing to 1")
    p.add_argument("--seed", type=int, default=_DEFAULT.seed)
    p.add_argument("--time-column", help="date column (time strategy)")
    p.add_argument("--cutoffs", help="where validation and test start, e.g. 2025-07-01,2025-10-01")
    p.add_argument("--gap", type=float, default=_DEFAULT.gap, help="days left out before each cut-off")
    p.add_argument("--backtest-folds", type=int, default=_DEFAULT.backtest_folds,
                   help="2-10 rolling/expanding folds (time strategy)")
    p.add_argument("--backtest-mode", choices=BACKTEST_MODES, default=_DEFAULT.backtest_mode)
    p.add_argument("--group-column", help="column identifying a customer / ID (group strategy)")
    p.add_argument("--name", help="name of the split")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=split)

    ls = sub.add_parser("splits", help="list a project's splits")
    ls.add_argument("project", help="project name or id")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=list_)


def _ratios(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise SpecInvalid(f"--ratios takes three numbers separated by commas, e.g. 0.7,0.15,0.15, not {text!r}.") from None


def describe(ws, split, with_details: bool = True) -> dict:
    """Returns a split with its sizes, per-set summary and leak checks as plain data."""
    out = {"id": split.id, "name": split.name, "project_id": split.project_id, "dataset_id": split.dataset_id,
           "spec": split.spec.to_dict(), "sizes": split.sizes, "cutoffs": split.cutoffs, "folds": list(split.folds),
           "notes": list(split.notes), "content_hash": split.content_hash, "created_at": split.created_at}
    if with_details:
        out["summary"] = split_summary(ws, split).to_dict("records")
        out["leak_checks"] = [f.to_dict() for f in leak_checks(ws, split)]
    return out


def split(args):
    ws = workspace_for(args)
    project = get_project(ws, args.project)
    cutoffs = tuple(c.strip() for c in args.cutoffs.split(",") if c.strip()) if args.cutoffs else ()
    spec = SplitSpec(strategy=args.strategy, ratios=_ratios(args.ratios), seed=args.seed, time_column=args.time_column,
                     cutoffs=cutoffs, gap=args.gap, backtest_folds=args.backtest_folds,
                     backtest_mode=args.backtest_mode, group_column=args.group_column)
    result = describe(ws, split_project(ws, project, spec, name=args.name))
    if args.json:
        return result
    sizes = result["sizes"]
    lines = [f"Saved split {result['name']!r} ({result['id']}): train {sizes['train']:,}, validation "
             f"{sizes['validation']:,}, test {sizes['test']:,}" + (f", excluded {sizes['excluded']:,}" if sizes["excluded"] else "")]
    lines += [f"  [{f['status']}] {f['title']}" + (f" — {f['fix']}" if f["status"] != "ok" else "")
              for f in result["leak_checks"]]
    return "\n".join(lines)


def list_(args):
    ws = workspace_for(args)
    splits = list_splits(ws, get_project(ws, args.project).id)
    if args.json:
        return [describe(ws, s, with_details=False) for s in splits]
    if not splits:
        return "No splits yet. Create one with: workbench split PROJECT --strategy stratified"
    return "\n".join(f"{s.name:<45} train {s.sizes['train']:>7,}  val {s.sizes['validation']:>7,}  "
                     f"test {s.sizes['test']:>7,}  {s.id}" for s in splits)
