"""Every chart says what it shows: a title, and a title on every axis its traces use (issue 18, item 4).

Each chart builder in core/*/charts.py (and the report's own chart) is built here on small data; a guard fails when a
new builder has no case, so a chart cannot be added without passing the same check.
"""

from __future__ import annotations

import importlib
import inspect
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

MODULES = ("core.profile.charts", "core.evaluate.charts", "core.launch.charts", "core.monitor.charts",
           "core.release.charts")
_AXES = ("xaxis", "yaxis")
RNG = np.random.default_rng(0)


def _binary(n: int = 300):
    y = np.where(RNG.random(n) < 0.3, "yes", "no")
    score = np.clip(RNG.normal(0.35, 0.2, n) + (y == "yes") * 0.3, 0, 1)
    return pd.Series(y), pd.Series(score)


def _threshold_view():
    from core.evaluate.classification import (
        calibration_points,
        lift_gain,
        pr_points,
        roc_points,
        threshold_table,
    )
    from core.evaluate.report import best_value_row, grid_table

    y, score = _binary()
    table = threshold_table(y, score, "yes", {"tp": 80.0, "fp": -20.0, "fn": -200.0, "tn": 0.0})
    table["value_per_1000"] = table["value_per_row"] * 1000
    grid = grid_table(table)
    view = SimpleNamespace(grid=grid, best=best_value_row(grid), criterion=None,
                           roc=roc_points(y, score, "yes", max_points=200),
                           pr=pr_points(y, score, "yes", max_points=200),
                           calibration=calibration_points(y, score, "yes"), lift=lift_gain(y, score, "yes"))
    point = grid.iloc[len(grid) // 3].to_dict()
    return view, point


def _days(n: int = 6) -> pd.DataFrame:
    day = np.arange(1, n + 1)
    base = np.linspace(0.2, 0.3, n)
    return pd.DataFrame({
        "day": day, "agreement": np.linspace(0.9, 0.95, n), "champion_mean": base, "challenger_mean": base + 0.01,
        "mean_champion": base, "low_champion": base - 0.02, "high_champion": base + 0.02,
        "mean_challenger": base + 0.01,
        "low_challenger": base - 0.01, "high_challenger": base + 0.03, "diff": np.full(n, 0.01),
        "sequential_low": np.full(n, -0.03), "sequential_high": np.full(n, 0.05), "fixed_low": np.full(n, -0.01),
        "fixed_high": np.full(n, 0.03), "srm_p": np.linspace(0.5, 0.2, n), "share": [1, 5, 10, 25, 50, 100][:n],
        "state": ["running"] * (n - 1) + ["promoted"]})


def _over_time():
    from core.monitor.windows import drift_over_time

    ref = pd.DataFrame({"x": RNG.normal(size=300), "c": RNG.choice(["a", "b"], 300)})
    cur = pd.DataFrame({"x": RNG.normal(0.5, 1, 300), "c": RNG.choice(["a", "b"], 300),
                        "when": pd.date_range("2026-01-01", periods=300, freq="h")})
    return drift_over_time(ref, cur, "when", freq="W", columns={"x": "numeric", "c": "categorical"},
                           metric_fn=lambda w: 0.8, metric_name="recall", metric_threshold=0.7)


def _batches() -> pd.DataFrame:
    return pd.DataFrame({"batch": [2, 3], "label": ["2026-02", "2026-03"], "as_of": ["2026-02-01", "2026-03-01"],
                         "model": ["v1", "v1"], "metric": [0.83, 0.64], "low": [0.8, 0.6], "high": [0.86, 0.68],
                         "meets": [True, False], "drift_share": [0.7, 0.2], "drifted": [7, 2], "compared": [10, 10]})


def _cases():
    """{module.function: a callable building one figure (or a dict of them) on small data}."""
    from core.evaluate import charts as e
    from core.launch import charts as la
    from core.monitor import charts as m
    from core.profile import charts as p
    from core.release import charts as r

    hist = {"edges": [0.0, 1.0, 2.0, 3.0], "counts": [4, 9, 2]}
    overlay_hist = {"type": "histogram", "edges": [0.0, 1.0, 2.0], "left": [5, 3], "right": [2, 6]}
    overlay_cat = {"type": "bar", "labels": ["a", "b"], "left": [5, 3], "right": [2, 6], "left_other": 1,
                   "right_other": 0}
    view, point = _threshold_view()
    counts = pd.DataFrame([[50, 10], [8, 32]], index=["no", "yes"], columns=["no", "yes"])
    actual = RNG.normal(10, 2, 200)
    from core.evaluate.error_analysis import regression_views

    segments = pd.DataFrame({"column": ["plan", "region"], "segment": ["basic", "north"], "error_rate": [0.3, 0.2],
                             "ci_low": [0.2, 0.1], "ci_high": [0.4, 0.3], "overall": [0.15, 0.15],
                             "rows": [40, 25], "is_small": [False, True], "is_clearly_worse": [True, False]})
    importance = pd.DataFrame({"feature": ["tenure", "plan"], "importance": [0.2, 0.1], "std": [0.02, 0.01]})
    pdp = SimpleNamespace(feature="tenure", is_numeric=True, output="predicted probability of 'yes'",
                          points=pd.DataFrame({"value": [1.0, 2.0, 3.0], "prediction": [0.2, 0.3, 0.4],
                                               "low": [0.1, 0.2, 0.3], "high": [0.3, 0.4, 0.5]}))
    contributions = SimpleNamespace(output="predicted probability of 'yes'", contributions=pd.DataFrame(
        {"feature": ["tenure", "plan"], "value": [3, "basic"], "contribution": [0.1, -0.05]}))
    groups = pd.DataFrame({"attribute": ["age", "age"], "group": ["young", "old"], "selection_rate": [0.3, 0.2],
                           "recall": [0.8, 0.7], "rows": [60, 20], "is_small": [False, True]})
    tradeoff = pd.DataFrame({"threshold": [0.2, 0.5, 0.8], "recall": [0.9, 0.7, 0.4],
                             "demographic_parity_difference": [0.1, 0.08, 0.05],
                             "equalized_odds_difference": [0.12, 0.1, 0.06]})
    latency = pd.DataFrame({"model": ["champion", "challenger"], "p50_ms": [1.0, 1.2], "p95_ms": [2.0, 2.5],
                            "p99_ms": [3.0, 3.5]})
    cells = pd.DataFrame({"champion": ["flag", "flag", "pass"], "challenger": ["flag", "pass", "pass"],
                          "requests": [30, 5, 65]})
    peeking = pd.DataFrame({"day": [1, 2, 3], "naive_fpr": [0.05, 0.09, 0.12], "sequential_fpr": [0.01, 0.02, 0.03]})
    measurements = pd.DataFrame({"guardrail": ["outcome"] * 3, "label": ["value"] * 3, "day": [2, 4, 6],
                                 "estimate": [0.01, 0.0, 0.02], "low": [-0.02, -0.01, 0.0], "high": [0.04, 0.02, 0.03],
                                 "status": ["Inconclusive", "Inconclusive", "Successful"], "tolerance": [0.02] * 3})
    drift_hist = pd.DataFrame({"bin": ["0–1", "1–2", "0–1", "1–2"], "share": [0.6, 0.4, 0.3, 0.7],
                               "side": ["reference", "reference", "current", "current"]})
    over_time = _over_time()
    whatif = SimpleNamespace(steps=pd.DataFrame({"strength": [0.0, 0.5, 1.0], "drift_share": [0.0, 0.3, 0.6],
                                                 "drifted": [0, 3, 6], "metric": [0.8, 0.75, 0.7]}),
                             metric_label="Recall", metric_threshold=0.7)
    reigns = pd.DataFrame({"version": ["v1", "v2"], "start": pd.to_datetime(["2026-01-01", "2026-02-01"]),
                           "end": pd.to_datetime(["2026-02-01", "2026-03-01"]), "how": ["promote", "promote"],
                           "by": ["ana", "ana"], "why": ["first", "retrained"]})
    trend = pd.DataFrame({"version": [1, 2, 1, 2], "value": [0.7, 0.8, 0.68, 0.79],
                          "set": ["validation", "validation", "test", "test"]})
    return {
        "core.profile.charts.histogram_figure": lambda: p.histogram_figure(hist, "Distribution of tenure", "months"),
        "core.profile.charts.bar_figure": lambda: p.bar_figure({"top": [{"value": "a", "count": 5}], "other_count": 2,
                                                                "distinct": 4}, "Most common values of plan"),
        "core.profile.charts.period_figure": lambda: p.period_figure({"labels": ["2026-01", "2026-02"],
                                                                     "counts": [3, 4], "period": "month"},
                                                                    "Rows per month"),
        "core.profile.charts.heatmap_figure": lambda: p.heatmap_figure(["a", "b"], [[1, 0.2], [0.2, 1]], "Pearson",
                                                                       True),
        "core.profile.charts.association_figure": lambda: p.association_figure(
            [{"feature": "tenure", "value": 0.4, "measure": "eta"}], "Association with the target"),
        "core.profile.charts.class_figure": lambda: p.class_figure([{"value": "yes", "count": 3, "pct": 30.0},
                                                                    {"value": "no", "count": 7, "pct": 70.0}],
                                                                   "Classes of churned"),
        "core.profile.charts.overlay_figure": lambda: [p.overlay_figure(overlay_hist, "train", "test", "tenure"),
                                                       p.overlay_figure(overlay_cat, "train", "test", "plan")],
        "core.evaluate.charts.threshold_chart": lambda: e.threshold_chart(view, point),
        "core.evaluate.charts.confusion_chart": lambda: e.confusion_chart(counts, counts / counts.sum(axis=1).values[:,
                                                                                                    None]),
        "core.evaluate.charts.roc_chart": lambda: e.roc_chart(view, point),
        "core.evaluate.charts.pr_chart": lambda: e.pr_chart(view, point),
        "core.evaluate.charts.calibration_chart": lambda: e.calibration_chart(view.calibration),
        "core.evaluate.charts.lift_chart": lambda: e.lift_chart(view.lift),
        "core.evaluate.charts.regression_charts": lambda: list(e.regression_charts(
            regression_views(actual, actual + RNG.normal(0, 1, 200))).values()),
        "core.evaluate.charts.segments_chart": lambda: e.segments_chart(segments, "error_rate", "Error rate"),
        "core.evaluate.charts.importance_chart": lambda: e.importance_chart(importance, "Permutation importance"),
        "core.evaluate.charts.pdp_chart": lambda: e.pdp_chart(pdp),
        "core.evaluate.charts.contributions_chart": lambda: e.contributions_chart(contributions),
        "core.evaluate.charts.fairness_groups_chart": lambda: e.fairness_groups_chart(groups,
                                                                                      ("selection_rate", "recall")),
        "core.evaluate.charts.tradeoff_chart": lambda: e.tradeoff_chart(tradeoff, "recall", 0.1, 0.5),
        "core.launch.charts.agreement_chart": lambda: la.agreement_chart(_days()),
        "core.launch.charts.shadow_outcome_chart": lambda: la.shadow_outcome_chart(_days(), "value"),
        "core.launch.charts.latency_chart": lambda: la.latency_chart(latency),
        "core.launch.charts.disagreement_chart": lambda: la.disagreement_chart(cells),
        "core.launch.charts.arms_chart": lambda: la.arms_chart(_days(), "value"),
        "core.launch.charts.difference_chart": lambda: la.difference_chart(_days(), 100.0, "points"),
        "core.launch.charts.srm_chart": lambda: la.srm_chart(_days()),
        "core.launch.charts.peeking_chart": lambda: la.peeking_chart(peeking, 0.05),
        "core.launch.charts.traffic_chart": lambda: la.traffic_chart(_days()),
        "core.launch.charts.guardrail_chart": lambda: la.guardrail_chart(measurements, "outcome", True, 100.0),
        "core.monitor.charts.histogram_figure": lambda: m.histogram_figure(drift_hist),
        "core.monitor.charts.drift_share_figure": lambda: m.drift_share_figure(over_time),
        "core.monitor.charts.column_strengths_figure": lambda: m.column_strengths_figure(over_time),
        "core.monitor.charts.window_metric_figure": lambda: m.window_metric_figure(over_time),
        "core.monitor.charts.whatif_share_figure": lambda: m.whatif_share_figure(whatif),
        "core.monitor.charts.whatif_metric_figure": lambda: m.whatif_metric_figure(whatif),
        "core.monitor.charts.batch_quality_figure": lambda: m.batch_quality_figure(_batches(), "Recall", 0.7, ">=",
                                                                                   "at the saved threshold"),
        "core.monitor.charts.batch_drift_figure": lambda: m.batch_drift_figure(_batches(), 0.3),
        "core.release.charts.champion_timeline_figure": lambda: r.champion_timeline_figure(reigns),
        "core.release.charts.metric_trend_figure": lambda: r.metric_trend_figure(trend, "recall"),
    }


def _builders() -> list[str]:
    out = []
    for name in MODULES:
        module = importlib.import_module(name)
        out += [f"{name}.{fn}" for fn, obj in inspect.getmembers(module, inspect.isfunction)
                if obj.__module__ == name and not fn.startswith("_") and fn.endswith(("_figure", "_chart", "_charts"))]
    return sorted(out)


def test_every_chart_builder_has_a_case():
    assert sorted(_cases()) == _builders()


def _problems(fig) -> list[str]:
    layout = fig.layout
    out = [] if (layout.title.text or "").strip() else ["no title"]
    used = set()
    for trace in fig.data:
        if trace.type in ("pie", "table", "indicator", "sankey"):
            continue
        used.add(("xaxis", getattr(trace, "xaxis", None) or "x"))
        used.add(("yaxis", getattr(trace, "yaxis", None) or "y"))
    for kind, ref in sorted(used):
        name = kind + ref[1:]  # "x2" -> "xaxis2"
        axis = layout[name]
        if not (axis.title.text or "").strip():
            out.append(f"{name} has no title")
    return out


@pytest.mark.parametrize("name", sorted(_cases()))
def test_every_chart_has_a_title_and_titled_axes(name):
    built = _cases()[name]()
    figures = built if isinstance(built, list) else [built]
    assert figures and all(f is not None for f in figures), f"{name} drew nothing on the test data"
    for fig in figures:
        assert not _problems(fig), f"{name}: {_problems(fig)} (title {fig.layout.title.text!r})"


def test_the_reports_leaderboard_chart_has_a_title_and_titled_axes():
    from core.share.report import leaderboard_figure

    snap = SimpleNamespace(leaderboard=pd.DataFrame({"Rank": [1, 2], "Model": ["XGBoost", "Logistic regression"],
                                                     "Recall at 0.50 (validation)": [0.8, 0.7]}),
                           project=SimpleNamespace(criteria=SimpleNamespace(primary_metric="recall", threshold=0.7)))
    fig = leaderboard_figure(snap)
    assert not _problems(fig) and list(fig.data[0].y) == ["XGBoost", "Logistic regression"]
