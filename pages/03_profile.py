"""Profile: what is in a dataset and can it be trusted: summary, alerts, columns, correlations, target view."""

from __future__ import annotations

import streamlit as st

from core.data.formats import compact_bytes, compact_count

from core.profile import charts
from core.profile.alerts import SEVERITIES, count_by_severity
from core.errors import WorkbenchError
from core.profile.profiling import (
    alerts_frame,
    associations_frame,
    column_details,
    columns_frame,
    profile_dataset,
    summary_items,
    visible_datasets,
)
from pages._cache import clear_profiles, dataset_profile, figure, shared
from pages._widgets import (arrow_frame, dataset_picker, empty_state, get_workspace, is_viewer, md_escape, page_header,
                            show_error, viewer_scope)

_SEVERITY = {"problem": (st.error, ":material/error:", "Problems"),
             "warning": (st.warning, ":material/warning:", "Warnings"),
             "info": (st.info, ":material/info:", "Worth knowing")}
_NO_TARGET = "— none —"


def _profile(info, target: str | None):
    # Shared by every session of this project (pages/_cache.py), keyed by the dataset's content hash: a changed
    # dataset can never be served an old profile. Frozen: read-only mappings and tuples.
    return dataset_profile(ws, project_id, info, target)


def _chart(name: str, build, *args):
    """A figure of this profile, built once per server (the key names the dataset content, target and computation)."""
    return figure(project_id, ("profile", info.id, info.content_hash, target, profile.get("computed_at"), name),
                  build, *args)


def _table(name, build, *args):
    """A table of this profile as st.dataframe sends it (an Arrow table), made once per server, keyed like figures."""
    return shared(project_id, ("profile.table", info.id, info.content_hash, target, profile.get("computed_at"), name),
                  lambda: arrow_frame(build(*args)))


ws = get_workspace()
# Cached profiles and figures are keyed by the project the session works in (a viewer: the one its link shares).
project_id = viewer_scope() if is_viewer() else str(st.session_state.get("project_id") or "")
page_header("Profile", "What is in a dataset, and can you trust it? Statistics, quality alerts, correlations and "
                       "leakage checks, computed in the workspace and kept until the data changes.")
info = dataset_picker(ws, key="profile.dataset",
                      datasets=visible_datasets(ws, st.session_state.get("project_id")))
if info is None:
    empty_state("No datasets yet. Upload a CSV on the Data page, then profile it here.", "pages/02_data.py", "Go to Data")

left, right = st.columns([3, 1], vertical_alignment="bottom")
target = left.selectbox("Target column (optional)", [_NO_TARGET] + info.column_names, key="profile.target",
                        help="The column a model should predict: adds its distribution, each feature's association "
                             "with it, and leakage suspects.")
target = None if target == _NO_TARGET else target
if not is_viewer() and right.button("Recompute", key="profile.refresh", icon=":material/refresh:"):
    clear_profiles()
    try:
        with st.spinner("Profiling…"):
            profile_dataset(ws, info.id, target, refresh=True)
    except WorkbenchError:
        pass  # the same message is shown below, where the profile is drawn without the target

try:
    with st.spinner(f"Profiling {info.name}…"):
        profile = _profile(info, target)
except WorkbenchError as err:
    show_error(err)
    target = None
    profile = _profile(info, None)

# -- summary ---------------------------------------------------------------------------------------------------------
items = summary_items(profile)
summary = profile["summary"]
compact = {"Rows": compact_count(summary["rows"]) if summary["rows"] >= 1_000_000 else f"{summary['rows']:,}",
           "In memory": compact_bytes(summary["memory_bytes"]),
           "On disk": compact_bytes(summary.get("stored_bytes") or summary.get("file_bytes") or 0)}
exact = {"Rows": f"{summary['rows']:,} rows"}
cards = items[:-1]
per_row = 3  # six cards in one row cut their labels and figures off at 1280 px; two rows of three never do
for start in range(0, len(cards), per_row):
    for col, (label, value) in zip(st.columns(per_row), cards[start:start + per_row]):
        # Compact values (342 MB, 1.2 M) so a card never cuts its figure off; the exact one is in the help.
        col.metric(label, compact.get(label, value), border=True, help=exact.get(label, value))
counts = count_by_severity(profile["alerts"])
st.caption(f"Column types: {md_escape(items[-1][1])} · profiled in {profile['seconds']:.2f} s on "
           f"{md_escape(profile.get('computed_at', ''))} UTC · alerts: "
           + ", ".join(f"{n} {sev}" for sev, n in counts.items()))

tab_alerts, tab_columns, tab_corr, tab_target = st.tabs(
    [f"Alerts ({len(profile['alerts'])})", "Columns", "Correlations", "Target & leakage"])

# -- alerts, grouped by severity -----------------------------------------------------------------------------------------
with tab_alerts:
    if not profile["alerts"]:
        st.success("No alerts: no constant, empty, duplicated, skewed or mistyped columns were found.",
                   icon=":material/check_circle:")
    for severity in SEVERITIES:
        group = [a for a in profile["alerts"] if a["severity"] == severity]
        if not group:
            continue
        box, icon, heading = _SEVERITY[severity]
        st.markdown(f"**{heading} ({len(group)})**")
        for a in group:
            box(f"**{md_escape(a['label'])}** — {md_escape(a['evidence'])}  \n{md_escape(a['suggestion'])}", icon=icon)
    if profile["alerts"]:
        with st.expander("All alerts as a table"):
            st.dataframe(_table("alerts", alerts_frame, profile["alerts"]), hide_index=True, width="stretch")

