"""Background services of the app server, started once per server process by the router.

The monitoring queue's drainer (core.monitor.queue): runs the checks that `workbench monitor` hands over while this
server holds the workspace, and the monitoring policies scheduled in the app.
"""

from __future__ import annotations

import logging

import streamlit as st

log = logging.getLogger("workbench.services")


@st.cache_resource(show_spinner=False)
def start_background_services() -> bool:
    """Starts the monitoring queue's drainer on the shared workspace; False when it could not start (logged)."""
    from streamlit.runtime import Runtime

    # A page test (AppTest) runs the script on a mock runtime, not a server: nothing to drain for there.
    if not Runtime.exists() or type(Runtime.instance()) is not Runtime:
        return False
    try:
        from core.monitor.queue import start_drainer
        from pages._widgets import _shared_workspace

        start_drainer(_shared_workspace())
    except Exception:  # noqa: BLE001 — the app works without it; queued checks then time out with a plain message
        log.exception("The monitoring queue could not be started")
        return False
    return True
