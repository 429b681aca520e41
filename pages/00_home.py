"""Home: the lifecycle at a glance for the current project, each step linking to its page."""

from __future__ import annotations

import streamlit as st

from core.profile.profiling import data_health
from core.share.lifecycle import lifecycle_status
from pages._projects import criteria_banner, md_escape, project_picker
from core.errors import WorkbenchError
from pages._cache import derived
from pages._widgets import arrow_frame, cache_scope, get_workspace, human_bytes, is_viewer, page_link, show_error


def _datasets_table(ws_, _scope: str):
    """The datasets this session may read, with their health from the stored profiles, as the table draws them."""
    datasets = ws_.datasets()
    if not datasets:
        return None
    health = {d.id: data_health(ws_, d.id) for d in datasets}
    return arrow_frame(
        [{"Dataset": d.name, "Rows": d.rows, "Columns": len(d.columns), "Size": human_bytes(d.size_bytes),
          "Missing cells": (f"{health[d.id]['missing_pct']:.1f}%" if health.get(d.id) else "not profiled yet"),
          "Alerts": (health[d.id].get("alerts", "") if health.get(d.id) else ""),
          "Added": d.created_at.strftime("%Y-%m-%d %H:%M")} for d in datasets])


ws = get_workspace()
project = project_picker(ws)

st.title("AI Product Workbench")
st.markdown("From a CSV to a launch decision: **define** the problem, **understand** the data, **train** and "
            "**compare** models, **register** a champion, **watch** for drift and **rehearse** the launch.")

if project is not None:
    st.subheader(md_escape(project.name))
    if project.problem:
        st.markdown(md_escape(project.problem))
    criteria_banner(project)

# Where the project stands, and the datasets' health: recomputed only after a write (pages/_cache.py).
steps = derived(ws, project.id, "dashboard.lifecycle", lifecycle_status) if project else lifecycle_status(ws, None)
done = sum(s.is_done for s in steps)
st.progress(done / len(steps), text=f"{done} of {len(steps)} lifecycle steps done")

for row in (steps[:4], steps[4:]):
    cols = st.columns(4)
    for col, step in zip(cols, row):
        number = steps.index(step) + 1
        with col.container(border=True):
            mark = ":green[:material/check_circle:]" if step.is_done else ":gray[:material/radio_button_unchecked:]"
            st.markdown(f"#### {mark} {number}. {step.title}")
            st.markdown(md_escape(step.fact))
            page_link(step.page, "Open", fallback=lambda: st.caption(" "))  # keeps the cards the same height

TOUR = (
    ("pages/01_define.py", "Define", "the problem, who acts on it, and the launch rule (recall ≥ 0.70)."),
    ("pages/03_profile.py", "Profile", "what is in the data and what to worry about, with alerts."),
    ("pages/06_split.py", "Split", "train / validation / test with leak checks."),
    ("pages/07_train.py", "Train", "the leaderboard, with the baseline and honest warnings."),
    ("pages/08_evaluate.py", "Evaluate", "move the threshold and watch value and fairness follow."),
    ("pages/09_registry.py", "Registry", "the first champion passed its launch gate; the ledger says who, when, why."),
    ("pages/15_monitor.py", "Monitoring", "February's batch drifted and raised alerts; March brought labels."),
    ("pages/16_retrain.py", "Retrain", "the challenger trained on February beat the champion on March, which "
                                       "neither saw."),
    ("pages/12_launch.py", "Launch", "a canary on March's real rows ships it; a labelled what-if shows a rollback."),
    ("pages/13_dashboard.py", "Dashboard", "the one page a stakeholder needs."),
)
with st.expander(f"Guided tour: the demo story in {len(TOUR)} stops", icon=":material/tour:"):
    for path, title, what in TOUR:
        page_link(path, f"{title}: {what}", fallback=lambda: st.markdown(f"**{title}**: {what}"))
if not is_viewer():
    st.caption("Load demo project builds three months of the synthetic sample data: five models compared, a first "
               "champion through the launch gate, February's batch monitored (drift, alerts), a challenger "
               "retrained and judged on March, a canary that ships it, and a labelled what-if rollback "
               "(a few minutes).")
    if st.button("Load demo project", key="home.demo", icon=":material/play_circle:"):
        from core.share.demo import build_demo

        bar = st.progress(0.0, text="Starting…")
        state = {"f": 0.0}

        def _progress(frac, text):
            state["f"] = state["f"] if frac is None else float(frac)
            bar.progress(min(state["f"], 1.0), text=text)

        try:
            result = build_demo(ws, progress=_progress)
            st.session_state.project_id = result.project_id
            st.success(f"Demo ready in {result.seconds:.0f} s. Open the dashboard or follow the guided tour.",
                       icon=":material/check_circle:")
        except WorkbenchError as err:
            show_error(err)

st.subheader("Datasets in the workspace")
datasets = derived(ws, cache_scope(), "home.datasets", _datasets_table)
if datasets is not None:
    st.dataframe(datasets, hide_index=True, width="stretch")
else:
    st.info("No datasets yet. Upload a CSV on the Data page.", icon=":material/upload:")
st.caption("Sample datasets are synthetic, generated by scripts/make_sample_data.py with a fixed seed.")
