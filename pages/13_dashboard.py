"""Project dashboard: the decision first, then the few numbers behind it, for someone who gives it one minute."""

from __future__ import annotations

import streamlit as st

from core.monitor.charts import batch_drift_figure, batch_quality_figure
from core.share.dashboard import champion_figure, important_features, project_snapshot
from core.share.key_results import key_result_table
from core.share.lifecycle import lifecycle_status
from core.share.loop import alert_lines, batch_table
from pages._cache import derived, figure, shared, shown_table, tracked_with_stamp
from pages._projects import require_project
from pages._widgets import arrow_frame, get_workspace, md_escape, page_link, table

ws = get_workspace()
project = require_project(ws)


def _important(ws_, run):
    # A model's important columns never change: ranked once per server and model file (pages/_cache.py).
    sha = run.artifact.sha256 if run.artifact is not None else ""
    return figure(run.project_id, ("dashboard.important", run.id, sha), important_features, ws_, run)


with st.spinner("Reading the project…"):
    # Kept until a write changes what it read (pages/_cache.py); the page shows no split, so a new one keeps it.
    snap, built = tracked_with_stamp(ws, project.id, ("dashboard.snapshot",), project_snapshot, ws, project.id,
                                     _important, False)

st.title(md_escape(project.name))
if project.problem:
    st.markdown(f"**Problem.** {md_escape(project.problem)}")

# -- 1. the decision ---------------------------------------------------------------------------------------------------
decision = snap.decision
tone = {"Ship": ("green", ":material/rocket_launch:"), "Hold": ("orange", ":material/pause_circle:"),
        "Roll back": ("red", ":material/undo:")}[decision.verdict]
with st.container(border=True, key="dashboard-decision"):
    st.markdown(f"## :{tone[0]}[{tone[1]} {decision.verdict}]")
    st.markdown(f"**{md_escape(decision.why)}**")
    if len(decision.reasons) > 1:
        st.markdown("\n".join(f"- {md_escape(r)}" for r in decision.reasons[1:]))
    st.caption(" · ".join(md_escape(line) for line in snap.criteria_lines))

# -- 2. the numbers behind it ------------------------------------------------------------------------------------------
cards = [(k.label, k.value, " · ".join(x for x in (f"target {k.target}" if k.target else "", k.threshold,
                                                     f"95 % interval {k.interval}" if k.interval else "") if x),
          k.is_ok, k.help) for k in snap.kpis]
if snap.value is not None:
    v = snap.value
    versus = f"vs {v.baseline_name}: {v.no_model:+,.0f}"
    if v.previous is not None:
        versus += f" · vs previous champion {v.previous_label}: {v.previous:+,.0f}"
    cards.append(("Value per 1,000 decisions", f"{v.model:+,.0f}", versus, v.model > v.no_model,
                  "Expected value of 1,000 decisions from the project's value of each outcome, on the validation "
                  f"rows, {snap.shown.label}. The baseline is what happens without a model: nobody is flagged."))
for i, (col, (label, value, sub, ok, help_)) in enumerate(zip(st.columns(max(len(cards), 1)), cards)):
    with col.container(border=True, key=f"dashboard-kpi-{i}"):
        st.metric(label, value, help=help_ or None)
        status = {True: ":green[on target]", False: ":red[off target]", None: ""}[ok]
        if "Value" in label and ok is not None:
            status = ":green[better than no model]" if ok else ":red[worse than no model]"
        st.caption(" · ".join(x for x in (status, md_escape(sub)) if x))
for note in snap.notes:
    st.caption(md_escape(note))
if snap.key_results:
    okr = snap.project.criteria.okr
    st.markdown(f"**Key results** · objective: {md_escape(okr.objective if okr else '')}")
    # a static table wraps its text, so no key result or threshold is cut at 1280 px
    st.table(key_result_table(snap.key_results).set_index("Key result"))
    where = sorted({r.measured_on for r in snap.key_results if r.value is not None})
    if where:
        st.caption(f"Measured on {md_escape('; '.join(where))}: rows the model never trained on. Rates with a 95 % "
                   "Wilson interval, ROC-AUC with a bootstrap one. The launch gate checks each key result that names "
                   "a model metric.")
    else:
        st.caption("Not measured yet: a key result is measured on the champion's validation rows once a version is "
                   "promoted.")

