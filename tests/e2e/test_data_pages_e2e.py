"""Profile, Compare and SQL in a real browser: the profile shows alerts, SQL runs a query and refuses a file read."""

from __future__ import annotations

from tests.e2e.conftest import assert_page_clean, cut_off_metrics, nav, screenshot, wait_for_app


def _query(page, sql: str) -> None:
    box = page.get_by_label("Query")
    box.fill(sql)
    page.get_by_role("button", name="Run", exact=True).click()
    wait_for_app(page)


def test_profile_compare_and_sql(page, app_server):
    page.goto(app_server.url)
    wait_for_app(page)
    page.set_viewport_size({"width": 1280, "height": 1000})  # the narrowest width the cards must fit
    nav(page, "Profile")
    page.get_by_text("Missing cells").first.wait_for(timeout=60_000)
    wait_for_app(page)
    assert cut_off_metrics(page) == []
    assert_page_clean(page)
    screenshot(page, "data_profile")

    nav(page, "Compare datasets")
    assert_page_clean(page)

    nav(page, "SQL")
    _query(page, "SELECT region, count(*) AS customers FROM churn GROUP BY region ORDER BY customers DESC")
    page.get_by_text("rows", exact=False).first.wait_for(timeout=30_000)
    assert_page_clean(page)
    screenshot(page, "data_sql")
    _query(page, "SELECT * FROM read_csv('/etc/passwd')")
    errors = page.locator("[data-testid='stAlertContentError']")
    errors.first.wait_for(timeout=30_000)
    assert "root:" not in page.content()
    assert page.locator("[data-testid='stException']").count() == 0
