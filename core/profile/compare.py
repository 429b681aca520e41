"""Compares two datasets, or two slices of one, column by column: statistics side by side, differences, shared bins.

Public API:
- `SliceSpec(dataset, column=None, op="all", values=(), split_id=None, part=None, label="")`: which rows to take:
  a whole dataset, the rows where a column meets a condition, or one set (train / validation / test) of a saved
  split. Choices only; `to_dict()` / `from_dict()`.
- `compare(ws, left, right) -> dict`: per-column statistics of both sides, the differences that matter
  (standardised mean difference, change in missing share, total variation distance between category shares) and
  histograms on shared bins, so the two sides overlay. The drift and split pages reuse it.
- `differences_frame(result)`: one row per column for display, flagged columns first.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass

import pandas as pd

from core.errors import NotFound, SpecInvalid
from core.profile.profiling import column_details, describe_source
from core.profile.stats import (
    Bins,
    Source,
    bin_counts,
    choose_bins,
    clean,
    value_expression,
)
from core.split.splitting import dataset_splits, get_split
from core.store.workspace import ColumnInfo, DatasetInfo, Workspace, quote_ident

OPS = ("all", "=", "!=", "<", "<=", ">", ">=", "between", "in", "is missing", "is not missing", "split")
SMD_FLAG = 0.2  # a "small" effect in Cohen's terms: visible in a histogram overlay
MISSING_FLAG_PTS = 5.0
TVD_FLAG = 0.1
MAX_LABELS = 12
_TYPE = re.compile(r"^[A-Z][A-Z0-9_(), ]*$")  # DuckDB type names as DESCRIBE reports them


@dataclass(frozen=True)
class SliceSpec:
    dataset: str
    column: str | None = None
    op: str = "all"
    values: tuple = ()
    split_id: str | None = None
    part: str | None = None
    label: str = ""

    def to_dict(self) -> dict:
        return asdict(self) | {"values": list(self.values)}

    @classmethod
    def from_dict(cls, d: dict) -> "SliceSpec":
        return cls(dataset=d["dataset"], column=d.get("column"), op=d.get("op", "all"),
                   values=tuple(d.get("values") or ()), split_id=d.get("split_id"), part=d.get("part"),
                   label=d.get("label", ""))


def slice_source(ws: Workspace, spec: SliceSpec) -> tuple[DatasetInfo, Source]:
    """Turns a slice into the rows' source with a condition built from quoted names and bound values.

    Raises: NotFound, SpecInvalid.
    """
    info = ws.dataset(spec.dataset)
    label = spec.label or _label(info, spec)
    if spec.op not in OPS:
        raise SpecInvalid(f"{spec.op!r} is not a condition here; choose one of {', '.join(OPS)}.")
    if spec.op == "all":
        return info, Source(info.table, label=label)
    if spec.op == "split":
        return info, _split_source(ws, info, spec, label)
    if not spec.column:
        raise SpecInvalid(f"Pick the column of {info.name!r} that the condition {spec.op!r} applies to.")
    col = info.column(spec.column)
    x = quote_ident(col.name)
    cast = f"CAST(? AS {col.dtype})" if _TYPE.match(col.dtype.upper()) else "?"
    n_values = {"between": 2, "is missing": 0, "is not missing": 0}.get(spec.op, 1)
    if spec.op == "in":
        if not spec.values:
            raise SpecInvalid(f"Pick at least one value of {col.name!r} to keep.")
        where = f"{x} IN ({', '.join([cast] * len(spec.values))})"
    elif spec.op == "between":
        where = f"{x} BETWEEN {cast} AND {cast}"
    elif spec.op in ("is missing", "is not missing"):
        where = f"{x} IS {'NOT ' if spec.op == 'is not missing' else ''}NULL"
    else:
        where = f"{x} {'<>' if spec.op == '!=' else spec.op} {cast}"
    if spec.op != "in" and len(spec.values) != n_values:
        raise SpecInvalid(f"The condition {spec.op!r} on {col.name!r} needs {n_values} value(s); "
                          f"{len(spec.values)} were given.")
    _check_values(ws, col, spec.values)
    return info, Source(info.table, where=where, params=tuple(spec.values), label=label)


def _check_values(ws: Workspace, col: ColumnInfo, values: tuple) -> None:
    if not values or not _TYPE.match(col.dtype.upper()):
        return
    parsed = ws.read_rows(f"SELECT {', '.join(f'TRY_CAST(? AS {col.dtype}) IS NOT NULL' for _ in values)}",
                          [str(v) for v in values])[0]
    bad = [v for v, ok in zip(values, parsed) if not ok and v is not None]
    if bad:
        example = {"number": "42 or 3.5", "datetime": "2025-07-01", "boolean": "true"}.get(col.kind, "a value")
        raise SpecInvalid(f"{bad[0]!r} is not a valid value for column {col.name!r} ({col.kind}). "
                          f"Type a value like {example}.")


def _split_source(ws: Workspace, info: DatasetInfo, spec: SliceSpec, label: str) -> Source:
    try:
        split = get_split(ws, spec.split_id or "")
    except NotFound:
        split = None
    if split is None or split.dataset_id != info.id:
        raise NotFound(f"No saved split {spec.split_id!r} of dataset {info.name!r}. Create one on the Split page.")
    table = ws.frame_table(split.frame_key)
    if table is None:
        raise NotFound(f"The row assignments of split {split.name!r} are missing. Create it again.")
    return Source(info.table, where=f"rowid IN (SELECT _row FROM {quote_ident(table)} WHERE part = ?)",
                  params=(spec.part,), label=label)


def _label(info: DatasetInfo, spec: SliceSpec) -> str:
    if spec.op == "all":
        return info.name
    if spec.op == "split":
        return f"{info.name} · {spec.part}"
    shown = " and ".join(map(str, spec.values)) if spec.op == "between" else ", ".join(map(str, spec.values))
    return f"{info.name} · {spec.column} {spec.op} {shown}".rstrip()


def split_slices(ws: Workspace, dataset_id: str) -> list[SliceSpec]:
    """Lists every set of every saved split of a dataset as a slice (train, validation, test)."""
    out = []
    for split in dataset_splits(ws, dataset_id):
        for part in ("train", "validation", "test"):
            if split.sizes.get(part):
                out.append(SliceSpec(dataset_id, op="split", split_id=split.id, part=part,
                                     label=f"{split.name} · {part}"))
    return out


def compare(ws: Workspace, left: SliceSpec, right: SliceSpec) -> dict:
    """Profiles both sides and lines their columns up with the differences that matter.

    Raises: NotFound, SpecInvalid (a bad condition, a value of the wrong type, or a side with no rows).
    """
    sides = [slice_source(ws, spec) for spec in (left, right)]
    (linfo, lsrc), (rinfo, rsrc) = sides
    rcols = {c.name: c for c in rinfo.columns}
    shared = [c for c in linfo.columns if c.name in rcols]
    if not shared:
        raise SpecInvalid(f"{linfo.name!r} and {rinfo.name!r} have no column names in common, so there is "
                          "nothing to compare. Compare datasets that share columns.")
    described = []
    for src in (lsrc, rsrc):
        d = describe_source(ws, src, shared)
        if d["rows"] == 0:
            raise SpecInvalid(f"{src.label!r} has no rows, so there is nothing to compare. Loosen the condition.")
        described.append(d)
    left_d, right_d = described
    charts = _shared_charts(ws, lsrc, rsrc, shared, left_d["columns"], right_d["columns"])
    columns = []
    for col, ls, rs in zip(shared, left_d["columns"], right_d["columns"]):
        diff = _differences(ls, rs, charts.get(col.name))
        columns.append({"name": col.name, "kind": col.kind, "family": ls["family"], "left": ls, "right": rs,
                        "chart": charts.get(col.name), **diff})
    return {"left": {"label": lsrc.label, "dataset_id": linfo.id, "rows": left_d["rows"], "summary": left_d["summary"],
                     "spec": left.to_dict()},
            "right": {"label": rsrc.label, "dataset_id": rinfo.id, "rows": right_d["rows"],
                      "summary": right_d["summary"], "spec": right.to_dict()},
            "columns": columns,
            "only_left": [c.name for c in linfo.columns if c.name not in rcols],
            "only_right": [c.name for c in rinfo.columns if c.name not in {x.name for x in linfo.columns}]}


def _shared_charts(ws: Workspace, lsrc: Source, rsrc: Source, shared: list[ColumnInfo], lstats: list[dict],
                   rstats: list[dict]) -> dict[str, dict]:
    charts: dict[str, dict] = {}
    jobs: list[tuple[str, str, Bins]] = []
    for col, ls, rs in zip(shared, lstats, rstats):
        if ls["family"] == "numeric" and rs["family"] == "numeric" and (ls.get("finite") or rs.get("finite")):
            lo = min(v for v in (ls.get("min"), rs.get("min")) if v is not None)
            hi = max(v for v in (ls.get("max"), rs.get("max")) if v is not None)
            bins = choose_bins(lo, hi, ls.get("integral", False) and rs.get("integral", False))
            jobs.append((col.name, value_expression(col), bins))
        elif ls["family"] == "datetime" and ls.get("by_period") and rs.get("by_period"):
            charts[col.name] = _period_chart(ls["by_period"], rs["by_period"])
        elif ls.get("top") is not None and rs.get("top") is not None:
            charts[col.name] = _category_chart(ws, lsrc, rsrc, col, ls, rs)
    if jobs:
        lcounts, rcounts = bin_counts(ws, lsrc, jobs), bin_counts(ws, rsrc, jobs)
        for name, _, bins in jobs:
            charts[name] = {"type": "histogram", "edges": bins.edges(), "left": lcounts[name], "right": rcounts[name]}
    return charts


def _period_chart(lp: dict, rp: dict) -> dict:
    if lp["period"] != rp["period"]:
        lp, rp = (_by_year(lp), _by_year(rp))
    labels = sorted(set(lp["labels"]) | set(rp["labels"]))
    lmap, rmap = dict(zip(lp["labels"], lp["counts"])), dict(zip(rp["labels"], rp["counts"]))
    return {"type": "period", "period": lp["period"], "labels": labels,
            "left": [lmap.get(k, 0) for k in labels], "right": [rmap.get(k, 0) for k in labels]}


def _by_year(p: dict) -> dict:
    if p["period"] == "year":
        return p
    years: dict[str, int] = {}
    for label, count in zip(p["labels"], p["counts"]):
        years[label[:4]] = years.get(label[:4], 0) + count
    return {"period": "year", "labels": list(years), "counts": list(years.values())}


def _category_chart(ws: Workspace, lsrc: Source, rsrc: Source, col: ColumnInfo, ls: dict, rs: dict) -> dict:
    """Counts the union of both sides' most common values on each side, plus everything else as 'other'."""
    labels = list(dict.fromkeys([t["value"] for t in ls["top"]] + [t["value"] for t in rs["top"]]))[:MAX_LABELS]
    x = f"CAST({quote_ident(col.name)} AS VARCHAR)"
    out = {"type": "category", "labels": labels}
    for side, src, stat in (("left", lsrc, ls), ("right", rsrc, rs)):
        if labels:
            parts = ", ".join(f"count_if({x} = ?)" for _ in labels)
            counts = [int(v) for v in ws.read_rows(f"SELECT {parts} FROM {src.from_sql()}", labels + list(src.params))[0]]
        else:
            counts = []
        out[side] = counts
        out[f"{side}_other"] = stat["count"] - sum(counts)
    return out


