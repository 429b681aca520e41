"""Plotly figures for the Launch page, drawn from the small per-day and per-step frames of a simulated rollout."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.text import plotly_safe_module

BLUE, ORANGE, GREEN, GREY, RED = "#1f77b4", "#ff7f0e", "#2ca02c", "#9e9e9e", "#d62728"
_LAYOUT = {"height": 330, "margin": {"l": 10, "r": 10, "t": 40, "b": 10}, "legend": {"orientation": "h", "y": -0.25}}
SRM_ALARM_P = 0.001


def _go():
    import plotly.graph_objects as go

    return go


def _r(values, digits: int = 4) -> list:
    return [None if not np.isfinite(v) else float(v)
            for v in np.round(pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float), digits)]


def _num(values) -> pd.Series:
    return pd.to_numeric(pd.Series(values), errors="coerce")


def guardrail_scale(key: str, is_binary: bool) -> tuple[float, str]:
    """Returns how a guardrail's differences are shown: (multiplier, unit)."""
    if key == "latency":
        return 1.0, "ms"
    if key == "outcome" and not is_binary:
        return 1.0, "per request"
    return 100.0, "points"


def _figure(title: str, **layout):
    fig = _go().Figure()
    fig.update_layout(title={"text": f"{title} (simulated)", "font": {"size": 15}}, **{**_LAYOUT, **layout})
    return fig


def _band(fig, x, low, high, color: str, name: str) -> None:
    """A shaded interval between two lines."""
    go = _go()
    fig.add_trace(go.Scatter(x=x, y=_r(high), mode="lines", line={"width": 0}, showlegend=False, hoverinfo="skip",
                             legendgroup=name))
    fig.add_trace(go.Scatter(x=x, y=_r(low), mode="lines", line={"width": 0}, fill="tonexty", fillcolor=color,
                             name=name, legendgroup=name, hoverinfo="skip"))


def agreement_chart(daily: pd.DataFrame):
    """Shadow: the share of requests on which both models decided the same, day by day."""
    fig = _figure("Agreement with the champion", xaxis_title="Day", yaxis_title="Requests with the same decision",
                  yaxis_tickformat=".0%", yaxis_range=[0, 1.02])
    fig.add_trace(_go().Scatter(x=daily["day"].tolist(), y=_r(daily["agreement"]), mode="lines+markers",
                                name="agreement", line={"color": BLUE}))
    return fig


def shadow_outcome_chart(daily: pd.DataFrame, label: str):
    """Shadow: what each model earned per request so far; the challenger's line is what it would have earned."""
    go = _go()
    x = daily["day"].tolist()
    fig = _figure(f"Would-have outcome: {label} per request", xaxis_title="Day", yaxis_title=f"{label} per request")
    fig.add_trace(go.Scatter(x=x, y=_r(daily["champion_mean"]), name="champion (served)", line={"color": BLUE}))
    fig.add_trace(go.Scatter(x=x, y=_r(daily["challenger_mean"]), name="challenger (would have)",
                             line={"color": ORANGE, "dash": "dash"}))
    return fig


def latency_chart(latency: pd.DataFrame):
    """Shadow: median, 95th and 99th percentile latency of both models."""
    go = _go()
    fig = _figure("Latency per request", xaxis_title="Model", yaxis_title="Milliseconds per request", barmode="group")
    for col, name, color in (("p50_ms", "median", BLUE), ("p95_ms", "95th percentile", ORANGE),
                             ("p99_ms", "99th percentile", RED)):
        fig.add_trace(go.Bar(x=latency["model"].tolist(), y=_r(latency[col], 2), name=name, marker_color=color))
    return fig


def disagreement_chart(cells: pd.DataFrame):
    """Shadow: requests per (champion decision, challenger decision) pair."""
    rows = sorted(set(cells["champion"]) | set(cells["challenger"]))
    counts = {(a, b): n for a, b, n in zip(cells["champion"], cells["challenger"], cells["requests"])}
    z = [[int(counts.get((a, b), 0)) for b in rows] for a in rows]
    fig = _figure("Decisions of both models", xaxis_title="Challenger decided", yaxis_title="Champion decided")
    fig.add_trace(_go().Heatmap(z=z, x=rows, y=rows, colorscale="Blues", text=[[f"{v:,}" for v in r] for r in z],
                                texttemplate="%{text}", showscale=False))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category")
    return fig


def arms_chart(daily: pd.DataFrame, label: str, scale: float = 1.0):
    """A/B: cumulative outcome per arm with its confidence interval, day by day."""
    go = _go()
    x = daily["day"].tolist()
    fig = _figure(f"Cumulative {label} per request by arm", xaxis_title="Day", yaxis_title=f"{label} per request")
    for arm, color, fill in (("champion", BLUE, "rgba(31,119,180,0.18)"), ("challenger", ORANGE,
                                                                           "rgba(255,127,14,0.18)")):
        _band(fig, x, _num(daily[f"low_{arm}"]) * scale, _num(daily[f"high_{arm}"]) * scale, fill, f"{arm} interval")
        fig.add_trace(go.Scatter(x=x, y=_r(_num(daily[f"mean_{arm}"]) * scale), name=arm, line={"color": color}))
    return fig


