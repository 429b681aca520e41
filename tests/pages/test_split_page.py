"""The Split page: the demo split with summary and leak checks, creating time splits, refusals, viewer mode."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest
from tests.helpers import assert_clean as _ok, open_page

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "06_split.py")


def _app(seeded, **state) -> AppTest:
    return open_page(PAGE, seeded, timeout=60, **state)


def test_shows_the_demo_split_with_summary_and_leak_checks(seeded_workspace):
    at = _app(seeded_workspace)
    _ok(at)
    assert [m.label for m in at.metric][:3] == ["Train · 70%", "Validation · 15%", "Test · 15%"]
    assert at.metric[0].value == "4,200 rows"
    summary = at.dataframe[0].value
    assert list(summary["rows"]) == [4200, 900, 900]
    assert any("No duplicate rows" in s.value for s in at.success)
    assert any("Launch when" in m.value for m in at.markdown)  # the criteria banner


def test_creates_a_time_split_and_its_leak_checks_pass(seeded_workspace):
    at = _app(seeded_workspace)
    at.radio(key="split.strategy").set_value("time").run()
    at.selectbox(key="split.time_column").select("observation_month")
    at.number_input(key="split.folds").set_value(3)
    at.button(key="split.create").click().run()
    _ok(at)
    from core.split.splitting import list_splits

    newest = list_splits(seeded_workspace.ws, seeded_workspace.demo_project_id)[0]
    assert newest.spec.strategy == "time" and len(newest.folds) == 3
    assert at.session_state.split_id == newest.id
    assert any("No time overlap" in s.value for s in at.success)


def test_refusal_is_shown_not_raised(seeded_workspace):
    at = _app(seeded_workspace)
    at.number_input(key="split.validation").set_value(20.0)
    at.button(key="split.create").click().run()
    assert not at.exception
    assert any("add up to 1.05" in e.value for e in at.error)


def test_project_without_a_split_shows_the_form_open(seeded_workspace):
    from core.project.projects import create_project

    other = create_project(seeded_workspace.ws, "Prices", "house_prices", "price")
    at = _app(seeded_workspace, project_id=other.id)
    _ok(at)
    assert any("no split yet" in i.value for i in at.info)
    assert at.radio(key="split.strategy").value == "random"
    at.button(key="split.create").click().run()
    _ok(at)
    assert at.dataframe and "price mean" in at.dataframe[0].value.columns


def test_viewer_sees_results_without_write_controls(seeded_workspace):
    at = _app(seeded_workspace, role="viewer")
    _ok(at)
    assert at.metric and not [b for b in at.button if b.key == "split.create"]