def _differences(ls: dict, rs: dict, chart: dict | None) -> dict:
    reasons = []
    diffs: dict = {"missing_pts": round(rs["missing_pct"] - ls["missing_pct"], 4)}
    if abs(diffs["missing_pts"]) >= MISSING_FLAG_PTS:
        reasons.append(f"missing values {ls['missing_pct']:.1f}% → {rs['missing_pct']:.1f}%")
    if ls["family"] == "numeric" and ls.get("mean") is not None and rs.get("mean") is not None:
        pooled = math.sqrt(((ls.get("std") or 0) ** 2 + (rs.get("std") or 0) ** 2) / 2)
        diffs["mean_change"] = rs["mean"] - ls["mean"]
        diffs["smd"] = (rs["mean"] - ls["mean"]) / pooled if pooled > 0 else (0.0 if diffs["mean_change"] == 0 else None)
        if diffs["smd"] is None or abs(diffs["smd"]) >= SMD_FLAG:
            reasons.append(f"mean {ls['mean']:,.4g} → {rs['mean']:,.4g}"
                           + (f" ({diffs['smd']:+.2f} standard deviations)" if diffs["smd"] is not None else ""))
    if chart and chart["type"] == "category" and ls["kind"] != "id":
        lt, rt = ls["count"] or 1, rs["count"] or 1
        lp = [c / lt for c in chart["left"]] + [chart["left_other"] / lt]
        rp = [c / rt for c in chart["right"]] + [chart["right_other"] / rt]
        diffs["tvd"] = round(0.5 * sum(abs(a - b) for a, b in zip(lp, rp)), 6)
        new = [v for v, c, d in zip(chart["labels"], chart["left"], chart["right"]) if c == 0 and d > 0]
        gone = [v for v, c, d in zip(chart["labels"], chart["left"], chart["right"]) if c > 0 and d == 0]
        diffs.update(new_values=new, gone_values=gone)
        if diffs["tvd"] >= TVD_FLAG:
            reasons.append(f"category shares differ by {diffs['tvd']:.0%} (total variation)")
        if new and (ls.get("distinct") or 0) <= 50:
            reasons.append(f"new values: {', '.join(map(repr, new[:3]))}")
    return {"differences": {k: clean(v) if not isinstance(v, list) else v for k, v in diffs.items()},
            "flagged": bool(reasons), "reasons": reasons}


