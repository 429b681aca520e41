"""Router: per-session setup, the pages declared as data, and the one safety net around every page."""

from __future__ import annotations

import logging
import os
from pathlib import Path

os.environ.setdefault("DO_NOT_TRACK", "1")  # Evidently's telemetry: offline it only fails and litters the log

import streamlit as st
from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException

from core.errors import WorkbenchError

ROOT = Path(__file__).resolve().parent
log = logging.getLogger("workbench")

# (section, file, title, icon, viewer may open it). Order is the lifecycle.
PAGES: tuple[tuple[str, str, str, str, bool], ...] = (
    ("Start", "pages/00_home.py", "Home", ":material/home:", True),
    ("Start", "pages/13_dashboard.py", "Project dashboard", ":material/dashboard:", True),
    ("Start", "pages/01_define.py", "Define the problem", ":material/flag:", False),
    ("Data", "pages/02_data.py", "Data", ":material/table_chart:", False),
    ("Data", "pages/03_profile.py", "Profile", ":material/query_stats:", True),
    ("Data", "pages/04_compare.py", "Compare datasets", ":material/compare_arrows:", True),
    ("Data", "pages/05_sql.py", "SQL", ":material/terminal:", False),
    ("Models", "pages/06_split.py", "Split", ":material/call_split:", True),
    ("Models", "pages/07_train.py", "Train & compare", ":material/model_training:", False),
    ("Models", "pages/08_evaluate.py", "Evaluate", ":material/insights:", True),
    ("Models", "pages/09_registry.py", "Registry", ":material/inventory_2:", True),
    ("Models", "pages/10_score.py", "Batch scoring", ":material/bolt:", False),
    ("Launch", "pages/11_drift.py", "Drift", ":material/monitoring:", True),
    ("Launch", "pages/12_launch.py", "Launch simulator", ":material/rocket_launch:", True),
    ("Share", "pages/14_share.py", "Share & report", ":material/share:", False),
)


def visible_pages(viewer: bool) -> list[tuple[str, str, str, str, bool]]:
    """Returns the pages this session may open; a viewer's list leaves out every page that changes data."""
    # A page left out is not registered at all, so it cannot be reached even by typing its URL.
    return [p for p in PAGES if (p[4] or not viewer) and (ROOT / p[1]).is_file()]


def _navigation(viewer: bool) -> dict[str, list]:
    sections: dict[str, list] = {}
    for section, path, title, icon, _ in visible_pages(viewer):
        sections.setdefault(section, []).append(
            st.Page(path, title=title, icon=icon, default=path.endswith("00_home.py")))
    return sections


def _resolve_role() -> None:
    """Sets this session's role once: a valid share token in the URL makes it a read-only viewer."""
    if "role" in st.session_state:
        return
    st.session_state.role = "editor"
    token = st.query_params.get("share")
    if token:
        try:
            from core.share.links import resolve_share_token
            from pages._widgets import _shared_workspace

            project_id = resolve_share_token(_shared_workspace(), token)
            st.session_state.role = "viewer"
            st.session_state.project_id = project_id
        except ImportError:
            pass
        except WorkbenchError as err:
            st.session_state.role = "viewer"
            st.session_state.share_error = str(err)


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
