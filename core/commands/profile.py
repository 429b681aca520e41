"""CLI: profile a dataset (statistics, alerts, correlations, target view) and compare two datasets or slices."""

from __future__ import annotations

from core.commands import workspace_for
from core.profile.compare import SliceSpec, differences_frame
from core.profile.compare import compare as run_compare
from core.profile.profiling import profile_dataset


def register(sub) -> None:
    p = sub.add_parser("profile", help="profile a dataset: statistics, quality alerts, correlations")
    p.add_argument("dataset", help="dataset name or id")
    p.add_argument("--target", help="column to predict: adds its distribution, associations and leakage suspects")
    p.add_argument("--refresh", action="store_true", help="recompute even if a cached profile exists")
    p.add_argument("--json", action="store_true", help="print the full profile as JSON")
    p.set_defaults(func=profile)

    c = sub.add_parser("compare-data", help="compare two datasets column by column")
    c.add_argument("left", help="dataset name or id")
    c.add_argument("right", help="dataset name or id")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=compare)


def profile(args):
    ws = workspace_for(args)
    result = profile_dataset(ws, args.dataset, target=args.target, refresh=args.refresh)
    if args.json:
        return {k: v for k, v in result.items() if k not in ("kind", "project_id")}
    return _text(result)


def _text(p: dict) -> str:
    s = p["summary"]
    lines = [f"{p['dataset_name']}: {s['rows']:,} rows × {s['columns']} columns, {s['missing_pct']:.2f}% missing cells, "
             f"{s['duplicate_rows']:,} duplicate rows (profiled in {p['seconds']:.2f} s)"]
    lines.append(f"\nAlerts ({len(p['alerts'])}):" if p["alerts"] else "\nNo alerts.")
    lines += [f"  [{a['severity']}] {a['label']}: {a['evidence']}" for a in p["alerts"]]
    lines.append("\nColumns:")
    for c in p["columns"]:
        base = f"  {c['name']:<24} {c['kind']:<9} missing {c['missing_pct']:5.1f}%  distinct {c.get('distinct', 0):>9,}"
        if c["family"] == "numeric" and c.get("mean") is not None:
            base += f"  min {c['min']:.4g}  median {c.get('q50') or 0:.4g}  mean {c['mean']:.4g}  max {c['max']:.4g}"
        elif c.get("top"):
            base += f"  top {c['top'][0]['value']!r} ({c['top'][0]['pct']:.1f}%)"
        elif c["family"] == "datetime":
            base += f"  {c.get('min')} … {c.get('max')}"
        lines.append(base)
    view = p.get("target_view")
    if view:
        lines.append(f"\nTarget {view['target']!r} ({view['task']}); association with each feature"
                     f"{' (sample of ' + format(view['sample_rows'], ',') + ' rows)' if view['sample_rows'] < view['rows'] else ''}:")
        for a in view["associations"]:
            value = f"{a['value']:.3f}" if a["value"] is not None else "n/a"
            lines.append(f"  {a['feature']:<24} {a['measure'] or '':<18} {value}")
    return "\n".join(lines)


def compare(args):
    ws = workspace_for(args)
    result = run_compare(ws, SliceSpec(args.left), SliceSpec(args.right))
    if args.json:
        return result
    return differences_frame(result).to_string(index=False)
