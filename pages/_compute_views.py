"""Where training runs, on the Train page: this machine, or a Dask cluster with its workers and dashboard link."""

from __future__ import annotations

import streamlit as st

from core.models import compute
from pages._widgets import is_viewer, md_escape


def compute_panel() -> None:
    """Shows the compute backend; an unreachable cluster gets a plain message and a one-click fallback to local."""
    try:
        configured = compute.configured()
    except compute.ComputeUnavailable as err:  # a mistyped setting: say so, train here
        st.warning(md_escape(f"{err} Training runs on this machine."), icon=":material/dns:")
        compute.use_local()
        return
    if configured.is_local:
        st.caption("Runs on this machine: two worker processes, one core each.")
        return
    if compute.is_fallback():
        left, right = st.columns([4, 1])
        left.info(md_escape(f"Training runs on this machine: you chose it instead of the Dask cluster "
                            f"({configured.label})."), icon=":material/computer:")
        if not is_viewer() and right.button("Use the cluster again", key="train.compute_cluster",
                                            icon=":material/hub:"):
            compute.use_local(False)
            st.rerun()
        return
    with st.spinner("Connecting to the Dask cluster…"):
        info = compute.describe(configured)
    if info.get("error"):
        left, right = st.columns([4, 1])
        left.warning(md_escape(info["error"]) + " Nothing has run and nothing was saved.", icon=":material/cloud_off:")
        if not is_viewer() and right.button("Train on this machine", key="train.compute_local", type="primary",
                                            icon=":material/computer:"):
            compute.use_local()
            st.rerun()
        return
    where = "a Dask cluster on this machine" if info["backend"] == compute.DASK_LOCAL else \
        f"the Dask cluster at {info['address']}"
    text = (f"Runs on {where}: {info['workers']} worker(s), {info['threads']} thread(s) · dask "
            f"{info['versions'].get('distributed', '?')}. Folds and trials spread over the workers; random forest "
            "and XGBoost train on every row there.")
    left, right = st.columns([4, 1])
    left.info(md_escape(text), icon=":material/hub:")
    if info.get("dashboard"):
        right.link_button("Dask dashboard", info["dashboard"], icon=":material/monitoring:")
