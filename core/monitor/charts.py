"""Plotly figures for the Drift page, drawn from a check, a drift-over-time result or a what-if result.

Each function returns a figure (or None when there is nothing to draw); the page only places it.
"""

from __future__ import annotations

import pandas as pd
import plotly.express as px
from plotly.graph_objects import Figure

from core.monitor.model import WhatIfResult, window_strengths
from core.monitor.windows import OverTimeResult
from core.text import plotly_safe_module

REFERENCE_COLOUR, CURRENT_COLOUR, FLAG_COLOUR = "#4C78A8", "#E45756", "#E45756"


def histogram_figure(frame: pd.DataFrame) -> Figure:
    """One column, reference against current: the share of rows per bin (a `histogram_frame`: bin, share, side)."""
    fig = px.bar(frame, x="bin", y="share", color="side", barmode="overlay", opacity=0.6,
                 color_discrete_map={"reference": REFERENCE_COLOUR, "current": CURRENT_COLOUR})
    fig.update_layout(height=260, margin={"l": 0, "r": 0, "t": 10, "b": 0}, xaxis_title=None, yaxis_tickformat=".0%",
                      legend_title_text="")
    return fig


def drift_share_figure(result: OverTimeResult) -> Figure:
    """The share of drifted columns per window, the dataset-drift line, and the windows that crossed a threshold."""
    frame = result.frame()
    fig = px.line(frame, x="start", y="drift_share", markers=True, labels={"start": "window", "drift_share": "share"})
    fig.add_hline(y=result.options.drift_share, line_dash="dash", annotation_text="dataset drift line")
    flagged = frame[frame["flagged"]]
    fig.add_scatter(x=flagged["start"], y=flagged["drift_share"], mode="markers", name="crossed a threshold",
                    marker={"color": FLAG_COLOUR, "size": 13, "symbol": "x"})
    fig.update_layout(height=300, yaxis_tickformat=".0%", title="Share of drifted columns per window")
    return fig


def column_strengths_figure(result: OverTimeResult) -> Figure | None:
    """Each compared column's statistic divided by its threshold, per window (above 1 = drift); None without any."""
    strengths = window_strengths(result)
    if not len(strengths):
        return None
    fig = px.line(strengths, x="start", y="strength", color="column", markers=True,
                  labels={"start": "window", "strength": "statistic ÷ its threshold"})
    fig.add_hline(y=1, line_dash="dash", annotation_text="threshold")
    fig.update_layout(height=340, title="Each column's statistic against its threshold (above 1 = drift)")
    return fig


def window_metric_figure(result: OverTimeResult) -> Figure | None:
    """The model's success metric per window with its threshold; None when no window has a metric."""
    frame = result.frame()
    if not frame[result.metric_name].notna().any():
        return None
    fig = px.line(frame, x="start", y=result.metric_name, markers=True, labels={"start": "window"})
    if result.metric_threshold is not None:
        fig.add_hline(y=result.metric_threshold, line_dash="dash", annotation_text="success threshold")
    fig.update_layout(height=300, title=f"Model {result.metric_name} per window")
    return fig


def whatif_share_figure(whatif: WhatIfResult) -> Figure:
    """The share of drifted columns as the synthetic shift grows from nothing to full strength."""
    fig = px.line(whatif.steps, x="strength", y="drift_share", markers=True, hover_data=["drifted"],
                  labels={"strength": "shift strength (1 = as set above)", "drift_share": "share drifted"})
    fig.update_layout(height=280, yaxis_tickformat=".0%", title="Share of drifted columns as the shift grows")
    return fig


def whatif_metric_figure(whatif: WhatIfResult) -> Figure | None:
    """The model's metric as the shift grows, with the success threshold; None without a model metric."""
    steps = whatif.steps
    if not whatif.metric_label or not steps["metric"].notna().any():
        return None
    fig = px.line(steps, x="strength", y="metric", markers=True,
                  labels={"strength": "shift strength", "metric": whatif.metric_label})
    if whatif.metric_threshold is not None:
        fig.add_hline(y=whatif.metric_threshold, line_dash="dash", annotation_text="success threshold")
    fig.update_layout(height=280, title=f"Model {whatif.metric_label} as the shift grows")
    return fig


plotly_safe_module(globals())  # user text in every chart above is escaped for Plotly (core/text.py)
