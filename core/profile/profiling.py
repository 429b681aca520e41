"""Profiles a dataset: summary, per-column statistics and charts, alerts, correlations and a target-aware view.

Public API:
- `profile_dataset(ws, ref, target=None, refresh=False) -> dict`: the full profile as plain JSON, cached in the
  workspace as record kind "profile" keyed by `f"{content_hash}:{target or ''}"`, so reopening is instant.
- `cached_profile(ws, ref, target=None) -> dict | None`: the cached profile only, never computing.
- `describe_source(ws, src, columns, rows=None) -> dict`: statistics of any row set (a slice, a split set); the
  comparison page builds on it.
- `data_health(ws, dataset_id) -> dict | None`: rows, missing %, alerts by severity, from the cache only.
- `visible_datasets(ws, viewer_project_id)`: what a session may profile (a viewer: the shared project's data).
- Display helpers: `summary_items(profile)`, `columns_frame(profile)`, `column_details(stat)`,
  `alerts_frame(alerts)`, `associations_frame(view)`.
Statistics are over the rows as stored; means, deviations, quantiles and skewness over finite values only
(infinities are counted separately, NaN counts as missing, as in pandas).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pandas as pd

from core.errors import NotFound, PermissionDenied
from core.profile.alerts import count_by_severity, find_alerts, sort_alerts
from core.profile.correlations import correlations, eligible_columns, fetch_sample
from core.profile.stats import (
    EXACT_LIMIT,
    exact_near_unique,
    Source,
    add_sample_figures,
    add_top_values,
    clean,
    column_aggregates,
    family,
    month_counts,
    spread_and_bins,
    text_shares,
    top_values,
)
from core.profile.target_view import target_alerts, target_view
from core.project.projects import get_project
from core.store.workspace import (
    ColumnInfo,
    DatasetInfo,
    Workspace,
    now_utc,
    quote_ident,
)

KIND = "profile"
SCHEMA = 1
_WIDTH = {"BOOLEAN": 1, "TINYINT": 1, "SMALLINT": 2, "INTEGER": 4, "DATE": 4, "FLOAT": 4, "HUGEINT": 16}


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
    described = describe_source(ws, src, list(info.columns), rows=info.rows, correlate=True)
    stats, corr = described["columns"], described["correlations"]
    summary = described["summary"]
    summary.update(file_bytes=info.size_bytes, stored_bytes=stored_bytes(ws, info.table))
    profile = {"schema": SCHEMA, "dataset_id": info.id, "dataset_name": info.name,
               "content_hash": info.content_hash, "computed_at": now_utc().isoformat(timespec="seconds"),
               "target": None, "summary": summary, "columns": stats, "correlations": corr,
               "alerts": find_alerts(stats, summary, corr), "target_view": None}
    profile["seconds"] = round(time.perf_counter() - started, 4)
    return profile


def describe_source(ws: Workspace, src: Source, columns: list[ColumnInfo], rows: int | None = None, *,
                    correlate: bool = False) -> dict:
    """Computes the summary and per-column statistics (with chart bins) of any set of rows of a dataset."""
    if rows is None:
        rows = int(ws.read_rows(f"SELECT count(*) FROM {src.from_sql()}", src.params)[0][0])
    exact = rows <= EXACT_LIMIT
    cols = {c.name: c for c in columns}
    grouped = [c for c in columns if family(c) in ("categorical", "text")]
    dated = [c for c in columns if family(c) == "datetime"]
    # Independent scans run side by side: DuckDB releases the GIL, and each call opens its own cursor.
    with ThreadPoolExecutor(max_workers=2) as pool:
        later = {"top": pool.submit(top_values, ws, src, grouped),
                 "months": pool.submit(lambda: {c.name: month_counts(ws, src, c) for c in dated}),
                 "shares": pool.submit(text_shares, ws, src, columns, rows)}
        rows, stats = column_aggregates(ws, src, columns, exact)
        if not exact:
            exact_near_unique(ws, src, columns, stats)
        later["dup"] = pool.submit(duplicate_rows, ws, src, columns, rows, [dict(s) for s in stats])
        by_name = {s["name"]: s for s in stats}
        found = later["top"].result()
        for c in grouped:
            add_top_values(by_name[c.name], found.get(c.name))
        numeric, categorical = eligible_columns(stats) if correlate else ([], [])
        sample = fetch_sample(ws, src, rows, numeric, categorical) if numeric or categorical else ({}, 0)
        if not exact:
            _sample_figures(ws, src, stats, rows, sample)
        corr = pool.submit(correlations, ws, src, stats, rows, sample) if correlate else None
        spread_and_bins(ws, src, stats, cols)
        for name, shares in later["shares"].result().items():
            by_name[name].update(shares)
        for name, months in later["months"].result().items():
            if by_name[name]["count"]:
                by_name[name]["by_period"] = months
        _add_text_examples(ws, src, stats)
        dup, dup_exact = later["dup"].result()
        out_corr = corr.result() if corr is not None else None
    missing = sum(s["missing"] for s in stats)
    kinds: dict[str, int] = {}
    for c in columns:
        kinds[c.kind] = kinds.get(c.kind, 0) + 1
    summary = {"rows": rows, "columns": len(columns), "missing_cells": missing,
               "missing_pct": round(100.0 * missing / (rows * len(columns)), 4) if rows and columns else 0.0,
               "duplicate_rows": dup, "duplicate_pct": round(100.0 * dup / rows, 4) if rows else 0.0,
               "duplicates_exact": dup_exact, "memory_bytes": memory_bytes(stats, rows), "kinds": kinds,
               "exact": exact}
    out = {"summary": summary, "columns": stats, "rows": rows, "label": src.label}
    if correlate:
        out["correlations"] = out_corr
    return out


def _sample_figures(ws: Workspace, src: Source, stats: list[dict], rows: int, sample: tuple) -> None:
    """Quantiles and whole-number checks of a large table from samples: the correlation sample first, then the other
    numeric columns in batches, so a wide table never holds more than one batch of sampled columns at a time."""
    add_sample_figures(stats, *sample)
    rest = [s["name"] for s in stats if s["family"] == "numeric" and s.get("finite") and s["name"] not in sample[0]]
    for start in range(0, len(rest), 60):
        add_sample_figures(stats, *fetch_sample(ws, src, rows, rest[start:start + 60], []))
    for s in stats:
        if s["family"] == "numeric" and s["integral"] is None:
            s["integral"] = False  # no finite value to judge


def _add_text_examples(ws: Workspace, src: Source, stats: list[dict]) -> None:
    """Keeps up to three text values of columns that are mostly numbers or dates, as evidence for the alert."""
    for s in stats:
        if not s.get("type_check_values"):
            continue
        parsed, kind = max((s["as_number"], "DOUBLE"), (s["as_date"], "TIMESTAMP"))
        if 0.05 * s["type_check_values"] <= parsed < s["type_check_values"]:
            x = quote_ident(s["name"])
            narrowed = src.narrowed(f"{x} IS NOT NULL AND TRY_CAST({x} AS {kind}) IS NULL")
            rows = ws.read_rows(f"SELECT DISTINCT {x} FROM {narrowed.from_sql()} LIMIT 3", narrowed.params)
            s["text_examples"] = [str(r[0])[:40] for r in rows]


# -- whole-table figures ----------------------------------------------------------------------------------------------------
def duplicate_rows(ws: Workspace, src: Source, columns: list[ColumnInfo], rows: int,
                   stats: list[dict] | None = None) -> tuple[int, bool]:
    """Counts rows that repeat an earlier row exactly; returns (count, is_exact)."""
    if not columns:
        return 0, True
    # A column with a different value in every row proves that no row repeats, for a fraction of the cost.
    keys = [s for s in stats or [] if s["count"] == rows and (s.get("distinct") or 0) >= 0.95 * rows]
    if keys:
        if keys[0].get("distinct_exact") and keys[0]["distinct"] == rows:
            return 0, True
        x = quote_ident(keys[0]["name"])
        if int(ws.read_rows(f"SELECT count(DISTINCT {x}) FROM {src.from_sql()}", src.params)[0][0]) == rows:
            return 0, True
    cols = ", ".join(quote_ident(c.name) for c in columns)
    if rows <= EXACT_LIMIT:
        sql = f"SELECT count(*) FROM (SELECT DISTINCT {cols} FROM {src.from_sql()})"
        return rows - int(ws.read_rows(sql, src.params)[0][0]), True
    # A 64-bit hash per row halves the time; at a million rows the chance of one false match is about 3e-8.
    sql = f"SELECT count(*) - count(DISTINCT hash({cols})) FROM {src.from_sql()}"
    return int(ws.read_rows(sql, src.params)[0][0]), False


def memory_bytes(stats: list[dict], rows: int) -> int:
    """Estimates the table's size in memory: fixed-width values plus string bytes and 16-byte string headers."""
    total = 0
    for s in stats:
        t = s["dtype"].upper()
        if t.startswith("VARCHAR"):
            total += 16 * rows + int(s.get("text_bytes") or 0)
        else:
            total += rows * next((w for p, w in _WIDTH.items() if t.startswith(p)), 8)
    return total


