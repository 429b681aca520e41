"""CLI: run one read-only SELECT over the workspace's datasets (the same rules as the SQL page), optionally saving it."""

from __future__ import annotations

from core.commands import workspace_for
from core.data.user_sql import run_query, save_query


def register(sub) -> None:
    p = sub.add_parser("sql", help='run a read-only SELECT, e.g. workbench sql "SELECT * FROM churn LIMIT 5"')
    p.add_argument("query", help="one SELECT statement; datasets are tables named after them")
    p.add_argument("--save", metavar="NAME", help="store the full result as a new dataset with the query as lineage")
    p.add_argument("--max-rows", type=int, default=1000, help="rows to print (default 1000)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=sql)


def sql(args):
    ws = workspace_for(args)
    if args.save:
        info = save_query(ws, args.query, args.save)
        out = {"saved": info.name, "id": info.id, "rows": info.rows, "columns": info.column_names,
               "lineage": info.lineage}
        return out if args.json else f"Saved {info.name!r}: {info.rows:,} rows × {len(info.columns)} columns."
    result = run_query(ws, args.query, max_rows=max(1, args.max_rows))
    if args.json:
        frame = result.frame
        return {"columns": [str(c) for c in frame.columns], "rows": frame.astype(object).where(frame.notna(), None)
                .to_dict("records"), "row_count": result.rows, "truncated": result.truncated,
                "seconds": round(result.seconds, 4), "datasets": list(result.datasets)}
    more = f"\n(first {result.rows:,} rows; the query returns more)" if result.truncated else ""
    return f"{result.frame.to_string(index=False)}\n{result.rows:,} rows in {result.seconds:.2f} s{more}"
