"""Plotly figures for the Evaluate page, drawn from core.evaluate.report's small data (each figure well under 100 KB)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from core.project.criteria import format_class
from core.text import plotly_safe_module

BLUE, ORANGE, GREEN, GREY, RED = "#1f77b4", "#ff7f0e", "#2ca02c", "#9e9e9e", "#d62728"
_LAYOUT = {"height": 340, "margin": {"l": 10, "r": 10, "t": 40, "b": 10}, "legend": {"orientation": "h", "y": -0.2}}


def _go():
    import plotly.graph_objects as go

    return go


def _r(values, digits: int = 4) -> list:
    """Rounds for the chart: full float precision would triple the figure's size for no visible gain."""
    return np.round(np.asarray(values, dtype=float), digits).tolist()


def _figure(title: str, **layout):
    fig = _go().Figure()
    fig.update_layout(title={"text": title, "font": {"size": 15}}, **{**_LAYOUT, **layout})
    return fig


def _markers(fig, points: list[tuple[str, dict | None, str]], x: str, y: str) -> None:
    go = _go()
    for name, row, color in points:
        if row is not None:
            fig.add_trace(go.Scatter(x=[round(row[x], 4)], y=[round(row[y], 4)], mode="markers", name=name,
                                     marker={"size": 12, "color": color, "line": {"width": 1, "color": "white"}}))


def _vline(fig, x: float | None, text: str, color: str, dash: str = "dash", position: str = "top right") -> None:
    if x is not None:
        fig.add_vline(x=round(float(x), 4), line={"color": color, "dash": dash, "width": 1.5},
                      annotation={"text": text, "font": {"size": 11, "color": color}}, annotation_position=position)


def threshold_chart(view, point: dict):
    """Precision, recall, F1 (and value per 1,000 decisions) across thresholds, with the three marked thresholds."""
    go = _go()
    t = view.grid  # the thresholds the slider can reach
    fig = _figure("Across thresholds", xaxis_title="Threshold (flag when score ≥ threshold)", yaxis_title="Rate",
                  yaxis_range=[0, 1.02])
    flagged = (t["tp"] + t["fp"]).to_numpy() > 0
    for metric, color in (("precision", BLUE), ("recall", ORANGE), ("f1", GREEN)):
        # Precision is undefined when nothing is flagged; a gap says so better than a plunge to 0.
        values = [v if ok or metric != "precision" else None for v, ok in zip(_r(t[metric]), flagged, strict=True)]
        fig.add_trace(go.Scatter(x=_r(t["threshold"]), y=values, name=metric.title() if metric != "f1" else "F1",
                                 line={"color": color}))
    if "value_per_1000" in t.columns:
        fig.add_trace(go.Scatter(x=_r(t["threshold"]), y=_r(t["value_per_1000"], 1), name="Value per 1,000",
                                 line={"color": "#6a3d9a", "dash": "dot"}, yaxis="y2"))
        fig.update_layout(yaxis2={"title": "Value per 1,000 decisions", "overlaying": "y", "side": "right",
                                  "tickmode": "auto", "showgrid": False, "tickformat": ",.0f"})
    fig.update_xaxes(range=[0, 1])
    _vline(fig, point["threshold"], "current", "black", "solid")
    _vline(fig, view.best and view.best["threshold"], "best value", "#6a3d9a", position="bottom right")
    _vline(fig, view.criterion and view.criterion["threshold"], "meets rule", RED, position="top left")
    return fig


def confusion_chart(counts: pd.DataFrame, rates: pd.DataFrame, title: str = "Confusion matrix"):
    """A heatmap of counts with each row's rate, actual outcomes down, predictions across."""
    go = _go()
    names_x = [format_class(c) for c in counts.columns]
    names_y = [format_class(c) for c in counts.index]
    text = [[f"{int(n):,}<br>{r:.0%}" for n, r in zip(crow, rrow, strict=True)]
            for crow, rrow in zip(counts.to_numpy(), rates.to_numpy(), strict=True)]
    fig = _figure(title, xaxis_title="Predicted", yaxis_title="Actual", yaxis_autorange="reversed")
    fig.add_trace(go.Heatmap(z=_r(rates.to_numpy(), 3), x=names_x, y=names_y, text=text, texttemplate="%{text}",
                             colorscale="Blues", showscale=False, zmin=0, zmax=1,
                             hovertemplate="actual %{y}, predicted %{x}: %{text}<extra></extra>"))
    fig.update_xaxes(type="category")
    fig.update_yaxes(type="category")
    return fig


