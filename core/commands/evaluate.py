"""CLI: judge one saved run on its validation rows: metrics at a threshold, the best-value threshold, fairness."""

from __future__ import annotations

from core.commands import workspace_for
from core.errors import SpecInvalid
from core.evaluate.summary import summarize_run


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="metrics of a saved run at a threshold, its best-value threshold and fairness")
    p.add_argument("run", help="run id (in the Evaluate page's address bar: ?run=…)")
    p.add_argument("--threshold", type=float,
                   help="decision threshold 0-1 for a two-outcome run (default: the run's saved one)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=evaluate)


def evaluate(args):
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise SpecInvalid(f"--threshold must lie between 0 and 1, not {args.threshold:g}. Scores are on a 0–1 scale.")
    out = summarize_run(workspace_for(args), args.run, args.threshold)
    return out if args.json else _text(out)


def _text(out: dict) -> str:
    lines = [f"{out['model']} ({out['run_id']}) on {out['validation_rows']:,} validation rows of {out['project']!r}"]
    if out["task"] == "binary":
        lines.append(out["headline"])
        m = out["metrics"]
        lines.append("  " + "  ".join(f"{k} {m[k]:.3f}" for k in ("precision", "recall", "f1", "accuracy"))
                     + f"  ({out['threshold_shown']})")
        best = out["best_value_threshold"]
        if best:
            lines.append(f"  best value at threshold {best['threshold']:.2f}: {best['value_per_1000']:+,.0f} per 1,000")
        lines.append(f"  {out['criterion']}")
        lines += [f"  [{'pass' if c['passed'] else 'FAIL' if c['passed'] is False else ' -- '}] {c['rule']}"
                  for c in out["checks"]]
    else:
        lines.append("  " + "  ".join(f"{k} {v:.4g}" for k, v in out["metrics"].items()
                                      if isinstance(v, float)))
    fairness = out["fairness"]
    if fairness is not None:
        lines.append(f"Fairness: {fairness['verdict']}")
        for m in fairness["measures"]:
            outcome = f" ({m['outcome']})" if out["task"] == "multiclass" else ""
            lines.append(f"  [{m['verdict']:>7}] {m['attribute']}{outcome} {m['measure']} {_num(m['value'])} "
                         f"(95% {_num(m['ci_low'])} to {_num(m['ci_high'])}, limit {m['limit']:g})")
        lines += [f"  warning: {w}" for w in fairness["warnings"]]
    lines += [f"note: {n}" for n in out["notes"]]
    return "\n".join(lines)


def _num(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"
