"""SQL: one read-only DuckDB SELECT over the workspace's datasets; see, download or save the result."""

from __future__ import annotations

import streamlit as st

from core.errors import WorkbenchError
from core.data.user_sql import MAX_ROWS, dataset_catalog, example_query, run_query, save_query
from pages._widgets import get_workspace, is_viewer, md_escape, page_header, show_error, table

ws = get_workspace()
page_header("SQL", "Query the workspace's datasets with DuckDB SQL: one read-only SELECT at a time, each dataset a "
                   "table named after it. Results can be downloaded or saved as a new dataset.")

with st.expander("Datasets you can query", icon=":material/table_chart:"):
    for d in dataset_catalog(ws):
        cols = ", ".join(f"{c['name']} ({c['kind']})" for c in d["columns"])
        st.markdown(f"**{md_escape(d['name'])}** · {d['rows']:,} rows  \n{md_escape(cols)}")
    st.caption("Names with spaces or capitals need double quotes: SELECT * FROM \"house prices\". Queries that read "
               "files, change data or settings are refused; each query may run for a limited time.")

if "sql.query" not in st.session_state:
    st.session_state["sql.query"] = example_query(ws)
query = st.text_area("Query", height=180, key="sql.query")
if st.button("Run", type="primary", key="sql.run", icon=":material/play_arrow:"):
    try:
        with st.spinner("Running…"):
            st.session_state["sql.result"] = run_query(ws, query)
        st.session_state.pop("sql.saved", None)
    except WorkbenchError as err:
        st.session_state.pop("sql.result", None)
        show_error(err)

result = st.session_state.get("sql.result")
if result is not None:
    used = ", ".join(result.datasets) or "no dataset"
    st.caption(f"{result.rows:,} rows in {result.seconds * 1000:,.0f} ms · reads {md_escape(used)}")
    if result.truncated:
        st.warning(f"Only the first {MAX_ROWS:,} rows are shown; the query returns more. Saving keeps every row.",
                   icon=":material/warning:")
    table(result.frame, key="sql.result_table", height=360, download="query_result.csv")
    if not is_viewer():
        with st.container(border=True):
            st.markdown("**Save as a dataset** — runs the query in full and stores the result, with the query as "
                        "its lineage.")
            left, right = st.columns([3, 1], vertical_alignment="bottom")
            name = left.text_input("Dataset name", value="query_result", max_chars=80, key="sql.save_name")
            if right.button("Save", key="sql.save", icon=":material/save:"):
                try:
                    with st.spinner("Saving…"):
                        info = save_query(ws, result.sql, name)
                    st.session_state["sql.saved"] = (info.name, info.rows)
                except WorkbenchError as err:
                    show_error(err)
    saved = st.session_state.get("sql.saved")
    if saved:
        st.success(f"Saved as dataset {md_escape(saved[0])} ({saved[1]:,} rows). Profile it on the Profile page.",
                   icon=":material/check_circle:")
