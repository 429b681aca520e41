"""The dashboard in a real browser at 1280 and 1920 px: the decision first, and no KPI label or value cut off."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import AppServer, assert_page_clean, cut_off_metrics, screenshot, wait_for_app


@pytest.fixture(scope="module")
def champion_server(trained_workspace, tmp_path_factory):
    """The demo project with two models trained, one registered and promoted at a saved threshold, February's batch
    appended and monitored, served."""
    from pathlib import Path

    from core.data.batches import append_batch
    from core.data.samples import open_workspace
    from core.monitor.policy import run_monitor
    from core.project.projects import get_project
    from core.release.actions import promote
    from core.store.workspace import close_workspace

    trained = trained_workspace(models=("dummy", "logreg"), thresholds={"logreg": 0.35}, register=("logreg",))
    ws = open_workspace(trained.home, seed_samples=False)
    promote(ws, trained.versions["logreg"], by="e2e", why="First launch",
            override_reason="Browser test: promoted before the final check")
    project = get_project(ws, trained.demo_project_id)
    feb = Path(__file__).resolve().parents[2] / "sample_data" / "churn_2026_02.csv"
    run_monitor(ws, project, append_batch(ws, project, feb, label="2026-02", as_of="2026-02-01").batch, by="e2e")
    close_workspace(trained.home)
    server = AppServer(trained.home, tmp_path_factory.mktemp("dash_log") / "streamlit.log")
    server.wait_healthy()
    yield server, trained.demo_project_id
    server.stop()


@pytest.mark.parametrize("width", [1280, 1920])
def test_dashboard_reads_at_a_glance_without_cut_labels(browser, champion_server, width):
    server, project_id = champion_server
    context = browser.new_context(viewport={"width": width, "height": 1400})
    page = context.new_page()
    page.console_errors, page.bad_responses = [], []
    page.on("pageerror", lambda e: page.console_errors.append(str(e)))
    try:
        page.goto(f"{server.url}/dashboard?project={project_id}")
        wait_for_app(page, timeout=120_000)
        decision = page.locator(".st-key-dashboard-decision")
        decision.wait_for(timeout=120_000)
        verdict = decision.locator("h2").inner_text()
        assert any(v in verdict for v in ("Ship", "Hold", "Roll back")), verdict
        page.get_by_text("Champion over time").wait_for(timeout=60_000)
        page.get_by_text("The loop: new data, monitoring and retraining").wait_for(timeout=60_000)
        page.get_by_text("Key results").first.wait_for(timeout=30_000)
        wait_for_app(page)
        # The script streams its elements: read the loop's card once the run has finished drawing it.
        expect(page.locator(".st-key-dashboard-loop-1")).to_contain_text("Open alerts", timeout=30_000)
        assert page.locator(".st-key-dashboard-loop-1").inner_text().count("Open alerts") == 1
        screenshot(page, f"dashboard_{width}")
        metrics = page.locator("[data-testid='stMetric']")
        assert metrics.count() >= 2  # the launch metric and its value against no model, at least
        assert "threshold 0.35" in page.locator(".st-key-dashboard-kpi-0").inner_text()  # says which threshold
        assert "no model" in page.get_by_text("Value per 1,000 decisions").locator("xpath=ancestor::div[contains("
                                                                                   "@class,'st-key-dashboard-kpi')]"
                                                                                   ).inner_text()
        assert cut_off_metrics(page) == [], f"cut off at {width} px"
        assert_page_clean(page)
    finally:
        context.close()
