"""Plotly figures for the Registry page: which version was champion when, and the primary metric by version."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
from plotly.graph_objects import Figure

from core.project.criteria import metric_label
from core.text import plotly_safe_module


def champion_timeline_figure(reigns: pd.DataFrame) -> Figure | None:
    """One bar per reign (`modelcard.champion_timeline`), coloured by how it began; None before any champion."""
    if not len(reigns):
        return None
    fig = px.timeline(reigns, x_start="start", x_end="end", y="version", color="how",
                      hover_data=["by"], title="Which version was champion when")
    fig.update_yaxes(categoryorder="category ascending")
    return fig


def metric_trend_figure(trend: pd.DataFrame, metric: str) -> Figure:
    """The primary metric by version number, one line per set (`views.metric_trend`)."""
    fig = px.line(trend, x="version", y="value", color="set", markers=True,
                  title=f"{metric_label(metric)} by version", labels={"value": metric_label(metric)})
    fig.update_xaxes(dtick=1)
    return fig


plotly_safe_module(globals())  # user text in every chart above is escaped for Plotly (core/text.py)
