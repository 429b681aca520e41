"""Who may edit: a private server lets its visitor edit; once shared, editing needs the editor key (or sign-in)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit import config
from streamlit.testing.v1 import AppTest

from core.share.access import check_editor_key, rotate_editor_key
from core.share.links import create_share_link, revoke_share_link

ROOT = Path(__file__).resolve().parents[2]


def _router(**query) -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def _is_sign_in_screen(at: AppTest) -> bool:
    return [t.key for t in at.text_input] == ["router.key"] and not at.get("selectbox")  # no project picker, no page


@pytest.fixture
def listening_everywhere():
    old = config.get_option("server.address")
    config.set_option("server.address", "0.0.0.0")
    yield
    config.set_option("server.address", old)


def test_a_private_server_opens_the_editor_without_a_key(seeded_workspace):
    at = _router()
    assert not at.exception
    assert at.session_state.role == "editor"
    assert any(b.key == "home.demo" for b in at.button)


def test_once_a_link_exists_a_visitor_without_key_gets_the_sign_in_screen(seeded_workspace):
    create_share_link(seeded_workspace.ws, seeded_workspace.demo_project_id)
    at = _router()
    assert not at.exception
    assert at.session_state.role == "locked"
    assert _is_sign_in_screen(at)
    assert not any(b.key == "home.demo" for b in at.button)


def test_deleting_share_from_the_url_is_not_an_editor(seeded_workspace):
    """The escalation of the issue: a viewer drops ?share= and reloads (a new session with no token)."""
    token = create_share_link(seeded_workspace.ws, seeded_workspace.demo_project_id)
    assert _router(share=token).session_state.role == "viewer"
    assert _router(project=seeded_workspace.demo_project_id).session_state.role == "locked"


def test_the_editor_key_in_the_url_opens_the_editor_and_leaves_the_address_bar(seeded_workspace):
    create_share_link(seeded_workspace.ws, seeded_workspace.demo_project_id)
    key = rotate_editor_key(seeded_workspace.ws)
    at = _router(key=key)
    assert not at.exception
    assert at.session_state.role == "editor"
    assert "key" not in at.query_params


def test_a_wrong_or_rotated_key_is_refused_plainly(seeded_workspace):
    create_share_link(seeded_workspace.ws, seeded_workspace.demo_project_id)
    old = rotate_editor_key(seeded_workspace.ws)
    new = rotate_editor_key(seeded_workspace.ws)
    assert check_editor_key(seeded_workspace.ws, new) and not check_editor_key(seeded_workspace.ws, old)
    at = _router(key=old)
    assert at.session_state.role == "locked"
    assert any("not right" in e.value for e in at.error)


def test_the_key_typed_on_the_sign_in_screen_opens_the_editor(seeded_workspace):
    create_share_link(seeded_workspace.ws, seeded_workspace.demo_project_id)
    key = rotate_editor_key(seeded_workspace.ws)
    at = _router()
    at.text_input(key="router.key").input("nope")
    at.button[0].click().run()
    assert at.session_state.role == "locked" and any("not right" in e.value for e in at.error)
    at.text_input(key="router.key").input(key)
    at.button[0].click().run()
    assert not at.exception
    assert at.session_state.role == "editor"
    assert any(b.key == "home.demo" for b in at.button)


def test_a_server_listening_beyond_loopback_needs_the_key_even_without_links(seeded_workspace, listening_everywhere):
    at = _router()
    assert at.session_state.role == "locked" and _is_sign_in_screen(at)
    key = rotate_editor_key(seeded_workspace.ws)
    assert _router(key=key).session_state.role == "editor"


def test_revoking_the_last_link_makes_a_loopback_server_private_again(seeded_workspace):
    token = create_share_link(seeded_workspace.ws, seeded_workspace.demo_project_id)
    from core.share.links import list_share_links

    assert _router().session_state.role == "locked"
    revoke_share_link(seeded_workspace.ws, list_share_links(seeded_workspace.ws, None)[0].id)
    assert _router().session_state.role == "editor"
    assert _router(share=token).error  # the revoked link itself opens nothing


def _ledger_app():
    import streamlit as st

    from pages._widgets import ledger_name

    st.session_state.recorded = ledger_name("t.by")


def _ledger(via: str | None, typed: str, monkeypatch, signed_in: dict | None = None) -> str:
    import pages._widgets as widgets

    if signed_in is not None:
        monkeypatch.setattr(widgets, "signed_in_name", lambda: signed_in.get("email"))
    at = AppTest.from_function(_ledger_app, default_timeout=30)
    if via:
        at.session_state.editor_via = via
    at.run()
    if at.text_input:
        at.text_input(key="t.by").input(typed).run()
    assert not at.exception
    return at.session_state.recorded


def test_the_ledger_names_the_signed_in_user_not_what_is_typed(monkeypatch):
    assert _ledger("sign-in", "Mallory", monkeypatch, signed_in={"email": "dana@example.org"}) == "dana@example.org"
    monkeypatch.undo()
    assert _ledger("sign-in", "Mallory", monkeypatch) == "Mallory"  # sign-in mode but nobody signed in: no identity
    assert _ledger("private", "Dana", monkeypatch) == "Dana"  # local single-user mode: the typed name
    assert _ledger("key", "Dana", monkeypatch) == "Dana (editor key)"  # shared, no sign-in: marked as unverified


def test_a_signed_in_editor_gets_no_name_box(monkeypatch):
    import pages._widgets as widgets

    monkeypatch.setattr(widgets, "signed_in_name", lambda: "dana@example.org")
    at = AppTest.from_function(_ledger_app, default_timeout=30).run()
    assert not at.text_input and at.session_state.recorded == "dana@example.org"


def test_the_router_records_how_the_editor_came_in(seeded_workspace):
    assert _router().session_state.editor_via == "private"
    create_share_link(seeded_workspace.ws, seeded_workspace.demo_project_id)
    key = rotate_editor_key(seeded_workspace.ws)
    assert _router(key=key).session_state.editor_via == "key"
