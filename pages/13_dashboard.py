"""Project dashboard: the whole story of one project at a glance, read-only."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.share.dashboard import project_snapshot
from core.share.lifecycle import lifecycle_status
from pages._projects import require_project
from pages._widgets import get_workspace, md_escape

ws = get_workspace()
project = require_project(ws)
snap = project_snapshot(ws, project.id)

st.title(md_escape(project.name))
if project.problem:
    st.markdown(f"**Problem.** {md_escape(project.problem)}")
if project.users_and_decision:
    st.markdown(f"**Who acts on it.** {md_escape(project.users_and_decision)}")
st.caption(" · ".join(md_escape(line) for line in snap.criteria_lines))

steps = lifecycle_status(ws, project.id)
cols = st.columns(len(steps))
for col, step in zip(cols, steps):
    mark = ":green[:material/check_circle:]" if step.is_done else ":gray[:material/radio_button_unchecked:]"
    col.markdown(f"{mark} **{step.title}**  \n{md_escape(step.fact)}")

st.divider()
kpi_cols = st.columns(max(len(snap.kpis), 1))
for col, kpi in zip(kpi_cols, snap.kpis):
    with col.container(border=True):
        status = {True: ":green[on target]", False: ":red[off target]", None: ""}[kpi.is_ok]
        st.metric(kpi.label, kpi.value, help=kpi.help or None, border=False)
        st.markdown(" ".join(x for x in (f"target {kpi.target}" if kpi.target else "", status) if x) or " ")
for note in snap.notes:
    st.caption(md_escape(note))

left, right = st.columns(2)
with left:
    st.subheader("Champion history")
    promotions = [e for e in snap.ledger if e.get("version_id")]
    if promotions:
        by_id = {v["id"]: v for v in snap.versions}
        frame = pd.DataFrame([{"when": e.get("at") or e["created_at"], "action": e.get("action", ""),
                               "version": by_id.get(e["version_id"], {}).get("number"), "by": e.get("by", ""),
                               "why": e.get("why", "")} for e in promotions])
        champ = frame[frame["action"].isin(["promote", "rollback"])]
        if not champ.empty:
            fig = go.Figure(go.Scatter(x=champ["when"], y=champ["version"], mode="lines+markers", line_shape="hv",
                                       hovertext=champ["why"], name="champion"))
            fig.update_layout(height=260, margin=dict(l=10, r=10, t=10, b=10), yaxis_title="champion version",
                              yaxis=dict(dtick=1))
            st.plotly_chart(fig, width="stretch")
        st.dataframe(frame, hide_index=True, width="stretch")
    else:
        st.info("No version has been promoted yet.", icon=":material/inventory_2:")
with right:
    st.subheader("Model comparison")
    if snap.leaderboard is not None and not snap.leaderboard.empty:
        st.dataframe(snap.leaderboard.head(8), hide_index=True, width="stretch")
    else:
        st.info("No models trained yet.", icon=":material/model_training:")

left, right = st.columns(2)
with left:
    st.subheader("Latest drift check")
    if snap.drift:
        box = st.warning if snap.drift.get("is_drifted") else st.success
        box(md_escape(snap.drift.get("verdict", "")), icon=":material/monitoring:")
        share = snap.drift.get("drifted_share")
        if share is not None:
            st.metric("Columns drifted", f"{share:.0%}")
        st.caption(f"Checked {snap.drift['created_at']:%Y-%m-%d %H:%M}")
    else:
        st.info("No drift check yet.", icon=":material/monitoring:")
with right:
    st.subheader("Launch rehearsal")
    if snap.simulation:
        verdict = snap.simulation.get("verdict") or {}
        decision = verdict.get("decision", "—")
        box = {"Ship": st.success, "Roll back": st.error}.get(decision, st.warning)
        box(f"**{md_escape(decision)}** — {md_escape(verdict.get('sentence', ''))}", icon=":material/rocket_launch:")
        st.caption(f"Simulated {snap.simulation.get('strategy', '')} rollout, "
                   f"{snap.simulation['created_at']:%Y-%m-%d %H:%M}. Figures are simulated from replayed data.")
    else:
        st.info("No launch rehearsal yet.", icon=":material/rocket_launch:")
