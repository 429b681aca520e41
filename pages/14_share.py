"""Share: read-only links for stakeholders, the lifecycle report, and the demo project."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pandas as pd
import streamlit as st

from core.errors import WorkbenchError
from core.share.access import rotate_editor_key
from core.share.links import create_share_link, list_share_links, revoke_share_link
from pages._projects import md_escape, require_project
from pages._widgets import get_workspace, page_header, show_error

ws = get_workspace()
page_header("Share", "Give stakeholders a read-only view, export the lifecycle report, or load the demo story.")
project = require_project(ws)

st.subheader("Read-only links")
st.caption("A link opens the project dashboard and results pages in viewer mode: nothing can be uploaded, trained, "
           "promoted or deleted through it. Links can be revoked at any time.")
with st.form("share.form", border=True):
    label = st.text_input("Who is it for?", placeholder="e.g. Steering committee", key="share.label", max_chars=80)
    expires = st.date_input("Expires on (optional)", value=None, min_value=datetime.now().date() + timedelta(days=1),
                            key="share.expires")
    if st.form_submit_button("Create link", type="primary", icon=":material/link:"):
        try:
            token = create_share_link(ws, project.id, label=label,
                                      expires_at=datetime.combine(expires, time(23, 59)) if expires else None)
            st.session_state["share.new_token"] = token
        except WorkbenchError as err:
            show_error(err)

st.caption("While any link is active, opening the editor needs the editor key (printed in the server console at "
           "first start) or sign-in, so a stakeholder who deletes `?share=` from the address gets a sign-in screen.")
token = st.session_state.pop("share.new_token", None)
if token:
    st.success("Link created. Copy it now: for safety it is not shown again.", icon=":material/check_circle:")
    base = st.context.url.split("?")[0].rsplit("/", 1)[0] if st.context.url else "http://localhost:8501"
    st.code(f"{base}/dashboard?share={token}&project={project.id}", language=None)

links = list_share_links(ws, project.id)
if not links:
    st.info(f"No links for {md_escape(project.name)} yet.", icon=":material/link_off:")
else:
    st.dataframe(pd.DataFrame([{"For": l.label or "—", "Created": l.created_at, "Expires": l.expires_at,
                                "Status": "active" if l.is_active else ("revoked" if l.revoked else "expired")}
                               for l in links]), hide_index=True, width="stretch")
    active = [l for l in links if l.is_active]
    if active:
        by_id = {l.id: l for l in active}
        chosen = st.selectbox("Revoke a link", list(by_id), key="share.revoke_pick",
                              format_func=lambda i: f"{by_id[i].label or 'unnamed'} · created "
                                                    f"{by_id[i].created_at:%Y-%m-%d %H:%M}")
        if st.button("Revoke", key="share.revoke", icon=":material/block:"):
            revoke_share_link(ws, chosen)
            st.toast("Link revoked.")
            st.rerun()

with st.expander("Editor key", icon=":material/key:"):
    st.caption("The key that opens the editor once this server is shared. Making a new one stops the old one; "
               "sessions already open keep working. The CLI does the same: `workbench editor-key rotate`.")
    if st.button("Make a new editor key", key="share.rotate_key", icon=":material/autorenew:"):
        st.session_state["share.new_key"] = rotate_editor_key(ws)
    new_key = st.session_state.pop("share.new_key", None)
    if new_key:
        st.success("New editor key. Copy it now: for safety it is not shown again.", icon=":material/check_circle:")
        root = st.context.url.split("?")[0].rsplit("/", 1)[0] if st.context.url else "http://localhost:8501"
        st.code(f"{root}/?key={new_key}", language=None)

st.subheader("Lifecycle report")
st.caption("One self-contained HTML file with the definition, data health, split, leaderboard, champion, drift, "
           "launch verdict and ledger: for email or a slide deck. It opens offline.")
if st.button("Build the report", key="share.report", icon=":material/description:"):
    from core.share.report import build_report

    with st.spinner("Building the report…"):
        st.session_state["share.report_html"] = (project.id, build_report(ws, project.id))
built = st.session_state.get("share.report_html")
if built and built[0] == project.id:
    st.download_button("Download report (HTML)", built[1], file_name=f"{project.name} - lifecycle report.html",
                       mime="text/html", key="share.report_download", icon=":material/download:")
