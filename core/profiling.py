"""Profiles a dataset: summary, per-column statistics and charts, alerts, correlations and a target-aware view.

Public API:
- `profile_dataset(ws, ref, target=None, refresh=False) -> dict`: the full profile as plain JSON, cached in the
  workspace as record kind "profile" keyed by `f"{content_hash}:{target or ''}"`, so reopening is instant.
- `cached_profile(ws, ref, target=None) -> dict | None`: the cached profile only, never computing.
- `describe_source(ws, src, columns, rows=None) -> dict`: statistics of any row set (a slice, a split set); the
  comparison page builds on it.
- `data_health(ws, dataset_id) -> dict | None`: rows, missing %, alerts by severity, from the cache only.
- Display helpers: `summary_items(profile)`, `columns_frame(profile)`, `alerts_frame(profile)`,
  `associations_frame(profile)`.
Statistics are over the rows as stored; means, deviations, quantiles and skewness over finite values only
(infinities are counted separately, NaN counts as missing, as in pandas).
"""

from __future__ import annotations

import time

import pandas as pd

from core.alerts import count_by_severity, find_alerts, sort_alerts
from core.correlations import correlations
from core.errors import PermissionDenied
from core.profile_stats import (
    EXACT_LIMIT,
    QUANTILE_LABELS,
    Source,
    add_top_values,
    binned_counts,
    clean,
    column_aggregates,
    duplicate_rows,
    family,
    histogram_edges,
    memory_bytes,
    month_counts,
    sample_quantiles,
    stored_bytes,
    top_values,
)
from core.workspace import ColumnInfo, DatasetInfo, Workspace, now_utc, quote_ident

KIND = "profile"
SCHEMA = 1


def cache_key(info: DatasetInfo, target: str | None) -> str:
    return f"{info.content_hash}:{target or ''}"


def cached_profile(ws: Workspace, ref: str, target: str | None = None) -> dict | None:
    """Returns the stored profile of a dataset (optionally with a target view), or None if it was never computed."""
    info = ws.dataset(ref)
    rec = ws.get_record(KIND, cache_key(info, target))
    if rec is None or rec.get("schema") != SCHEMA:
        return None
    rec.update(dataset_id=info.id, dataset_name=info.name)  # the name may have changed since; the data did not
    return rec


def profile_dataset(ws: Workspace, ref: str, target: str | None = None, *, refresh: bool = False) -> dict:
    """Returns a dataset's profile, from the cache when its content is unchanged, else computed and cached.

    Raises: NotFound (dataset or target column), TargetNotUsable.
    """
    info = ws.dataset(ref)
    if not refresh:
        cached = cached_profile(ws, info.id, target)
        if cached is not None:
            return cached
    if target:
        from core.target_view import target_alerts, target_view

        base = profile_dataset(ws, info.id, None, refresh=refresh)
        started = time.perf_counter()
        view = target_view(ws, Source(info.table), base["columns"], base["summary"]["rows"], target)
        profile = dict(base, target=target, target_view=view,
                       alerts=sort_alerts(target_alerts(view) + base["alerts"]))
        profile["seconds"] = round(base["seconds"] + time.perf_counter() - started, 4)
    else:
        profile = _compute(ws, info)
    _store(ws, cache_key(info, target), profile)
    return profile


def _store(ws: Workspace, key: str, profile: dict) -> None:
    payload = {k: v for k, v in profile.items() if k not in ("id", "kind", "project_id", "created_at", "updated_at")}
    try:
        ws.put_record(KIND, key, payload)
    except PermissionDenied:
        pass  # a read-only viewer still sees the profile; it is just not kept


def _compute(ws: Workspace, info: DatasetInfo) -> dict:
    started = time.perf_counter()
    src = Source(info.table, label=info.name)
    described = describe_source(ws, src, list(info.columns), rows=info.rows)
    stats, rows = described["columns"], described["rows"]
    corr = correlations(ws, src, stats, rows)
    summary = described["summary"]
    summary.update(file_bytes=info.size_bytes, stored_bytes=stored_bytes(ws, info.table))
    profile = {"schema": SCHEMA, "dataset_id": info.id, "dataset_name": info.name,
               "content_hash": info.content_hash, "computed_at": now_utc().isoformat(timespec="seconds"),
               "target": None, "summary": summary, "columns": stats, "correlations": corr,
               "alerts": find_alerts(stats, summary, corr), "target_view": None}
    profile["seconds"] = round(time.perf_counter() - started, 4)
    return profile