# -- 3. drift: which columns that matter moved, and did quality move ---------------------------------------------------
left, right = st.columns(2)
with left:
    st.subheader("New data")
    d = snap.drift_summary
    if d is not None:
        box = st.warning if d.important_drifted or (d.quality and d.quality.get("meets") is False) else st.success
        box(md_escape(d.sentence[0].upper() + d.sentence[1:]), icon=":material/monitoring:")
        st.caption(f"{md_escape(d.report.reference)} against {md_escape(d.report.current)}, checked "
                   f"{d.report.created_at:%Y-%m-%d %H:%M}. Important = the champion's "
                   f"{len(d.important)} most important inputs ({md_escape(', '.join(d.important))}).")
    elif snap.drift is not None:
        st.info(md_escape(snap.drift.verdict), icon=":material/monitoring:")
    else:
        st.info("No drift check yet.", icon=":material/monitoring:")
with right:
    st.subheader("Launch rehearsals")
    if snap.rehearsals:
        for r in snap.rehearsals[:2]:
            box = {"Ship": st.success, "Roll back": st.error}.get(r.decision, st.warning)
            box(f"**{md_escape(r.decision)}**: {md_escape(r.sentence)}", icon=":material/rocket_launch:")
        st.caption("Simulated from replayed rows, not live traffic.")
    else:
        st.info("No honest rehearsal yet (one without an injected failure).", icon=":material/rocket_launch:")
    if snap.what_ifs:
        with st.expander(f"What-if rehearsals with an injected failure ({len(snap.what_ifs)})",
                         icon=":material/science:"):
            st.caption("These show whether the rollout would catch a problem we put in on purpose; they are not "
                       "a verdict on the model.")
            for r in snap.what_ifs[:5]:
                st.markdown(f"- **{md_escape(r.decision)}** ({md_escape(r.strategy)}, {md_escape(r.injected)}): "
                            f"{md_escape(r.sentence)}")