def stored_bytes(ws: Workspace, table: str) -> int | None:
    """Returns the bytes DuckDB uses to store the table on disk (blocks of 256 KiB), when it can tell."""
    try:
        rows = ws.read_rows("SELECT count(DISTINCT block_id) FROM pragma_storage_info(?) WHERE block_id >= 0", [table])
    except Exception:  # noqa: BLE001 — storage details are optional; in-memory or unusual tables have none
        return None
    return int(rows[0][0]) * 262_144 if rows and rows[0][0] else None


def visible_datasets(ws: Workspace, viewer_project_id: str | None = None) -> list[DatasetInfo]:
    """The datasets a session may profile: all for an editor; only the shared project's dataset for a viewer."""
    if ws.is_editor:
        return ws.datasets()

    try:
        return [ws.dataset(get_project(ws, viewer_project_id).dataset_id)] if viewer_project_id else []
    except NotFound:
        return []


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
    text = ", ".join(f"{n} {sev}{'s' if n != 1 and sev != 'info' else ''}" for sev, n in counts.items() if n) or "none"
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


def column_details(stat: dict) -> pd.DataFrame:
    """A column's statistics as a two-column table of labels and formatted values, in reading order."""
    items = [("Type", f"{stat['kind']} ({stat['dtype']})"), ("Filled", f"{stat['count']:,}"),
             ("Missing", f"{stat['missing']:,} ({stat['missing_pct']:.2f}%)")]
    if stat.get("distinct") is not None:
        approx = "" if stat.get("distinct_exact", True) else " (approximate)"
        items.append(("Distinct", f"{stat['distinct']:,} ({stat.get('distinct_pct', 0):.2f}%){approx}"))
    if stat["family"] == "numeric":
        items += [(label, _num(stat.get(key))) for label, key in (
            ("Minimum", "min"), ("5th percentile", "q05"), ("25th percentile", "q25"), ("Median", "q50"),
            ("75th percentile", "q75"), ("95th percentile", "q95"), ("Maximum", "max"), ("Mean", "mean"),
            ("Standard deviation", "std"), ("Skewness", "skewness"))]
        items += [(label, f"{stat.get(key, 0):,} ({stat.get(key + '_pct', 0):.2f}%)")
                  for label, key in (("Zeros", "zeros"), ("Negative values", "negatives"), ("Infinite values", "infinite"))]
        if stat.get("quantile_sample_rows"):
            items.append(("Percentiles from", f"a sample of {stat['quantile_sample_rows']:,} rows"))
    elif stat["family"] == "datetime":
        items += [("Earliest", str(stat.get("min"))), ("Latest", str(stat.get("max")))]
    if stat.get("length_min") is not None:
        items.append(("Text length", f"{stat['length_min']:,} – {stat['length_max']:,} characters, mean "
                                     f"{stat['length_mean']:,.1f}"))
    if stat.get("top"):
        items.append(("Other values", f"{stat.get('other_count', 0):,} rows ({stat.get('other_pct', 0):.2f}%) "
                                      "outside the most common values shown"))
    return pd.DataFrame(items, columns=["Statistic", "Value"])


def _num(value) -> str:
    return "–" if value is None else f"{value:,.6g}"


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
