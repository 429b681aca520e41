"""Registry and Batch scoring pages: register, gate, promote with an override, score a dataset, viewer mode."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import assert_clean, open_page, train_fast

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = str(ROOT / "pages" / "09_registry.py")
SCORE = str(ROOT / "pages" / "10_score.py")


def _train(seeded) -> str:
    from core.project.projects import get_project
    from core.split.splitting import list_splits

    ws = seeded.ws
    project = get_project(ws, seeded.demo_project_id)
    return train_fast(ws, project, list_splits(ws, project.id)[0], ["dummy", "logreg"])[1]


def test_register_gate_and_promote_with_an_override(seeded_workspace):
    from core.registry.versions import list_versions, registry_state

    _train(seeded_workspace)
    at = open_page(REGISTRY, seeded_workspace, timeout=120)
    assert_clean(at)
    at.text_input(key="registry.by").input("Dana").run()
    at.button(key="registry.register").click().run()
    assert_clean(at)
    ws = seeded_workspace.ws
    [version] = list_versions(ws, seeded_workspace.demo_project_id)
    at.button(key="registry.gate").click().run()
    assert not at.exception
    gate_failed = any(t.key == "registry.override" for t in at.text_area)
    if gate_failed:
        at.button(key="registry.promote").click().run()  # refused without a reason
        assert registry_state(ws, seeded_workspace.demo_project_id).champion is None
        at.text_area(key="registry.override").input("Pilot in one region only").run()
    at.button(key="registry.promote").click().run()
    assert not at.exception
    state = registry_state(ws, seeded_workspace.demo_project_id)
    assert state.champion == version.id


def test_score_page_scores_a_dataset_with_the_champion(seeded_workspace):
    from core.release.actions import promote, register_run

    run_id = _train(seeded_workspace)
    ws = seeded_workspace.ws
    version = register_run(ws, run_id, by="test")
    promote(ws, version.id, by="test", override_reason="test")
    at = open_page(SCORE, seeded_workspace, timeout=120)
    assert_clean(at)
    at.radio(key="score.source").set_value("dataset").run()
    at.selectbox(key="score.dataset").set_value(ws.dataset("churn_next_month").id).run()
    go = at.button(key="score.go")
    go.click().run()
    assert_clean(at)
    assert at.dataframe


def test_viewer_sees_no_registry_or_scoring_controls(seeded_workspace):
    _train(seeded_workspace)
    at = open_page(REGISTRY, seeded_workspace, timeout=120, role="viewer")
    assert not at.exception
    keys = {b.key for b in at.button}
    assert not keys & {"registry.register", "registry.gate", "registry.promote", "registry.rollback"}
