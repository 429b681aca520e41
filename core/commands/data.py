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
    register_batches(sub)


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


def register_batches(sub) -> None:
    p = sub.add_parser("append", help="append a file as a project's next data batch (same columns as batch 1)")
    p.add_argument("project", help="project id or name")
    p.add_argument("path")
    p.add_argument("--label", help="batch label, e.g. 2026-02 (default: the file name)")
    p.add_argument("--as-of", help="the day the batch describes, YYYY-MM-DD (default: today)")
    p.add_argument("--by", help="who appends (default: the login name)")
    p.add_argument("--rename", action="append", default=[], metavar="FILE_COL=BATCH1_COL")
    p.add_argument("--drop", action="append", default=[], metavar="COLUMN", help="leave out an extra column")
    p.add_argument("--fill", action="append", default=[], metavar="COLUMN", help="load a missing column as empty")
    p.add_argument("--cast", action="append", default=[], metavar="COLUMN",
                   help="convert a retyped column; values that do not convert load as empty")
    p.add_argument("--accept-categories", action="append", default=[], metavar="COLUMN")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=append)

    p = sub.add_parser("batches", help="list a project's data batches (its timeline)")
    p.add_argument("project")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=batches)


def append_from_args(ws, project, path, args):
    """Appends a batch with the mapping options of `append` (shared with `monitor --batch`)."""
    import getpass

    from core.data.batches import ColumnMapping, append_batch
    from core.errors import SpecInvalid

    renames = {}
    for item in getattr(args, "rename", None) or []:
        if "=" not in item:
            raise SpecInvalid(f"--rename {item!r}: write it as FILE_COLUMN=BATCH1_COLUMN.")
        src, dst = item.split("=", 1)
        renames[src.strip()] = dst.strip()
    mapping = ColumnMapping(rename=renames, drop=tuple(getattr(args, "drop", None) or ()),
                            fill=tuple(getattr(args, "fill", None) or ()), cast=tuple(getattr(args, "cast", None) or ()),
                            accept_categories=tuple(getattr(args, "accept_categories", None) or ()))
    return append_batch(ws, project, path, label=args.label, by=getattr(args, "by", None) or getpass.getuser(),
                        mapping=mapping, as_of=args.as_of)


def append(args):
    from core.data.batches import describe
    from core.project.projects import get_project

    ws = workspace_for(args)
    project = get_project(ws, args.project)
    result = append_from_args(ws, project, args.path, args)
    out = describe(result.batch) | {"already_loaded": result.already_loaded, "notes": list(result.notes)}
    if args.json:
        return out
    b = result.batch
    head = (f"Already loaded as batch {b.seq} ({b.label}); nothing was ingested twice." if result.already_loaded else
            f"Appended batch {b.seq} ({b.label}) to {project.name!r}: {b.rows:,} rows"
            f"{'' if b.labelled else ', no labels'}.")
    return head + "".join(f"\n  note: {n}" for n in result.notes)


def batches(args):
    from core.data.batches import describe, list_batches
    from core.project.projects import get_project

    ws = workspace_for(args)
    project = get_project(ws, args.project)
    rows = [describe(b) for b in list_batches(ws, project)]
    if args.json:
        return rows
    return "\n".join(f"{r['batch']:>3}  {r['label']:<16} {r['as_of']}  {r['rows']:>8,} rows  "
                     f"{'labelled' if r['labelled'] else 'no labels':<9}  {r['file']}  {r['sha256']}" for r in rows)
