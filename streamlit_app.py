"""Router: per-session setup, the pages declared as data, and the one safety net around every page."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("DO_NOT_TRACK", "1")  # Evidently's telemetry: offline it only fails and litters the log

import streamlit as st
from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException

from core.errors import WorkbenchError

ROOT = Path(__file__).resolve().parent
log = logging.getLogger("workbench")

@dataclass(frozen=True)
class PageEntry:
    """One page of the navigation: its sidebar section, file, title, icon, and whether a share-link viewer may open it."""

    section: str
    path: str
    title: str
    icon: str
    for_viewers: bool


# Order is the lifecycle.
PAGES: tuple[PageEntry, ...] = (
    PageEntry("Start", "pages/00_home.py", "Home", ":material/home:", for_viewers=True),
    PageEntry("Start", "pages/13_dashboard.py", "Project dashboard", ":material/dashboard:", for_viewers=True),
    PageEntry("Start", "pages/01_define.py", "Define the problem", ":material/flag:", for_viewers=False),
    PageEntry("Data", "pages/02_data.py", "Data", ":material/table_chart:", for_viewers=False),
    PageEntry("Data", "pages/03_profile.py", "Profile", ":material/query_stats:", for_viewers=True),
    PageEntry("Data", "pages/04_compare.py", "Compare datasets", ":material/compare_arrows:", for_viewers=True),
    PageEntry("Data", "pages/05_sql.py", "SQL", ":material/terminal:", for_viewers=False),
    PageEntry("Models", "pages/06_split.py", "Split", ":material/call_split:", for_viewers=True),
    PageEntry("Models", "pages/07_train.py", "Train & compare", ":material/model_training:", for_viewers=False),
    PageEntry("Models", "pages/08_evaluate.py", "Evaluate", ":material/insights:", for_viewers=True),
    PageEntry("Models", "pages/09_registry.py", "Registry", ":material/inventory_2:", for_viewers=True),
    PageEntry("Models", "pages/10_score.py", "Batch scoring", ":material/bolt:", for_viewers=False),
    PageEntry("Launch", "pages/11_drift.py", "Drift", ":material/monitoring:", for_viewers=True),
    PageEntry("Launch", "pages/12_launch.py", "Launch simulator", ":material/rocket_launch:", for_viewers=True),
    PageEntry("Launch", "pages/15_monitor.py", "Monitoring", ":material/notifications_active:", for_viewers=True),
    PageEntry("Launch", "pages/16_retrain.py", "Retrain", ":material/autorenew:", for_viewers=False),
    PageEntry("Share", "pages/14_share.py", "Share & report", ":material/share:", for_viewers=False),
)


def visible_pages(viewer: bool) -> list[PageEntry]:
    """Returns the pages this session may open; a viewer's list leaves out every page that changes data."""
    # A page left out is not registered at all, so it cannot be reached even by typing its URL.
    return [p for p in PAGES if (p.for_viewers or not viewer) and (ROOT / p.path).is_file()]


def _navigation(viewer: bool) -> dict[str, list]:
    sections: dict[str, list] = {}
    for p in visible_pages(viewer):
        sections.setdefault(p.section, []).append(
            st.Page(p.path, title=p.title, icon=p.icon, default=p.path.endswith("00_home.py")))
    return sections


@dataclass(frozen=True)
class SessionRole:
    """What a session may do: "editor" or "viewer"; a viewer's project, or the error that stops them."""

    role: str
    project_id: str | None = None
    error: str | None = None


UNCHECKED_SHARE_LINK = ("This share link could not be checked just now, so nothing is shown. Try the link again in a "
                        "minute; if it keeps happening, ask the analyst who shared it for a new one.")


def _check_share_token(token: str) -> str:
    """Returns the project a share token opens (WorkbenchError when it is unknown, revoked or expired)."""
    from core.share.links import resolve_share_token
    from pages._widgets import _shared_workspace

    return resolve_share_token(_shared_workspace(), token)


def role_for(token: str | None, check: Callable[[str], str] = _check_share_token) -> SessionRole:
    """The role of a session opened with `?share=<token>` (or without one). Fails closed.

    No token: an editor. A token that checks out: a viewer of its project. A token that is refused, or that cannot
    be checked for any reason at all (a missing module, a workspace that will not open, a bug): a viewer with an
    error and no project, never an editor.
    """
    if not token:
        return SessionRole("editor")
    try:
        return SessionRole("viewer", project_id=check(token))
    except WorkbenchError as err:
        return SessionRole("viewer", error=str(err))
    except Exception:  # noqa: BLE001 — fail closed: whatever broke, a share-link visitor must not become an editor
        log.exception("A share token could not be checked; the session is a viewer with an error")
        return SessionRole("viewer", error=UNCHECKED_SHARE_LINK)


def _resolve_role() -> None:
    """Sets this session's role once: a valid share token in the URL makes it a read-only viewer."""
    if "role" in st.session_state:
        return
    token = st.query_params.get("share")
    if token:  # before the check: even an exception that escapes role_for leaves a stopped viewer, not an editor
        st.session_state.role = "viewer"
        st.session_state.share_error = UNCHECKED_SHARE_LINK
    role = role_for(token)
    st.session_state.role = role.role
    st.session_state.pop("share_error", None)
    if role.project_id is not None:
        st.session_state.project_id = role.project_id
    if role.error is not None:
        st.session_state.share_error = role.error


def _auth_configured() -> bool:
    """True when the operator configured OpenID Connect sign-in ([auth] in .streamlit/secrets.toml)."""
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 — no secrets file at all: single-user local mode
        return False


def _require_sign_in() -> None:
    """With sign-in configured, editors must sign in; share-link viewers never need to."""
    if not _auth_configured() or st.session_state.get("role") == "viewer" or st.user.is_logged_in:
        return
    st.title("AI Product Workbench")
    st.write("Sign in to edit projects. Stakeholders open the read-only links an analyst shares with them.")
    st.button("Sign in", on_click=st.login, type="primary", icon=":material/login:")
    st.stop()


def main() -> None:
    st.set_page_config(page_title="AI Product Workbench", page_icon=str(ROOT / "assets" / "icon.png"), layout="wide",
                       initial_sidebar_state="expanded")
    _resolve_role()
    _require_sign_in()
    viewer = st.session_state.get("role") == "viewer"
    if viewer and st.session_state.get("share_error"):
        st.error(st.session_state.share_error)  # our own fixed text, no user input in it
        st.stop()
    page = st.navigation(_navigation(viewer), expanded=True)
    if viewer:
        st.sidebar.info("Read-only view: shared with you by an analyst.", icon=":material/visibility:")
    try:
        page.run()
    except ScriptControlException:
        raise  # st.stop() and st.rerun() pass through
    except WorkbenchError as err:
        from pages._widgets import md_escape

        st.error(md_escape(str(err)), icon=":material/error:")
    except Exception:  # noqa: BLE001 — the one safety net: log the traceback, show a calm message
        log.exception("Unexpected error on page %s", page.title)
        st.error("Something went wrong on this page, and nothing was changed. Try again; if it keeps happening, "
                 "reload the page. The details are in the server log.", icon=":material/error:")


if __name__ == "__main__":  # Streamlit runs the router as __main__; tests import it
    main()