def roc_chart(view, point: dict):
    """The ROC curve with the diagonal, the current operating point and the marked thresholds."""
    go = _go()
    p = view.roc.points
    fig = _figure(f"ROC curve · AUC {view.roc.area:.3f}", xaxis_title="False positive rate",
                  yaxis_title="True positive rate (recall)")
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="guessing", line={"color": GREY, "dash": "dot"}))
    fig.add_trace(go.Scatter(x=_r(p["fpr"]), y=_r(p["tpr"]), mode="lines", name="model", line={"color": BLUE}))
    _markers(fig, [("best value", view.best, "#6a3d9a"), ("meets rule", view.criterion, RED),
                   ("current", point, "black")], "fpr", "recall")
    return fig


def pr_chart(view, point: dict):
    """The precision-recall curve with the no-skill line, the current operating point and the marked thresholds."""
    go = _go()
    p = view.pr.points
    fig = _figure(f"Precision-recall · AP {view.pr.area:.3f}", xaxis_title="Recall", yaxis_title="Precision",
                  yaxis_range=[0, 1.02])
    fig.add_trace(go.Scatter(x=[0, 1], y=[view.pr.baseline] * 2, mode="lines", name="flag everyone",
                             line={"color": GREY, "dash": "dot"}))
    fig.add_trace(go.Scatter(x=_r(p["recall"]), y=_r(p["precision"]), mode="lines", name="model",
                             line={"color": BLUE}))
    _markers(fig, [("best value", view.best, "#6a3d9a"), ("meets rule", view.criterion, RED),
                   ("current", point, "black")], "recall", "precision")
    return fig


def calibration_chart(points: pd.DataFrame):
    """Observed rate against mean predicted probability per bin, with 95% intervals and the diagonal."""
    go = _go()
    fig = _figure("Calibration", xaxis_title="Predicted probability", yaxis_title="Observed rate",
                  xaxis_range=[0, 1], yaxis_range=[0, 1])
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect", line={"color": GREY, "dash": "dot"}))
    fig.add_trace(go.Scatter(
        x=_r(points["mean_predicted"]), y=_r(points["observed_rate"]), mode="lines+markers", name="model",
        error_y={"type": "data", "symmetric": False, "array": _r(points["ci_high"] - points["observed_rate"]),
                 "arrayminus": _r(points["observed_rate"] - points["ci_low"])},
        customdata=points["rows"].tolist(), hovertemplate="predicted %{x:.2f}, observed %{y:.2f} (%{customdata} rows)"
                                                          "<extra></extra>", line={"color": BLUE}))
    return fig


def lift_chart(lift: pd.DataFrame):
    """Lift per tenth of the rows (highest scores first) as bars, cumulative gain as a line."""
    go = _go()
    fig = _figure("Lift and gain", xaxis_title="Share of rows, highest scores first", yaxis_title="Lift")
    share = _r(lift["cumulative_share_of_rows"])
    width = np.diff(np.concatenate([[0.0], lift["cumulative_share_of_rows"].to_numpy(dtype=float)]))
    centre = lift["cumulative_share_of_rows"].to_numpy(dtype=float) - width / 2
    fig.add_trace(go.Bar(x=_r(centre), y=_r(lift["lift"], 3), width=_r(width * 0.9), name="lift in this tenth",
                         marker_color="#9ecae1"))
    fig.add_trace(go.Scatter(x=[0] + share, y=[0] + _r(lift["cumulative_gain"]), name="cumulative gain",
                             yaxis="y2", line={"color": ORANGE}))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], name="random gain", yaxis="y2", line={"color": GREY, "dash": "dot"}))
    fig.update_layout(yaxis2={"title": "Share of positives found", "overlaying": "y", "side": "right",
                              "range": [0, 1.02], "tickmode": "auto", "tickformat": ".0%", "showgrid": False},
                      xaxis={"tickformat": ".0%", "range": [0, 1.01]})
    return fig


