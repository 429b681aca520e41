"""The dashboard's loop section and key results: batches over time, drift and measured quality per batch with
intervals that match the rows, champions with the batches they served, open alerts, the challenger, and a scoped
viewer who sees only its own project's loop."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
FEB = ROOT / "sample_data" / "churn_2026_02.csv"


@pytest.fixture(scope="module")
def loop_ws(trained_workspace):
    """The demo project (logreg champion at 0.3, February appended and monitored) and a second project with its own
    monitored batch, in one workspace."""
    from core.data.batches import append_batch
    from core.data.ingest import add_frame
    from core.monitor.policy import run_monitor
    from core.project.projects import create_project
    from core.release.actions import promote

    tw = trained_workspace(models=("logreg",), thresholds={"logreg": 0.3}, register=("logreg",))
    ws, project = tw.ws, tw.project
    promote(ws, tw.versions["logreg"], by="ana", why="First launch", override_reason="test champion")
    feb = append_batch(ws, project, FEB, label="2026-02", by="ana", as_of="2026-02-01").batch
    run = run_monitor(ws, project, feb, by="cron")
    churn = ws.frame(project.dataset_id)
    other_ds = add_frame(ws, "other_churn", churn)
    other = create_project(ws, "Other team's churn", other_ds.id, project.target, problem="Someone else's")
    shifted = churn.sample(1500, random_state=1)
    for column in ("monthly_charges", "total_charges", "tenure_months", "support_calls", "satisfaction_score"):
        if column in shifted:
            shifted[column] = (shifted[column] * 2 + 5).astype(shifted[column].dtype)
    path = Path(tw.home) / "other_batch.csv"
    shifted.to_csv(path, index=False)
    other_batch = append_batch(ws, other, path, label="other-02", by="bo").batch
    other_run = run_monitor(ws, other, other_batch, by="cron")
    yield tw, run, other, other_run
    tw.close()


def _snapshot(ws, project_id):
    from core.share.dashboard import project_snapshot

    return project_snapshot(ws, project_id, important_features=lambda ws_, run: ["tenure_months"])


def test_the_loop_shows_each_batch_with_drift_and_quality_against_the_criteria(loop_ws):
    from core.registry.versions import champion, load_version_model
    from core.release.gate import predict_frame
    from core.stats.intervals import wilson_interval

    tw, run, _, _ = loop_ws
    ws, project = tw.ws, tw.project
    snap = _snapshot(ws, project.id)
    loop = snap.loop
    assert loop is not None and not [n for n in snap.notes if "loop" in n.lower()]
    assert loop.batches["label"].tolist() == ["original", "2026-02"] and loop.batches["rows"].iloc[1] == 3000
    feb = loop.monitored.iloc[0]
    assert feb["model"] == "v1" and feb["monitoring"] == run.status
    drift = run.check("data_drift").details
    assert feb["drifted"] == len(drift["drifted"]) and feb["compared"] == drift["n_compared"]
    recall = run.check("performance").details["metrics"]["recall"]
    assert feb["metric"] == pytest.approx(recall) and bool(feb["meets"]) == (recall >= 0.7)
    # the interval comes from the batch's own counts: score the champion on February and count
    version = champion(ws, project.id)
    rows = ws.frame(_batch_dataset(ws, project, run.batch_id))
    rows = rows[rows[project.target].notna()]
    pred = predict_frame(load_version_model(ws, version), version, rows)["y_pred"].to_numpy()
    actual = rows[project.target].astype(str).to_numpy() == str(project.positive_class)
    flagged = pred.astype(str) == str(project.positive_class)
    tp, fn = int((actual & flagged).sum()), int((actual & ~flagged).sum())
    assert tp / (tp + fn) == pytest.approx(recall)
    low, high = wilson_interval(tp, tp + fn)
    assert (feb["low"], feb["high"]) == pytest.approx((float(low), float(high)))
    # champions with the batches they served; open alerts are this run's; no retrain yet
    reigns = snap.champion_reigns()
    assert reigns["batches monitored"].tolist() == ["2026-02"]
    assert {a["run_id"] for a in loop.open_alerts} == {run.id} and len(loop.open_alerts) == len(run.alerts)
    assert loop.challenger is None and "no retrain yet" in loop.sentence


def _batch_dataset(ws, project, batch_id):
    from core.data.batches import list_batches

    return next(b.dataset_id for b in list_batches(ws, project) if b.id == batch_id)


def test_a_scoped_viewer_sees_only_its_projects_loop(loop_ws):
    from core.errors import NotFound
    from core.monitor.policy import list_monitor_runs
    from core.share.loop import loop_section

    tw, _, other, other_run = loop_ws
    ws, project = tw.ws, tw.project
    editor = loop_section(ws, project)
    view = ws.as_role("viewer", scope=project.id)
    seen = _snapshot(view, project.id).loop
    assert seen is not None
    assert seen.batches.drop(columns=["added_at"]).equals(editor.batches.drop(columns=["added_at"]))
    assert [a["id"] for a in seen.open_alerts] == [a["id"] for a in editor.open_alerts]
    assert other_run.alerts and not {a["id"] for a in other_run.alerts} & {a["id"] for a in seen.open_alerts}
    # the other project does not exist for this viewer: its dashboard, runs and loop are out of reach
    with pytest.raises(NotFound):
        _snapshot(view, other.id)
    assert list_monitor_runs(view, other.id) == []
    try:
        theirs = loop_section(view, other)
    except NotFound:
        theirs = None
    assert theirs is None or (not len(theirs.monitored) and not theirs.open_alerts)
    # and the other project's own viewer sees its loop, not ours
    mine = loop_section(ws.as_role("viewer", scope=other.id), other)
    assert mine.monitored["label"].tolist() == ["other-02"] and {a["run_id"] for a in mine.open_alerts} == {
        other_run.id}


def test_monitoring_on_the_live_champion_moves_the_decision(loop_ws):
    from core.share.dashboard import decide

    tw, _, _, _ = loop_ws
    snap = _snapshot(tw.ws, tw.project.id)
    batches = snap.loop.batches.copy()
    batches.loc[1, ["metric", "meets"]] = [0.41, False]
    snap.loop = replace(snap.loop, batches=batches)
    decision = decide(snap)
    assert decision.verdict in ("Hold", "Roll back")
    assert any("batch 2 · 2026-02" in r and "0.410" in r and "missing the target" in r for r in decision.reasons)


def test_key_results_say_their_threshold_interval_and_status(loop_ws):
    from core.evaluate.classification import at_threshold, threshold_table
    from core.models.runs import run_predictions
    from core.release.gate import key_result_status
    from core.share.report import build_report
    from core.stats.intervals import wilson_interval

    tw, _, _, _ = loop_ws
    ws, project = tw.ws, tw.project
    snap = _snapshot(ws, project.id)
    krs = {k.metric: k for k in snap.key_results}
    assert set(krs) == {"Recall", "Precision", "ROC-AUC"}
    status = {r["metric"]: r for r in key_result_status(ws, project)}
    for label, kr in krs.items():
        assert kr.value == pytest.approx(status[label]["current"])  # the gate's value, shown as it is
        assert kr.status == ("met" if status[label]["met"] else "missed") and kr.low <= kr.value <= kr.high
    # the recall key result is the recall KPI, at the same saved threshold, with the same Wilson interval
    recall = krs["Recall"]
    assert recall.threshold == snap.kpis[0].threshold == "at the saved threshold 0.30"
    assert f"{recall.value:.3f}" == snap.kpis[0].value and recall.interval_text == snap.kpis[0].interval
    preds = run_predictions(ws, tw.runs["logreg"])
    row = at_threshold(threshold_table(preds["y_true"], preds["score"], project.positive_class), 0.3)
    expected = wilson_interval(row["tp"], row["tp"] + row["fn"])
    assert (recall.low, recall.high) == pytest.approx((float(expected[0]), float(expected[1])))
    assert krs["ROC-AUC"].threshold == "threshold-free" and "v1 (champion)" in krs["ROC-AUC"].measured_on
    html = build_report(ws, project.id)
    assert "<h2>Key results</h2>" in html and "Catch at least 70%" in html and recall.interval_text in html
    assert "<h2>Monitoring loop</h2>" in html and "2026-02" in html


def test_auc_interval_covers_the_true_auc_about_95_percent_of_the_time():
    from scipy.stats import norm

    from core.stats.metric_intervals import auc_interval

    rng = np.random.default_rng(7)
    separation = 1.0
    truth = float(norm.cdf(separation / np.sqrt(2)))  # binormal, equal variances
    hits, trials = 0, 120
    for i in range(trials):
        positive = rng.random(400) < 0.3
        scores = rng.normal(size=400) + separation * positive
        low, high = auc_interval(positive, scores, n_resamples=400, seed=i)
        hits += low <= truth <= high
    assert 0.88 <= hits / trials <= 0.99, hits / trials


def test_confusion_counts_are_recovered_exactly_from_recall_and_precision():
    from core.models.metrics import compute_metrics
    from core.stats.metric_intervals import confusion_from_rates

    rng = np.random.default_rng(3)
    for _ in range(200):
        n = int(rng.integers(50, 5000))
        y = rng.random(n) < rng.uniform(0.05, 0.6)
        flagged = rng.random(n) < rng.uniform(0.02, 0.9)
        if not y.any():
            continue
        truth = {"tp": int((y & flagged).sum()), "fp": int((~y & flagged).sum()), "fn": int((y & ~flagged).sum()),
                 "tn": int((~y & ~flagged).sum())}
        m = compute_metrics("binary", np.where(y, "yes", "no"), np.where(flagged, "yes", "no"), None, ["no", "yes"],
                            "yes", has_probabilities=False)
        precision = m.get("precision")
        got = confusion_from_rates(m["recall"], None if truth["tp"] + truth["fp"] == 0 else precision, int(y.sum()), n)
        if truth["tp"] == 0 and truth["fp"] > 0:
            assert got is None  # precision 0: how many were flagged cannot be known
        else:
            assert got == truth


def test_after_a_promotion_the_loop_says_the_new_champion_is_not_checked_yet(trained_workspace):
    from core.data.batches import append_batch
    from core.monitor.policy import run_monitor
    from core.release.actions import promote
    from core.share.loop import loop_section

    tw = trained_workspace(models=("logreg", "nb"), thresholds={"logreg": 0.3, "nb": 0.5}, register=("logreg", "nb"))
    try:
        ws, project = tw.ws, tw.project
        promote(ws, tw.versions["logreg"], by="ana", override_reason="test champion")
        feb = append_batch(ws, project, FEB, label="2026-02", by="ana", as_of="2026-02-01").batch
        run = run_monitor(ws, project, feb, by="cron")
        assert loop_section(ws, project).status == run.status and not loop_section(ws, project).previous_check
        promote(ws, tw.versions["nb"], by="ana", override_reason="test: a new champion")
        loop = loop_section(ws, project)
        # The newest run checked the earlier champion: the new one is "not checked", never shown as that run's status.
        assert loop.status == "not checked" and loop.status_at is None
        assert loop.champion and run.version_label in loop.previous_check and "2026-02" in loop.previous_check
    finally:
        tw.close()
