"""Monitoring status is about the current champion: after a promotion it says the new champion is not checked yet,
and the timeline marks which champion each run checked."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FEB = ROOT / "sample_data" / "churn_2026_02.csv"
MAR = ROOT / "sample_data" / "churn_2026_03.csv"


def test_status_follows_the_champion_through_promotion_and_rollback(trained_workspace):
    from core.data.batches import append_batch
    from core.monitor.loop_views import batch_timeline, health_matrix, monitoring_status
    from core.monitor.policy import MonitorPolicy, run_monitor, save_policy
    from core.release.actions import promote, rollback

    tw = trained_workspace(models=("logreg", "tree"), register=("logreg", "tree"))
    try:
        ws, project = tw.ws, tw.project
        save_policy(ws, project.id, MonitorPolicy(checks={"data_drift": True, "data_quality": False,
                                                          "prediction_drift": True, "performance": True,
                                                          "fairness": False}))
        assert monitoring_status(ws, project)["status"] == "never run"
        no_champ = run_monitor(ws, project)  # before any champion: checks batch 1's drift only
        status = monitoring_status(ws, project)
        assert status["checked"] and status["champion"] is None and status["run_id"] == no_champ.id
        promote(ws, tw.versions["logreg"], by="test", override_reason="first champion")
        v1 = monitoring_status(ws, project)
        assert v1["status"] == "not checked" and not v1["checked"] and v1["previous"]["run_id"] == no_champ.id
        feb = append_batch(ws, project, FEB, label="2026-02").batch
        first = run_monitor(ws, project, feb)
        status = monitoring_status(ws, project)
        assert status["checked"] and status["status"] == first.status == "alert" and status["model"] == "v1"
        assert status["previous"] is None and status["unchecked_batches"] == []

        promote(ws, tw.versions["tree"], by="test", override_reason="second champion")
        status = monitoring_status(ws, project)
        assert status["status"] == "not checked" and status["champion"] == "v2" and status["at"] is None
        assert status["previous"]["run_id"] == first.id and status["previous"]["model"] == "v1"
        assert status["alerting_checks"] == []  # v1's alerts are not v2's
        assert health_matrix(ws, project.id)["champion"].tolist() == ["none", "earlier"]
        assert batch_timeline(ws, project)["monitoring"].tolist()[1] == "alert · v1, earlier champion"

        second = run_monitor(ws, project, feb)
        status = monitoring_status(ws, project)
        assert status["checked"] and status["run_id"] == second.id and status["model"] == "v2"
        matrix = health_matrix(ws, project.id)
        assert matrix["model"].tolist() == ["—", "v1", "v2"]
        assert matrix["champion"].tolist() == ["none", "earlier", "current"]
        assert batch_timeline(ws, project)["monitoring"].tolist()[1] == second.status
        append_batch(ws, project, MAR, label="2026-03")
        assert monitoring_status(ws, project)["unchecked_batches"] == [3]

        rollback(ws, project.id, by="test", why="v2 misbehaves")
        status = monitoring_status(ws, project)
        assert status["checked"] and status["run_id"] == first.id and status["model"] == "v1"
        assert status["previous"]["run_id"] == second.id  # a newer run checked v2, no longer the champion
        assert health_matrix(ws, project.id)["champion"].tolist() == ["none", "current", "earlier"]
    finally:
        tw.close()
