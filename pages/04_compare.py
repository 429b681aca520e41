"""Compare datasets: two datasets, or two slices of one, side by side with the differences highlighted."""

from __future__ import annotations

import streamlit as st

from core.profile import charts
from core.profile.compare import SliceSpec, compare, differences_frame, side_by_side, slice_suggestion, split_slices, \
    suggest_pair, suggest_partner
from core.errors import WorkbenchError
from core.profile.profiling import visible_datasets
from pages._widgets import dataset_picker, empty_state, get_workspace, is_viewer, md_escape, page_header, show_error

_MODES = ["Two datasets", "Two slices of one dataset"]


@st.cache_data(show_spinner=False, max_entries=16)
def _compare(_ws, left: dict, right: dict, hashes: tuple[str, ...]) -> dict:
    # The content hashes are part of the key, so a changed dataset is never compared from an old result.
    return compare(_ws, SliceSpec.from_dict(left), SliceSpec.from_dict(right))


def _highlight(row):
    return ["background-color: rgba(245, 133, 24, 0.15)" if row["Changed"] else "" for _ in row]


ws = get_workspace()
page_header("Compare datasets", "Put two datasets, or two slices of one (train vs test, last month vs this month), "
                                "side by side: what changed, column by column.")
datasets = visible_datasets(ws, st.session_state.get("project_id"))
if not datasets:
    empty_state("No datasets yet. Upload a CSV on the Data page, then compare it here.", "pages/02_data.py", "Go to Data")

mode = st.radio("Compare", _MODES, index=0 if len(datasets) > 1 else 1, horizontal=True, key="compare.mode")
left_spec = right_spec = None
if mode == _MODES[0]:
    if len(datasets) < 2:
        empty_state("Only one dataset is in the workspace. Upload a second one, or compare two slices of this one.",
                    "pages/02_data.py", "Go to Data")
    a, b = st.columns(2)
    pair = suggest_pair(ws) if not is_viewer() else None
    with a:
        left = dataset_picker(ws, key="compare.left", label="Left (reference)", datasets=datasets,
                              default=pair[0] if pair else None)
    with b:
        right = dataset_picker(ws, key="compare.right", label="Right (compared)", datasets=datasets,
                               default=suggest_partner(ws, left.id))
    left_spec, right_spec = SliceSpec(left.id), SliceSpec(right.id)
else:
    info = dataset_picker(ws, key="compare.dataset", datasets=datasets)
    sets = split_slices(ws, info.id)
    how = st.radio("Slice by", ["A column", "A saved split"] if sets else ["A column"], horizontal=True,
                   key="compare.slice_by")
    if how == "A saved split":
        labels = {s.label: s for s in sets}
        a, b = st.columns(2)
        first = a.selectbox("Left", list(labels), key="compare.split_left")
        second = b.selectbox("Right", list(labels), index=min(len(labels) - 1, 2 if len(labels) > 2 else 1),
                             key="compare.split_right")
        left_spec, right_spec = labels[first], labels[second]
    else:
        column = st.selectbox("Column", info.column_names, key="compare.column",
                              index=next((i for i, c in enumerate(info.columns) if c.kind == "datetime"), 0))
        suggestion = slice_suggestion(ws, info.id, column)
        if suggestion["mode"] == "cut":
            cut = st.text_input("Cut at (left: before this value; right: this value and after)",
                                value=str(suggestion["value"]), key=f"compare.cut.{column}")
            left_spec = SliceSpec(info.id, column, "<", (cut,))
            right_spec = SliceSpec(info.id, column, ">=", (cut,))
        elif len(suggestion["values"]) >= 2:
            a, b = st.columns(2)
            first = a.selectbox("Left: rows where it is", suggestion["values"], key=f"compare.value_left.{column}")
            second = b.selectbox("Right: rows where it is", suggestion["values"], index=1,
                                 key=f"compare.value_right.{column}")
            left_spec = SliceSpec(info.id, column, "=", (first,))
            right_spec = SliceSpec(info.id, column, "=", (second,))
        else:
            st.info(f"Column {md_escape(column)} has fewer than two values, so it cannot slice the data.",
                    icon=":material/info:")
            st.stop()

hashes = tuple(ws.dataset(s.dataset).content_hash for s in (left_spec, right_spec))
try:
    with st.spinner("Comparing…"):
        result = _compare(ws, left_spec.to_dict(), right_spec.to_dict(), hashes)
except WorkbenchError as err:
    show_error(err)
    st.stop()

# -- the two sides at a glance ----------------------------------------------------------------------------------------------
cols = st.columns(2)
for col, side, tag in ((cols[0], result["left"], "Left"), (cols[1], result["right"], "Right")):
    with col.container(border=True):
        st.markdown(f"**{tag}: {md_escape(side['label'])}**")
        m1, m2, m3 = st.columns(3)
        m1.metric("Rows", f"{side['rows']:,}")
        m2.metric("Missing cells", f"{side['summary']['missing_pct']:.2f}%")
        m3.metric("Duplicate rows", f"{side['summary']['duplicate_rows']:,}")
changed = [c for c in result["columns"] if c["flagged"]]
st.markdown(f"**{len(changed)} of {len(result['columns'])} shared columns changed noticeably** "
            "(mean moved by 0.2 standard deviations or more, category shares by 10% or more, missing values by 5 "
            "points or more).")
if result["only_left"] or result["only_right"]:
    st.caption(f"Only on the left: {md_escape(', '.join(result['only_left']) or 'none')} · only on the right: "
               f"{md_escape(', '.join(result['only_right']) or 'none')}")
frame = differences_frame(result)
st.dataframe(frame.style.apply(_highlight, axis=1), hide_index=True, width="stretch")

# -- one column, overlaid --------------------------------------------------------------------------------------------------
names = [c["name"] for c in result["columns"]]
# the most changed column, else the first that is not an identifier (a chart of ids says nothing)
readable = [c["name"] for c in result["columns"] if c["kind"] != "id"]
default = names.index(changed[0]["name"] if changed else (readable or names)[0])
chosen = st.selectbox("Column to overlay", names, index=default, key="compare.view_column")
entry = next(c for c in result["columns"] if c["name"] == chosen)
for reason in entry["reasons"]:
    st.warning(md_escape(reason), icon=":material/compare_arrows:")
chart_col, stats_col = st.columns(2)
if entry["chart"]:
    chart_col.plotly_chart(charts.overlay_figure(entry["chart"], result["left"]["label"], result["right"]["label"],
                                                 f"{chosen}: left vs right"),
                           key="compare.chart", width="stretch", config={"displayModeBar": False})
else:
    chart_col.info("No chart for this column: it has no values on one side.", icon=":material/info:")
stats_col.dataframe(side_by_side(result, chosen), hide_index=True, width="stretch")
