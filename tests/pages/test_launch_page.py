"""The Launch page: set-up on the demo project with two trained runs, a verdict per strategy, the demo, viewer mode."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.helpers import assert_clean as _ok
from tests.helpers import served_from

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "12_launch.py")
RUN_KEYS = {"launch.shadow.run", "launch.ab.run", "launch.canary.run", "launch.demo"}
VERDICTS = ("Ship", "Roll back", "Keep testing")


@pytest.fixture
def trained(trained_workspace, tmp_path, monkeypatch):
    """The demo project with a logistic regression and a shallow tree (and the baseline), served to the page."""
    from core.catalog import ModelSpec

    t = trained_workspace([ModelSpec("logreg"), ModelSpec("tree", {"max_depth": 4})], train_rows=1500,
                          home=tmp_path / "workspace")
    with served_from(t.home, monkeypatch):
        yield t


def _app(project_id: str, **state) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state.project_id = project_id
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def _verdicts(container) -> list[str]:
    return [d for m in container.markdown if m.value.startswith("###") for d in VERDICTS if d in m.value]


def test_page_renders_the_set_up_with_two_trained_runs(trained):
    at = _app(trained.project_id)
    _ok(at)
    assert {"launch.champion", "launch.challenger"} <= {s.key for s in at.selectbox}
    assert at.selectbox(key="launch.challenger").value != at.selectbox(key="launch.champion").value
    assert RUN_KEYS <= {b.key for b in at.button}
    assert [t.label for t in at.tabs] == ["Shadow", "A/B test", "Canary"]
    assert any("No Shadow simulation saved yet" in i.value for i in at.info)
    assert any("Launch when" in m.value for m in at.markdown)  # the criteria banner


def test_each_strategy_simulate_button_shows_a_verdict(trained):
    at = _app(trained.project_id)
    at.number_input(key="launch.traffic").set_value(5000)
    at.number_input(key="launch.days").set_value(10)
    for i, key in enumerate(("shadow", "ab", "canary")):
        at.button(key=f"launch.{key}.run").click().run()
        _ok(at)
        assert len(_verdicts(at.tabs[i])) == 1, key
        assert any("Simulated, not live traffic" in c.value for c in at.tabs[i].caption)
    from core.data.samples import open_workspace
    from core.launch.rehearsal import list_simulations

    sims = list_simulations(open_workspace(trained.home, seed_samples=False), trained.project_id)
    assert [s.strategy for s in sims] == ["canary", "ab", "shadow"]
    assert sims[1].spec.traffic_per_day == 5000 and "peeking" in sims[1].result.frames
    history = [d.value for d in at.dataframe if "evidence" in d.value.columns]
    assert len(history) == 1 and history[0]["verdict"].tolist() == [s.decision for s in sims]


def test_the_demo_story_rolls_the_degrading_challenger_back(trained):
    at = _app(trained.project_id)
    at.button(key="launch.demo").click().run()
    _ok(at)
    assert _verdicts(at.tabs[2]) == ["Roll back"]
    assert any("Aborted at step" in m.value for m in at.tabs[2].markdown)


def test_viewer_sees_saved_results_and_no_simulate_controls(trained):
    from core.data.samples import open_workspace
    from core.launch.rehearsal import default_pair, simulate_launch
    from core.launch.replay import ReplaySource
    from core.launch.sim import RolloutSpec
    from core.project.projects import get_project

    ws = open_workspace(trained.home, seed_samples=False)
    project = get_project(ws, trained.project_id)
    sim = simulate_launch(ws, project, *default_pair(ws, project), ReplaySource("test"),
                          RolloutSpec("shadow", days=5, traffic_per_day=2000))
    at = _app(trained.project_id, role="viewer")
    _ok(at)
    assert not RUN_KEYS & {b.key for b in at.button}
    assert not {"launch.champion", "launch.traffic"} & {w.key for w in [*at.selectbox, *at.number_input]}
    assert _verdicts(at.tabs[0]) == [sim.decision]
    assert any("No Canary simulation saved yet" in i.value for i in at.info)


def test_without_two_models_the_page_says_what_to_do(seeded_workspace):
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state.project_id = seeded_workspace.demo_project_id
    at.run()
    _ok(at)
    assert any("has 0 saved model(s)" in i.value for i in at.info)


def test_a_later_window_and_an_injected_problem_reach_the_saved_simulation(trained):
    at = _app(trained.project_id)
    at.radio(key="launch.source").set_value("window").run()
    _ok(at)
    at.selectbox(key="launch.time_column").select("observation_month").run()
    at.toggle(key="launch.inject.on").set_value(True).run()
    at.selectbox(key="launch.inject.kind").select("drift")
    at.number_input(key="launch.inject.day").set_value(3)
    at.number_input(key="launch.traffic").set_value(3000)
    at.number_input(key="launch.days").set_value(6)
    at.button(key="launch.shadow.run").click().run()
    _ok(at)
    from core.data.samples import open_workspace
    from core.launch.rehearsal import latest_simulation

    sim = latest_simulation(open_workspace(trained.home, seed_samples=False), trained.project_id)
    assert sim.source.kind == "window" and sim.source.time_column == "observation_month" and sim.source.start
    assert sim.spec.inject == {"kind": "drift", "day": 3, "amount": 0.5}
    assert any("Injected drift from day 3" in n for n in sim.result.notes)
    assert len(_verdicts(at.tabs[0])) == 1


def test_the_forms_are_drawn_from_the_strategy_entries(trained):
    from core.launch.rollout import STRATEGIES
    from core.launch.sim import RolloutSpec

    at = _app(trained.project_id)
    _ok(at)
    assert at.number_input(key="launch.traffic").value == RolloutSpec().traffic_per_day  # one default, from core
    widgets = {w.key for w in [*at.number_input, *at.slider, *at.selectbox]} | {"launch.canary.steps"}
    for entry in STRATEGIES:
        for p in entry.params:
            assert f"launch.{entry.key}.{p.name}" in widgets, f"{entry.key}.{p.name} has no form input"
    assert at.slider(key="launch.ab.split").value == 50 and at.selectbox(key="launch.ab.alpha").value == 0.05


def test_every_strategy_has_a_renderer_and_every_setting_an_input():
    from core.launch.rollout import STRATEGIES
    from pages._launch_views import INPUTS, RENDERERS

    assert set(RENDERERS) == {s.key for s in STRATEGIES}, "add a renderer to RENDERERS in pages/_launch_views.py"
    assert {p.widget for s in STRATEGIES for p in s.params} <= set(INPUTS)


def test_the_page_is_a_view():
    """The page stays short: its widgets live in pages/_launch_views.py, what they show in core.launch.views."""
    assert len(Path(PAGE).read_text(encoding="utf-8").splitlines()) <= 250
