"""Monitoring: the project's data batches over time, every monitoring run per check and batch, and the alert log."""

from __future__ import annotations

import streamlit as st

from core.data.batches import BatchSchemaDiffers, ColumnMapping, append_upload, list_batches
from core.errors import WorkbenchError
from core.monitor.alertlog import acknowledge_alert, open_alerts
from core.monitor.loop_views import (CHAMPION_MARKS, STATUS_ICONS, alert_table, batch_timeline, health_matrix,
                                     monitoring_status)
from core.monitor.notify import deliver_in_background, list_deliveries
from core.monitor.policy import CHECKS, MonitorPolicy, get_policy, run_monitor, save_policy
from core.monitor.queue import queue_status
from pages._projects import md_escape, require_project
from pages._widgets import get_workspace, is_viewer, page_header, page_link, show_error

RETRAIN_PAGE = "pages/16_retrain.py"

ws = get_workspace()
page_header("Monitoring", "New data arrives in batches; every batch is checked against the live model's training "
                          "data and its success criteria, and alerts reach the team. `workbench monitor` runs the "
                          "same checks from cron.")
project = require_project(ws)
viewer = is_viewer()
by = "" if viewer else st.text_input("Your name, for the batch lineage and the run log", key="monitor.by",
                                     max_chars=80, placeholder="e.g. Dana (analyst)")

flash = st.session_state.pop("monitor.flash", None)
if flash:
    st.success(md_escape(flash), icon=":material/check_circle:")

status = monitoring_status(ws, project)
c1, c2, c3, c4 = st.columns(4)
c1.metric("Current status" + (f" of {status['champion']}" if status["champion"] else ""),
          STATUS_ICONS.get(status["status"], status["status"]))
c2.metric("Open alerts" + (f" on {status['champion']}" if status["champion"] else ""), status["open_alerts"])
c3.metric("Data batches", status["batches"])
c4.metric("Monitoring runs", status["runs"])
if status["at"]:
    st.caption(f"Newest run {status['at'].replace('T', ' ')} on batch {md_escape(status['batch'])}"
               + (f" with model {md_escape(status['model'])}, the current champion" if status["model"]
                  else " (no champion yet)")
               + (f"; alerting: {md_escape(', '.join(status['alerting_checks']))}." if status["alerting_checks"] else "."))
    if status["unchecked_batches"]:
        st.caption(f"Not yet checked with {md_escape(status['champion'] or 'it')}: batch "
                   + ", ".join(map(str, status["unchecked_batches"])) + ".")
if status["status"] == "not checked":
    prev = status["previous"]
    st.warning(f"The current champion {md_escape(status['champion'] or '')} has not been checked yet. The newest run "
               f"({prev['at'].replace('T', ' ')}, batch {md_escape(prev['batch'])}: {prev['status']}) checked "
               f"{md_escape(prev['model'] or 'no model')}, an earlier champion, so its verdict is not this model's. "
               "Run the checks below.", icon=":material/pending:")
elif status["previous"]:
    prev = status["previous"]
    st.caption(f"A newer run ({prev['at'].replace('T', ' ')}, {prev['status']}) checked "
               f"{md_escape(prev['model'] or 'no model')}, which is no longer the champion.")

# -- batches ----------------------------------------------------------------------------------------------------------
st.subheader("Data timeline")
timeline = batch_timeline(ws, project)
checked = [m or ("training data" if n == 1 else "not checked") for n, m in zip(timeline["batch"], timeline["monitoring"])]
st.dataframe(timeline.assign(added_at=timeline["added_at"].str.replace("T", " ").str[:16], monitoring=checked)[
                 ["batch", "label", "as_of", "rows", "labelled", "monitoring", "added_at", "added_by", "file", "sha256"]],
             hide_index=True, width="stretch", key="monitor.batches",
             column_config={"as_of": "as of", "monitoring": "newest check", "added_at": "added", "added_by": "by",
                            "sha256": "SHA-256"})

