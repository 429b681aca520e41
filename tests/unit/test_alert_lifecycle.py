"""Alerts close when the model they are about stops being champion ("superseded", with the promotion's who and when,
still in the log), an acknowledgement closes one by hand, and an alert on the live champion stays open and still
moves the dashboard's decision."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FEB = ROOT / "sample_data" / "churn_2026_02.csv"


def _run(version_id, seq, started="2026-01-01T10:00:00"):
    from core.monitor.policy import MonitorRun

    return MonitorRun("mon_1", "p", "b2", 2, "feb", version_id, "v?", "alert", (), (), started, started,
                      ledger_seq=seq)


def _entry(seq, action, version, after, at="2026-01-01T11:00:00"):
    from core.registry.versions import LedgerEntry

    return LedgerEntry(seq, action, f"ver_{version}", version, "ana", "why", at, champion_after=after)


def test_the_first_champion_change_after_a_run_supersedes_its_alerts():
    from core.monitor.alertlog import superseding_entry

    entries = [_entry(1, "register", 1, None), _entry(2, "promote", 1, "ver_1"), _entry(3, "register", 2, "ver_1"),
               _entry(4, "challenger", 2, "ver_1"), _entry(5, "promote", 2, "ver_2"),
               _entry(6, "rollback", 1, "ver_1")]
    assert superseding_entry(_run("ver_1", 2), entries).seq == 5  # v2's promotion, not the register or challenger
    assert superseding_entry(_run("ver_1", 4), entries).seq == 5
    assert superseding_entry(_run("ver_2", 5), entries).seq == 6  # the rollback replaced v2
    assert superseding_entry(_run("ver_1", 6), entries) is None  # v1 serves again and was checked since: open
    assert superseding_entry(_run(None, 0), entries).seq == 2  # raised before any champion: the first promotion
    # runs saved before the ledger position was kept compare times; the same second counts as after
    old = _run("ver_1", None, started="2026-01-01T11:00:00")
    assert superseding_entry(old, entries).seq == 5
    assert superseding_entry(old, [_entry(5, "promote", 2, "ver_2", at="2026-01-01T10:59:59")]) is None


def test_a_promotion_closes_the_old_champions_alerts_and_the_live_ones_still_count(trained_workspace):
    from core.data.batches import append_batch
    from core.errors import SpecInvalid
    from core.monitor.alertlog import acknowledge_alert, list_alerts, open_alerts
    from core.monitor.loop_views import alert_table, monitoring_status
    from core.monitor.policy import run_monitor
    from core.registry.versions import ledger
    from core.release.actions import promote, rollback
    from core.share.dashboard import decide, project_snapshot
    from core.share.loop import alert_lines

    tw = trained_workspace(models=("logreg", "tree"), register=("logreg", "tree"))
    try:
        ws, project = tw.ws, tw.project

        def snapshot():
            return project_snapshot(ws, project.id, important_features=lambda ws_, run: ["tenure_months"])

        promote(ws, tw.versions["logreg"], by="ana", override_reason="first champion")
        feb = append_batch(ws, project, FEB, label="2026-02").batch
        first = run_monitor(ws, project, feb, by="cron")
        assert first.status == "alert" and len(first.alerts) >= 2 and first.ledger_seq == len(ledger(ws, project.id))
        assert {a["id"] for a in open_alerts(ws, project.id)} == {a["id"] for a in first.alerts}
        on_v1 = decide(snapshot())
        assert on_v1.verdict != "Ship" and any("batch 2 · 2026-02" in r for r in on_v1.reasons)
        acked = first.alerts[0]["id"]
        acknowledge_alert(ws, project.id, acked, "ana", "price rise")

        entry = promote(ws, tw.versions["tree"], by="bo", override_reason="second champion")
        alerts = {a["id"]: a for a in list_alerts(ws, project.id)}
        assert set(alerts) == {a["id"] for a in first.alerts}  # nothing deleted
        assert alerts[acked]["state"] == "acknowledged" and alerts[acked]["closed_by"] == "ana"
        for a in first.alerts[1:]:
            closed = alerts[a["id"]]
            assert closed["state"] == "superseded" and closed["closed_why"] == "superseded by v2's promotion"
            assert closed["closed_by"] == "bo" and closed["closed_at"] == entry.at and closed["model"] == "v1"
        assert open_alerts(ws, project.id) == []
        status = monitoring_status(ws, project)
        assert status["open_alerts"] == 0 and status["superseded_alerts"] == len(first.alerts) - 1
        assert set(alert_table(ws, project.id)["status"]) == {"acknowledged", "superseded by v2's promotion"}
        with pytest.raises(SpecInvalid, match="already closed: superseded by v2's promotion"):
            acknowledge_alert(ws, project.id, first.alerts[1]["id"], "cy")
        snap = snapshot()
        assert snap.loop.open_alerts == () and snap.loop.superseded == len(first.alerts) - 1
        assert "0 open alerts (" in snap.loop.sentence and "closed when their model was replaced" in \
            snap.loop.alerts_caption
        assert not any("batch 2" in r for r in decide(snap).reasons)  # v1's findings are not v2's

        # the live champion's own alerts are open and move the decision, as before
        second = run_monitor(ws, project, feb, by="cron")
        assert second.version_label == "v2" and second.alerts
        assert {a["id"] for a in open_alerts(ws, project.id)} == {a["id"] for a in second.alerts}
        snap = snapshot()
        assert [line.split(" (model ")[1][:2] for line in alert_lines(snap.loop)] == ["v2"] * min(6, len(second.alerts))
        on_v2 = decide(snap)
        assert on_v2.verdict != "Ship" and any("batch 2 · 2026-02" in r and "v2" in r for r in on_v2.reasons)

        # a rollback closes v2's; v1's stay closed (it is checked afresh), and the log keeps all of them
        rollback(ws, project.id, by="cy", why="v2 misses recall")
        alerts = {a["id"]: a for a in list_alerts(ws, project.id)}
        assert len(alerts) == len(first.alerts) + len(second.alerts)
        assert {alerts[a["id"]]["closed_why"] for a in second.alerts} == {"superseded by the rollback to v1"}
        assert {alerts[a["id"]]["closed_by"] for a in second.alerts} == {"cy"}
        assert {alerts[a["id"]]["state"] for a in first.alerts[1:]} == {"superseded"}
        assert open_alerts(ws, project.id) == []
    finally:
        tw.close()