def regression_charts(views) -> dict[str, Any]:
    """Predicted vs actual, residuals vs predicted, residual histogram and error by decile."""
    go = _go()
    p = views.points
    low, high = float(min(p["actual"].min(), p["predicted"].min())), float(max(p["actual"].max(), p["predicted"].max()))
    scatter = _figure("Predicted vs actual", xaxis_title="Predicted", yaxis_title="Actual")
    scatter.add_trace(go.Scattergl(x=_r(p["predicted"]), y=_r(p["actual"]), mode="markers", name="rows",
                                   marker={"size": 4, "opacity": 0.5, "color": BLUE}))
    scatter.add_trace(go.Scatter(x=[low, high], y=[low, high], mode="lines", name="perfect",
                                 line={"color": GREY, "dash": "dot"}))
    residual = _figure("Residuals vs predicted", xaxis_title="Predicted", yaxis_title="Actual − predicted")
    residual.add_trace(go.Scattergl(x=_r(p["predicted"]), y=_r(p["residual"]), mode="markers", name="rows",
                                    marker={"size": 4, "opacity": 0.5, "color": BLUE}))
    residual.add_hline(y=0, line={"color": GREY, "dash": "dot"})
    h = views.histogram
    histogram = _figure("Residual distribution", xaxis_title="Actual − predicted", yaxis_title="Rows", bargap=0.02)
    histogram.add_trace(go.Bar(x=_r((h["bin_low"] + h["bin_high"]) / 2), y=h["rows"].tolist(),
                               width=_r(h["bin_high"] - h["bin_low"]), marker_color=BLUE, name="rows"))
    d = views.deciles
    deciles = _figure("Error by decile of the prediction", xaxis_title="Decile (1 = lowest predictions)",
                      yaxis_title="Mean absolute error")
    deciles.add_trace(go.Bar(x=d["decile"].tolist(), y=_r(d["mae"]), name="MAE", marker_color=BLUE))
    deciles.add_trace(go.Scatter(x=d["decile"].tolist(), y=_r(d["bias"]), name="bias (actual − predicted)",
                                 mode="lines+markers", line={"color": ORANGE}))
    return {"scatter": scatter, "residual": residual, "histogram": histogram, "deciles": deciles}


def segments_chart(table: pd.DataFrame, metric: str, label: str):
    """The worst segments as bars with their intervals: clearly worse in red, within the noise pale, too small grey."""
    go = _go()
    t = table.iloc[::-1]
    names = [f"{c} = {s}" for c, s in zip(t["column"], t["segment"], strict=True)]
    fig = _figure(f"Worst segments · {label}", xaxis_title=label, height=max(300, 26 * len(t) + 80))
    fig.add_trace(go.Bar(
        y=names, x=_r(t[metric]), orientation="h", name=label,
        marker_color=[GREY if small else RED if worse else "#f4a582"
                      for small, worse in zip(t["is_small"], t["is_clearly_worse"], strict=True)],
        error_x={"type": "data", "symmetric": False, "array": _r(t["ci_high"] - t[metric]),
                 "arrayminus": _r(t[metric] - t["ci_low"])},
        customdata=t["rows"].tolist(), hovertemplate="%{y}: %{x:.3g} (%{customdata} rows)<extra></extra>"))
    if len(t):
        fig.add_vline(x=round(float(t["overall"].iloc[0]), 4), line={"color": "black", "dash": "dot"},
                      annotation={"text": "overall"})
    fig.update_yaxes(type="category", title_text="Segment (column = value)")
    return fig


def importance_chart(table: pd.DataFrame, title: str, value: str = "importance", error: str | None = "std"):
    """Horizontal bars of importance per input column, largest on top."""
    go = _go()
    t = table.head(25).iloc[::-1]
    fig = _figure(title, xaxis_title=value.replace("_", " "), height=max(300, 24 * len(t) + 80))
    bar = {"error_x": {"type": "data", "array": _r(t[error])}} if error and error in t.columns else {}
    fig.add_trace(go.Bar(y=t["feature"].astype(str).tolist(), x=_r(t[value]), orientation="h", marker_color=BLUE,
                         name=value, **bar))
    fig.update_yaxes(type="category", title_text="Input column")
    return fig


