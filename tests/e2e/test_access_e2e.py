"""In a real browser: a share link reads only its project, and deleting `?share=` from the URL is no way into the
editor (the editor key is)."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.e2e.conftest import AppServer, wait_for_app


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory):
    """A workspace with the demo project and a second, secret project; a share link for the demo, and the key."""
    from core.data.ingest import add_frame
    from core.data.samples import open_workspace
    from core.project.projects import create_project
    from core.share.access import rotate_editor_key
    from core.share.links import create_share_link
    from core.split.demo_seed import seed_demo_project
    from core.store.workspace import close_workspace

    home = tmp_path_factory.mktemp("access_ws")
    ws = open_workspace(home, seed_samples=True)
    demo = seed_demo_project(ws)
    secret_ds = add_frame(ws, "secret_salaries", pd.DataFrame({"employee": ["ann", "bob", "cy", "dee"] * 5,
                                                               "salary": [91.0, 82.0, 73.0, 64.0] * 5,
                                                               "left": [0, 1] * 10}))
    secret = create_project(ws, "Secret reorganisation", secret_ds.id, "left", problem="Who is let go?")
    token = create_share_link(ws, demo.id, label="e2e")
    key = rotate_editor_key(ws)
    close_workspace(home)
    server = AppServer(home, home.parent / f"{home.name}_streamlit.log")
    server.wait_healthy()
    yield server, demo, secret, token, key
    server.stop()


def _wait_idle(page) -> None:
    page.wait_for_selector("[data-testid='stApp']", timeout=60_000)
    page.wait_for_timeout(1500)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]') || "
        "!document.querySelector('[data-testid=\"stStatusWidget\"]').innerText.includes('Running')", timeout=60_000)


def _picker_options(page) -> list[str]:
    page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").first.click()
    options = page.get_by_role("option")
    options.first.wait_for(timeout=10_000)
    texts = [o.inner_text() for o in options.all()]
    page.keyboard.press("Escape")
    return texts


def test_a_viewer_reads_only_the_shared_project(browser, shared_server):
    server, demo, secret, token, _ = shared_server
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    try:
        # Even a link that names the secret project in ?project= opens the shared one, and only that one.
        for url in (f"{server.url}/?share={token}&project={demo.id}", f"{server.url}/?share={token}&project={secret.id}"):
            page.goto(url)
            wait_for_app(page)
            options = _picker_options(page)
            assert len(options) == 1 and demo.name in options[0], options
            text = page.locator("[data-testid='stMain']").inner_text()
            assert demo.name in text
            assert "Secret reorganisation" not in text and "secret_salaries" not in text
        for path in ("profile", "compare", "dashboard"):
            page.goto(f"{server.url}/{path}?share={token}&project={secret.id}")
            wait_for_app(page)
            body = page.locator("body").inner_text()
            assert "Secret reorganisation" not in body and "secret_salaries" not in body and "ann" not in body.split()
    finally:
        page.close()


def test_deleting_share_from_the_url_shows_the_sign_in_screen_never_the_editor(browser, shared_server):
    server, demo, _, token, key = shared_server
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    try:
        page.goto(f"{server.url}/dashboard?share={token}&project={demo.id}")
        wait_for_app(page)
        for url in (f"{server.url}/dashboard?project={demo.id}", f"{server.url}/data", f"{server.url}/",
                    f"{server.url}/?key=wrong-key"):
            page.goto(url)
            _wait_idle(page)
            assert page.locator("input[type='password']").count() == 1, url
            assert page.locator("[data-testid='stSidebarNav']").count() == 0, url  # no page of the app at all
            assert page.locator("input[type='file']").count() == 0
            assert page.get_by_role("button", name="Load demo project").count() == 0
        assert "not right" in page.locator("[data-testid='stAlertContentError']").inner_text()
        page.locator("input[type='password']").fill(key)
        page.get_by_role("button", name="Open the editor").click()
        wait_for_app(page)
        assert page.get_by_role("button", name="Load demo project").count() == 1
        # The key in the URL opens the editor too, and leaves the address bar at once.
        page.goto(f"{server.url}/?key={key}")
        wait_for_app(page)
        page.get_by_role("button", name="Load demo project").wait_for(timeout=30_000)
        assert "key=" not in page.url
    finally:
        page.close()