def differences_frame(result: dict) -> pd.DataFrame:
    """One row per column: the key statistic on each side and what changed, flagged columns first."""
    rows = []
    for c in result["columns"]:
        ls, rs, d = c["left"], c["right"], c["differences"]
        if c["family"] == "numeric":
            stat, lv, rv = "mean", _fmt(ls.get("mean")), _fmt(rs.get("mean"))
        elif c["family"] == "datetime":
            stat, lv, rv = "range", f"{ls.get('min')} – {ls.get('max')}", f"{rs.get('min')} – {rs.get('max')}"
        else:
            stat = "most common"
            lv = f"{ls['top'][0]['value']} ({ls['top'][0]['pct']:.1f}%)" if ls.get("top") else ""
            rv = f"{rs['top'][0]['value']} ({rs['top'][0]['pct']:.1f}%)" if rs.get("top") else ""
        rows.append({"Column": c["name"], "Type": c["kind"], "Statistic": stat, "Left": lv, "Right": rv,
                     "Missing % (left → right)":
                     f"{ls['missing_pct']:.1f} → {rs['missing_pct']:.1f}",
                     "Changed": "yes" if c["flagged"] else "", "What changed": "; ".join(c["reasons"])})
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    return frame.sort_values("Changed", ascending=False, kind="stable").reset_index(drop=True)


