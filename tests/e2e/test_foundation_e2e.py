"""Golden path in a real browser: every page opens cleanly, and a CSV uploaded through the browser is loaded."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import assert_page_clean, screenshot, wait_for_app


def _url_path(page_file: str) -> str:
    stem = page_file.rsplit("/", 1)[-1][:-3]
    return re.sub(r"^[0-9_]+", "", stem)


def _pages():
    import streamlit_app

    return [p for p in streamlit_app.visible_pages(False)]


@pytest.mark.parametrize("entry", _pages(), ids=lambda p: _url_path(p[1]))
def test_every_page_opens_without_errors(page, app_server, entry):
    path = "" if entry[1].endswith("00_home.py") else _url_path(entry[1])
    page.goto(f"{app_server.url}/{path}")
    wait_for_app(page)
    assert_page_clean(page)
    screenshot(page, f"page_{_url_path(entry[1])}")


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
