"""Where heavy work runs, on the Train and Score pages: this machine, or a Dask cluster with its workers and pages."""

from __future__ import annotations

from urllib.parse import urljoin

import streamlit as st

from core.models import compute
from pages._widgets import is_viewer, md_escape

# What a job does on a cluster, and what happens when the cluster fails it, per page.
_ON_CLUSTER = {
    "training": "Each cross-validation fold and tuning trial is a task on a worker; random forest and XGBoost "
                "train on every row there (no row cap). A lost worker's tasks are retried on another; if the cluster "
                "cannot finish, the job stops with a message and nothing is saved. Cancel stops the cluster's tasks.",
    "scoring": "The file is cut into partitions, each scored on a worker. A lost worker's partitions are retried on "
               "another; if the cluster cannot finish, scoring stops with a message and no file is kept.",
}


def compute_panel(what: str = "training", key: str = "train") -> None:
    """Shows where `what` runs; an unreachable cluster gets a plain message and a one-click fallback to local."""
    noun = what.capitalize()
    try:
        configured = compute.configured()
    except compute.ComputeUnavailable as err:  # a mistyped setting: say so, work here
        st.warning(md_escape(f"{err} {noun} runs on this machine."), icon=":material/dns:")
        compute.use_local()
        return
    if configured.is_local:
        st.caption("Runs on this machine: two worker processes, one core each." if what == "training" else
                   "Runs on this machine, in this server's process, partition by partition.")
        return
    if compute.is_fallback():
        left, right = st.columns([4, 1])
        left.info(md_escape(f"{noun} runs on this machine: you chose it instead of the Dask cluster "
                            f"({configured.label})."), icon=":material/computer:")
        if not is_viewer() and right.button("Use the cluster again", key=f"{key}.compute_cluster",
                                            icon=":material/hub:"):
            compute.use_local(False)
            st.rerun()
        return
    with st.spinner("Connecting to the Dask cluster…"):
        info = compute.describe(configured)
    if info.get("error"):
        left, right = st.columns([4, 1])
        left.warning(md_escape(info["error"]) + " Nothing has run and nothing was saved.", icon=":material/cloud_off:")
        if not is_viewer() and right.button(f"{'Train' if what == 'training' else 'Score'} on this machine",
                                            key=f"{key}.compute_local", type="primary", icon=":material/computer:"):
            compute.use_local()
            st.rerun()
        return
    where = "a Dask cluster on this machine" if info["backend"] == compute.DASK_LOCAL else \
        f"the Dask cluster at {info['address']}"
    text = (f"**{noun} runs on {md_escape(where)}**: {_count(info['workers'], 'worker')}, "
            f"{_count(info['threads'], 'thread')} in all · dask {md_escape(info['versions'].get('distributed', '?'))}."
            f"  \n{_ON_CLUSTER[what]}")
    left, right = st.columns([4, 1])
    left.info(text, icon=":material/hub:")
    if info.get("dashboard"):
        if info.get("dashboard_ready"):
            right.link_button("Dask dashboard", info["dashboard"], icon=":material/monitoring:",
                              help="Live view of the cluster: its workers, tasks and memory (opens a new tab).")
        else:
            right.link_button("Cluster status", urljoin(info["dashboard"], "info/main/workers.html"),
                              icon=":material/monitoring:",
                              help="The scheduler's status page: its workers and their tasks (opens a new tab). "
                                   "The full Dask dashboard needs the bokeh package where the scheduler runs.")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def ran_on(versions: dict) -> str:
    """Where a saved run or version was computed, from the compute fields recorded with its library versions."""
    backend = versions.get("compute") or compute.LOCAL
    if backend == compute.LOCAL:
        return "this machine"
    workers = versions.get("compute_workers")
    where = "a Dask cluster on this machine" if backend == compute.DASK_LOCAL else "a Dask cluster"
    return (f"{where} ({backend}" + (f", {_count(int(workers), 'worker')}" if str(workers).isdigit() else "")
            + (f", dask {versions['distributed']}" if versions.get("distributed") else "") + ")")