def _fmt(value) -> str:
    return "" if value is None else f"{value:,.4g}"


def side_by_side(result: dict, column: str) -> pd.DataFrame:
    """One column's statistics on both sides, label by label."""
    entry = next(c for c in result["columns"] if c["name"] == column)
    left, right = column_details(entry["left"]), column_details(entry["right"])
    merged = left.merge(right, on="Statistic", how="outer", suffixes=(" (left)", " (right)"), sort=False)
    order = {s: i for i, s in enumerate(list(left["Statistic"]) + list(right["Statistic"]))}
    merged = merged.sort_values("Statistic", key=lambda s: s.map(order)).fillna("")
    return merged.rename(columns={"Value (left)": result["left"]["label"][:40] + " (left)",
                                  "Value (right)": result["right"]["label"][:40] + " (right)"}).reset_index(drop=True)


def suggest_partner(ws: Workspace, dataset_id: str) -> str | None:
    """Suggests the other dataset sharing the most column names with this one (e.g. next month's extract)."""
    info = ws.dataset(dataset_id)
    names = set(info.column_names)
    best = max(((len(names & set(d.column_names)), d.id) for d in ws.datasets() if d.id != info.id), default=None)
    return best[1] if best and best[0] else None


def suggest_pair(ws: Workspace) -> tuple[str, str] | None:
    """Suggests the two datasets that share the most column names (a reference and its later extract)."""
    items = ws.datasets()[:50]
    best = None
    for i, a in enumerate(items):
        for b in items[i + 1:]:
            shared = len(set(a.column_names) & set(b.column_names))
            if shared and (best is None or shared > best[0]):
                older, newer = (a, b) if a.created_at <= b.created_at else (b, a)
                best = (shared, older.id, newer.id)
    return (best[1], best[2]) if best else None


def slice_suggestion(ws: Workspace, dataset_id: str, column: str) -> dict:
    """Suggests how to cut a dataset in two on a column: a middle value for numbers and dates, two common values else."""
    info = ws.dataset(dataset_id)
    col = info.column(column)
    x = quote_ident(col.name)
    if col.kind in ("number", "datetime"):
        mid = ws.read_rows(f"SELECT CAST(quantile_disc({x}, 0.5) AS VARCHAR) FROM {quote_ident(info.table)}")[0][0]
        return {"mode": "cut", "value": mid or ""}
    rows = ws.read_rows(f"SELECT CAST({x} AS VARCHAR) AS v, count(*) AS n FROM {quote_ident(info.table)} "
                        f"WHERE {x} IS NOT NULL GROUP BY v ORDER BY n DESC, v LIMIT 50")
    return {"mode": "values", "values": [r[0] for r in rows]}
