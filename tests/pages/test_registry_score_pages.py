"""Registry and Batch scoring pages: register, gate, promote with an override, score a dataset, viewer mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import assert_clean, open_page, served_from

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = str(ROOT / "pages" / "09_registry.py")
SCORE = str(ROOT / "pages" / "10_score.py")


@pytest.fixture
def trained(trained_workspace, tmp_path, monkeypatch):
    """A private copy of the demo project with a baseline and a logistic regression; the pages open it."""
    t = trained_workspace(["dummy", "logreg"], home=tmp_path / "workspace")
    with served_from(t.home, monkeypatch):
        yield t


def test_register_gate_and_promote_with_an_override(trained):
    from core.registry.versions import list_versions, registry_state

    at = open_page(REGISTRY, trained, timeout=120)
    assert_clean(at)
    at.text_input(key="registry.by").input("Dana").run()
    at.button(key="registry.register").click().run()
    assert_clean(at)
    ws = trained.ws
    [version] = list_versions(ws, trained.demo_project_id)
    at.button(key="registry.gate").click().run()
    assert not at.exception
    gate_failed = any(t.key == "registry.override" for t in at.text_area)
    if gate_failed:
        at.button(key="registry.promote").click().run()  # refused without a reason
        assert registry_state(ws, trained.demo_project_id).champion is None
        at.text_area(key="registry.override").input("Pilot in one region only").run()
    at.button(key="registry.promote").click().run()
    assert not at.exception
    state = registry_state(ws, trained.demo_project_id)
    assert state.champion == version.id


def test_score_page_scores_a_dataset_with_the_champion(trained):
    from core.release.actions import promote, register_run

    run_id = trained.runs["logreg"]
    ws = trained.ws
    version = register_run(ws, run_id, by="test")
    promote(ws, version.id, by="test", override_reason="test")
    at = open_page(SCORE, trained, timeout=120)
    assert_clean(at)
    at.radio(key="score.source").set_value("dataset").run()
    at.selectbox(key="score.dataset").set_value(ws.dataset("churn_next_month").id).run()
    go = at.button(key="score.go")
    go.click().run()
    assert_clean(at)
    assert at.dataframe
    result = at.session_state["score.result"]["result"]  # the session keeps a preview; the file has every row
    rows = ws.dataset("churn_next_month").rows
    assert result.summary["rows"] == rows and len(result.frame) == min(rows, 200)
    with open(result.path, encoding="utf-8") as fh:
        assert sum(1 for _ in fh) == rows + 1  # the header and one line per row (no cell holds a line break)


def test_viewer_sees_no_registry_or_scoring_controls(trained):
    at = open_page(REGISTRY, trained, timeout=120, role="viewer")
    assert not at.exception
    keys = {b.key for b in at.button}
    assert not keys & {"registry.register", "registry.gate", "registry.promote", "registry.rollback"}
