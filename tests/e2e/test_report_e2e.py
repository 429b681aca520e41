"""The lifecycle report opens in a real browser, offline, with every section present and no script errors."""

from __future__ import annotations

from core.share.report import SECTIONS, build_report


def test_report_renders_every_section(browser, seeded_workspace, tmp_path):
    from core.project.projects import rename_project

    ws = seeded_workspace.ws
    rename_project(ws, seeded_workspace.demo_project_id, "Churn <script>alert('x')</script>")
    path = tmp_path / "report.html"
    path.write_text(build_report(ws, seeded_workspace.demo_project_id), encoding="utf-8")
    page = browser.new_page()
    dialogs, errors = [], []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    headings = [h.inner_text() for h in page.locator("h2").all()]
    assert headings == list(SECTIONS)
    assert "Churn <script>" in page.locator("h1").inner_text()  # shown as text, never run
    assert not dialogs and not errors
    page.close()