def pdp_chart(result):
    """Average prediction with the chosen column set to each value, with the 10th–90th percentile band."""
    go = _go()
    p = result.points
    fig = _figure(f"Effect of {result.feature}", xaxis_title=result.feature, yaxis_title=result.output[:60])
    x = _r(p["value"]) if result.is_numeric else [str(format_class(v)) for v in p["value"]]
    if result.is_numeric:
        fig.add_trace(go.Scatter(x=x + x[::-1], y=_r(p["high"]) + _r(p["low"])[::-1], fill="toself",
                                 name="10–90% of rows", line={"width": 0}, fillcolor="rgba(31,119,180,0.15)"))
        fig.add_trace(go.Scatter(x=x, y=_r(p["prediction"]), mode="lines+markers", name="average",
                                 line={"color": BLUE}))
    else:
        fig.add_trace(go.Bar(x=x, y=_r(p["prediction"]), name="average", marker_color=BLUE,
                             error_y={"type": "data", "symmetric": False, "array": _r(p["high"] - p["prediction"]),
                                      "arrayminus": _r(p["prediction"] - p["low"])}))
        fig.update_xaxes(type="category")
    return fig


def contributions_chart(result):
    """What pushed one prediction up (green) or down (red), largest effect on top."""
    go = _go()
    t = result.contributions.head(20).iloc[::-1]
    names = [f"{f} = {v}" for f, v in zip(t["feature"], t["value"], strict=True)]
    fig = _figure("What moved this prediction", xaxis_title=f"Change in {result.output[:50]}",
                  height=max(300, 24 * len(t) + 80))
    fig.add_trace(go.Bar(y=names, x=_r(t["contribution"]), orientation="h", name="contribution",
                         marker_color=[GREEN if c > 0 else RED for c in t["contribution"]]))
    fig.update_yaxes(type="category", title_text="Input column = this row's value")
    return fig


def fairness_groups_chart(g: pd.DataFrame, measures: tuple[str, ...]):
    """Per-group bars of the chosen rates (core.evaluate.report.group_table); groups too small to judge are hatched."""
    go = _go()
    attribute = str(g["attribute"].iloc[0]) if len(g) else ""
    fig = _figure(f"Rates by group of {attribute}" if "mae" not in measures else f"Error by group of {attribute}",
                  yaxis_title="Rate (share of the group's rows)" if "mae" not in measures else "Mean absolute error",
                  barmode="group")
    for measure, color in zip(measures, (BLUE, ORANGE, GREEN, RED), strict=False):
        fig.add_trace(go.Bar(x=g["group"].astype(str).tolist(), y=_r(g[measure]), name=measure.replace("_", " "),
                             marker={"color": color, "pattern": {"shape": ["/" if s else "" for s in g["is_small"]]}},
                             customdata=g["rows"].tolist(),
                             hovertemplate="%{x}: %{y:.3f} (%{customdata} rows)<extra></extra>"))
    fig.update_xaxes(type="category", title_text=f"Group of {attribute}" if attribute else "Group")
    return fig


def tradeoff_chart(table: pd.DataFrame, metric: str, tolerance: float, threshold: float):
    """How the primary metric and the parity gaps move across thresholds, with the tolerance and current threshold."""
    go = _go()
    fig = _figure("Trade-off across thresholds", xaxis_title="Threshold", yaxis_title="Value", yaxis_range=[0, 1.02])
    lines = ((metric, BLUE, "solid"), ("demographic_parity_difference", ORANGE, "dash"),
             ("equalized_odds_difference", RED, "dash"))
    for column, color, dash in lines:
        fig.add_trace(go.Scatter(x=_r(table["threshold"]), y=_r(table[column]), name=column.replace("_", " "),
                                 line={"color": color, "dash": dash}))
    fig.add_hline(y=tolerance, line={"color": GREY, "dash": "dot"}, annotation={"text": "tolerance"})
    _vline(fig, threshold, "current", "black", "solid")
    return fig


plotly_safe_module(globals())  # user text in every chart above is escaped for Plotly (core/text.py)
