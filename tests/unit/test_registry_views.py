"""The Registry page's rules and tables (core.release.views, core.release.charts) on real registered versions."""

from __future__ import annotations

import pytest

from core.models.runs import list_runs
from core.project.criteria import metric_label
from core.registry.versions import get_version, ledger, list_versions, registry_state
from core.release import charts
from core.release.actions import archive_version, promote, register_run, set_challenger
from core.release.gate import GateResult
from core.release.modelcard import champion_timeline
from core.release.views import (GATE_BADGES, VersionActions, comparison_table, default_version, gate_summary,
                                ledger_table, metric_trend, registrable_runs, versions_table)


@pytest.fixture
def registry(trained_workspace):
    """The demo project with a baseline, a logistic regression and a tree; the first two registered (v1, v2)."""
    trained = trained_workspace(("dummy", "logreg", "tree"), register=("dummy", "logreg"))
    yield trained
    trained.close()


def _state(t):
    return registry_state(t.ws, t.project_id)


def test_only_unregistered_working_runs_can_be_registered(registry):
    ws = registry.ws
    runs, versions = list_runs(ws, registry.project_id), list_versions(ws, registry.project_id)
    assert [r.model_key for r in registrable_runs(runs, versions)] == ["tree"]
    register_run(ws, registry.runs["tree"], by="test")
    assert registrable_runs(list_runs(ws, registry.project_id), list_versions(ws, registry.project_id)) == []


def test_actions_follow_the_aliases(registry):
    ws, v1, v2 = registry.ws, registry.versions["dummy"], registry.versions["logreg"]
    fresh = VersionActions.of(_state(registry), v2)
    assert fresh == VersionActions(can_propose=True, can_challenge=True, can_archive=True, archived=False)
    assert default_version(_state(registry), list_versions(ws, registry.project_id)) == v2  # newest first

    promote(ws, v1, by="test", override_reason="baseline as a stand-in")
    assert VersionActions.of(_state(registry), v1) == VersionActions(False, False, False, False)
    set_challenger(ws, v2, by="test")
    state = _state(registry)
    assert VersionActions.of(state, v2) == VersionActions(can_propose=True, can_challenge=False, can_archive=True,
                                                          archived=False)
    assert default_version(state, list_versions(ws, registry.project_id)) == v2

    tree = register_run(ws, registry.runs["tree"], by="test").id
    archive_version(ws, tree, by="test")
    state = _state(registry)
    assert VersionActions.of(state, tree) == VersionActions(can_propose=False, can_challenge=False, can_archive=True,
                                                            archived=True)


def test_versions_and_ledger_tables(registry):
    ws, v1 = registry.ws, registry.versions["dummy"]
    promote(ws, v1, by="Dana", override_reason="pilot")
    versions, entries = list_versions(ws, registry.project_id), ledger(ws, registry.project_id)
    metric = registry.project.criteria.primary_metric
    table = versions_table(versions, _state(registry), entries, metric).set_index("Version")
    row = table.loc[get_version(ws, v1).label]
    assert row["Aliases"] == "champion"
    assert row["Launch gate"] in (GATE_BADGES["overridden"], GATE_BADGES["passed"])
    assert table.loc[get_version(ws, registry.versions["logreg"]).label, "Launch gate"] == GATE_BADGES["not run"]
    assert any(c.endswith("(test, final check)") for c in table.columns)
    log = ledger_table(entries)
    assert list(log["#"]) == sorted(log["#"], reverse=True) and log.iloc[0]["By"] == "Dana"
    assert log.iloc[0]["Gate"] in ("passed", "failed, overridden")
    gate = GateResult.from_dict(get_version(ws, v1).gate)
    summary = gate_summary(get_version(ws, v1), gate, {v.id: v for v in versions})
    assert summary.startswith(f"**{get_version(ws, v1).label} ") and "evaluated" in summary and "UTC" in summary


def test_comparison_trend_and_figures(registry):
    ws = registry.ws
    versions = list_versions(ws, registry.project_id)
    metric = registry.project.criteria.primary_metric
    ids = [v.id for v in versions]
    side = comparison_table(ws, registry.project_id, ids)
    assert list(side["metric"]) == [metric_label(m) for m in sorted({m for v in versions for m in v.metrics})]
    assert list(side.columns) == ["metric", *[v.label for v in sorted(versions, key=lambda v: v.number)]]
    trend = metric_trend(versions, ids, metric)
    assert list(trend["version"]) == sorted(v.number for v in versions)
    assert set(trend["set"]) == {"validation"}  # no final check before a gate ran
    fig = charts.metric_trend_figure(trend, metric)
    assert fig.layout.xaxis.dtick == 1 and len(fig.data) == 1
    assert charts.champion_timeline_figure(champion_timeline(ws, registry.project_id)) is None
    promote(ws, registry.versions["dummy"], by="test", override_reason="pilot")
    versions = list_versions(ws, registry.project_id)
    assert "test (final check)" in set(metric_trend(versions, ids, metric)["set"])
    fig = charts.champion_timeline_figure(champion_timeline(ws, registry.project_id))
    assert fig is not None and fig.layout.title.text == "Which version was champion when"


def test_archived_versions_are_not_offered_for_scoring(registry):
    from core.release.views import scorable_versions

    ws, v1, v2 = registry.ws, registry.versions["dummy"], registry.versions["logreg"]
    assert [v.id for v in scorable_versions(list_versions(ws, registry.project_id))] == [v2, v1]
    archive_version(ws, v1, by="test")
    assert [v.id for v in scorable_versions(list_versions(ws, registry.project_id))] == [v2]
