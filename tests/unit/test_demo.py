"""The demo story builds end to end from the sample data, once, and tells the story it promises."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory):
    from core.share.demo import build_demo
    from core.store.workspace import close_workspace
    from core.data.samples import open_workspace

    home = tmp_path_factory.mktemp("demo")
    ws = open_workspace(home, seed_samples=True)
    result = build_demo(ws)
    yield ws, result
    close_workspace(home)


def test_demo_builds_the_whole_story(demo_ws):
    from core.registry.versions import champion, registry_state

    ws, result = demo_ws
    assert len([r for r in ws.list_records("run", result.project_id) if not r.get("error")]) >= 4
    from core.data.batches import list_batches
    from core.monitor.policy import list_monitor_runs
    from core.project.projects import get_project
    from core.models.runs import list_runs
    from core.registry.versions import get_version, ledger
    from core.release.retrain import list_retrains

    project = get_project(ws, result.project_id)
    state = registry_state(ws, result.project_id)
    assert champion(ws, result.project_id).threshold != 0.5  # chosen to meet the launch rule, as an analyst would
    assert ws.list_records("drift_report", result.project_id)
    # month 2 and 3 arrive as batches; monitoring alerts on the drifted February batch
    assert [b.label for b in list_batches(ws, project)] == ["original", "2026-02", "2026-03"]
    feb = next(r for r in list_monitor_runs(ws, project.id) if r.batch_seq == 2)
    assert feb.status == "alert" and feb.check("data_drift").status == "alert"
    # the challenger retrained on February (the new regime) beats the champion on March, which neither saw, and passes
    # the gate unaided
    (item,) = list_retrains(ws, project.id)
    assert [b["seq"] for b in item.train_batches] == [2] and item.holdout_batch["seq"] == 3
    assert item.challenger_wins and item.holdout["ci"][0] > 0
    # month 1: the best model of the comparison passes the launch gate on its own, at a threshold that meets the
    # fairness target the dashboard shows
    first = next(e for e in ledger(ws, project.id) if e.action == "promote")
    v1 = get_version(ws, first.version_id)
    assert not first.override and first.gate["passed"] and not [c for c in first.gate["checks"]
                                                                 if c["status"] == "fail"]
    compared = [r for r in list_runs(ws, project.id, split_id=v1.split_id) if not r.error and not r.is_baseline]
    assert len(compared) == 4 and v1.run_id == max(compared, key=lambda r: r.validation_metrics["roc_auc"]).id
    assert _recall_gap(ws, v1) <= project.criteria.fairness_tolerance
    promoted = ledger(ws, project.id)[-1]
    assert promoted.action == "promote" and not promoted.override and state.champion == item.challenger_version_id
    from core.launch.rehearsal import list_simulations

    sims = list_simulations(ws, project.id)
    shipped, what_if = ([s for s in sims if bool(s.spec.inject) is w] for w in (False, True))
    assert shipped[0].decision == "Ship" and shipped[0].source.kind == "dataset"
    assert shipped[0].challenger.version_id == item.challenger_version_id
    assert what_if[0].decision == "Roll back" and what_if[0].challenger.label.startswith("What if")
    assert sims[0].id == what_if[0].id  # the what-if comes last, after the real promotion


def _recall_gap(ws, version) -> float:
    """The dashboard's fairness gap: the largest recall difference between groups, on validation at the threshold."""
    from core.evaluate.fairness import equal_opportunity_difference
    from core.project.projects import get_project
    from core.release.gate import version_predictions

    attrs = get_project(ws, version.project_id).criteria.sensitive_attributes
    preds = version_predictions(ws, version)
    groups = ws.frame(version.dataset_id, columns=attrs, row_ids=preds["_row"].tolist(), with_row_id=True)
    groups = preds[["_row"]].merge(groups, on="_row", how="left")
    return max(equal_opportunity_difference(preds["y_true"], preds["y_pred"], groups[a], version.positive_class)
               for a in attrs)


def test_running_the_demo_again_adds_nothing(demo_ws):
    from core.share.demo import build_demo

    ws, result = demo_ws
    before = {k: len(ws.list_records(k)) for k in ("run", "version", "ledger", "drift_report", "simulation", "batch",
                                                    "monitor_run", "retrain")}
    build_demo(ws)
    assert {k: len(ws.list_records(k)) for k in before} == before


def test_dashboard_and_report_tell_the_story(demo_ws):
    from core.share.dashboard import project_snapshot
    from core.share.report import build_report

    ws, result = demo_ws
    snap = project_snapshot(ws, result.project_id)
    labels = [k.label for k in snap.kpis]
    assert any(l.startswith("Recall") for l in labels) and any("Fairness gap" in l for l in labels)
    assert snap.value is not None and snap.value.model > snap.value.no_model and not snap.notes
    html = build_report(ws, result.project_id)
    assert "Aborted at step" in html and "Customer churn" in html


def test_the_first_champions_alerts_close_when_the_retrained_one_is_promoted(demo_ws):
    from core.commands.demo import _alerts_step
    from core.monitor.alertlog import list_alerts, open_alerts
    from core.registry.versions import ledger

    ws, result = demo_ws
    alerts = list_alerts(ws, result.project_id)
    promoted = ledger(ws, result.project_id)[-1]
    assert alerts and open_alerts(ws, result.project_id) == []  # the dashboard shows no alert about a retired model
    assert {(a["model"], a["state"], a["closed_why"], a["closed_by"], a["closed_at"]) for a in alerts} == {
        ("v1", "superseded", "superseded by v2's promotion", promoted.by, promoted.at)}
    assert _alerts_step(ws, result.project_id) == (f"{len(alerts)} alerts in the log, 0 open ({len(alerts)} on v1 "
                                                   "superseded by v2's promotion, kept in the log)")
