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
