"""Retrain as one action: the champion's recipe on a window of batches, judged with the champion on a fresh batch
neither saw, gated, then promoted, kept or discarded, and rolled back to the previous champion."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import SpecInvalid

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def loop_home(trained_workspace, tmp_path_factory):
    from core.data.batches import append_batch
    from core.release.actions import promote

    tw = trained_workspace(models=("logreg",), thresholds={"logreg": 0.3}, register=("logreg",))
    ws, project = tw.ws, tw.project
    promote(ws, tw.versions["logreg"], by="test", override_reason="test champion")
    for month in ("02", "03"):
        append_batch(ws, project, ROOT / "sample_data" / f"churn_2026_{month}.csv", label=f"2026-{month}",
                     as_of=f"2026-{month}-01")
    tw.close()
    return tw


@pytest.fixture
def tw(loop_home, tmp_path):
    copy = loop_home.copy_to(tmp_path / "ws")
    yield copy
    copy.close()


def test_windows_pick_batches_before_the_fresh_holdout(tw):
    from core.release.retrain import RetrainSpec, plan_retrain

    ws, project = tw.ws, tw.project
    assert [b.seq for b in plan_retrain(ws, project, RetrainSpec("all")).train] == [1, 2]
    assert [b.seq for b in plan_retrain(ws, project, RetrainSpec("latest", latest_n=1)).train] == [2]
    plan = plan_retrain(ws, project, RetrainSpec("rolling", rolling_days=40))
    assert [b.seq for b in plan.train] == [2] and plan.holdout.seq == 3 and plan.receipt["model"]["key"] == "logreg"
    with pytest.raises(SpecInvalid, match="window"):
        plan_retrain(ws, project, RetrainSpec("forever"))
    with pytest.raises(SpecInvalid, match="not a fresh holdout"):
        plan_retrain(ws, project, RetrainSpec("all", holdout_batch=f"bat_{project.id}_0001"))


def test_retrain_gates_the_challenger_on_the_same_fresh_batch_then_decides_and_rolls_back(tw):
    from core.registry.versions import get_version, ledger, registry_state, version_batches
    from core.release.actions import rollback
    from core.release.retrain import RetrainSpec, decide_retrain, pending_challenger, retrain

    ws, project = tw.ws, tw.project
    old = registry_state(ws, project.id).champion
    r = retrain(ws, project, RetrainSpec("latest", latest_n=1), by="ana")
    new = get_version(ws, r.challenger_version_id)
    assert r.champion_version_id == old and new.model_key == "logreg"
    assert version_batches(ws, new) == [f"bat_{project.id}_0002"]  # trained on February only
    assert version_batches(ws, get_version(ws, old)) == [f"bat_{project.id}_0001"]
    h = r.holdout
    assert h["rows"] == 3000 and h["batch"] == "Batch 3 · 2026-03" and h["metric"] == "recall"
    assert h["challenger"]["roc_auc"] > h["champion"]["roc_auc"] + 0.05  # February's model ranks March better
    assert h["gain"] == pytest.approx(h["challenger"]["recall"] - h["champion"]["recall"])
    assert h["ci"][0] <= h["gain"] <= h["ci"][1]
    assert r.challenger_wins == (h["gain"] >= h["min_improvement"] and h["ci"][0] > 0)
    assert {c["key"] for c in r.gate["checks"]} >= {"primary", "final_check", "improvement", "drift"}
    drift = next(c for c in r.gate["checks"] if c["key"] == "drift")
    assert drift["status"] == "pass"  # March looks like February, the challenger's training data
    assert registry_state(ws, project.id).challenger == new.id and pending_challenger(ws, project.id).id == r.id

    with pytest.raises(SpecInvalid, match="Write why"):
        decide_retrain(ws, r.id, "keep", by="ana")
    kept = decide_retrain(ws, r.id, "keep", by="ana", reason="one more month of canary first")
    assert kept.decision["action"] == "keep" and pending_challenger(ws, project.id).id == r.id
    promoted = decide_retrain(ws, r.id, "promote", by="ana", reason="wins on March",
                              override_reason=None if r.gate_passed else "test: gate checks outside this test")
    assert promoted.decision["action"] == "promote" and registry_state(ws, project.id).champion == new.id
    assert pending_challenger(ws, project.id) is None
    with pytest.raises(SpecInvalid, match="already decided"):
        decide_retrain(ws, r.id, "discard", by="ana", reason="late")
    rollback(ws, project.id, by="ana", why="what if March was a fluke")
    assert registry_state(ws, project.id).champion == old and ledger(ws, project.id)[-1].action == "rollback"


def test_discard_archives_the_challenger_with_its_reason(tw):
    from core.registry.versions import registry_state
    from core.release.retrain import RetrainSpec, decide_retrain, retrain

    ws, project = tw.ws, tw.project
    r = retrain(ws, project, RetrainSpec("latest", latest_n=1), by="ana")
    out = decide_retrain(ws, r.id, "discard", by="bo", reason="February was a promotion month")
    assert out.decision == {**out.decision, "action": "discard", "by": "bo", "reason": "February was a promotion month"}
    assert r.challenger_version_id in registry_state(ws, project.id).archived


def test_retrain_needs_a_champion_and_two_labelled_batches(trained_workspace):
    from core.release.retrain import RetrainSpec, plan_retrain

    tw = trained_workspace(models=("logreg",), register=("logreg",))
    try:
        with pytest.raises(SpecInvalid, match="no champion"):
            plan_retrain(tw.ws, tw.project, RetrainSpec())
    finally:
        tw.close()


def test_cli_retrain_and_decide(tw, capsys):
    import json

    from core.cli import main

    tw.close()
    home = str(tw.home)
    assert main(["--home", home, "retrain", "Customer churn", "--window", "latest", "--latest", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["train_batches"] == [2] and out["holdout_batch"] == 3 and "neither model saw" in out["holdout"]
    assert main(["--home", home, "decide", "Customer churn", "keep"]) == 2
    assert "Write why" in capsys.readouterr().err
    assert main(["--home", home, "decide", "Customer churn", "discard", "--reason", "not yet", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["decision"]["action"] == "discard"
    assert main(["--home", home, "decide", "Customer churn", "promote"]) == 2
    assert "no retrained challenger" in capsys.readouterr().err