if not viewer:
    with st.expander("Append a batch", icon=":material/upload_file:", expanded=len(timeline) < 2):
        upload = st.file_uploader("CSV or Parquet file with the same columns as batch 1", type=["csv", "parquet", "gz"],
                                  key="monitor.upload")
        a, b = st.columns(2)
        label = a.text_input("Label", key="monitor.label", max_chars=60, placeholder="e.g. 2026-04")
        as_of = b.text_input("The day it describes (YYYY-MM-DD)", key="monitor.as_of", max_chars=10)
        st.caption("A file that differs from batch 1 is refused with the exact differences. To load it anyway, say "
                   "what to do with each one:")
        m1, m2 = st.columns(2)
        renames = m1.text_input("Rename (file=batch1, comma-separated)", key="monitor.rename")
        drop = m2.text_input("Leave out extra columns", key="monitor.drop")
        fill = m1.text_input("Load missing columns as empty", key="monitor.fill")
        accept = m2.text_input("Accept new categories in", key="monitor.accept")
        check_after = st.checkbox("Run the monitoring checks on it right away", value=True, key="monitor.check_after")
        if st.button("Append batch", type="primary", key="monitor.append", disabled=upload is None,
                     icon=":material/playlist_add:"):
            def _names(text: str) -> tuple:
                return tuple(n.strip() for n in text.split(",") if n.strip())

            mapping = ColumnMapping(rename=dict(p.split("=", 1) for p in _names(renames) if "=" in p),
                                    drop=_names(drop), fill=_names(fill), accept_categories=_names(accept))
            try:
                result = append_upload(ws, project, upload.getvalue(), upload.name, label=label or None,
                                       by=by or "analyst", mapping=mapping, as_of=as_of or None)
                text = (f"Already loaded as {result.batch.name}; nothing was ingested twice." if result.already_loaded
                        else f"Appended {result.batch.name}: {result.batch.rows:,} rows.")
                if check_after and not result.already_loaded:
                    run = run_monitor(ws, project, result.batch, by=by or "analyst")
                    deliver_in_background(ws, run, get_policy(ws, project.id).channels, project.name)
                    text += f" Monitoring: {run.status}."
                st.session_state["monitor.flash"] = text
                st.rerun()
            except BatchSchemaDiffers as err:
                st.error("Nothing was loaded: the file differs from batch 1.", icon=":material/rule:")
                for line in err.diff.lines():
                    st.markdown(f"- {md_escape(line)}")
            except WorkbenchError as err:
                show_error(err)

# -- runs -------------------------------------------------------------------------------------------------------------
st.subheader("Monitoring runs")
matrix = health_matrix(ws, project.id)
if matrix.empty:
    st.info("No monitoring run yet. Run the checks below, or schedule `workbench monitor` (see the README).",
            icon=":material/schedule:")
else:
    shown = matrix.drop(columns=["run"]).copy()
    for col in ["status", *CHECKS.values()]:
        shown[col] = shown[col].map(lambda s: STATUS_ICONS.get(s, s))
    shown["champion"] = shown["champion"].map(lambda s: CHAMPION_MARKS.get(s, s))
    st.caption("Each run checked the champion of its day; *champion* says whether that is still the current one.")
    st.dataframe(shown, hide_index=True, width="stretch", key="monitor.matrix",
                 column_config={CHECKS["performance"]: st.column_config.TextColumn(
                     "Performance", help="Performance against the success criteria, on the batch's labelled rows")})

queue = queue_status(ws.home, get_policy(ws, project.id))
st.caption(queue)

if not viewer:
    batches = list_batches(ws, project)
    # keyed by the newest batch, so a freshly appended batch is preselected
    pick = st.selectbox("Batch to check", [b.id for b in reversed(batches)], key=f"monitor.batch.{batches[-1].seq}",
                        format_func=lambda i: next(b.name for b in batches if b.id == i))
    if st.button("Run the checks now", key="monitor.run", icon=":material/play_arrow:"):
        try:
            with st.spinner("Running the monitoring checks…"):
                run = run_monitor(ws, project, next(b for b in batches if b.id == pick), by=by or "analyst")
            deliver_in_background(ws, run, get_policy(ws, project.id).channels, project.name)
            st.session_state["monitor.flash"] = f"Monitoring run on batch {run.batch_seq}: {run.status}."
            st.rerun()
        except WorkbenchError as err:
            show_error(err)

runs_for_detail = list(reversed(matrix["run"].tolist())) if not matrix.empty else []
if runs_for_detail:
    from core.monitor.policy import list_monitor_runs

    newest = list_monitor_runs(ws, project.id)[0]
    with st.expander(f"Evidence of the newest run (batch {newest.batch_seq} · {newest.batch_label}, model "
                     f"{newest.version_label or 'none'})",
                     icon=":material/fact_check:"):
        for c in newest.checks:
            st.markdown(f"**{md_escape(c.label)}** — {STATUS_ICONS.get(c.status, c.status)}  \n{md_escape(c.evidence)}")
    if newest.status == "alert" and newest.version_id and newest.version_id == status["champion_id"]:
        page_link(RETRAIN_PAGE, "Retrain the champion on newer batches", icon=":material/model_training:")

