"""The Define page: edit the demo project, create one with detected task and warnings, manage, viewer mode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from core.data.ingest import add_frame
from streamlit.testing.v1 import AppTest
from tests.helpers import assert_clean as _ok, open_page

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "01_define.py")


def _app(seeded, **state) -> AppTest:
    return open_page(PAGE, seeded, timeout=60, **state)


def test_shows_the_demo_project_for_editing(seeded_workspace):
    at = _app(seeded_workspace)
    _ok(at)
    assert at.selectbox(key="projects.picker").value == seeded_workspace.demo_project_id
    assert at.selectbox(key="define.edit.target").value == "churned"
    assert at.selectbox(key="define.edit.task").value == "binary"
    assert at.selectbox(key="define.edit.metric").value == "recall"
    assert at.number_input(key="define.edit.threshold.recall").value == 0.70
    assert "retention team" in at.text_area(key="define.edit.users").value
    at.number_input(key="define.edit.threshold.recall").set_value(0.75)
    at.button(key="define.save").click().run()
    _ok(at)
    from core.project.projects import get_project

    assert get_project(seeded_workspace.ws, seeded_workspace.demo_project_id).criteria.threshold == 0.75
    assert any("Saved" in s.value for s in at.success)


def test_creates_a_project_with_the_detected_task_and_warns_about_accuracy(seeded_workspace):
    rng = np.random.default_rng(0)
    add_frame(seeded_workspace.ws, "fraud", pd.DataFrame({"amount": rng.gamma(2, 30, 400),
                                                         "fraud": np.where(np.arange(400) < 20, "yes", "no")}))
    at = _app(seeded_workspace)
    at.text_input(key="define.new.name").input("Fraud filter")
    ds = next(d for d in seeded_workspace.ws.datasets() if d.name == "fraud")
    at.selectbox(key="define.new.dataset").select(ds.id).run()
    at.selectbox(key="define.new.target").select("fraud").run()
    _ok(at)
    assert at.selectbox(key="define.new.task").value == "binary"
    assert at.selectbox(key="define.new.positive").value == "yes"
    at.selectbox(key="define.new.metric").select("accuracy").run()
    assert any("95% of rows are 'no'" in w.value for w in at.warning)
    at.button(key="define.create").click().run()
    _ok(at)
    from core.project.projects import get_project

    created = get_project(seeded_workspace.ws, "Fraud filter")
    assert created.task == "binary" and created.positive_class == "yes" and created.criteria.primary_metric == "accuracy"
    assert at.session_state.project_id == created.id


def test_refusal_is_shown_not_raised(seeded_workspace):
    at = _app(seeded_workspace)
    at.text_input(key="define.new.name").input("Customer churn")  # the demo already has that name
    at.button(key="define.create").click().run()
    assert not at.exception
    assert any("already exists" in e.value for e in at.error)


def test_rename_duplicate_archive(seeded_workspace):
    from core.project.projects import get_project, list_projects

    at = _app(seeded_workspace)
    at.text_input(key="define.rename_to").input("Churn 2026")
    at.button(key="define.rename").click().run()
    _ok(at)
    assert get_project(seeded_workspace.ws, seeded_workspace.demo_project_id).name == "Churn 2026"
    at.button(key="define.duplicate").click().run()
    _ok(at)
    assert {p.name for p in list_projects(seeded_workspace.ws)} == {"Churn 2026", "Churn 2026 (copy)"}
    at.button(key="define.archive").click().run()
    _ok(at)
    assert len(list_projects(seeded_workspace.ws)) == 1


def test_link_with_project_in_the_url_opens_that_project(seeded_workspace):
    from core.project.projects import create_project

    other = create_project(seeded_workspace.ws, "Prices", "house_prices", "price")
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.query_params["project"] = other.id
    at.run()
    _ok(at)
    assert at.selectbox(key="projects.picker").value == other.id
    assert at.selectbox(key="define.edit.task").value == "regression"


def test_no_project_yet_offers_the_new_project_form(seeded_workspace):
    seeded_workspace.ws.delete_record("project", seeded_workspace.demo_project_id)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    _ok(at)
    assert any("No project yet" in i.value for i in at.info)
    assert at.button(key="define.create")


def test_viewer_sees_the_project_without_write_controls(seeded_workspace):
    at = _app(seeded_workspace, role="viewer")
    _ok(at)
    assert not at.button and not at.text_input
    assert any("Launch when" in m.value for m in at.markdown)


def test_key_results_are_shown_with_their_current_values(seeded_workspace):
    at = _app(seeded_workspace)
    _ok(at)
    table = next(d.value for d in at.dataframe if "key result" in d.value.columns)
    assert "Catch at least 70% of customers who are about to leave" in set(table["key result"])
    assert {"target", "current", "measured on", "met", "checked by the gate"} <= set(table.columns)
    assert any("checked by the launch gate" in c.value for c in at.caption)
