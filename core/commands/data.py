"""CLI: bring files in and list datasets."""

from __future__ import annotations

from core.commands import workspace_for
from core.data.ingest import ingest_path


def register(sub) -> None:
    p = sub.add_parser("ingest", help="load a CSV, gzipped CSV, Parquet or Excel file as a dataset")
    p.add_argument("path")
    p.add_argument("--name", help="dataset name (default: from the file name)")
    p.add_argument("--skip-bad-lines", action="store_true", help="load the readable lines of a damaged CSV")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=ingest)

    p = sub.add_parser("datasets", help="list the workspace's datasets")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=datasets)


def _describe(d) -> dict:
    return {"id": d.id, "name": d.name, "rows": d.rows, "columns": len(d.columns), "size_bytes": d.size_bytes,
            "source_file": d.source_file, "created_at": d.created_at, "content_hash": d.content_hash,
            "schema": [{"name": c.name, "type": c.dtype, "kind": c.kind} for c in d.columns]}


def ingest(args):
    ws = workspace_for(args)
    result = ingest_path(ws, args.path, name=args.name, skip_bad_lines=args.skip_bad_lines)
    out = _describe(result.dataset) | {"notes": list(result.notes), "skipped_lines": result.skipped_lines}
    if args.json:
        return out
    return f"Loaded {out['name']!r}: {out['rows']:,} rows × {out['columns']} columns." + "".join(
        f"\n  note: {n}" for n in result.notes)


def datasets(args):
    ws = workspace_for(args)
    rows = [_describe(d) for d in ws.datasets()]
    if args.json:
        return rows
    if not rows:
        return "No datasets yet. Load one with: workbench ingest FILE"
    return "\n".join(f"{r['name']:<30} {r['rows']:>10,} rows  {r['columns']:>4} cols  {r['id']}" for r in rows)