# -- 4. the loop: new data, monitoring, retraining ---------------------------------------------------------------------
loop = snap.loop
if loop is not None:
    st.subheader("The loop: new data, monitoring and retraining")
    st.caption(md_escape(loop.sentence[0].upper() + loop.sentence[1:]))
    c = loop.challenger
    if loop.status_at:
        checked_note = f"newest run {loop.status_at.replace('T', ' ')[:16]}"
    elif loop.status == "not checked":
        checked_note = f"{loop.champion or 'the champion'} not checked yet; {loop.previous_check or 'no run on it'}"
    else:
        checked_note = "no run yet"
    cards = [("Monitoring", {"healthy": "Healthy", "alert": "Alert", "error": "Error",
                             "not checked": "Not yet"}.get(loop.status, "No runs"), checked_note),
             ("Open alerts", f"{len(loop.open_alerts)}", loop.alerts_caption),
             ("Data batches", f"{len(loop.batches)}", f"{len(loop.monitored)} checked by monitoring"),
             ("Pending challenger", c.challenger.split(" · ")[0] if c is not None and c.is_pending else "None",
              ("gate passed" if c.gate_passed else "gate failed" if c.gate_passed is False else "gate not run")
              if c is not None and c.is_pending else "latest retrain decided" if c is not None else "no retrain yet")]
    for i, (col, (label, value, sub)) in enumerate(zip(st.columns(len(cards)), cards)):
        with col.container(border=True, key=f"dashboard-loop-{i}"):
            st.metric(label, value)
            st.caption(md_escape(sub))
    checked = loop.monitored
    left, right = st.columns(2)
    key = ("dashboard.loop", tuple(checked["checked_at"]), len(loop.batches))
    quality = figure(project.id, key + ("quality",), batch_quality_figure, checked, loop.metric_label,
                     loop.target_value, loop.op, "at the saved threshold")
    drift = figure(project.id, key + ("drift",), batch_drift_figure, checked, loop.drift_line)
    with left:
        if quality is not None:
            st.plotly_chart(quality, width="stretch", key="dashboard.loop.quality")
        else:
            st.info("No new batch had outcomes yet, so the live model's quality is not measured on new data.",
                    icon=":material/monitoring:")
    with right:
        if drift is not None:
            st.plotly_chart(drift, width="stretch", key="dashboard.loop.drift")
        else:
            st.info("No monitoring run has checked a batch for drift yet.", icon=":material/monitoring:")
    table(shown_table(project.id, ("dashboard.loop.batches", built), batch_table, loop),
          key="dashboard.loop.batches")
    st.caption(f"Each batch as the newest monitoring run on it found it: the model is the one that was champion "
               f"then, measured on the batch's labelled rows {loop.threshold_note or ''} (95 % Wilson interval); "
               f"a data-drift alert fires when at least {loop.drift_line:.0%} of the model's inputs moved.")
    a_col, c_col = st.columns(2)
    with a_col:
        if loop.open_alerts:
            with st.expander(f"Open alerts ({len(loop.open_alerts)})", icon=":material/notifications_active:"):
                st.markdown("\n".join(f"- {md_escape(line)}" for line in alert_lines(loop)))
                if len(loop.open_alerts) > 6:
                    st.caption(f"and {len(loop.open_alerts) - 6} more on the Monitoring page.")
            page_link("pages/15_monitor.py", "Acknowledge alerts on the Monitoring page",
                      fallback=lambda: st.caption("Alerts are acknowledged on the Monitoring page."))
        else:
            st.success("No open alert.", icon=":material/notifications:")
    with c_col:
        if c is None:
            st.info("No retrain yet: when new labelled data arrives, retrain the champion's recipe on the Retrain "
                    "page and judge both models on the newest batch.", icon=":material/model_training:")
        else:
            box = (st.success if c.gate_passed and c.wins else st.warning) if c.is_pending else st.info
            box(md_escape(c.sentence), icon=":material/model_training:")
            if c.not_yet:
                st.caption("Not judged yet (never a failure): " + md_escape("; ".join(c.not_yet)) + ".")

# -- 5. who was champion when ------------------------------------------------------------------------------------------
st.subheader("Champion over time")
reigns = snap.champion_reigns()  # the current reign lasts until now
if reigns.empty:
    st.info("No version has been promoted yet.", icon=":material/inventory_2:")
else:
    fig = figure(project.id, ("dashboard.reigns", len(snap.ledger), str(reigns["end"].iloc[-1])[:16]),
                 champion_figure, reigns)
    st.plotly_chart(fig, width="stretch", key="dashboard.reigns")
    shown_reigns = shared(project.id, ("dashboard.reigns.table", built, str(reigns["end"].iloc[-1])[:16]),
                          lambda: arrow_frame(reigns.drop(columns=["end"] + (["batches monitored"] if loop is None
                                                                             else []))))
    st.dataframe(shown_reigns, hide_index=True, width="stretch",
                 column_config={"start": st.column_config.DatetimeColumn("since", format="D MMM YYYY, HH:mm")})

# -- 6. where the project stands, and the models compared --------------------------------------------------------------
with st.expander("Every lifecycle step and the models compared", icon=":material/checklist:"):
    steps = derived(ws, project.id, "dashboard.lifecycle", lifecycle_status)
    st.markdown("  \n".join(
        f"{':green[:material/check_circle:]' if s.is_done else ':gray[:material/radio_button_unchecked:]'} "
        f"**{s.title}**: {md_escape(s.fact)}" for s in steps))
    if snap.leaderboard is not None and not snap.leaderboard.empty:
        st.dataframe(shared(project.id, ("dashboard.leaderboard", built), lambda: arrow_frame(snap.leaderboard.head(8))),
                     hide_index=True, width="stretch")
        st.caption("Training measures every model at the default threshold 0.50; the champion's figures above are "
                   f"{snap.shown.label or 'threshold-free'}.")