def describe_source(ws: Workspace, src: Source, columns: list[ColumnInfo], rows: int | None = None) -> dict:
    """Computes the summary and per-column statistics (with chart bins) of any set of rows of a dataset."""
    if rows is None:
        rows = int(ws.read_rows(f"SELECT count(*) FROM {src.from_sql()}", src.params)[0][0])
    exact = rows <= EXACT_LIMIT
    rows, stats = column_aggregates(ws, src, columns, exact)
    by_name = {s["name"]: s for s in stats}
    cols = {c.name: c for c in columns}
    grouped = [c for c in columns if family(c) in ("categorical", "text")]
    found = top_values(ws, src, grouped)
    for c in grouped:
        add_top_values(by_name[c.name], found.get(c.name))
    if not exact:
        for name, qs in sample_quantiles(ws, src, columns, rows).items():
            by_name[name].update({k: qs[k] for k in QUANTILE_LABELS}, quantile_sample_rows=qs["sample_rows"])
    _add_histograms(ws, src, stats, cols)
    for s in stats:
        if s["family"] == "datetime" and s["count"]:
            s["by_period"] = month_counts(ws, src, cols[s["name"]])
    _add_modes(ws, src, stats, cols)
    _add_text_examples(ws, src, stats)
    dup, dup_exact = duplicate_rows(ws, src, columns, rows)
    missing = sum(s["missing"] for s in stats)
    kinds: dict[str, int] = {}
    for c in columns:
        kinds[c.kind] = kinds.get(c.kind, 0) + 1
    summary = {"rows": rows, "columns": len(columns), "missing_cells": missing,
               "missing_pct": round(100.0 * missing / (rows * len(columns)), 4) if rows and columns else 0.0,
               "duplicate_rows": dup, "duplicate_pct": round(100.0 * dup / rows, 4) if rows else 0.0,
               "duplicates_exact": dup_exact, "memory_bytes": memory_bytes(stats, rows), "kinds": kinds,
               "exact": exact}
    return {"summary": summary, "columns": stats, "rows": rows, "label": src.label}


def _add_histograms(ws: Workspace, src: Source, stats: list[dict], cols: dict[str, ColumnInfo]) -> None:
    targets = []
    for s in stats:
        if s["family"] == "numeric" and s["count"]:
            edges = histogram_edges(s.get("min"), s.get("max"), s.get("integral", False))
            targets.append((s["name"], f"CAST({quote_ident(s['name'])} AS DOUBLE)", edges))
        if s["family"] == "text" and s["count"]:
            edges = histogram_edges(s.get("length_min"), s.get("length_max"), True)
            targets.append(("len:" + s["name"], f"length({quote_ident(s['name'])})", edges))
    counts = binned_counts(ws, src, targets)
    for key, _, edges in targets:
        if key in counts:
            name = key[4:] if key.startswith("len:") else key
            field = "length_histogram" if key.startswith("len:") else "histogram"
            next(s for s in stats if s["name"] == name)[field] = {"edges": edges, "counts": counts[key]}


def _add_modes(ws: Workspace, src: Source, stats: list[dict], cols: dict[str, ColumnInfo]) -> None:
    """Measures the share of the most common value of numeric columns whose 5th and 95th percentiles coincide."""
    # A value held by >= 95 % of rows must sit at the 5th, 50th and 95th percentile, so only those columns need it.
    flat = [s for s in stats if s["family"] == "numeric" and (s.get("distinct") or 0) > 1
            and s.get("q05") is not None and s.get("q05") == s.get("q95")]
    if not flat:
        return
    parts = [f"count_if(CAST({quote_ident(s['name'])} AS DOUBLE) = ?)" for s in flat]
    values = ws.read_rows(f"SELECT {', '.join(parts)} FROM {src.from_sql()}", [s["q50"] for s in flat] + list(src.params))[0]
    for s, n in zip(flat, values):
        s["mode_pct"] = round(100.0 * int(n) / s["count"], 4) if s["count"] else None


