"""The router's navigation and the pages folder agree, and the role of a share-link session fails closed."""

from __future__ import annotations

from pathlib import Path

import pytest

import streamlit_app
from core.errors import NotFound
from streamlit_app import PAGES, PageEntry, SessionRole, role_for

ROOT = Path(__file__).resolve().parents[2]


def test_every_page_file_is_in_the_navigation_and_every_entry_has_a_file():
    files = {p.relative_to(ROOT).as_posix() for p in (ROOT / "pages").glob("*.py") if not p.name.startswith("_")}
    declared = [p.path for p in PAGES]
    assert len(declared) == len(set(declared)), "a page is declared twice in PAGES"
    assert files - set(declared) == set(), "page files missing from streamlit_app.PAGES (they would vanish)"
    assert set(declared) - files == set(), "PAGES entries whose file does not exist"


def test_every_file_in_pages_has_its_own_url_name():
    """Until a session has called st.navigation, Streamlit runs the pages/ folder as a legacy multipage app and makes
    a page of every file there, helpers too: `_drift.py` and `11_drift.py` would both be /drift and crash the run."""
    from streamlit.source_util import page_icon_and_name

    names = {}
    for path in sorted((ROOT / "pages").glob("*.py")):
        if path.name == "__init__.py":
            continue
        name = page_icon_and_name(path)[1].lower()
        assert name not in names, f"{path.name} and {names[name]} both resolve to /{name}"
        names[name] = path.name


def test_pages_are_named_entries_with_one_home():
    assert all(isinstance(p, PageEntry) for p in PAGES)
    assert [p.path for p in PAGES if p.path.endswith("00_home.py")] == ["pages/00_home.py"]
    assert all(p.title and p.icon.startswith(":material/") and p.section for p in PAGES)
    with pytest.raises(AttributeError):
        PAGES[0].for_viewers = False  # frozen: the navigation cannot be changed by a page at run time


def _no_check(token):
    pytest.fail("no token, no check")


def test_no_token_on_a_private_server_is_an_editor():
    private = {"check": _no_check, "needs_key": lambda: False, "check_key": lambda k: pytest.fail("no key needed")}
    assert role_for(None, **private) == SessionRole("editor")
    assert role_for("", **private) == SessionRole("editor")


def test_no_token_on_a_shared_server_needs_the_editor_key():
    shared = {"check": _no_check, "needs_key": lambda: True, "check_key": lambda k: k == "right"}
    assert role_for(None, **shared) == SessionRole("locked")
    assert role_for(None, "wrong", **shared) == SessionRole("locked")
    assert role_for(None, "right", **shared) == SessionRole("editor")


@pytest.mark.parametrize("failure", [ImportError("core.share is missing"), RuntimeError("disk"), KeyError("x")])
def test_an_editor_check_that_fails_locks_the_session(failure):
    def broken(*_):
        raise failure

    assert role_for(None, "k", needs_key=broken).role == "locked"
    assert role_for(None, "k", needs_key=lambda: True, check_key=broken).role == "locked"
    assert role_for(None, "k", needs_key=broken).error == streamlit_app.UNCHECKED_EDITOR


def test_loopback_is_private_and_everything_else_is_not():
    from core.share.access import is_loopback

    assert all(is_loopback(a) for a in ("127.0.0.1", "localhost", "::1", "127.0.0.5", "[::1]"))
    assert not any(is_loopback(a) for a in (None, "", "0.0.0.0", "::", "192.168.1.4", "example.org", "10.0.0.1"))


def test_a_good_token_is_a_viewer_of_its_project():
    assert role_for("tok", check=lambda t: "p1") == SessionRole("viewer", project_id="p1")


def test_a_refused_token_is_a_viewer_with_the_reason():
    def refuse(token):
        raise NotFound("This share link is not valid.")

    assert role_for("tok", check=refuse) == SessionRole("viewer", error="This share link is not valid.")


@pytest.mark.parametrize("failure", [ImportError("core.share is missing"), RuntimeError("disk"), KeyError("x")])
def test_a_token_that_cannot_be_checked_is_a_viewer_with_an_error_never_an_editor(failure):
    def broken(token):
        raise failure

    role = role_for("tok", check=broken)
    assert role.role == "viewer" and role.project_id is None
    assert role.error == streamlit_app.UNCHECKED_SHARE_LINK


def _links_app():
    import streamlit as st

    from pages._widgets import page_link

    st.session_state.drawn = page_link("pages/02_data.py", "Load data")
    page_link("pages/07_train.py", "Train", fallback=lambda: st.markdown("**Train** elsewhere"))
    page_link("pages/08_evaluate.py", "Evaluate", fallback=lambda: None)


def test_page_link_falls_back_when_the_page_is_not_registered():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_links_app, default_timeout=30)
    at.run()
    assert not at.exception
    assert at.session_state.drawn is False
    assert [c.value for c in at.caption] == ["Open: Load data"]
    assert [m.value for m in at.markdown] == ["**Train** elsewhere"]


def _bad_link_app():
    from pages._widgets import page_link

    page_link("pages/\x00.py", "Broken")


def test_page_link_does_not_swallow_a_programming_error():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_bad_link_app, default_timeout=30)
    at.run()
    assert at.exception  # only "page not registered" is a fallback; anything else is a bug and shows
