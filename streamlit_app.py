"""Router: per-session setup, the pages declared as data, and the one safety net around every page."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("DO_NOT_TRACK", "1")  # Evidently's telemetry: offline it only fails and litters the log

import streamlit as st
from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException

from core.errors import WorkbenchError
from pages._router import (
    FAVICON,
    PageEntry,
    SessionRole,
    announce_editor_key,
    navigation_pages,
    page_file_exists,
    warm_up,
)
from pages._services import start_background_services

ROOT = Path(__file__).resolve().parent
log = logging.getLogger("workbench")
# Streamlit runs this file afresh on every rerun of every session: what needs building once (types, cached functions,
# the icon) lives in pages/_router.py.


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
    return [p for p in PAGES if (p.for_viewers or not viewer) and page_file_exists(p.path)]


def _navigation(viewer: bool) -> dict[str, list]:
    return navigation_pages(tuple(visible_pages(viewer)))


UNCHECKED_SHARE_LINK = ("This share link could not be checked just now, so nothing is shown. Try the link again in a "
                        "minute; if it keeps happening, ask the analyst who shared it for a new one.")
UNCHECKED_EDITOR = ("Whether this server is private could not be checked just now, so editing is locked. Enter the "
                    "editor key, or try again in a minute; the details are in the server log.")


def _check_share_token(token: str) -> str:
    """Returns the project a share token opens (WorkbenchError when it is unknown, revoked or expired)."""
    from core.share.links import resolve_share_token
    from pages._widgets import _shared_workspace

    return resolve_share_token(_shared_workspace(), token)


def _server_address() -> str | None:
    return st.get_option("server.address")


def _editing_needs_key() -> bool:
    from core.share.access import editing_needs_key
    from pages._widgets import _shared_workspace

    return editing_needs_key(_shared_workspace(), _server_address())


def _check_editor_key(key: str) -> bool:
    from core.share.access import check_editor_key
    from pages._widgets import _shared_workspace

    return check_editor_key(_shared_workspace(), key)


def role_for(token: str | None, key: str | None = None, check: Callable[[str], str] = _check_share_token,
             needs_key: Callable[[], bool] = _editing_needs_key,
             check_key: Callable[[str], bool] = _check_editor_key) -> SessionRole:
    """The role of a session opened with `?share=<token>` or `?key=<editor key>` (or neither). Fails closed.

    A share token that checks out: a viewer of its project; one that is refused or cannot be checked for any reason
    (a missing module, a workspace that will not open, a bug): a viewer with an error and no project. No token: an
    editor when the server is private (loopback, nothing shared) or the editor key is right, otherwise "locked";
    when that cannot be decided, "locked" too. Never an editor by accident.
    """
    if token:
        try:
            return SessionRole("viewer", project_id=check(token))
        except WorkbenchError as err:
            return SessionRole("viewer", error=str(err))
        except Exception:  # noqa: BLE001 — fail closed: whatever broke, a share-link visitor must not become an editor
            log.exception("A share token could not be checked; the session is a viewer with an error")
            return SessionRole("viewer", error=UNCHECKED_SHARE_LINK)
    try:
        if not needs_key() or (key and check_key(key)):
            return SessionRole("editor")
        return SessionRole("locked")
    except Exception:  # noqa: BLE001 — fail closed: an editor must be proven, not assumed
        log.exception("Whether editing needs the editor key could not be decided; the session is locked")
        return SessionRole("locked", error=UNCHECKED_EDITOR)


def _auth_configured() -> bool:
    """True when the operator configured OpenID Connect sign-in ([auth] in .streamlit/secrets.toml)."""
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 — no secrets file at all: single-user local mode
        return False


def _resolve_role() -> None:
    """Sets this session's role once, from the URL: a share token makes a viewer of one project, else an editor
    when allowed (see role_for); with sign-in configured, editors sign in instead (see _require_sign_in)."""
    if "role" in st.session_state:
        return
    # Before any check: even an exception that escapes below leaves a stopped, locked session, never an editor.
    st.session_state.role = "locked"
    st.session_state.share_scope = ""
    st.session_state.share_error = UNCHECKED_SHARE_LINK
    token = st.query_params.get("share")
    key = st.query_params.get("key")
    if key is not None:
        del st.query_params["key"]  # out of the address bar and the history, so it is not copied along
    if token or not _auth_configured():
        role = role_for(token, key)
    else:
        role = SessionRole("editor")  # an editor only once signed in: _require_sign_in checks every run
    st.session_state.pop("share_error", None)
    if role.role == "viewer":
        st.session_state.share_scope = role.project_id or ""  # the one project this session may read
        if role.project_id is not None:
            st.session_state.project_id = role.project_id
    else:
        st.session_state.pop("share_scope", None)
    if role.error is not None:
        st.session_state.share_error = role.error
    if key and role.role == "locked" and role.error is None:
        st.session_state.share_error = BAD_KEY
    if role.role == "editor":  # how the editor proved it: the ledger trusts only sign-in for a name
        st.session_state.editor_via = "sign-in" if not token and _auth_configured() else ("key" if key else "private")
    st.session_state.role = role.role


BAD_KEY = ("That editor key is not right (it may have been rotated). Copy the editor URL from the server console, or "
           "make a new key with `workbench editor-key rotate`.")


def _unlock_with_key() -> None:
    key = st.session_state.get("router.key", "")
    try:
        ok = _check_editor_key(key)
    except Exception:  # noqa: BLE001 — fail closed
        log.exception("The editor key could not be checked")
        ok = False
    st.session_state["router.key"] = ""
    if ok:
        st.session_state.role = "editor"
        st.session_state.editor_via = "key"
        st.session_state.pop("share_error", None)
    else:
        st.session_state.share_error = BAD_KEY


def _only_screen(draw: Callable[[], None], title: str) -> None:
    """Shows one screen as the session's only page, then stops: no other page is registered, none is listed (not even
    Streamlit's legacy list of the pages/ folder, shown before any session has called st.navigation)."""
    st.navigation([st.Page(draw, title=title, url_path="welcome", default=True)], position="hidden").run()
    st.stop()


