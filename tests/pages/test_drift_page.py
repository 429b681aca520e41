"""The Drift page: the demo check with verdict and Evidently's report, over time, what-if, refusals, viewer mode."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest
from tests.helpers import assert_clean as _ok, open_page

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "11_drift.py")


def _app(seeded, **state) -> AppTest:
    return open_page(PAGE, seeded, timeout=90, **state)


def test_defaults_are_the_demo_train_split_against_next_month(seeded_workspace):
    at = _app(seeded_workspace)
    _ok(at)
    ws = seeded_workspace.ws
    assert at.radio(key="drift.reference.kind").value == "split"
    assert at.selectbox(key="drift.reference.part").value == "train"
    assert at.radio(key="drift.current.kind").value == "dataset"
    assert at.selectbox(key="drift.current.dataset_dataset").value == ws.dataset("churn_next_month").id
    assert any("No saved drift report yet" in i.value for i in at.info)


def test_check_drift_shows_verdict_table_and_evidently_report(seeded_workspace):
    at = _app(seeded_workspace)
    at.button(key="drift.run").click().run()
    _ok(at)
    markdown = [m.value for m in at.markdown]
    assert any("Some columns changed" in m or "Drift detected" in m for m in markdown)
    assert any("monthly" in m and "changed" in m for m in markdown)  # the one-line verdict names it
    table = at.dataframe[0].value.set_index("column")
    assert table.loc["monthly_charges", "drift"] == "yes"
    assert table.loc["monthly_charges", "effect"].startswith("mean moved from 5")
    assert table.loc["customer_id", "drift"] == "—" and "identifier" in table.loc["customer_id", "notes"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Drifted columns"].endswith("of 13") and metrics["Rows compared"] == "4,200 vs 2,000"
    assert any(b.proto.label == "Download the report (HTML)" for b in at.get("download_button"))
    from core.monitor.reports import list_drift_reports, report_html

    [saved] = list_drift_reports(seeded_workspace.ws, seeded_workspace.demo_project_id)
    assert "monthly_charges" in saved.verdict and "<html" in report_html(seeded_workspace.ws, saved).lower()


def test_options_beyond_evidently_are_labelled_and_applied(seeded_workspace):
    at = _app(seeded_workspace)
    assert "beyond Evidently" in at.checkbox(key="drift.bh").label
    assert "beyond Evidently" in at.checkbox(key="drift.calibrated").label
    at.checkbox(key="drift.evidently").uncheck()
    at.checkbox(key="drift.bh").check()
    at.button(key="drift.run").click().run()
    _ok(at)
    table = at.dataframe[0].value
    assert "p_value_bh" in table.columns
    assert any("Benjamini-Hochberg" in c.value for c in at.caption)


def test_mismatched_current_set_is_refused_in_words(seeded_workspace):
    ws = seeded_workspace.ws
    at = _app(seeded_workspace)
    at.selectbox(key="drift.current.dataset_dataset").select(ws.dataset("house_prices").id)
    at.checkbox(key="drift.evidently").uncheck()
    at.button(key="drift.run").click().run()
    assert not at.exception
    assert any("current set has no column" in e.value for e in at.error)


def test_over_time_marks_windows_and_what_if_fires_a_test(seeded_workspace):
    at = _app(seeded_workspace)
    at.selectbox(key="drift.time.column").select("observation_month")
    at.button(key="drift.time.run").click().run()
    _ok(at)
    frames = [d.value for d in at.dataframe]
    windows = next(f for f in frames if "drift_share" in f.columns and "flagged" in f.columns)
    assert len(windows) == 12
    at.selectbox(key="drift.whatif.numeric").select("satisfaction_score").run()
    at.slider(key="drift.whatif.delta.satisfaction_score").set_value(2.0).run()
    _ok(at)
    whatif = at.dataframe[-1].value.set_index("column")
    assert whatif.loc["satisfaction_score", "drift"] == "yes"
    assert any("Simulated" in c.value for c in at.caption)


def test_viewer_sees_saved_reports_without_run_controls(seeded_workspace):
    from core.monitor.reports import SourceSpec, run_check, save_drift_report
    from core.split.splitting import list_splits

    ws = seeded_workspace.ws
    split = list_splits(ws, seeded_workspace.demo_project_id)[0]
    check = run_check(ws, SourceSpec("split", split.dataset_id, split.id, "train"),
                      SourceSpec("dataset", ws.dataset("churn_next_month").id))
    save_drift_report(ws, check, seeded_workspace.demo_project_id, by="analyst")
    at = _app(seeded_workspace, role="viewer")
    _ok(at)
    keys = {b.key for b in at.button}
    assert "drift.run" not in keys and "drift.upload.go" not in keys and "drift.time.run" not in keys
    assert not at.get("file_uploader")
    headline = check.result.verdict.split(":")[0]          # "Drift detected", "Mostly stable" or "No drift"
    assert headline in ("Drift detected", "Mostly stable", "No drift")
    assert any(headline in m.value for m in at.markdown)
    assert at.dataframe[0].value["who"].tolist() == ["analyst"]