# -- columns -----------------------------------------------------------------------------------------------------------
with tab_columns:
    st.dataframe(_table("columns", columns_frame, profile), hide_index=True, width="stretch",
                 column_config={"Missing %": st.column_config.ProgressColumn("Missing %", format="%.1f%%",
                                                                             min_value=0, max_value=100)})
    names = [c["name"] for c in profile["columns"]]
    chosen = st.selectbox("Column details", names, key="profile.column")
    stat = next(c for c in profile["columns"] if c["name"] == chosen)
    flagged = [a for a in profile["alerts"] if chosen in a["columns"]]
    for a in flagged:
        _SEVERITY[a["severity"]][0](f"**{md_escape(a['label'])}** — {md_escape(a['evidence'])}",
                                    icon=_SEVERITY[a["severity"]][1])
    stats_col, chart_col = st.columns([2, 3])
    stats_col.dataframe(_table(("column", chosen), column_details, stat), hide_index=True, width="stretch")
    if stat["family"] == "numeric":
        fig = _chart(("column", chosen), charts.histogram_figure, stat.get("histogram"), f"Distribution of {chosen}",
                     chosen)
    elif stat["family"] == "datetime":
        fig = _chart(("column", chosen), charts.period_figure, stat.get("by_period"),
                     f"Rows per {(stat.get('by_period') or {}).get('period', 'month')}")
    elif stat["family"] == "text":
        fig = _chart(("column", chosen), charts.histogram_figure, stat.get("length_histogram"), "Text length",
                     "characters")
    else:
        fig = _chart(("column", chosen), charts.bar_figure, stat, f"Most common values of {chosen}")
    chart_col.plotly_chart(fig, key="profile.chart.column", width="stretch", config={"displayModeBar": False})
    if stat["family"] == "text" and stat.get("top"):
        chart_col.plotly_chart(_chart(("text top", chosen), charts.bar_figure, stat, "Most common values"),
                               key="profile.chart.text_top",
                               width="stretch", config={"displayModeBar": False})

# -- correlations ------------------------------------------------------------------------------------------------------
with tab_corr:
    corr = profile.get("correlations") or {}
    if len(corr.get("columns", [])) < 2:
        st.info("Fewer than two columns can be correlated (numbers that vary, or categories with 2–50 values).",
                icon=":material/info:")
    else:
        measure = st.radio("Measure", ["All columns (mixed)", "Pearson (numbers)", "Spearman (numbers)"],
                           horizontal=True, key="profile.corr_measure",
                           help="Mixed: |Spearman| between numbers, Cramér's V between categories, the correlation "
                                "ratio between a number and a category.")
        if measure.startswith("All"):
            cols, matrix, signed = corr["columns"], corr["association"], False
        else:
            cols, matrix, signed = corr["numeric"], corr["pearson" if measure.startswith("Pearson") else "spearman"], True
        if corr["sample_rows"] < corr["rows"]:
            st.caption(f"Computed on a fixed random sample of {corr['sample_rows']:,} of {corr['rows']:,} rows.")
        else:
            st.caption(f"Computed on all {corr['rows']:,} rows.")
        if len(cols) >= 2:
            st.plotly_chart(_chart(("heatmap", measure), charts.heatmap_figure, cols, matrix, measure, signed),
                            key="profile.chart.heatmap",
                            width="stretch", config={"displayModeBar": False})
        if corr["pairs"]:
            st.markdown("**Strongest pairs**")
            st.dataframe(_table("pairs", lambda pairs: [{"Column A": p["a"], "Column B": p["b"], "Measure": p["method"],
                                                         "Value": p["value"]} for p in pairs[:20]], corr["pairs"]),
                         hide_index=True, width="stretch")

# -- target view ---------------------------------------------------------------------------------------------------------
with tab_target:
    view = profile.get("target_view")
    if not view:
        st.info("Pick a target column above to see its distribution, how strongly each feature relates to it, and "
                "which columns might leak the answer.", icon=":material/target:")
    else:
        for s in view["suspects"]:
            box = st.error if s["severity"] == "problem" else st.warning
            box(f"**Possible leakage: {md_escape(s['column'])}** — {md_escape(s['evidence'])}  \n"
                f"{md_escape(s['suggestion'])}", icon=":material/report:")
        if not view["suspects"]:
            st.success("No leakage suspects: no single feature predicts the target almost perfectly, and no column "
                       "looks like an identifier.", icon=":material/check_circle:")
        dist, assoc = st.columns(2)
        if view["task"] == "classification":
            dist.plotly_chart(_chart("classes", charts.class_figure, view["classes"], f"Classes of {view['target']}"),
                              key="profile.chart.classes", width="stretch", config={"displayModeBar": False})
        else:
            dist.plotly_chart(_chart("target", charts.histogram_figure, view.get("histogram"),
                                     f"Distribution of {view['target']}", view["target"]),
                              key="profile.chart.target", width="stretch", config={"displayModeBar": False})
        assoc.plotly_chart(_chart("associations", charts.association_figure, view["associations"],
                                  "Association with the target"),
                           key="profile.chart.assoc", width="stretch", config={"displayModeBar": False})
        if view["sample_rows"] < view["rows"]:
            st.caption(f"Associations computed on a fixed random sample of {view['sample_rows']:,} of "
                       f"{view['rows']:,} rows.")
        st.dataframe(_table("associations", associations_frame, view), hide_index=True, width="stretch")
