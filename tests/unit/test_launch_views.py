"""What the Launch page shows, from real simulations: the verdict card, key figures per strategy, panels, the power
calculator, the spec a form builds, and the set-up choices on the demo project with trained models."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest

from core.errors import SpecInvalid
from core.launch import views
from core.launch.rehearsal import Contender, ReplaySource, Simulation
from core.launch.rollout import simulate_rollout, strategy_entry
from core.launch.sim import RolloutSpec, synthetic_replay
from core.stats import abtests as abstats

CHAMPION = Contender("run_a", "run_a", "Tree · run a", "Decision tree")
CHALLENGER = Contender("run_b", "run_b", "Logistic regression · run b", "Logistic regression")


def _sim(spec: RolloutSpec, *, binary: bool = True, lift: float = 0.05) -> Simulation:
    """A simulation of synthetic replay rows, wrapped as the page reads a saved one."""
    replay = synthetic_replay(4000, lift=lift, seed=3)
    result = simulate_rollout(replay, spec)
    out = replay.correct_champion.astype(float) if binary else replay.outcome_champion  # a yes/no outcome is a rate
    info = {"rows": replay.rows, "source_label": "the test split", "outcome_label": "value", "is_binary": binary,
            "baseline_mean": float(out.mean()), "baseline_sd": float(out.std(ddof=1))}
    return Simulation("sim_1", "prj_1", spec.strategy, result.verdict.decision, result.verdict.sentence, CHAMPION,
                      CHALLENGER, ReplaySource("test"), info, result, created_at=datetime(2026, 3, 4, 9, 5))


@pytest.fixture(scope="module")
def shadow():
    return _sim(RolloutSpec("shadow", days=5, traffic_per_day=2000))


@pytest.fixture(scope="module")
def ab():
    return _sim(RolloutSpec("ab", days=8, traffic_per_day=2000, split=0.3))


@pytest.fixture(scope="module")
def canary():
    return _sim(RolloutSpec("canary", days=20, traffic_per_day=50_000, step_days=2,
                            inject={"kind": "degrade", "day": 6, "amount": 0.5}))


# -- the verdict card and the history ----------------------------------------------------------------------------------
def test_the_card_colours_each_decision_and_says_where_the_figures_come_from(shadow, canary):
    card = views.verdict_card(canary)
    assert (card.decision, card.colour, card.icon) == ("Roll back", "red", ":material/undo:")
    assert card.sentence == canary.result.verdict.sentence
    assert card.caption == ("Simulated, not live traffic · Canary · challenger Logistic regression · run b against "
                            "champion Tree · run a · replayed the test split · seed 42 · 04 Mar 2026 09:05")
    assert views.verdict_card(shadow).colour == {"Ship": "green", "Roll back": "red",
                                                 "Keep testing": "orange"}[shadow.decision]
    unsaved = Simulation(None, "prj_1", "shadow", "Something else", "", CHAMPION, CHALLENGER, ReplaySource(), {},
                         shadow.result)
    card = views.verdict_card(unsaved)
    assert (card.colour, card.icon) == ("gray", ":material/help:") and card.caption.endswith("seed 42 · ")
    assert views.history_label(canary) == "04 Mar 09:05 · Canary · Roll back"


# -- key figures and panels per strategy -------------------------------------------------------------------------------
def test_shadow_figures_are_read_from_the_summary(shadow):
    s = shadow.result.summary
    tiles = views.shadow_kpis(shadow)
    assert [t.label for t in tiles] == ["Agreement", "Would-have difference", "Users at risk", "Requests (simulated)"]
    assert tiles[0].value == f"{s['agreement']:.1%}" and tiles[3].value == f"{s['requests']:,}" == "10,000"
    assert tiles[1].value == f"{s['outcome_diff'] * 100:+,.3g}" and tiles[1].help == "Challenger − champion, points."
    assert views.shows_agreement(shadow)
    assert views.frame(shadow, "disagreements") is not None
    assert views.frame(shadow, "no such frame") is None


def test_a_measured_outcome_is_shown_per_request_and_a_yes_no_one_in_points(shadow):
    assert views.outcome_scale(shadow) == (100.0, "points")
    measured = _sim(RolloutSpec("shadow", days=5, traffic_per_day=2000), binary=False)
    assert views.outcome_scale(measured) == (1.0, "value per request")
    assert views.shadow_kpis(measured)[1].value == f"{measured.result.summary['outcome_diff']:+,.3g}"
    ab_measured = _sim(RolloutSpec("ab", days=5, traffic_per_day=2000), binary=False)
    assert views.arms_label(ab_measured) == "value"


def test_ab_figures_name_the_test_its_day_and_the_traffic_split(ab):
    s = ab.result.summary
    tiles = views.ab_kpis(ab)
    assert tiles[0].value == f"{s['users_exposed']:,}"
    assert tiles[1].label == f"{s['test']} p-value on day 8"
    p = s["fixed"]["p_value"]
    assert tiles[1].value == ("< 0.001" if p < 0.001 else f"{p:.3f}")
    stop = s["sequential"]["stopped_day"]
    assert tiles[2].value == (f"day {stop}" if stop else "not yet")
    assert tiles[3].value == "as planned"
    assert views.arms_label(ab) == "rate"
    broken = _sim(RolloutSpec("ab", days=8, traffic_per_day=2000, inject={"kind": "imbalance", "day": 2,
                                                                          "amount": 0.5}))
    assert views.ab_kpis(broken)[3].value == f"broken from day {broken.result.summary['srm_first_alarm_day']}"


def test_canary_figures_and_guardrails(canary):
    s = canary.result.summary
    tiles = views.canary_kpis(canary)
    assert tiles[0].value == "Rolled back" and tiles[1].value == f"{s['final_share']:g} %"
    assert tiles[2].value == f"{s['blast_radius']:,}"
    total = s["outcome_delta_total"]
    assert tiles[3].value == (f"{total:+,.0f}" if abs(total) >= 1000 else f"{total:+,.3g}")
    choices = views.guardrail_choices(canary.result.frames["measurements"])
    assert next(iter(choices)) == "outcome" and {"outcome", "primary", "latency"} <= set(choices)
    assert all(isinstance(label, str) and label for label in choices.values())
    assert views.guardrail_view(canary, "outcome") == (True, 100.0)
    assert views.guardrail_view(canary, "latency") == (False, 1.0)
    assert views.guardrail_view(canary, "fairness_gap") == (False, 100.0)


# -- how long must an A/B test run -------------------------------------------------------------------------------------
def test_the_power_form_works_in_points_for_a_yes_no_outcome(ab):
    form = views.power_form(ab)
    assert (form.mde_label, form.mde_default, form.mde_scale) == ("Smallest change worth detecting (points)", 2.0,
                                                                  100.0)
    assert (form.traffic, form.split, form.planned_days, form.sd) == (2000, 0.3, 8, None)
    need = abstats.days_needed(form.baseline, None, 0.02, 2000, 0.3, 0.05, 0.8)
    sentence = views.power_sentence(form, 2.0, 2000, 0.8, 0.3)
    assert sentence.startswith(f"At 2,000 requests a day the test needs {need.n_total:,} requests")
    assert sentence.endswith(f"{need.days} day{'s' if need.days != 1 else ''}, against 8 planned.")


def test_the_power_form_of_a_measured_outcome_uses_its_spread():
    sim = _sim(RolloutSpec("ab", days=8, traffic_per_day=2000), binary=False)
    form = views.power_form(sim)
    sd = sim.replay["baseline_sd"]
    assert form.mde_label == "Smallest change worth detecting (value per request)"
    assert form.mde_default == max(abs(sd) / 10, 0.01) and form.mde_scale == 1.0 and form.sd == sd
    need = abstats.days_needed(form.baseline, sd, 0.5, 2000, 0.5, 0.05, 0.8)
    assert f"needs {need.n_total:,} requests" in views.power_sentence(form, 0.5, 2000, 0.8, 0.5)
    with pytest.raises(SpecInvalid):
        views.power_sentence(form, 0.5, 0, 0.8, 0.5)


# -- the form ----------------------------------------------------------------------------------------------------------
def test_a_form_builds_the_strategys_spec_over_the_shared_set_up():
    setup = views.LaunchSetup(CHAMPION, CHALLENGER, ReplaySource("test"), traffic=3000, days=12, seed=7,
                              inject={"kind": "drift", "day": 3, "amount": 0.5})
    ab = strategy_entry("ab")
    split = ab.params[0]
    assert views.shown_value(split, split.default) == 50 and views.from_shown(split, 30) == 0.3
    days = views.build_spec(strategy_entry("shadow"), setup, [])
    assert days == RolloutSpec("shadow", days=12, traffic_per_day=3000, seed=7, inject=setup.inject)
    assert views.build_spec(ab, setup, [0.3, 0.01]) == RolloutSpec("ab", days=12, traffic_per_day=3000, split=0.3,
                                                                   alpha=0.01, seed=7, inject=setup.inject)
    canary = strategy_entry("canary")
    spec = views.build_spec(canary, setup, [{"steps": (5, 100), "step_days": (4,)}, 1])
    assert (spec.steps, spec.step_days, spec.failure_limit) == ((5, 100), (4,), 1)
    assert views.build_spec(canary, setup, [None, 1]) is None  # the schedule table was refused


def test_number_settings_come_back_whole_and_the_schedule_starts_from_the_defaults():
    from core.launch.rollout import shared_setting

    traffic = shared_setting("traffic_per_day")
    assert views.from_shown(traffic, 5000.0, whole=True) == 5000 and isinstance(
        views.from_shown(traffic, 5000.0, whole=True), int)
    table = views.schedule_table(strategy_entry("canary").params[0])
    assert table["share"].tolist() == [1.0, 5.0, 10.0, 25.0, 50.0, 100.0] and table["days"].isna().all()


def test_a_window_starts_on_the_last_quarter_of_the_data():
    assert views.window_bounds("2024-01-01", "2024-01-05") == (date(2024, 1, 1), date(2024, 1, 5), date(2024, 1, 4))
    assert views.window_bounds(pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-01"))[2] == date(2024, 1, 1)


# -- set-up choices and the shown simulation on the demo project -------------------------------------------------------
@pytest.fixture(scope="module")
def trained(trained_workspace):
    t = trained_workspace()
    yield t
    t.close()


def test_set_up_choices_on_the_demo_project(trained):
    from core.launch.rehearsal import list_contenders

    ws, project = trained.ws, trained.project
    splits = views.splits_with_test_rows(ws, project.id)
    assert list(splits) == [trained.split_id] and splits[trained.split_id].endswith(" test rows")
    contender = next(c for c in list_contenders(ws, project) if c.run_id == trained.runs["logreg"])
    assert views.contender_split(ws, contender) == trained.split_id
    assert views.contender_split(ws, Contender("run_gone", "run_gone", "gone", "gone")) is None
    datasets = views.dataset_choices(ws)
    assert project.dataset_id in datasets and all(" rows" in label for label in datasets.values())
    ids = list(datasets)
    assert views.default_dataset(project, "window", ids) == project.dataset_id
    other = views.default_dataset(project, "dataset", ids)
    assert other != project.dataset_id or ids == [project.dataset_id]
    assert "observation_month" in views.date_columns(ws, project.dataset_id)


def test_a_tab_shows_the_simulation_just_run_else_the_newest(trained):
    from core.launch.rehearsal import default_pair, simulate_launch

    ws, project = trained.ws, trained.project
    assert views.shown_simulation(ws, project.id, "shadow", None) is None
    first = simulate_launch(ws, project, *default_pair(ws, project), ReplaySource("test"),
                            RolloutSpec("shadow", days=3, traffic_per_day=1000))
    second = simulate_launch(ws, project, *default_pair(ws, project), ReplaySource("test"),
                             RolloutSpec("shadow", days=3, traffic_per_day=1000, seed=1))
    assert views.shown_simulation(ws, project.id, "shadow", first.id).id == first.id
    assert views.shown_simulation(ws, project.id, "shadow", None).id == second.id
    assert views.shown_simulation(ws, project.id, "shadow", "sim_missing").id == second.id
    assert views.shown_simulation(ws, "prj_other", "shadow", first.id) is None
    assert views.shown_simulation(ws, project.id, "canary", None) is None
