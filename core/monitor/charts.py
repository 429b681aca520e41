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
OP_TEXT = {">=": "≥", "<=": "≤", ">": ">", "<": "<"}


def histogram_figure(frame: pd.DataFrame, column: str = "") -> Figure:
    """One column, reference against current: the share of rows per bin (a `histogram_frame`: bin, share, side)."""
    fig = px.bar(frame, x="bin", y="share", color="side", barmode="overlay", opacity=0.6,
                 color_discrete_map={"reference": REFERENCE_COLOUR, "current": CURRENT_COLOUR})
    fig.update_layout(height=260, margin={"l": 0, "r": 0, "t": 36, "b": 0}, yaxis_tickformat=".0%",
                      legend_title_text="",
                      title={"text": f"{column + ': s' if column else 'S'}hare of rows per value, reference vs current",
                             "font": {"size": 13}},
                      xaxis_title=f"{column} (bin or category)" if column else "Bin or category",
                      yaxis_title="Share of rows")
    return fig


def drift_share_figure(result: OverTimeResult) -> Figure:
    """The share of drifted columns per window, the dataset-drift line, and the windows that crossed a threshold."""
    frame = result.frame()
    fig = px.line(frame, x="start", y="drift_share", markers=True,
                  labels={"start": "Window start (date)", "drift_share": "Columns drifted (share)"})
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
                  labels={"start": "Window start (date)", "strength": "Statistic ÷ its threshold"})
    fig.add_hline(y=1, line_dash="dash", annotation_text="threshold")
    fig.update_layout(height=340, title="Each column's statistic against its threshold (above 1 = drift)")
    return fig


def window_metric_figure(result: OverTimeResult) -> Figure | None:
    """The model's success metric per window with its threshold; None when no window has a metric."""
    frame = result.frame()
    if not frame[result.metric_name].notna().any():
        return None
    fig = px.line(frame, x="start", y=result.metric_name, markers=True, labels={"start": "Window start (date)"})
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


def _batch_names(batches: pd.DataFrame) -> list[str]:
    return [f"{b} · {label}" + (f" ({as_of[:7]})" if as_of and as_of[:7] != label else "")
            for b, label, as_of in zip(batches["batch"], batches["label"], batches["as_of"].fillna(""), strict=True)]


def batch_quality_figure(batches: pd.DataFrame, metric_label: str, target: float, op: str,
                         threshold_note: str = "") -> Figure | None:
    """The live model's measured metric on each labelled batch with its 95 % interval, against the target.

    `batches`: one row per monitored batch (batch, label, as_of, model, metric, low, high, meets); None when no batch
    had labels to measure on.
    """
    import plotly.graph_objects as go

    rows = batches[batches["metric"].notna()]
    if not len(rows):
        return None
    names = _batch_names(rows)
    value = rows["metric"].astype(float)
    has_ci = rows["low"].notna() & rows["high"].notna()
    upper = (rows["high"].astype(float) - value).where(has_ci, 0.0)
    lower = (value - rows["low"].astype(float)).where(has_ci, 0.0)
    fig = go.Figure(go.Scatter(
        x=names, y=value.round(4).tolist(), mode="markers+text", name=metric_label,
        text=rows["model"].tolist(), textposition="middle right",
        marker={"size": 13, "color": ["#2ca02c" if m else "#d62728" for m in rows["meets"]]},
        error_y={"type": "data", "symmetric": False, "array": upper.round(4).tolist(),
                 "arrayminus": lower.round(4).tolist(), "color": "#9e9e9e"},
        hovertemplate="%{x}: %{y:.3f} with %{text}<extra></extra>"))
    fig.add_hline(y=target, line={"color": "#d62728", "dash": "dash"},
                  annotation={"text": f"target {OP_TEXT.get(op, op)} {target:g}", "font": {"size": 11}},
                  annotation_position="bottom right")
    low = min(float(rows["low"].min()) if has_ci.any() else 1.0, float(value.min()), target)
    high = max(float(rows["high"].max()) if has_ci.any() else 0.0, float(value.max()), target)
    pad = max(0.05, (high - low) * 0.15)
    axis = f"{metric_label} ({threshold_note})" if threshold_note else metric_label
    fig.update_layout(title=f"{metric_label} per batch, of the model live then",
                      height=320, margin={"l": 10, "r": 10, "t": 50, "b": 10}, showlegend=False,
                      xaxis={"title": "Data batch (the month it describes)", "type": "category"},
                      yaxis={"title": axis if len(axis) <= 48 else metric_label,
                             "range": [max(0.0, low - pad), min(1.0, high + pad) if high <= 1 else high + pad]})
    return fig


def batch_drift_figure(batches: pd.DataFrame, drift_line: float) -> Figure | None:
    """The share of the model's inputs that drifted on each monitored batch, with the policy's alert line.

    `batches`: one row per monitored batch (batch, label, as_of, drift_share, drifted, compared); None when no
    batch had a data-drift check.
    """
    import plotly.graph_objects as go

    rows = batches[batches["drift_share"].notna()]
    if not len(rows):
        return None
    share = rows["drift_share"].astype(float)
    fig = go.Figure(go.Bar(
        x=_batch_names(rows), y=(share * 100).round(1).tolist(), name="inputs that drifted",
        marker_color=[FLAG_COLOUR if s >= drift_line else REFERENCE_COLOUR for s in share], opacity=0.75,
        text=[f"{int(d)} of {int(c)}" for d, c in zip(rows["drifted"], rows["compared"], strict=True)],
        textposition="outside", hovertemplate="%{x}: %{y:.0f}% of inputs (%{text})<extra></extra>"))
    fig.add_hline(y=drift_line * 100, line={"color": FLAG_COLOUR, "dash": "dash"},
                  annotation={"text": f"alert at {drift_line:.0%}", "font": {"size": 11}},
                  annotation_position="top left")
    fig.update_layout(title="Inputs that drifted per batch", height=320,
                      margin={"l": 10, "r": 10, "t": 50, "b": 10}, showlegend=False,
                      xaxis={"title": "Data batch (the month it describes)", "type": "category"},
                      yaxis={"title": "Inputs that drifted (% of those compared)", "range": [0, 105]})
    return fig


plotly_safe_module(globals())  # user text in every chart above is escaped for Plotly (core/text.py)
