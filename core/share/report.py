"""Writes a project's lifecycle report as one self-contained HTML file (charts included, nothing fetched)."""

from __future__ import annotations

import html
from datetime import datetime

import pandas as pd

from core.share.dashboard import Snapshot, project_snapshot
from core.store.workspace import Workspace

SECTIONS = ("Decision", "Definition", "Data health", "Split", "Leaderboard", "Champion", "Key results", "Drift",
            "Monitoring loop", "Launch", "Ledger")

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1b1f2a;background:#f3f5fb}
main{max-width:1100px;margin:0 auto;padding:32px 40px;background:#fff}
h1{font-size:2.2rem;margin:0 0 4px} h2{border-bottom:2px solid #3d5afe;padding-bottom:4px;margin-top:36px}
.muted{color:#5f6675} .kpis{display:flex;gap:12px;flex-wrap:wrap}
.kpi{border:1px solid #dde1ee;border-radius:10px;padding:12px 16px;min-width:180px}
.kpi b{display:block;font-size:1.6rem} .ok{color:#1b7f3b} .bad{color:#b3261e}
table{border-collapse:collapse;width:100%;font-size:.9rem} th,td{border-bottom:1px solid #e6e8f0;padding:6px 8px;
text-align:left} th{background:#f3f5fb} .verdict{padding:12px 16px;border-radius:10px;background:#eef1ff}
"""


def _e(text) -> str:
    return html.escape("" if text is None else str(text))


def _table(df: pd.DataFrame | None, limit: int = 20) -> str:
    if df is None or df.empty:
        return "<p class='muted'>Nothing yet.</p>"
    head = "".join(f"<th>{_e(c)}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{_e(_fmt(v))}</td>" for v in row) + "</tr>"
                   for row in df.head(limit).itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, datetime):
        return f"{v:%Y-%m-%d %H:%M}"
    return "" if v is None else str(v)


def _chart(fig) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=False, config={"displayModeBar": False})


def leaderboard_figure(snap: Snapshot):
    """The launch metric of each model on validation, with the launch threshold; None without a leaderboard."""
    import plotly.graph_objects as go

    from core.text import safe_figure

    lb = snap.leaderboard
    if lb is None or lb.empty:
        return None
    metric = snap.project.criteria.primary_metric
    cols = [c for c in lb.columns if "validation" in c.lower() or c.lower().startswith(metric)]
    if not cols:
        return None
    name_col = "Model" if "Model" in lb.columns else lb.columns[0]
    values = pd.to_numeric(lb[cols[0]], errors="coerce")
    fig = go.Figure(go.Bar(x=values, y=lb[name_col].astype(str).tolist(), orientation="h", marker_color="#3d5afe"))
    fig.add_vline(x=snap.project.criteria.threshold, line_dash="dash", annotation_text="launch threshold")
    fig.update_layout(title=f"{cols[0]} of each model", height=90 + 28 * len(lb),
                      margin=dict(l=10, r=10, t=40, b=10), xaxis_title=cols[0], yaxis_title="Model",
                      yaxis=dict(autorange="reversed"))
    return safe_figure(fig)


def _leaderboard_chart(snap: Snapshot) -> str:
    fig = leaderboard_figure(snap)
    return "" if fig is None else _chart(fig)


def _key_results(snap: Snapshot) -> str:
    from core.share.key_results import key_result_table

    if not snap.key_results:
        return ("<section id='key-results'><h2>Key results</h2><p class='muted'>No OKR is set on the Define page."
                "</p></section>")
    okr = snap.project.criteria.okr
    where = "; ".join(sorted({r.measured_on for r in snap.key_results if r.value is not None})) or "no model yet"
    return (f"<section id='key-results'><h2>Key results</h2><p><b>Objective.</b> {_e(okr.objective if okr else '')}"
            f"</p>{_table(key_result_table(snap.key_results))}<p class='muted'>Measured on {_e(where)}. Rates with a "
            "95 % Wilson interval, ROC-AUC with a bootstrap one.</p></section>")


def _loop(snap: Snapshot) -> str:
    from core.monitor.charts import batch_drift_figure, batch_quality_figure
    from core.share.loop import alert_lines, batch_table

    loop = snap.loop
    if loop is None:
        return ("<section id='monitoring-loop'><h2>Monitoring loop</h2><p class='muted'>No batch has been appended "
                "and no monitoring run saved yet.</p></section>")
    charts = [f for f in (batch_quality_figure(loop.monitored, loop.metric_label, loop.target_value, loop.op,
                                               "at the saved threshold"),
                          batch_drift_figure(loop.monitored, loop.drift_line)) if f is not None]
    alerts = "".join(f"<li>{_e(line)}</li>" for line in alert_lines(loop, limit=20))
    c = loop.challenger
    return ("<section id='monitoring-loop'><h2>Monitoring loop</h2>"
            f"<div class='verdict'>{_e(loop.sentence[0].upper() + loop.sentence[1:])}</div>"
            + "".join(_chart(f) for f in charts) + _table(batch_table(loop), limit=100)
            + f"<h3>Open alerts ({len(loop.open_alerts)} of {loop.alerts} raised)</h3>"
            + (f"<ul>{alerts}</ul>" if alerts else "<p class='muted'>No open alert.</p>")
            + "<h3>Challenger</h3>"
            + (f"<p>{_e(c.sentence)}</p>" if c is not None else "<p class='muted'>No retrain yet.</p>")
            + "</section>")


def build_report(ws: Workspace, project_id: str) -> str:
    """Returns the lifecycle report of a project as a standalone HTML page."""
    from plotly.offline import get_plotlyjs

    snap = project_snapshot(ws, project_id)
    p = snap.project
    parts = [f"<h1>{_e(p.name)}</h1><p class='muted'>Lifecycle report · generated {datetime.now():%Y-%m-%d %H:%M} · "
             "AI Product Workbench</p>"]
    d = snap.decision
    parts.append("<section id='decision'><h2>Decision</h2>"
                 f"<div class='verdict'><b>{_e(d.verdict)}</b> — {_e(d.why)}</div>"
                 + ("<ul>" + "".join(f"<li>{_e(r)}</li>" for r in d.reasons[1:]) + "</ul>" if len(d.reasons) > 1
                    else "") + "</section>")
    parts.append("<section id='definition'><h2>Definition</h2>"
                 f"<p><b>Problem.</b> {_e(p.problem)}</p><p><b>Who acts on it.</b> {_e(p.users_and_decision)}</p>"
                 f"<p><b>Target.</b> {_e(p.target)} ({_e(p.task)})</p><ul>"
                 + "".join(f"<li>{_e(line)}</li>" for line in snap.criteria_lines) + "</ul></section>")
    health = snap.data_health or {}
    parts.append("<section id='data-health'><h2>Data health</h2>"
                 f"<p>Dataset <b>{_e(snap.dataset['name'])}</b>: {snap.dataset['rows']:,} rows × "
                 f"{snap.dataset['columns']} columns.</p>"
                 + (_table(pd.DataFrame([health])) if health else "<p class='muted'>Not profiled yet.</p>")
                 + "</section>")
    split = snap.split
    parts.append("<section id='split'><h2>Split</h2>" + (
        f"<p>{_e(split['name'])}: " + ", ".join(f"{_e(k)} {v:,} rows" for k, v in split["sizes"].items())
        + f". Content hash <code>{_e(split['hash'][:12])}</code>.</p>" if split else "<p class='muted'>No split yet.</p>")
        + "</section>")
    parts.append("<section id='leaderboard'><h2>Leaderboard</h2>" + (_leaderboard_chart(snap) if snap.leaderboard
                 is not None else "") + _table(snap.leaderboard) + "</section>")
    kpis = "".join(
        f"<div class='kpi'><span class='muted'>{_e(k.label)}</span>"
        f"<b class='{'ok' if k.is_ok else 'bad' if k.is_ok is False else ''}'>{_e(k.value)}</b><span class='muted'>"
        + _e(" · ".join(x for x in ("target " + k.target if k.target else "", k.threshold,
                                    f"95 % interval {k.interval}" if k.interval else "") if x)) + "</span></div>"
        for k in snap.kpis)
    v = snap.value
    if v is not None:
        versus = f"vs {v.baseline_name}: {v.no_model:+,.0f}" + (
            f" · vs previous champion {v.previous_label}: {v.previous:+,.0f}" if v.previous is not None else "")
        kpis += (f"<div class='kpi'><span class='muted'>Value per 1,000 decisions</span><b>{v.model:+,.0f}</b>"
                 f"<span class='muted'>{_e(versus)}</span></div>")
    champ = snap.champion
    run = snap.champion_run
    who = (f"Champion: version {champ.number} ({_e(run.model_label if run else '')}), figures "
           f"{_e(snap.shown.label or 'without a threshold')}" if champ else
           (f"No champion yet; best model so far: {_e(run.model_label)}" if run else "No model yet."))
    parts.append(f"<section id='champion'><h2>Champion</h2><p>{who}</p><div class='kpis'>{kpis}</div>"
                 + "".join(f"<p class='muted'>{_e(n)}</p>" for n in snap.notes) + "</section>")
    reigns = snap.champion_reigns()
    if not reigns.empty:
        from core.share.dashboard import champion_figure

        parts[-1] = parts[-1].replace("</section>", _chart(champion_figure(reigns))
                                      + _table(reigns.drop(columns=["end"])) + "</section>")
    parts.append(_key_results(snap))
    drift, summary = snap.drift, snap.drift_summary
    parts.append("<section id='drift'><h2>Drift</h2>" + (
        f"<div class='verdict'>{_e(summary.sentence if summary else drift.verdict)}</div>"
        f"<p class='muted'>{_e(drift.verdict)} Checked {_e(_fmt(drift.created_at))}.</p>" if drift else
        "<p class='muted'>No drift check yet.</p>") + "</section>")
    parts.append(_loop(snap))
    rehearsals = "".join(f"<div class='verdict'><b>{_e(r.decision)}</b> — {_e(r.sentence)}</div>"
                         f"<p class='muted'>Simulated {_e(r.strategy)} rollout on replayed data.</p>"
                         for r in snap.rehearsals[:3]) or "<p class='muted'>No honest launch rehearsal yet.</p>"
    if snap.what_ifs:
        rehearsals += ("<h3>What-if rehearsals (injected failures, not a verdict on the model)</h3><ul>"
                       + "".join(f"<li><b>{_e(r.decision)}</b> ({_e(r.strategy)}, {_e(r.injected)}): "
                                 f"{_e(r.sentence)}</li>" for r in snap.what_ifs[:5]) + "</ul>")
    parts.append(f"<section id='launch'><h2>Launch</h2>{rehearsals}</section>")
    ledger = pd.DataFrame([{"when": e.at, "action": e.action, "version": e.version_id, "by": e.by, "why": e.why}
                           for e in snap.ledger]) if snap.ledger else None
    parts.append("<section id='ledger'><h2>Ledger</h2>" + _table(ledger, limit=100) + "</section>")
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{_e(p.name)} — lifecycle report</title><style>{_CSS}</style>"
            f"<script>{get_plotlyjs()}</script></head><body><main>{''.join(parts)}</main></body></html>")
