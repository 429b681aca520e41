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
    state = registry_state(ws, result.project_id)
    assert state.champion and state.challenger and state.champion != state.challenger
    assert champion(ws, result.project_id).threshold != 0.5  # chosen to meet the launch rule, as an analyst would
    assert ws.list_records("drift_report", result.project_id)
    sim = ws.list_records("simulation", result.project_id)[0]
    assert sim["strategy"] == "canary" and sim["verdict"]["decision"] == "Roll back"


def test_running_the_demo_again_adds_nothing(demo_ws):
    from core.share.demo import build_demo

    ws, result = demo_ws
    before = {k: len(ws.list_records(k)) for k in ("run", "version", "ledger", "drift_report", "simulation")}
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
