"""Plotly figures for the Registry page and the dashboard: which version was champion when, and the primary metric by
version. Built with plotly.graph_objects (plotly express costs about 0.25 s per figure, paid on every page run)."""

from __future__ import annotations

import pandas as pd
from plotly.graph_objects import Figure

from core.project.criteria import metric_label
from core.text import plotly_safe_module

_COLOURS = {"promote": "#3d5afe", "rollback": "#d62728"}
_HOW = {"promote": "promoted", "rollback": "rolled back to"}


def _duration(seconds: float) -> str:
    """A reign's length for people: 3 s, 12 min, 5 h, 4 days."""
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            value = seconds / size
            return f"{value:.0f} {unit}" if value >= 10 else f"{value:.1f} {unit}"
    return f"{seconds:.0f} s"


def champion_timeline_figure(reigns: pd.DataFrame) -> Figure | None:
    """One bar per reign (`modelcard.champion_timeline` rows: version, start, end, how, by, optional why), from when
    the version became champion until it was replaced (or now), on a time axis; None before any champion."""
    import plotly.graph_objects as go

    if not len(reigns):
        return None
    start = pd.to_datetime(reigns["start"])
    end = pd.to_datetime(reigns["end"])
    length_ms = ((end - start).dt.total_seconds() * 1000).clip(lower=1)
    why = reigns["why"] if "why" in reigns else pd.Series([""] * len(reigns), index=reigns.index)
    fig = go.Figure()
    for how, rows in reigns.groupby("how", sort=False):
        idx = rows.index
        fig.add_trace(go.Bar(
            y=rows["version"], x=length_ms[idx], base=start[idx], orientation="h", name=_HOW.get(how, str(how)),
            marker_color=_COLOURS.get(how, "#9e9e9e"),
            text=[f"{v} · {b}" for v, b in zip(rows["version"], rows["by"], strict=True)], textposition="inside",
            insidetextanchor="start",
            customdata=list(zip(rows["by"], [_duration(ms / 1000) for ms in length_ms[idx]], why[idx].fillna(""),
                                strict=True)),
            hovertemplate="%{y}: champion for %{customdata[1]}<br>by %{customdata[0]}<br>%{customdata[2]}"
                          "<extra></extra>"))
    fig.update_layout(title="Which version was champion when", barmode="overlay",
                      height=120 + 40 * reigns["version"].nunique(),
                      margin={"l": 70, "r": 10, "t": 50, "b": 10}, legend={"orientation": "h", "y": -0.35},
                      xaxis={"type": "date", "title": "Time (UTC)"},
                      yaxis={"title": "Champion version", "categoryorder": "category ascending"})
    return fig


def metric_trend_figure(trend: pd.DataFrame, metric: str) -> Figure:
    """The primary metric by version number, one line per set (`views.metric_trend`)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, rows in trend.groupby("set", sort=False):
        fig.add_trace(go.Scatter(x=rows["version"], y=rows["value"], mode="lines+markers", name=str(name)))
    fig.update_layout(title=f"{metric_label(metric)} by version", height=340,
                      margin={"l": 10, "r": 10, "t": 50, "b": 10},
                      xaxis={"title": "Version number", "dtick": 1}, yaxis={"title": metric_label(metric)})
    return fig


plotly_safe_module(globals())  # user text in every chart above is escaped for Plotly (core/text.py)
