"""Every page file and the router render on the sample workspace without an exception or an error box."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
PAGE_FILES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "pages").glob("[!_]*.py"))


@pytest.mark.parametrize("page", PAGE_FILES)
def test_page_renders_alone(seeded_workspace, page):
    at = AppTest.from_file(str(ROOT / page), default_timeout=120)
    if seeded_workspace.demo_project_id:
        at.session_state.project_id = seeded_workspace.demo_project_id
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_router_renders_home(seeded_workspace):
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("AI Product Workbench" in t.value for t in at.title)


def test_router_lists_only_viewer_pages_for_a_viewer(seeded_workspace):
    import streamlit_app

    editor = {p.path for p in streamlit_app.visible_pages(False)}
    viewer = {p.path for p in streamlit_app.visible_pages(True)}
    assert viewer < editor
    assert "pages/02_data.py" in editor and "pages/02_data.py" not in viewer


def test_clearing_every_cache_costs_time_not_errors(seeded_workspace):
    import streamlit as st

    at = AppTest.from_file(str(ROOT / "pages/13_dashboard.py"), default_timeout=60)
    at.session_state.project_id = seeded_workspace.demo_project_id
    at.run()
    st.cache_data.clear()
    st.cache_resource.clear()  # what any client's "Clear caches" does to the whole server
    at.run()
    assert not at.exception and not at.error
    from core.data.samples import open_workspace

    assert open_workspace(seeded_workspace.home, seed_samples=False) is open_workspace(seeded_workspace.home)
