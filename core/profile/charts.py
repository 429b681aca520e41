"""Plotly figures for the Profile and Compare pages, drawn from bins and counts (never from raw rows).

Every figure holds at most a few hundred numbers, so each stays a few kilobytes however large the table is.
"""

from __future__ import annotations

import plotly.graph_objects as go
from core.text import plotly_safe_module

LEFT_COLOR, RIGHT_COLOR, MAIN_COLOR = "#4C78A8", "#F58518", "#4C78A8"
_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), height=300, bargap=0.05, showlegend=False)


def _fig(title: str) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(title=dict(text=title, font=dict(size=14)), **_LAYOUT)
    return fig


def _centres(edges: list[float]) -> tuple[list[float], list[float]]:
    return [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:])], [b - a for a, b in zip(edges[:-1], edges[1:])]


def histogram_figure(hist: dict | None, title: str, x_title: str = "value") -> go.Figure:
    """A histogram from precomputed edges and counts."""
    fig = _fig(title)
    if hist and hist.get("counts"):
        x, width = _centres(hist["edges"])
        labels = [f"{a:,.4g} – {b:,.4g}" for a, b in zip(hist["edges"][:-1], hist["edges"][1:])]
        fig.add_bar(x=x, y=hist["counts"], width=width, marker_color=MAIN_COLOR, customdata=labels,
                    hovertemplate="%{customdata}<br>%{y:,} rows<extra></extra>")
    fig.update_xaxes(title_text=x_title)
    fig.update_yaxes(title_text="rows")
    return fig


def bar_figure(stat: dict, title: str) -> go.Figure:
    """Bars of a column's most common values, plus the rest as one 'other' bar."""
    fig = _fig(title)
    top = stat.get("top") or []
    labels = [str(t["value"]) for t in top]
    counts = [t["count"] for t in top]
    if stat.get("other_count"):
        labels.append(f"other ({max(stat.get('distinct', 0) - len(top), 0):,} values)")
        counts.append(stat["other_count"])
    fig.add_bar(x=counts[::-1], y=labels[::-1], orientation="h", marker_color=MAIN_COLOR,
                hovertemplate="%{y}: %{x:,} rows<extra></extra>")
    fig.update_layout(height=max(220, 26 * len(labels) + 80))
    fig.update_xaxes(title_text="rows")
    fig.update_yaxes(title_text="value")
    return fig


def period_figure(by_period: dict | None, title: str) -> go.Figure:
    """Rows per month (or year) of a date column."""
    fig = _fig(title)
    if by_period:
        fig.add_bar(x=by_period["labels"], y=by_period["counts"], marker_color=MAIN_COLOR,
                    hovertemplate="%{x}: %{y:,} rows<extra></extra>")
    fig.update_xaxes(title_text=(by_period or {}).get("period", "period"))
    fig.update_yaxes(title_text="rows")
    return fig


def heatmap_figure(columns: list[str], matrix: list[list[float | None]], title: str, signed: bool) -> go.Figure:
    """A correlation heatmap; signed measures run -1..1 on a diverging scale, associations 0..1."""
    fig = _fig(f"Correlation between columns: {title}" if "correlation" not in title.lower() else title)
    fig.add_heatmap(z=matrix, x=columns, y=columns, zmin=-1 if signed else 0, zmax=1,
                    colorscale="RdBu" if signed else "Blues", reversescale=signed,
                    hovertemplate="%{y} × %{x}: %{z:.3f}<extra></extra>")
    size = max(360, min(900, 22 * len(columns) + 160))
    fig.update_layout(height=size, showlegend=False)
    fig.update_yaxes(autorange="reversed", title_text="column")
    fig.update_xaxes(title_text="column")
    return fig


def association_figure(rows: list[dict], title: str) -> go.Figure:
    """Horizontal bars of each feature's association with the target, strongest on top."""
    fig = _fig(title)
    shown = [r for r in rows if r.get("value") is not None][:25]
    fig.add_bar(x=[r["value"] for r in shown][::-1], y=[r["feature"] for r in shown][::-1], orientation="h",
                marker_color=MAIN_COLOR, customdata=[r["measure"] for r in shown][::-1],
                hovertemplate="%{y}: %{x:.3f} (%{customdata})<extra></extra>")
    fig.update_layout(height=max(240, 24 * len(shown) + 80))
    fig.update_xaxes(range=[0, 1], title_text="association (0 = none, 1 = perfect)")
    fig.update_yaxes(title_text="input column")
    return fig


def class_figure(classes: list[dict], title: str) -> go.Figure:
    """The target's class balance as bars with shares."""
    fig = _fig(title)
    fig.add_bar(x=[str(c["value"]) for c in classes], y=[c["count"] for c in classes], marker_color=MAIN_COLOR,
                text=[f"{c['pct']:.1f}%" for c in classes], textposition="outside",
                hovertemplate="%{x}: %{y:,} rows<extra></extra>")
    fig.update_xaxes(title_text="class")
    fig.update_yaxes(title_text="rows")
    return fig


def overlay_figure(chart: dict, left: str, right: str, title: str) -> go.Figure:
    """Two sides on shared bins or categories, as shares of each side's rows so different sizes compare."""
    fig = _fig(title)
    fig.update_layout(showlegend=True, barmode="group" if chart["type"] != "histogram" else "overlay",
                      legend=dict(orientation="h", y=-0.2))
    lt, rt = max(sum(chart["left"]) + chart.get("left_other", 0), 1), max(sum(chart["right"]) + chart.get("right_other", 0), 1)
    if chart["type"] == "histogram":
        x, width = _centres(chart["edges"])
        for counts, total, name, color in ((chart["left"], lt, left, LEFT_COLOR), (chart["right"], rt, right, RIGHT_COLOR)):
            fig.add_bar(x=x, y=[100 * c / total for c in counts], width=width, name=name, marker_color=color,
                        opacity=0.55, hovertemplate="%{x:,.4g}: %{y:.2f}% of rows<extra>" + name[:30] + "</extra>")
    else:
        labels = [str(v) for v in chart["labels"]]
        extra_l = [chart["left_other"]] if chart.get("left_other") or chart.get("right_other") else []
        extra_r = [chart["right_other"]] if extra_l else []
        if extra_l:
            labels = labels + ["other"]
        for counts, total, name, color in ((chart["left"] + extra_l, lt, left, LEFT_COLOR),
                                           (chart["right"] + extra_r, rt, right, RIGHT_COLOR)):
            fig.add_bar(x=labels, y=[100 * c / total for c in counts], name=name, marker_color=color,
                        hovertemplate="%{x}: %{y:.2f}% of rows<extra>" + name[:30] + "</extra>")
    fig.update_xaxes(title_text="value (bin)" if chart["type"] == "histogram" else "value")
    fig.update_yaxes(title_text="% of rows")
    return fig


plotly_safe_module(globals())  # user text in every chart above is escaped for Plotly (core/text.py)
