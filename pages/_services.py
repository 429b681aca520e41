"""Background services of the app server, started by the router (every run asks; only the first start does work).

The monitoring queue's drainer (core.monitor.drainer): runs the checks that `workbench monitor` hands over while this
server holds the workspace, and the monitoring policies scheduled in the app.
"""

from __future__ import annotations

import logging

from core.errors import WorkbenchError

log = logging.getLogger("workbench.services")


def start_background_services() -> bool:
    """Starts the monitoring queue's drainer on the shared workspace once per server; False when it cannot run.

    Not cached as a resource on purpose: when a `workbench monitor` run held the workspace at the moment the first
    visitor came, the next run starts it (start_drainer is idempotent and cheap once started).
    """
    from streamlit.runtime import Runtime

    # A page test (AppTest) runs the script on a mock runtime, not a server: nothing to drain for there.
    if not Runtime.exists() or type(Runtime.instance()) is not Runtime:
        return False
    try:
        from core.monitor.drainer import start_drainer
        from pages._widgets import _shared_workspace

        start_drainer(_shared_workspace())
    except WorkbenchError as err:  # e.g. the workspace is held by a monitor run right now: try again next run
        log.warning("The monitoring queue is not running yet: %s", err)
        return False
    except Exception:  # noqa: BLE001 — the app works without it; queued checks then time out with a plain message
        log.exception("The monitoring queue could not be started")
        return False
    return True