def _require_editor_key() -> None:
    """A locked session sees only the sign-in screen: the editor key, or sign-in; never a page."""
    if st.session_state.get("role") == "locked":
        _only_screen(_editor_key_screen, "Sign in")


def _editor_key_screen() -> None:
    st.title("AI Product Workbench")
    st.write("This workbench is shared, so editing needs the editor key. Stakeholders open the read-only links an "
             "analyst shares with them.")
    if st.session_state.get("share_error"):
        st.error(st.session_state.share_error)  # our own fixed text, no user input in it
    with st.form("router.unlock", border=True):
        st.text_input("Editor key", type="password", key="router.key",
                      help="Printed in the server console at first start, with the editor URL. "
                           "`workbench editor-key rotate` makes a new one.")
        st.form_submit_button("Open the editor", type="primary", icon=":material/key:", on_click=_unlock_with_key)


def _require_sign_in() -> None:
    """With sign-in configured, editors must sign in; share-link viewers never need to."""
    if not _auth_configured() or st.session_state.get("role") != "editor" or st.user.is_logged_in:
        return
    st.title("AI Product Workbench")
    st.write("Sign in to edit projects. Stakeholders open the read-only links an analyst shares with them.")
    st.button("Sign in", on_click=st.login, type="primary", icon=":material/login:")
    st.stop()


def main() -> None:
    st.set_page_config(page_title="AI Product Workbench", page_icon=FAVICON, layout="wide",
                       initial_sidebar_state="expanded")
    warm_up(tuple(p.path for p in PAGES))
    announce_editor_key()
    start_background_services()  # the monitoring queue's drainer, once per server
    _resolve_role()
    _require_sign_in()
    _require_editor_key()
    viewer = st.session_state.get("role") != "editor"
    if viewer and st.session_state.get("share_error"):
        _only_screen(lambda: st.error(st.session_state.share_error), "Share link")  # our own fixed text
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
