"""Monitoring and Retrain pages: append a batch (and see a refused one's differences), run the checks, acknowledge an
alert, retrain and decide; viewers only read."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import assert_clean, open_page, served_from

ROOT = Path(__file__).resolve().parents[2]
MONITOR = str(ROOT / "pages" / "15_monitor.py")
RETRAIN = str(ROOT / "pages" / "16_retrain.py")
FEB = ROOT / "sample_data" / "churn_2026_02.csv"
MAR = ROOT / "sample_data" / "churn_2026_03.csv"


@pytest.fixture
def champ(trained_workspace, tmp_path, monkeypatch):
    from core.release.actions import promote

    t = trained_workspace(["logreg"], thresholds={"logreg": 0.3}, register=("logreg",), home=tmp_path / "workspace")
    promote(t.ws, t.versions["logreg"], by="test", override_reason="test champion")
    with served_from(t.home, monkeypatch):
        yield t


def test_monitoring_page_runs_checks_and_acknowledges_alerts(champ):
    from core.data.batches import append_batch
    from core.monitor.alertlog import open_alerts
    from core.monitor.policy import list_monitor_runs

    ws, project = champ.ws, champ.project
    at = open_page(MONITOR, champ, timeout=120)
    assert_clean(at)
    assert at.metric[0].value == "Never run"
    append_batch(ws, project, FEB, label="2026-02")
    at.run()
    at.button(key="monitor.run").click().run()
    assert_clean(at)
    (run,) = list_monitor_runs(ws, project.id)
    assert run.batch_seq == 2 and run.status == "alert"
    assert at.metric[0].value == "ALERT" and int(at.metric[1].value) == len(run.alerts)
    matrix = at.dataframe[1].value
    assert list(matrix["batch"]) == ["2 · 2026-02"] and "ALERT" in matrix["Data drift"].tolist()
    at.text_input(key="monitor.ack_by").input("Dana")
    at.text_input(key="monitor.ack_note").input("price rise; retraining")
    submit = next(b for b in at.button if b.label == "Acknowledge")
    submit.click().run()
    assert_clean(at)
    assert len(open_alerts(ws, project.id)) == len(run.alerts) - 1


def test_retrain_page_retrains_and_promotes_or_holds(champ):
    from core.data.batches import append_batch
    from core.registry.versions import registry_state
    from core.release.retrain import list_retrains

    ws, project = champ.ws, champ.project
    for path, label in ((FEB, "2026-02"), (MAR, "2026-03")):
        append_batch(ws, project, path, label=label, as_of=f"{label}-01")
    at = open_page(RETRAIN, champ, timeout=240)
    assert_clean(at)
    at.radio(key="retrain.window").set_value("latest").run()
    assert any("Batch 3 · 2026-03" in m.value for m in at.markdown)
    at.text_input(key="retrain.by").input("Dana").run()
    at.button(key="retrain.go").click().run()
    assert_clean(at)
    (r,) = list_retrains(ws, project.id)
    assert [b["seq"] for b in r.train_batches] == [2] and r.holdout_batch["seq"] == 3
    at.button(key="retrain.keep").click().run()  # refused without a reason
    assert at.error and list_retrains(ws, project.id)[0].decision is None
    at.text_area(key="retrain.reason").input("one more month").run()
    at.button(key="retrain.keep").click().run()
    assert list_retrains(ws, project.id)[0].decision["action"] == "keep"
    assert registry_state(ws, project.id).challenger == r.challenger_version_id
    # the history names what the gain is: the primary metric on the holdout, its direction and interval
    history = at.dataframe[-1].value
    assert history["Decision"].tolist() == ["kept testing by analyst"]
    low, high = r.holdout["ci"]
    assert history["Recall gain (95 % CI)"].iloc[0] == f"{r.holdout['gain']:+.3f} ({low:+.3f} to {high:+.3f})"
    assert history["Judged on"].tolist() == ["batch 3 · 2026-03"] and history["Models"].tolist() == ["v1 → v2"]
    assert any(c.value.startswith("Gain: Recall on the holdout batch") and "challenger − champion" in c.value
               for c in at.caption)


def test_viewers_see_the_timeline_but_cannot_change_it(champ):
    at = open_page(MONITOR, champ, timeout=120, role="viewer")
    assert not at.exception
    assert not [b for b in at.button if b.key in ("monitor.append", "monitor.run")]
    assert at.dataframe[0].value["batch"].tolist() == [1]


def test_the_drift_pages_window_opens_retrain_filled_in(champ):
    from core.data.batches import append_batch

    ws, project = champ.ws, champ.project
    for path, label in ((FEB, "2026-02"), (MAR, "2026-03")):
        append_batch(ws, project, path, label=label, as_of=f"{label}-01")
    at = open_page(RETRAIN, champ, timeout=120,
                   **{"drift.retrain_window": {"start": "2026-02-01T00:00:00", "end": "2026-03-01T00:00:00"}})
    assert_clean(at)
    assert at.radio(key="retrain.window").value == "rolling"
    assert at.number_input(key="retrain.days").value == 28  # from the window's start to March's batch
    assert any("Batch 2 · 2026-02" in m.value and "Batch 3 · 2026-03" in m.value for m in at.markdown)


def test_monitoring_page_says_a_new_champion_is_not_checked_yet(trained_workspace, tmp_path, monkeypatch):
    from core.data.batches import append_batch
    from core.monitor.policy import list_monitor_runs, run_monitor
    from core.release.actions import promote

    t = trained_workspace(["logreg", "tree"], register=("logreg", "tree"), home=tmp_path / "workspace")
    with served_from(t.home, monkeypatch):
        ws, project = t.ws, t.project
        promote(ws, t.versions["logreg"], by="test", override_reason="first champion")
        run_monitor(ws, project, append_batch(ws, project, FEB, label="2026-02").batch)
        promote(ws, t.versions["tree"], by="test", override_reason="second champion")
        at = open_page(MONITOR, t, timeout=120)
        assert_clean(at)
        assert at.metric[0].label == "Current status of v2" and at.metric[0].value == "Not checked"
        assert "has not been checked yet" in at.warning[0].value and "v1, an earlier champion" in at.warning[0].value
        assert at.dataframe[1].value["champion"].tolist() == ["earlier champion"]
        # v1's alerts closed when v2 was promoted: none open on v2, each still in the log saying why, by whom
        assert at.metric[1].label == "Open alerts on v2" and int(at.metric[1].value) == 0
        log = at.dataframe[2].value
        assert len(log) == len(list_monitor_runs(ws, project.id)[0].alerts) > 0
        assert list(log.columns[:4]) == ["at", "model", "title", "status"]
        assert set(log["status"]) == {"superseded by v2's promotion"} and set(log["closed_by"]) == {"test"}
        assert set(log["model"]) == {"v1"} and not any(s.key == "monitor.ack" for s in at.selectbox)
        assert not any("Retrain the champion" in str(getattr(p, "label", "")) for p in at.get("page_link"))
        at.button(key="monitor.run").click().run()
        assert_clean(at)
        assert len(list_monitor_runs(ws, project.id)) == 2
        assert at.metric[0].value in ("ALERT", "Healthy") and not at.warning
        assert at.dataframe[1].value["champion"].tolist() == ["earlier champion", "current champion"]


def test_retrain_page_saves_the_projects_retrain_settings(champ):
    from core.data.batches import append_batch
    from core.release.retrain_policy import RetrainPolicy, get_retrain_policy, save_retrain_policy

    ws, project = champ.ws, champ.project
    append_batch(ws, project, FEB, label="2026-02", as_of="2026-02-01")
    save_retrain_policy(ws, project.id, RetrainPolicy(window="rolling", rolling_days=90))
    at = open_page(RETRAIN, champ, timeout=120)
    assert_clean(at)
    assert at.radio(key="retrain.window").value == "rolling" and at.number_input(key="retrain.days").value == 90
    at.radio(key="retrain.window").set_value("all")
    at.radio(key="retrain.on_pass").set_value("promote")
    at.button(key="retrain.save_settings").click().run()
    assert_clean(at)
    assert get_retrain_policy(ws, project.id) == RetrainPolicy(window="all", rolling_days=90, on_pass="promote")
    assert "Retrain settings saved." in [s.value for s in at.success]


def test_monitoring_page_schedules_the_policy_inside_the_app(champ):
    from core.monitor.policy import get_policy

    at = open_page(MONITOR, champ, timeout=120)
    assert any("No app server is taking queued" in c.value for c in at.caption)  # a page test has no server
    at.checkbox(key="monitor.policy.in_app").check()
    at.text_input(key="monitor.policy.schedule").input("15 7 * * 1-5")
    at.button(key="monitor.policy.save").click().run()
    assert_clean(at)
    policy = get_policy(champ.ws, champ.project_id)
    assert policy.run_in_app and policy.schedule == "15 7 * * 1-5"
    assert any("Scheduled in the app (15 7 * * 1-5): next run" in c.value for c in at.caption)
    at.text_input(key="monitor.policy.schedule").input("75 7 * * *")
    at.button(key="monitor.policy.save").click().run()
    assert any("minute field '75'" in e.value for e in at.error)
    assert get_policy(champ.ws, champ.project_id).schedule == "15 7 * * 1-5"  # the bad one was not saved
