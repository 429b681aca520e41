"""Drift in a real browser: a column named like a script, uploaded through the page, never runs in the app."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.e2e.conftest import AppServer, assert_page_clean, screenshot, wait_for_app

EVIL = "<script>alert(1)</script>"


def _csv(n: int, seed: int, shift: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({EVIL: np.round(rng.normal(50 + shift, 10, n), 2),
                         "segment": rng.choice(["north", "south"], n)})


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    """The app on a workspace that already holds the reference set, loaded through the core API before start."""
    from core.data.ingest import ingest_upload
    from core.store.workspace import close_workspace
    from core.data.samples import open_workspace

    home = tmp_path_factory.mktemp("drift_e2e_ws")
    ws = open_workspace(home, seed_samples=True)
    ingest_upload(ws, _csv(150, 1, 0.0).to_csv(index=False).encode(), "xss reference.csv", name="xss_reference")
    close_workspace(home)
    server = AppServer(home, home.parent / f"{home.name}_streamlit.log")
    server.wait_healthy()
    yield server
    server.stop()


def _select(page, label: str, index: int, option_prefix: str) -> None:
    page.get_by_label(label, exact=True).nth(index).click()
    page.get_by_role("option").filter(has_text=option_prefix).first.click()
    wait_for_app(page)


def test_script_column_name_in_an_uploaded_batch_stays_inside_the_sandbox(page, app_server):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{app_server.url}/drift")
    wait_for_app(page)

    page.get_by_text("Upload a new batch (CSV)").click()
    page.locator("input[type='file']").set_input_files(files=[{
        "name": "xss current.csv", "mimeType": "text/csv",
        "buffer": _csv(150, 2, 15.0).to_csv(index=False).encode()}])
    page.get_by_text("xss current.csv").first.wait_for(timeout=30_000)
    wait_for_app(page)
    page.get_by_role("button", name="Load as the current set").click()
    page.get_by_text("Loaded xss current.csv").wait_for(timeout=30_000)
    wait_for_app(page)

    page.get_by_text("A dataset or uploaded batch").first.click()  # the reference side
    wait_for_app(page)
    _select(page, "Dataset", 0, "xss_reference")
    page.get_by_role("button", name="Check drift").click()
    page.get_by_text("Evidently's report").first.wait_for(timeout=90_000)
    wait_for_app(page, timeout=90_000)

    frame = None
    for _ in range(60):  # the report draws itself with scripts inside its frame
        frame = next((f for f in page.frames if f.parent_frame is not None and f.name == "" and
                      f.frame_element().get_attribute("title") == "Evidently report"), None)
        if frame is not None and EVIL in frame.locator("body").inner_text():
            break
        page.wait_for_timeout(500)
    assert frame is not None, "the nested report frame is missing"
    sandbox = frame.frame_element().get_attribute("sandbox")
    assert sandbox == "allow-scripts" and "allow-same-origin" not in sandbox
    assert EVIL in frame.locator("body").inner_text()  # the name is shown as text, and the report rendered
    reach_app = "() => { try { return window.parent.document && 'reached'; } catch (e) { return 'blocked'; } }"
    assert frame.evaluate(reach_app) == "blocked"  # an opaque origin: the report cannot touch the app's page
    assert page.locator("script", has_text="alert(1)").count() == 0
    assert not dialogs, dialogs
    table = page.locator("[data-testid='stDataFrame']").first
    assert table.is_visible()
    screenshot(page, "drift_script_column")
    assert_page_clean(page)
