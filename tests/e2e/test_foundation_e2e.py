"""Golden path in a real browser: every page opens cleanly, and a CSV uploaded through the browser is loaded."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import assert_page_clean, cut_off_metrics, screenshot, wait_for_app


def _url_path(page_file: str) -> str:
    stem = page_file.rsplit("/", 1)[-1][:-3]
    return re.sub(r"^[0-9_]+", "", stem)


def _pages():
    import streamlit_app

    return [p for p in streamlit_app.visible_pages(False)]


def test_first_visit_to_a_page_url_goes_through_the_router(browser, tmp_path):
    from tests.e2e.conftest import AppServer

    server = AppServer(tmp_path / "ws", tmp_path / "streamlit.log")
    try:
        server.wait_healthy()
        pg = browser.new_page()
        pg.goto(f"{server.url}/data")
        wait_for_app(pg)
        links = [l.inner_text() for l in pg.get_by_role("link").all()]
        assert any("Define the problem" in t for t in links), links
        assert not any(t.strip() in ("widgets", "projects", "streamlit app") for t in links), links
        pg.close()
    finally:
        server.stop()


@pytest.mark.parametrize("entry", _pages(), ids=lambda p: _url_path(p.path))
def test_every_page_opens_without_errors(page, app_server, entry):
    path = "" if entry.path.endswith("00_home.py") else _url_path(entry.path)
    page.set_viewport_size({"width": 1280, "height": 1000})  # the narrowest width no metric card may cut off
    page.goto(f"{app_server.url}/{path}")
    wait_for_app(page)
    assert_page_clean(page)
    assert cut_off_metrics(page) == [], "a metric card cuts its label or value off at 1280 px"
    screenshot(page, f"page_{_url_path(entry.path)}")


def test_upload_a_csv_through_the_browser(page, app_server):
    page.goto(f"{app_server.url}/data")
    wait_for_app(page)
    csv = "region,units,code\nNorth,12,007\nSouth,30,010\nEast,7,123\n".encode()
    page.locator("input[type='file']").set_input_files(
        files=[{"name": "store sales.csv", "mimeType": "text/csv", "buffer": csv}])
    page.get_by_text("Read as:").wait_for(timeout=30_000)
    name = page.get_by_label("Dataset name")
    name.fill("store sales e2e")
    name.press("Enter")
    wait_for_app(page)
    page.get_by_role("button", name="Load into workspace").click()
    page.get_by_text("Loaded store sales e2e").wait_for(timeout=30_000)
    wait_for_app(page)
    assert_page_clean(page)
    table_text = page.locator("[data-testid='stDataFrame']").first.inner_text()
    screenshot(page, "data_after_upload")
    assert page.get_by_text("store sales e2e").count() > 0, table_text


def _select(page, label: str, option: str) -> None:
    """Picks an option in a Streamlit selectbox by its visible label."""
    page.get_by_label(label).last.click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_for_app(page)


def test_upload_define_and_split_in_the_browser(page, app_server):
    rows = ["visits,spend,region,bought"] + [
        f"{i % 17},{(i * 7) % 50}.5,{'NSEW'[i % 4]},{'yes' if (i * 13) % 5 == 0 else 'no'}" for i in range(240)]
    page.goto(f"{app_server.url}/data")
    wait_for_app(page)
    page.locator("input[type='file']").set_input_files(
        files=[{"name": "shop visits.csv", "mimeType": "text/csv", "buffer": "\n".join(rows).encode()}])
    page.get_by_text("Read as:").wait_for(timeout=30_000)
    page.get_by_role("button", name="Load into workspace").click()
    page.get_by_text("Loaded shop visits").wait_for(timeout=30_000)

    page.get_by_role("link", name="Define the problem").click()
    wait_for_app(page)
    page.get_by_role("tab", name="New project").click()
    name = page.get_by_label("Project name")
    name.fill("Shop conversion")
    name.press("Enter")
    wait_for_app(page)
    _select(page, "Target: the column to predict", "bought")
    page.get_by_role("button", name="Create project").click()
    page.get_by_text("Created 'Shop conversion'").wait_for(timeout=30_000)
    assert_page_clean(page)

    page.get_by_role("link", name="Split").click()
    wait_for_app(page)
    create = page.get_by_role("button", name="Create split")
    if not create.is_visible():  # a project without a split opens the form by itself
        page.get_by_text("New split").first.click()
    create.click()
    page.get_by_text("Saved split").wait_for(timeout=60_000)
    wait_for_app(page)
    assert_page_clean(page)
    screenshot(page, "split_after_browser_flow")
    assert page.get_by_text("168 rows").count() > 0  # 70 % of 240 rows in training


def test_hostile_column_names_render_as_text(page, app_server):
    hostile = '<style>body{display:none}</style><form action="http://127.0.0.1:9/steal"><input name=q></form>'
    csv = f'"{hostile.replace(chr(34), chr(34) * 2)}",value\nx,1\ny,2\n'.encode()
    page.goto(f"{app_server.url}/data")
    wait_for_app(page)
    page.locator("input[type='file']").set_input_files(
        files=[{"name": "<img src=x onerror=alert(1)>.csv", "mimeType": "text/csv", "buffer": csv}])
    page.get_by_text("Read as:").wait_for(timeout=30_000)
    page.get_by_role("button", name="Load into workspace").click()
    page.get_by_text("Loaded").first.wait_for(timeout=30_000)
    wait_for_app(page)
    assert page.locator("form[action*='steal']").count() == 0
    assert page.locator("img[src='x']").count() == 0
    styles = page.evaluate("() => [...document.querySelectorAll('style')].map(s => s.textContent).join('\\n')")
    assert "body{display:none}" not in styles  # the injected style was not applied
    assert page.get_by_text("Datasets").first.is_visible()
    assert_page_clean(page)