def difference_chart(daily: pd.DataFrame, scale: float = 1.0, unit: str = ""):
    """A/B: challenger minus champion with the fixed-horizon interval and the always-valid confidence sequence."""
    go = _go()
    x = daily["day"].tolist()
    fig = _figure("Difference, challenger − champion", xaxis_title="Day", yaxis_title=unit or "difference")
    _band(fig, x, _num(daily["sequential_low"]) * scale, _num(daily["sequential_high"]) * scale,
          "rgba(44,160,44,0.18)", "sequential (valid at every look)")
    _band(fig, x, _num(daily["fixed_low"]) * scale, _num(daily["fixed_high"]) * scale, "rgba(158,158,158,0.35)",
          "fixed-horizon (valid on the last day only)")
    fig.add_trace(go.Scatter(x=x, y=_r(_num(daily["diff"]) * scale), name="difference", line={"color": "black"}))
    fig.add_hline(y=0, line={"color": GREY, "dash": "dot"})
    return fig


def srm_chart(daily: pd.DataFrame):
    """A/B: the sample-ratio-mismatch p-value each day, with the alarm line at p = 0.001."""
    p = np.clip(pd.to_numeric(daily["srm_p"], errors="coerce").fillna(1.0).to_numpy(dtype=float), 1e-300, 1)
    low = min(-4.0, float(np.floor(np.log10(p.min()))))  # the alarm line at 10^-3 always shows
    fig = _figure("Traffic split check (sample ratio mismatch)", xaxis_title="Day", yaxis_title="p-value",
                  yaxis={"type": "log", "range": [low, 0.05], "dtick": 1, "exponentformat": "power"})
    colors = [RED if v < SRM_ALARM_P else GREEN for v in p]
    fig.add_trace(_go().Scatter(x=daily["day"].tolist(), y=[float(f"{v:.3g}") for v in p], mode="lines+markers",
                                name="chi-square p-value", line={"color": GREY}, marker={"color": colors}))
    fig.add_hline(y=SRM_ALARM_P, line={"color": RED, "dash": "dash"},
                  annotation={"text": "alarm below 0.001", "font": {"color": RED, "size": 11}})
    return fig


def peeking_chart(peeking: pd.DataFrame, alpha: float):
    """A/B: share of A/A tests wrongly called significant so far, naive daily peeking against the sequential test."""
    go = _go()
    x = peeking["day"].tolist()
    fig = _figure("False alarms when looking every day (A/A tests)", xaxis_title="Day",
                  yaxis_title="Tests wrongly called significant so far", yaxis_tickformat=".0%")
    fig.add_trace(go.Scatter(x=x, y=_r(peeking["naive_fpr"]), name="naive daily test", line={"color": RED}))
    fig.add_trace(go.Scatter(x=x, y=_r(peeking["sequential_fpr"]), name="sequential test", line={"color": GREEN}))
    fig.add_hline(y=alpha, line={"color": GREY, "dash": "dash"},
                  annotation={"text": f"promised rate {alpha:.0%}", "font": {"size": 11}})
    return fig


def traffic_chart(daily: pd.DataFrame):
    """Canary: the challenger's share of traffic over time as a step chart, marked where it was stopped."""
    go = _go()
    fig = _figure("Challenger's share of traffic", xaxis_title="Day", yaxis_title="% of requests",
                  yaxis_range=[0, 105])
    fig.add_trace(go.Scatter(x=daily["day"].tolist(), y=_r(daily["share"], 2), mode="lines", line_shape="hv",
                             name="traffic share", line={"color": ORANGE, "width": 3}))
    states = daily["state"].tolist()
    for state, color, text in (("rolled back", RED, "rolled back"), ("paused", GREY, "paused"),
                               ("promoted", GREEN, "promoted")):
        if state in states:
            day = int(daily["day"].iloc[states.index(state)])
            fig.add_vline(x=day, line={"color": color, "dash": "dash"},
                          annotation={"text": text, "font": {"color": color, "size": 11}})
    return fig


def guardrail_chart(measurements: pd.DataFrame, guardrail: str, higher_is_better: bool, scale: float = 1.0):
    """Canary: one guardrail's daily measurement with its interval, the tolerance line and each status."""
    go = _go()
    m = measurements[measurements["guardrail"] == guardrail]
    label = str(m["label"].iloc[0]) if len(m) else guardrail
    fig = _figure(f"Guardrail: {label}, challenger − champion", xaxis_title="Day", yaxis_title="difference")
    colors = {"Successful": GREEN, "Failed": RED, "Inconclusive": GREY}
    est, low, high = (_num(m[c]).reset_index(drop=True) * scale for c in ("estimate", "low", "high"))
    fig.add_trace(go.Scatter(
        x=m["day"].tolist(), y=_r(est), mode="markers", name="measurement",
        marker={"color": [colors.get(s, GREY) for s in m["status"]], "size": 9},
        error_y={"type": "data", "symmetric": False, "array": _r((high - est).clip(upper=1e6)),
                 "arrayminus": _r((est - low).clip(upper=1e6)), "color": GREY},
        text=m["status"].tolist(), hovertemplate="day %{x}: %{y} (%{text})<extra></extra>"))
    if len(m):
        tol = float(_num(m["tolerance"]).iloc[-1]) * scale
        fig.add_hline(y=-tol if higher_is_better else tol, line={"color": RED, "dash": "dash"},
                      annotation={"text": "harm allowed", "font": {"color": RED, "size": 11}})
    fig.add_hline(y=0, line={"color": GREY, "dash": "dot"})
    return fig


plotly_safe_module(globals())  # user text in every chart above is escaped for Plotly (core/text.py)
