"""Project dashboard: the whole story of one project at a glance, read-only."""

from __future__ import annotations

import streamlit as st

from core.share.dashboard import champion_figure, project_snapshot
from core.share.lifecycle import lifecycle_status
from pages._cache import derived
from pages._projects import require_project
from pages._widgets import get_workspace, md_escape

ws = get_workspace()
project = require_project(ws)
snap = derived(ws, project.id, "dashboard.snapshot", project_snapshot)  # shared, recomputed after a write

st.title(md_escape(project.name))
if project.problem:
    st.markdown(f"**Problem.** {md_escape(project.problem)}")
if project.users_and_decision:
    st.markdown(f"**Who acts on it.** {md_escape(project.users_and_decision)}")
st.caption(" · ".join(md_escape(line) for line in snap.criteria_lines))

steps = derived(ws, project.id, "dashboard.lifecycle", lifecycle_status)
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
    frame = snap.champion_history()
    if not frame.empty:
        fig = champion_figure(frame)
        if fig is not None:
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
        box = st.warning if snap.drift.is_drifted else st.success
        box(md_escape(snap.drift.verdict), icon=":material/monitoring:")
        st.metric("Columns drifted", f"{snap.drift.drifted_share:.0%}")
        st.caption(f"Checked {snap.drift.created_at:%Y-%m-%d %H:%M}")
    else:
        st.info("No drift check yet.", icon=":material/monitoring:")
with right:
    st.subheader("Launch rehearsal")
    if snap.simulation:
        decision = snap.simulation.decision or "—"
        box = {"Ship": st.success, "Roll back": st.error}.get(decision, st.warning)
        box(f"**{md_escape(decision)}** — {md_escape(snap.simulation.sentence)}", icon=":material/rocket_launch:")
        st.caption(f"Simulated {snap.simulation.strategy} rollout, "
                   f"{snap.simulation.created_at:%Y-%m-%d %H:%M}. Figures are simulated from replayed data.")
    else:
        st.info("No launch rehearsal yet.", icon=":material/rocket_launch:")
