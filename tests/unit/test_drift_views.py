"""The Drift page's view-models and figures (core.monitor.views, core.monitor.charts) on the demo project's data."""

from __future__ import annotations

import pytest

from core.monitor import charts
from core.monitor.checks import check_drift
from core.monitor.model import check_over_time, model_choices, run_whatif
from core.monitor.reports import SourceSpec, load_source, run_check
from core.monitor.views import Headline, kpis, retrain_window, verdict_headline, window_table
from core.split.splitting import list_splits


@pytest.fixture
def demo(seeded_workspace):
    ws, project = seeded_workspace.ws, seeded_workspace.project
    split = list_splits(ws, project.id)[0]
    reference = SourceSpec("split", split.dataset_id, split.id, "train")
    return ws, project, reference


def test_headline_follows_the_result(demo):
    ws, _, reference = demo
    ref = load_source(ws, reference)
    same = check_drift(ref, ref.sample(frac=1.0, random_state=1))
    assert not same.drifted and verdict_headline(same) == Headline("No drift", "green")

    nudged = ref.copy()
    nudged["monthly_charges"] = nudged["monthly_charges"] * 1.5
    some = check_drift(ref, nudged)
    assert some.drifted and not some.dataset_drift
    assert verdict_headline(some) == Headline("Some columns changed", "orange")

    moved = ref.iloc[[0] * len(ref)].reset_index(drop=True)  # one customer repeated: every column collapses
    everything = check_drift(ref, moved)
    assert everything.dataset_drift and verdict_headline(everything) == Headline("Drift detected", "red")


def test_kpis_of_the_demo_check_without_a_model(demo):
    ws, project, reference = demo
    check = run_check(ws, reference, SourceSpec("dataset", ws.dataset("churn_next_month").id), project=project)
    tiles = kpis(check.result, check.model_quality)
    assert [t.label for t in tiles] == ["Drifted columns", "Share drifted", "Prediction drift", "Rows compared"]
    assert tiles[0].value == f"{len(check.result.drifted)} of 13"
    assert tiles[2].value == "—" and tiles[3].value == "4,200 vs 2,000"
    assert tiles[1].help.startswith("Dataset drift when at least 50%")
    fig = charts.histogram_figure(next(iter(check.histograms.values())))
    assert {t.name for t in fig.data} == {"reference", "current"} and fig.layout.height == 260


def test_kpis_name_the_model_quality_against_its_target(demo):
    ws, _, reference = demo
    result = check_drift(load_source(ws, reference), load_source(ws, reference))
    quality = {"label": "Recall", "current": 0.61, "expected": 0.70, "threshold": 0.7, "op": ">=", "meets": False,
               "n_labelled": 1500}
    tile = kpis(result, quality)[3]
    assert (tile.label, tile.value, tile.delta, tile.delta_color) == ("Recall on current rows", "0.610",
                                                                       "-0.090 vs validation", "normal")
    assert tile.help == "Target >= 0.7 (missed), on 1,500 labelled rows."
    lower = kpis(result, {**quality, "op": "<=", "expected": None, "meets": True})[3]
    assert lower.delta is None and lower.delta_color == "inverse" and "(met)" in lower.help


def test_over_time_views_and_figures(demo):
    ws, project, reference = demo
    over = check_over_time(ws, project, reference, project.dataset_id, "observation_month", "M")
    table = window_table(over)
    assert len(table) == 12 and over.metric_name not in table.columns  # no model: no metric column
    assert charts.window_metric_figure(over) is None
    share = charts.drift_share_figure(over)
    assert share.layout.title.text == "Share of drifted columns per window"
    flagged = next(t for t in share.data if t.name == "crossed a threshold")
    assert len(flagged.x) == int(over.frame()["flagged"].sum())
    strengths = charts.column_strengths_figure(over)
    assert strengths is not None and len(strengths.data) == len(over.windows[-1].result.compared)
    latest = retrain_window(over)
    usable = [w for w in over.windows if w.result is not None]
    assert (latest is not None) == usable[-1].flagged == over.retrain_recommended
    if latest is not None:
        assert latest is usable[-1] and latest.reasons


def test_retrain_window_is_the_latest_usable_window_when_it_crossed(demo):
    ws, project, reference = demo
    over = check_over_time(ws, project, reference, project.dataset_id, "observation_month", "M")
    usable = [w for w in over.windows if w.result is not None]
    usable[-1].flagged, usable[-1].reasons = True, ["drift share 60% ≥ 50%"]
    assert retrain_window(over) is usable[-1]
    usable[-1].flagged = False
    assert retrain_window(over) is None


def test_whatif_figures(demo):
    ws, project, reference = demo
    whatif = run_whatif(ws, project, reference, [{"kind": "mean", "column": "satisfaction_score", "delta": 2.0}])
    fig = charts.whatif_share_figure(whatif)
    assert list(fig.data[0].y) == list(whatif.steps["drift_share"]) and fig.data[0].y[-1] > 0
    assert charts.whatif_metric_figure(whatif) is None  # no model chosen


def test_whatif_metric_figure_with_a_trained_model(trained_workspace):
    trained = trained_workspace(models=("logreg",))
    try:
        ws, project = trained.ws, trained.project
        split = trained.split
        reference = SourceSpec("split", split.dataset_id, split.id, "train")
        [model] = [m for m in model_choices(ws, project) if m.run_id == trained.runs["logreg"]]
        whatif = run_whatif(ws, project, reference, [{"kind": "mean", "column": "satisfaction_score", "delta": 2.0}],
                            model=model)
        fig = charts.whatif_metric_figure(whatif)
        assert fig is not None and fig.layout.title.text == f"Model {whatif.metric_label} as the shift grows"
        assert list(fig.data[0].y) == list(whatif.steps["metric"])
        over = check_over_time(ws, project, reference, project.dataset_id, "observation_month", "M", model=model)
        assert over.metric_name in window_table(over).columns
        assert charts.window_metric_figure(over).layout.title.text == f"Model {over.metric_name} per window"
    finally:
        trained.close()
