"""Share page and viewer mode: a link opens a read-only session that renders no write control."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.share.links import create_share_link, list_share_links

ROOT = Path(__file__).resolve().parents[2]


def test_create_a_link_on_the_share_page(seeded_workspace):
    at = AppTest.from_file(str(ROOT / "pages/14_share.py"), default_timeout=60)
    at.session_state.project_id = seeded_workspace.demo_project_id
    at.run()
    at.text_input(key="share.label").input("Board")
    at.button[0].click().run()  # the form's submit button
    assert not at.exception
    assert any("share=" in c.value for c in at.code)
    assert [l.label for l in list_share_links(seeded_workspace.ws, seeded_workspace.demo_project_id)] == ["Board"]


def test_a_share_link_makes_the_session_a_viewer(seeded_workspace):
    token = create_share_link(seeded_workspace.ws, seeded_workspace.demo_project_id)
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.query_params["share"] = token
    at.run()
    assert not at.exception
    assert at.session_state.role == "viewer"
    assert at.session_state.project_id == seeded_workspace.demo_project_id


def test_a_bad_share_link_is_refused_plainly(seeded_workspace):
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.query_params["share"] = "not-a-real-token"
    at.run()
    assert not at.exception
    assert at.session_state.role == "viewer"
    assert any("not valid" in e.value for e in at.error)


def test_viewer_sees_no_upload_or_delete_on_data_page(seeded_workspace):
    at = AppTest.from_file(str(ROOT / "pages/02_data.py"), default_timeout=60)
    at.session_state.role = "viewer"
    at.run()
    assert not at.exception
    keys = {b.key for b in at.button}
    assert not keys & {"data.confirm", "data.delete", "data.rename"}
    assert not [w for w in at.get("file_uploader")]


def test_a_share_link_that_cannot_be_checked_leaves_a_viewer_with_an_error(seeded_workspace, monkeypatch):
    import core.share.links

    def broken(ws, token):
        raise RuntimeError("the share table is unreadable")

    monkeypatch.setattr(core.share.links, "resolve_share_token", broken)
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.query_params["share"] = "a-token-nobody-can-check"
    at.run()
    assert not at.exception
    assert at.session_state.role == "viewer"
    assert "project_id" not in at.session_state
    assert any("could not be checked" in e.value for e in at.error)
    assert not at.title  # stopped before any page: no Home, no project


def test_an_editor_can_make_a_new_editor_key_on_the_share_page(seeded_workspace):
    from core.share.access import check_editor_key

    at = AppTest.from_file(str(ROOT / "pages/14_share.py"), default_timeout=60)
    at.session_state.project_id = seeded_workspace.demo_project_id
    at.run()
    at.button(key="share.rotate_key").click().run()
    assert not at.exception
    shown = next(c.value for c in at.code if "?key=" in c.value)
    assert check_editor_key(seeded_workspace.ws, shown.rsplit("?key=", 1)[1])
