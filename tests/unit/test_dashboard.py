"""The dashboard snapshot: one threshold rule, value against no model, decision, reigns, what-ifs apart."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from core.evaluate.shown_threshold import DEFAULT_THRESHOLD, shown_threshold


def test_one_rule_for_the_threshold_metrics_are_shown_at():
    assert shown_threshold(SimpleNamespace(task="binary", threshold=0.31)).label == "at the saved threshold 0.31"
    default = shown_threshold(SimpleNamespace(task="binary", threshold=None))
    assert default.value == DEFAULT_THRESHOLD and default.label == "at the default threshold 0.50"
    assert shown_threshold(SimpleNamespace(task="regression", threshold=None)).label == ""


@pytest.fixture(scope="module")
def champion_ws(trained_workspace):
    from core.data.samples import open_workspace
    from core.release.actions import promote
    from core.store.workspace import close_workspace

    trained = trained_workspace(models=("dummy", "logreg"), thresholds={"logreg": 0.35}, register=("logreg",))
    ws = open_workspace(trained.home, seed_samples=False)
    promote(ws, trained.versions["logreg"], by="ana", why="First launch", override_reason="Unit test: no final check")
    yield ws, trained
    close_workspace(trained.home)


def test_snapshot_says_its_threshold_and_compares_value_with_no_model(champion_ws):
    from core.evaluate.classification import at_threshold, threshold_table
    from core.models.runs import run_predictions
    from core.share.dashboard import project_snapshot

    ws, trained = champion_ws
    snap = project_snapshot(ws, trained.demo_project_id, important_features=lambda ws_, run: ["tenure_months"])
    assert snap.shown.value == pytest.approx(0.35) and snap.shown.source == "saved"
    recall = snap.kpis[0]
    assert recall.label.startswith("Recall") and recall.threshold == "at the saved threshold 0.35"
    # The KPI is the recall the threshold table gives at 0.35, inside its own Wilson interval.
    preds = run_predictions(ws, trained.runs["logreg"])
    row = at_threshold(threshold_table(preds["y_true"], preds["score"], snap.champion_run.positive_class), 0.35)
    assert recall.value == f"{row['recall']:.3f}"
    low, high = map(float, recall.interval.split("–"))
    assert low < row["recall"] < high
    # No model = the better single action, the same baseline the gate's value check uses.
    import numpy as np

    from core.release.value import baseline_values
    crit = snap.project.criteria
    n, positives = len(preds), int(row["tp"] + row["fn"])
    nobody = (positives * crit.costs["fn"] + (n - positives) * crit.costs["tn"]) / n * 1000
    everyone = (positives * crit.costs["tp"] + (n - positives) * crit.costs["fp"]) / n * 1000
    assert snap.value.no_model == pytest.approx(max(nobody, everyone))
    gate_values, action = baseline_values(snap.champion, preds, crit)
    assert snap.value.no_model == pytest.approx(float(np.mean(gate_values)) * 1000)
    assert snap.value.baseline_name == f"no model ({action})"
    assert snap.value.previous is None  # the first champion has no predecessor
    # The leaderboard beside it names its own threshold.
    assert any("at 0.50" in c for c in snap.leaderboard.columns)


def test_decision_comes_with_a_reason_and_reigns_span_time(champion_ws):
    from core.share.dashboard import project_snapshot

    ws, trained = champion_ws
    snap = project_snapshot(ws, trained.demo_project_id, important_features=lambda ws_, run: ["tenure_months"])
    assert snap.decision.verdict in ("Ship", "Hold", "Roll back") and snap.decision.why.endswith(".")
    if any(k.is_ok is False for k in snap.kpis):
        assert snap.decision.verdict == "Hold"
    assert "gate did not pass" in " ".join(snap.decision.reasons) or snap.champion.gate is None or \
        snap.champion.gate.get("passed") is not False
    reigns = snap.champion_reigns()
    assert list(reigns["version"]) == ["v1"] and reigns["by"].iloc[0] == "ana"
    assert "gate overridden" in reigns["why"].iloc[0] and reigns["end"].iloc[0] >= reigns["start"].iloc[0]


def test_a_rehearsal_with_an_injected_failure_is_a_what_if_not_the_verdict(champion_ws):
    from core.launch import rehearsal as launch
    from core.launch.sim import RolloutSpec
    from core.project.projects import get_project
    from core.share.dashboard import project_snapshot
    from core.share.lifecycle import lifecycle_status

    ws, trained = champion_ws
    project = get_project(ws, trained.demo_project_id)
    contenders = launch.list_contenders(ws, project)
    champion = contenders[0]
    challenger = next(c for c in contenders if c.label.split(" ")[0] != champion.label.split(" ")[0]
                      and "Logistic" not in c.label) if "Logistic" in champion.label else \
        next(c for c in contenders if "Logistic" in c.label)
    spec = RolloutSpec("shadow", days=5, traffic_per_day=200, inject={"kind": "degrade", "day": 2, "amount": 0.5})
    launch.simulate_launch(ws, project, champion, challenger, launch.ReplaySource("dataset", dataset="churn_next_month"),
                           spec)
    snap = project_snapshot(ws, project.id, important_features=lambda ws_, run: ["tenure_months"])
    assert snap.simulation is None and len(snap.what_ifs) == 1
    assert "degrade injected from day 2" in snap.what_ifs[0].injected
    launch_step = next(s for s in lifecycle_status(ws, project.id) if s.key == "launch")
    assert "what-if" in launch_step.fact