def _add_text_examples(ws: Workspace, src: Source, stats: list[dict]) -> None:
    """Keeps up to three text values of columns that are mostly numbers or dates, as evidence for the alert."""
    for s in stats:
        if "as_number" not in s or not s["count"]:
            continue
        parsed, kind = max((s["as_number"], "DOUBLE"), (s["as_date"], "TIMESTAMP"))
        if 0.05 * s["count"] <= parsed < s["count"]:
            x = quote_ident(s["name"])
            narrowed = src.narrowed(f"{x} IS NOT NULL AND TRY_CAST({x} AS {kind}) IS NULL")
            rows = ws.read_rows(f"SELECT DISTINCT {x} FROM {narrowed.from_sql()} LIMIT 3", narrowed.params)
            s["text_examples"] = [str(r[0])[:40] for r in rows]


# -- the Home page's data health ---------------------------------------------------------------------------------------
def data_health(ws: Workspace, dataset_id: str) -> dict | None:
    """Returns rows, missing-cell %, and alert counts by severity from the cached profile, or None if none is cached."""
    try:
        profile = cached_profile(ws, dataset_id)
    except Exception:  # noqa: BLE001 — the Home page must render even if one dataset's record is unreadable
        return None
    if profile is None:
        return None
    counts = count_by_severity(profile["alerts"])
    text = ", ".join(f"{n} {sev}{'s' if n != 1 else ''}" for sev, n in counts.items() if n) or "none"
    return {"rows": profile["summary"]["rows"], "missing_pct": profile["summary"]["missing_pct"],
            "duplicate_rows": profile["summary"]["duplicate_rows"], "alerts_by_severity": counts, "alerts": text,
            "computed_at": profile.get("computed_at")}


# -- display helpers ---------------------------------------------------------------------------------------------------
def summary_items(profile: dict) -> list[tuple[str, str]]:
    """The headline figures as (label, formatted value) pairs, in reading order."""
    s = profile["summary"]
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(s["kinds"].items(), key=lambda kv: -kv[1]))
    return [("Rows", f"{s['rows']:,}"), ("Columns", f"{s['columns']:,}"),
            ("Missing cells", f"{s['missing_pct']:.2f}%"),
            ("Duplicate rows", f"{s['duplicate_rows']:,}"),
            ("In memory", _bytes(s["memory_bytes"])),
            ("On disk", _bytes(s.get("stored_bytes") or s.get("file_bytes") or 0)),
            ("Column types", kinds)]


def columns_frame(profile: dict) -> pd.DataFrame:
    """One row per column with its type and the statistics a reader checks first."""
    rows = []
    for s in profile["columns"]:
        row = {"Column": s["name"], "Type": s["kind"], "Storage": s["dtype"], "Missing %": s["missing_pct"],
               "Distinct": s.get("distinct"), "Distinct %": s.get("distinct_pct")}
        if s["family"] == "numeric":
            row.update(Min=s.get("min"), Median=s.get("q50"), Mean=s.get("mean"), Max=s.get("max"), Std=s.get("std"))
        elif s["family"] == "datetime":
            row.update(Min=s.get("min"), Max=s.get("max"))
        elif s.get("top"):
            row["Most common"] = f"{s['top'][0]['value']} ({s['top'][0]['pct']:.1f}%)"
        rows.append({k: (v if isinstance(v, str) else clean(v)) for k, v in row.items()})
    frame = pd.DataFrame(rows)
    for col in ("Min", "Max"):
        if col in frame:
            frame[col] = frame[col].map(lambda v: "" if v is None else (v if isinstance(v, str) else f"{v:,.6g}"))
    return frame


def alerts_frame(alerts: list[dict]) -> pd.DataFrame:
    """The alerts as a table: severity, what, which columns, evidence and suggestion."""
    return pd.DataFrame([{"Severity": a["severity"], "Alert": a["label"], "Columns": ", ".join(a["columns"]),
                          "Evidence": a["evidence"], "Suggestion": a["suggestion"]} for a in alerts],
                        columns=["Severity", "Alert", "Columns", "Evidence", "Suggestion"])


def associations_frame(view: dict) -> pd.DataFrame:
    """The target view's features, strongest association first, with leakage suspects marked."""
    flagged = {}
    for s in view["suspects"]:
        flagged.setdefault(s["column"], []).append(s["code"].replace("_", " "))
    return pd.DataFrame([{"Feature": a["feature"], "Type": a["kind"], "Measure": a["measure"] or "",
                          "Association": clean(a["value"]), "ROC AUC": clean(a["auc"]),
                          "Emptiness vs target": clean(a["missing_value"]),
                          "Leakage check": ", ".join(flagged.get(a["feature"], [])) or a.get("note", "")}
                         for a in view["associations"]])


def _bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{value:,.1f} GB"
