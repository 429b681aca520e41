"""Launch glue: replay sets built from two trained runs on the demo project, outcomes, latency, verdicts and records."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from core.launch import rehearsal as launch
from core.project.criteria import SuccessCriteria
from core.errors import PermissionDenied, SchemaMismatch, SpecInvalid
from core.launch.rehearsal import ReplaySource
from core.launch.replay import _replay_data
from core.launch.sim import DECISIONS, RolloutSpec
from core.data.ingest import add_frame


def _trained(trained_workspace, home):
    """The demo project with a logistic regression (threshold 0.3) and a shallow tree (threshold 0.6)."""
    from core.catalog import ModelSpec
    from core.models.runs import get_run

    t = trained_workspace([ModelSpec("logreg"), ModelSpec("tree", {"max_depth": 4})], train_rows=1500,
                          thresholds={"logreg": 0.3, "tree": 0.6}, home=home)
    ws, project = t.ws, t.project
    by_key = {c.model_label: c for c in launch.list_contenders(ws, project)}
    return SimpleNamespace(ws=ws, project=project, split=t.split, lr=by_key["Logistic regression"],
                           tree=by_key["Decision tree"], runs={k: get_run(ws, run_id) for k, run_id in t.runs.items()})


@pytest.fixture(scope="module")
def demo(trained_workspace, tmp_path_factory):
    from core.store.workspace import close_workspace

    home = tmp_path_factory.mktemp("launch") / "ws"
    yield _trained(trained_workspace, home)
    close_workspace(home)


@pytest.fixture(scope="module")
def replay(demo):
    return launch.build_replay(demo.ws, demo.project, demo.tree, demo.lr, ReplaySource("test"), measure_latency=False)


# -- the replay set ----------------------------------------------------------------------------------------------------
def test_outcomes_equal_the_cost_matrix_applied_by_hand_at_each_threshold(demo, replay):
    from core.models.runs import load_run_model
    from core.split.splitting import split_frames

    test = split_frames(demo.ws, demo.split, parts=("test",), with_row_id=True)["test"]
    test = test[test["churned"].notna()].reset_index(drop=True)
    costs = demo.project.criteria.costs
    assert replay.replay.rows == len(test)
    for contender, key, outcome, correct in ((demo.tree, "tree", replay.replay.outcome_champion,
                                              replay.replay.correct_champion),
                                             (demo.lr, "logreg", replay.replay.outcome_challenger,
                                              replay.replay.correct_challenger)):
        model = load_run_model(demo.ws, contender.run_id)
        proba = model.predict_proba(test[list(demo.runs[key].features)])
        score = proba[:, list(model.classes_).index(True)]
        threshold = {"tree": 0.6, "logreg": 0.3}[key]
        assert contender.threshold == threshold
        if key == "logreg":
            assert ((score >= threshold) != (score >= 0.5)).sum() > 20  # the saved threshold, not 0.5, decides
        expected, right = [], []
        for s, churned in zip(score, test["churned"]):
            flagged = s >= threshold
            cell = ("tp" if churned else "fp") if flagged else ("fn" if churned else "tn")
            expected.append(costs[cell])
            right.append(flagged == churned)
        np.testing.assert_allclose(outcome, expected)
        np.testing.assert_array_equal(correct, right)
    np.testing.assert_array_equal(replay.replay.positive, test["churned"].to_numpy(dtype=bool))
    np.testing.assert_array_equal(replay.replay.group, test["age_band"].astype(str).to_numpy())
    assert set(replay.replay.decision_champion) <= {"yes", "no"}
    assert replay.replay.primary_metric == "recall"  # the demo's primary metric
    assert replay.examples["dataset_row"].tolist() == test["_row"].tolist()


def test_latency_is_measured_for_both_models(demo):
    built = launch.build_replay(demo.ws, demo.project, demo.tree, demo.lr, ReplaySource("test"))
    for lat in (built.replay.latency_champion_ms, built.replay.latency_challenger_ms):
        assert lat.shape == (built.replay.rows,) and np.isfinite(lat).all() and (lat > 0).all()
    assert built.latency["champion"]["p50_ms"] > 0 and built.latency["challenger"]["batch_ms"] > 0
    # batch scoring costs far less per request than single requests do
    assert built.latency["challenger"]["batch_ms"] < built.latency["challenger"]["p50_ms"]


def test_another_dataset_and_a_later_window_are_replayed_without_seen_rows(demo):
    from core.split.splitting import split_assignments

    other = launch.build_replay(demo.ws, demo.project, demo.tree, demo.lr, ReplaySource("dataset", "churn_next_month"),
                                measure_latency=False)
    assert other.replay.rows == 2000 and not any("Left out" in n for n in other.notes)
    window = launch.build_replay(demo.ws, demo.project, demo.tree, demo.lr,
                                 ReplaySource("window", time_column="observation_month", start="2025-10-01"),
                                 measure_latency=False)
    parts = split_assignments(demo.ws, demo.split).set_index("_row")["part"]
    assert set(parts.loc[window.examples["dataset_row"]]) == {"test"}  # train and validation rows left out
    assert any("Left out" in n for n in window.notes)


def test_bad_replay_choices_are_refused_plainly(demo):
    ws, p = demo.ws, demo.project
    with pytest.raises(SpecInvalid, match="needs a date column"):
        launch.build_replay(ws, p, demo.tree, demo.lr, ReplaySource("window"))
    with pytest.raises(SpecInvalid, match="No rows of 'churn'.*dates run from 2025-01-01"):
        launch.build_replay(ws, p, demo.tree, demo.lr,
                            ReplaySource("window", time_column="observation_month", start="2030-01-01"))
    add_frame(ws, "no_tenure", ws.frame("churn_next_month").drop(columns=["tenure_months"]).head(50))
    with pytest.raises(SchemaMismatch, match="has no column 'tenure_months'"):
        launch.build_replay(ws, p, demo.tree, demo.lr, ReplaySource("dataset", "no_tenure"))
    with pytest.raises(SpecInvalid, match="Unknown replay set 'tset'.*Did you mean 'test'"):
        launch.build_replay(ws, p, demo.tree, demo.lr, ReplaySource("tset"))


def test_regression_outcome_is_minus_cost_times_error_and_multiclass_is_right_or_wrong():
    truth = np.array([10.0, 20.0, 30.0])
    frame = pd.DataFrame({"y": truth, "region": ["a", "b", None]})
    crit = SuccessCriteria("mae", 5.0, op="<=", cost_per_unit_error=2.5, sensitive_attributes=["region"])
    project = SimpleNamespace(task="regression", target="y", criteria=crit)
    data, _ = _replay_data(project, frame, [{"pred": np.array([12.0, 20.0, 25.0])}, {"pred": truth + 1}])
    np.testing.assert_allclose(data.outcome_champion, [-5.0, 0.0, -12.5])
    np.testing.assert_allclose(data.outcome_challenger, [-2.5, -2.5, -2.5])
    assert data.group.tolist() == ["a", "b", "(missing)"]
    project = SimpleNamespace(task="multiclass", target="y", criteria=SuccessCriteria("accuracy", 0.5))
    frame = pd.DataFrame({"y": ["x", "y", "z"]})
    data, notes = _replay_data(project, frame, [{"pred": np.array(["x", "x", "z"], dtype=object)},
                                                {"pred": np.array(["y", "y", "z"], dtype=object)}])
    assert data.outcome_champion.tolist() == [1, 0, 1] and data.outcome_challenger.tolist() == [0, 1, 1]
    assert any("more than two outcomes" in n for n in notes)


# -- simulating --------------------------------------------------------------------------------------------------------
def _canary(demo, replay, seed=42, **changes):
    spec = RolloutSpec("canary", days=20, traffic_per_day=50_000, step_days=2, seed=seed, **changes)
    return launch.simulate_launch(demo.ws, demo.project, demo.tree, demo.lr, ReplaySource("test"), spec,
                                  replay=replay, save=False)


def test_a_challenger_degraded_from_day_6_is_rolled_back_and_a_harmless_one_promoted(demo, replay):
    bad = _canary(demo, replay, inject={"kind": "degrade", "day": 6, "amount": 0.5})
    s = bad.result.summary
    assert bad.decision == "Roll back" and s["final_state"] == "rolled back" and s["final_share"] == 0
    assert s["stopped_day"] >= 6 and s["blast_radius"] < s["requests"]
    stopped = bad.result.frames["steps"].set_index("step").loc[s["stopped_step"], "analysis"]
    assert stopped == "Failed" and "Aborted at step" in bad.sentence
    # The same canary without the injected problem: the tree is the worse model, the regression a safe challenger.
    good = _canary(demo, replay)
    assert good.decision == "Ship" and good.result.summary["final_state"] == "promoted"


def test_same_seed_same_result_other_seed_other_result(demo, replay):
    first = _canary(demo, replay, seed=7, inject={"kind": "drift", "day": 3}).result.to_dict()
    again = _canary(demo, replay, seed=7, inject={"kind": "drift", "day": 3}).result.to_dict()
    other = _canary(demo, replay, seed=8, inject={"kind": "drift", "day": 3}).result.to_dict()
    assert json.dumps(first, sort_keys=True) == json.dumps(again, sort_keys=True)
    assert json.dumps(first, sort_keys=True) != json.dumps(other, sort_keys=True)


def test_simulations_are_saved_listed_and_read_back(demo, replay):
    ws, p = demo.ws, demo.project
    shadow = launch.simulate_launch(ws, p, demo.tree, demo.lr, ReplaySource("test"),
                                    RolloutSpec("shadow", days=5, traffic_per_day=2000), replay=replay)
    ab = launch.simulate_launch(ws, p, demo.tree, demo.lr, ReplaySource("test"),
                                RolloutSpec("ab", days=10, traffic_per_day=2000), replay=replay)
    sims = launch.list_simulations(ws, p.id)
    assert [s.id for s in sims[:2]] == [ab.id, shadow.id]
    assert launch.latest_simulation(ws, p.id).id == ab.id
    assert launch.latest_simulation(ws, p.id, "shadow").id == shadow.id
    rec = ws.get_record("simulation", ab.id)
    assert rec["strategy"] == "ab" and rec["verdict"]["decision"] in DECISIONS and rec["simulated"] is True
    assert rec["champion_version_id"] is None and rec["challenger"]["run_id"] == demo.lr.run_id
    back = launch.get_simulation(ws, ab.id)
    assert back.sentence == ab.sentence and back.spec == RolloutSpec("ab", days=10, traffic_per_day=2000)
    assert list(back.result.frames["peeking"].columns) == ["day", "naive_fpr", "sequential_fpr"]
    assert len(back.result.frames["daily"]) == 10
    shadow_back = launch.get_simulation(ws, shadow.id)
    cells = shadow_back.result.frames["disagreements"]
    shown = {r for ids in cells["example_rows"] for r in ids}
    assert shown and shown == set(shadow_back.examples["row"])  # every example row of the matrix is kept
    assert (shadow_back.examples["champion"] != shadow_back.examples["challenger"]).all()
    history = launch.history_frame(sims)
    assert history["verdict"].isin(DECISIONS).all() and history["id"].tolist() == [s.id for s in sims]


def test_refusals_come_before_any_work(demo, replay):
    with pytest.raises(SpecInvalid, match="same model"):
        launch.simulate_launch(demo.ws, demo.project, demo.lr, demo.lr, ReplaySource("test"), RolloutSpec())
    with pytest.raises(SpecInvalid, match="must end at 100"):
        launch.simulate_launch(demo.ws, demo.project, demo.tree, demo.lr, ReplaySource("test"),
                               RolloutSpec("canary", steps=(1, 50)))
    viewer = demo.ws.as_role("viewer")
    with pytest.raises(PermissionDenied):
        launch.simulate_launch(viewer, demo.project, demo.tree, demo.lr, ReplaySource("test"), RolloutSpec("shadow"))


def test_default_pair_lets_the_better_run_challenge(demo):
    champion, challenger = launch.default_pair(demo.ws, demo.project)
    assert (champion.model_label, challenger.model_label) == ("Decision tree", "Logistic regression")
    assert launch.resolve_contender(demo.ws, demo.project, "logistic regression").run_id == demo.lr.run_id
    with pytest.raises(Exception, match="No model 'v9'"):
        launch.resolve_contender(demo.ws, demo.project, "v9")


def test_canary_table_rows_become_steps_and_days():
    rows = [{"share": 1.0, "days": 2.0}, {"share": 10.0, "days": 3.0}, {"share": 100.0, "days": float("nan")},
            {"share": float("nan"), "days": float("nan")}]
    assert launch.steps_from_table(rows) == ((1, 10, 100), (2, 3))
    blank = [{"share": 5, "days": None}, {"share": 50.0, "days": float("nan")}, {"share": 100, "days": None}]
    assert launch.steps_from_table(blank) == ((5, 50, 100), None)  # the spec's default: half the run shared out
    with pytest.raises(SpecInvalid, match="step 2 .10 %. needs a whole number of days"):
        launch.steps_from_table([{"share": 1, "days": 2}, {"share": 10, "days": None}, {"share": 100, "days": None}])
    with pytest.raises(SpecInvalid, match="step 2 has no traffic share"):
        launch.steps_from_table([{"share": 1, "days": 2}, {"share": None, "days": 3}])


def test_cli_simulates_and_lists(demo, capsys):
    from core.cli import main
    from core.commands.launch import parse_inject

    assert parse_inject("degrade:8") == {"kind": "degrade", "day": 8}
    assert parse_inject("drift:5:0.4") == {"kind": "drift", "day": 5, "amount": 0.4}
    with pytest.raises(SpecInvalid, match="KIND:DAY"):
        parse_inject("degrade")
    home = str(demo.ws.home)
    assert main(["--home", home, "simulate", "Customer churn", "--strategy", "canary", "--days", "10", "--traffic",
                 "3000", "--steps", "10,50,100", "--inject", "degrade:2:0.6", "--seed", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["strategy"] == "canary" and out["verdict"]["decision"] in DECISIONS and out["id"]
    assert out["spec"]["inject"] == {"kind": "degrade", "day": 2, "amount": 0.6}
    assert main(["--home", home, "simulations", "Customer churn"]) == 0
    assert out["id"] in capsys.readouterr().out
    assert main(["--home", home, "simulate", "Customer churn", "--strategy", "ab", "--inject", "explode:3"]) == 2
    assert "Unknown injected problem" in capsys.readouterr().err


def test_registered_pair_is_simulated_and_feeds_the_launch_gate(trained_workspace, tmp_path):
    from core.registry import versions
    from core.release import actions
    from core.release.gate import evaluate_gate
    from core.store.workspace import close_workspace

    demo = _trained(trained_workspace, tmp_path / "ws")
    try:
        ws, p = demo.ws, demo.project
        old = actions.register_run(ws, demo.tree.run_id, by="test")
        new = actions.register_run(ws, demo.lr.run_id, by="test")
        actions.promote(ws, old.id, by="test", why="first model", override_reason="test set-up")
        actions.set_challenger(ws, new.id, by="test")
        champion, challenger = launch.default_pair(ws, p)
        assert (champion.version_id, challenger.version_id) == (old.id, new.id)
        assert launch.resolve_contender(ws, p, "v2").version_id == new.id
        sim = launch.simulate_launch(ws, p, champion, challenger, ReplaySource("test"),
                                     RolloutSpec("shadow", days=5, traffic_per_day=2000))
        rec = ws.get_record("simulation", sim.id)
        assert (rec["champion_version_id"], rec["challenger_version_id"]) == (old.id, new.id)
        check = evaluate_gate(ws, versions.get_version(ws, new.id), versions.champion(ws, p.id), save=False)
        check = check.check("simulation")
        assert check.details["simulation_id"] == sim.id
        assert check.status == ("pass" if sim.decision == "Ship" else "fail")
    finally:
        close_workspace(tmp_path / "ws")
