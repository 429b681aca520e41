"""The Train page: training two fast models in the background, the saved leaderboard, viewer mode, clustering."""

from __future__ import annotations

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest
from tests.helpers import assert_clean as _ok

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "07_train.py")


def _app(seeded, **state) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state.project_id = seeded.demo_project_id
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def _train_two(at: AppTest) -> AppTest:
    at.multiselect(key="train.models").set_value(["logreg", "tree"])
    at.number_input(key="train.cv").set_value(3)
    return at.button(key="train.go").click().run()


def test_training_runs_in_the_background_and_shows_the_leaderboard(seeded_workspace):
    at = _app(seeded_workspace)
    _ok(at)
    assert any("No runs on this split yet" in i.value for i in at.info)
    at = _train_two(at)
    assert at.session_state["train.job_id"]  # the click returned at once; the job runs in a thread
    deadline = time.monotonic() + 90
    while "train.job_id" in at.session_state and time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
    _ok(at)
    assert any("Training finished" in s.value for s in at.success)
    board = at.dataframe[0].value
    assert set(board["model"]) == {"Logistic regression", "Decision tree", "Baseline (no model)"}
    assert board.iloc[-1]["model"] == "Baseline (no model)"
    assert any("is the best model by Recall" in m.value for m in at.markdown)
    assert any("95% CI" in m.value for m in at.markdown)  # the paired comparison of two runs
    from core.models.runs import list_runs

    assert len(list_runs(seeded_workspace.ws, seeded_workspace.demo_project_id)) == 3


def test_saved_runs_show_on_load_and_viewers_get_no_controls(seeded_workspace):
    at = _train_two(_app(seeded_workspace, **{"train.sync": True}))
    _ok(at)
    assert at.dataframe and any("Training finished" in s.value for s in at.success)
    fresh = _app(seeded_workspace)  # a new session: the runs persisted
    _ok(fresh)
    assert len(fresh.dataframe[0].value) == 3
    viewer = _app(seeded_workspace, role="viewer")
    _ok(viewer)
    assert not [b for b in viewer.button if b.key == "train.go"] and not viewer.multiselect
    assert len(viewer.dataframe[0].value) == 3


def test_other_pages_stay_responsive_and_cancel_stops_a_running_job(seeded_workspace):
    from core.jobs import get_job

    at = _app(seeded_workspace)
    at.multiselect(key="train.models").set_value(["rf", "xgb", "knn", "rbf_svm"])
    at.button(key="train.go").click().run()
    _ok(at)
    job_id = at.session_state["train.job_id"]
    started = time.monotonic()
    other = AppTest.from_file(PAGE.replace("07_train.py", "06_split.py"), default_timeout=30)
    other.session_state.project_id = seeded_workspace.demo_project_id
    other.run()  # another session's page while the models train
    _ok(other)
    assert time.monotonic() - started < 15 and other.dataframe
    assert at.get("progress") or get_job(job_id).done
    at.button(key="train.cancel").click().run()

    assert get_job(job_id).wait(60)
    deadline = time.monotonic() + 30
    while "train.job_id" in at.session_state and time.monotonic() < deadline:
        at.run()
    assert not at.exception
    assert any("cancelled" in i.value for i in at.info)


def test_a_clustering_project_finds_groups(seeded_workspace):
    from core.project.projects import create_project
    from core.split.splitting import split_project
    from core.split.spec import SplitSpec

    ws = seeded_workspace.ws
    project = create_project(ws, "House groups", "house_prices", None)
    split_project(ws, project, SplitSpec("random"))
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state.project_id = project.id
    at.session_state["train.sync"] = True
    at.run()
    at.slider(key="train.k_range").set_value((2, 4))
    at.button(key="train.go").click().run()
    _ok(at)
    assert any("Best k =" in m.value for m in at.markdown)
    assert any("Group 1 ·" in m.value for m in at.markdown)


def test_features_default_leaves_out_the_sensitive_attribute_and_a_sensitive_opt_in_needs_a_reason(seeded_workspace):
    at = _app(seeded_workspace, **{"train.sync": True})
    _ok(at)
    picked = at.multiselect(key="train.features").value
    assert "age_band" not in picked and "customer_id" not in picked and "tenure_months" in picked
    assert any("age" in c.value and "band" in c.value and "sensitive" in c.value for c in at.caption)
    at.multiselect(key="train.models").set_value(["logreg"])
    at.number_input(key="train.cv").set_value(2)
    at.multiselect(key="train.features").set_value(["tenure_months", "age_band"]).run()
    at = at.button(key="train.go").click().run()
    assert any("state why" in e.value for e in at.error)  # refused before any job starts
    from core.models.runs import list_runs

    assert list_runs(seeded_workspace.ws, seeded_workspace.demo_project_id) == []
    at.text_input(key="train.sensitive_reason").set_value("Required by the pricing regulator").run()
    at = at.button(key="train.go").click().run()
    _ok(at)
    runs = list_runs(seeded_workspace.ws, seeded_workspace.demo_project_id)
    trained = next(r for r in runs if r.model_key == "logreg")
    assert trained.features == ("tenure_months", "age_band")
    assert trained.feature_choice["sensitive_reason"] == "Required by the pricing regulator"
    assert any("Cross-validation: 2-fold stratified" in c.value for c in at.caption)


def test_an_empty_feature_list_is_refused_with_a_clear_message(seeded_workspace):
    at = _app(seeded_workspace, **{"train.sync": True})
    at.multiselect(key="train.models").set_value(["logreg"])
    at.multiselect(key="train.features").set_value([]).run()
    at = at.button(key="train.go").click().run()
    assert any("feature list is empty" in e.value for e in at.error)