# -- alerts -----------------------------------------------------------------------------------------------------------
st.subheader("Alert log")
alerts = alert_table(ws, project.id)
if alerts.empty:
    st.caption("No alerts so far.")
else:
    st.caption(f"{status['open_alerts']} open, {status['superseded_alerts']} superseded, "
               f"{status['alerts'] - status['open_alerts'] - status['superseded_alerts']} acknowledged. An alert "
               "closes when someone acknowledges it, or when the model it is about stops being the champion "
               "(*superseded*: the promotion or rollback in the registry ledger says who and when). Closed alerts "
               "stay in this log.")
    st.dataframe(alerts.drop(columns=["id", "state", "batch", "check"]), hide_index=True, width="stretch",
                 key="monitor.alerts", column_config={"title": "alert", "closed_by": "closed by",
                                                      "closed_at": "closed at",
                                                      "evidence": st.column_config.TextColumn("evidence", width="large")})
    pending = open_alerts(ws, project.id)
    if pending and not viewer:
        with st.form("monitor.ack_form"):
            choice = st.selectbox("Acknowledge an alert", [a["id"] for a in pending], key="monitor.ack",
                                  format_func=lambda i: next(a["title"] for a in pending if a["id"] == i))
            who = st.text_input("Your name", key="monitor.ack_by", max_chars=80)
            note = st.text_input("Note", key="monitor.ack_note", max_chars=300)
            if st.form_submit_button("Acknowledge"):
                try:
                    acknowledge_alert(ws, project.id, choice, who, note)
                    st.session_state["monitor.flash"] = "Alert acknowledged."
                    st.rerun()
                except WorkbenchError as err:
                    show_error(err)
    deliveries = list_deliveries(ws, project.id)
    if deliveries:
        st.caption("Notifications: " + "; ".join(
            f"{d['channel']['name']} {'delivered' if d['ok'] else 'FAILED'} ({len(d['attempts'])} attempt(s))"
            for d in deliveries[:5]))

# -- policy -----------------------------------------------------------------------------------------------------------
if not viewer:
    policy = get_policy(ws, project.id)
    with st.expander("Monitoring policy and notifications", icon=":material/tune:"):
        checks = {k: st.checkbox(label, value=policy.enabled(k), key=f"monitor.policy.{k}") for k, label in CHECKS.items()}
        p1, p2, p3 = st.columns(3)
        alpha = p1.number_input("False-alarm rate per column", 0.001, 0.2, float(policy.alpha), 0.01,
                                key="monitor.policy.alpha")
        share = p2.number_input("Share of inputs that must drift", 0.05, 1.0, float(policy.drift_share), 0.05,
                                key="monitor.policy.share")
        schedule = p3.text_input("Schedule (cron)", policy.schedule, key="monitor.policy.schedule")
        in_app = st.checkbox("Also run on this schedule inside the app server (server local time), on the newest "
                             "batch", value=policy.run_in_app, key="monitor.policy.in_app",
                             help="Leave it off when cron or a systemd timer already runs `workbench monitor`, so "
                                  "the checks do not run twice.")
        hook = next((c for c in policy.channels if c["kind"] == "webhook"), None)
        mail = next((c for c in policy.channels if c["kind"] == "email"), None)
        st.caption("Secrets stay outside the workspace: give the NAME of a secret set in .streamlit/secrets.toml "
                   "under [alerts], or in the environment as WORKBENCH_ALERT_<NAME>.")
        w1, w2, w3 = st.columns(3)
        hook_secret = w1.text_input("Webhook secret name", hook["secret"] if hook else "", key="monitor.policy.hook")
        mail_secret = w2.text_input("SMTP secret name", mail["secret"] if mail else "", key="monitor.policy.smtp")
        mail_to = w3.text_input("E-mail recipients", ", ".join(mail["to"]) if mail else "", key="monitor.policy.to")
        if st.button("Save policy", key="monitor.policy.save"):
            channels = []
            if hook_secret.strip():
                channels.append({"kind": "webhook", "secret": hook_secret.strip()})
            if mail_secret.strip():
                channels.append({"kind": "email", "secret": mail_secret.strip(),
                                 "to": [t.strip() for t in mail_to.split(",") if t.strip()]})
            try:
                save_policy(ws, project.id, MonitorPolicy(checks=checks, alpha=alpha, drift_share=share,
                                                          schedule=schedule, channels=tuple(channels),
                                                          run_in_app=in_app))
                st.session_state["monitor.flash"] = "Monitoring policy saved."
                st.rerun()
            except WorkbenchError as err:
                show_error(err)
