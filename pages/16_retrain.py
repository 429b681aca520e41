"""Retrain: the champion's recipe on a chosen window of batches, judged with the champion on a fresh batch, gated."""

from __future__ import annotations

from datetime import date

import streamlit as st

from core.data.batches import list_batches
from core.errors import WorkbenchError
from core.registry.versions import champion
from core.release.retrain import WINDOWS, decide_retrain, list_retrains, pending_challenger, plan_retrain, retrain
from core.release.retrain_policy import ON_FAIL, ON_PASS, RetrainPolicy, get_retrain_policy, save_retrain_policy
from core.release.retrain_views import gain_direction, gain_note, gain_text, history_table, holdout_cards
from pages._projects import md_escape, require_project
from pages._widgets import get_workspace, is_viewer, page_header, page_link, show_error

REGISTRY_PAGE = "pages/09_registry.py"
_STATUS = {"pass": ":green[**pass**]", "fail": ":red[**fail**]", "not-run": ":gray[not run]"}

ws = get_workspace()
page_header("Retrain", "Train the live model's recipe on newer data, score old and new on the same fresh batch "
                       "that neither has seen, run the launch gate, then promote, keep testing or discard.")
project = require_project(ws)
viewer = is_viewer()

flash = st.session_state.pop("retrain.flash", None)
if flash:
    st.success(md_escape(flash), icon=":material/check_circle:")

current = champion(ws, project.id)
batches = list_batches(ws, project)
if current is None:
    st.info("There is no champion yet, so there is no recipe to retrain. Promote a version first.",
            icon=":material/info:")
    page_link(REGISTRY_PAGE, "Open the registry")
    st.stop()
st.caption(f"Champion: {md_escape(current.label)} · {md_escape(current.model_label)}, trained on "
           f"{md_escape(current.receipt.get('dataset', {}).get('name', 'its dataset'))}.")

# The Drift page's "Retrain on the latest window" hands over the window that crossed a threshold.
handed = st.session_state.get("drift.retrain_window")
settings = get_retrain_policy(ws, project.id)  # the project's retrain settings, as its YAML spec exports them
default_window, default_days = settings.window, settings.rolling_days
if handed and batches:
    try:
        days = (date.fromisoformat(batches[-1].as_of) - date.fromisoformat(handed["start"][:10])).days
        default_window, default_days = "rolling", max(1, days)
        st.info(f"From the Drift page: the window starting {handed['start'][:10]} crossed a drift threshold, so the "
                f"training window below starts there ({default_days} days before the newest batch).",
                icon=":material/monitoring:")
    except (KeyError, ValueError):
        pass

if not viewer:
    windows = list(WINDOWS)
    c1, c2 = st.columns(2)
    window = c1.radio("Training window", windows, index=windows.index(default_window), key="retrain.window",
                      format_func=WINDOWS.get)
    n = c2.number_input("Latest N batches", 1, max(1, len(batches)), min(settings.latest_n, max(1, len(batches))),
                        key="retrain.n", disabled=window != "latest")
    days = c2.number_input("Rolling window (days before the holdout)", 1, 3650, default_days, key="retrain.days",
                           disabled=window != "rolling")
    with st.expander("Retrain settings of the project (exported in its YAML spec)", icon=":material/tune:"):
        g1, g2 = st.columns(2)
        on_pass = g1.radio("When the gate passes and the challenger wins", ON_PASS, index=ON_PASS.index(settings.on_pass),
                           key="retrain.on_pass", format_func={"promote": "Promote it (headless runs too)",
                                                               "keep": "Keep testing: a person decides"}.get)
        on_fail = g2.radio("Otherwise", ON_FAIL, index=ON_FAIL.index(settings.on_fail), key="retrain.on_fail",
                           format_func={"keep": "Keep testing", "discard": "Discard it"}.get)
        st.caption("Used by `workbench retrain PROJECT --apply-gate` and `workbench run SPEC`; a failed gate is "
                   "never promoted without a person's written override.")
        if st.button("Save these settings with the window above", key="retrain.save_settings"):
            try:
                save_retrain_policy(ws, project.id, RetrainPolicy(window, int(n), int(days), on_pass, on_fail))
                st.session_state["retrain.flash"] = "Retrain settings saved."
                st.rerun()
            except WorkbenchError as err:
                show_error(err)
    spec = RetrainPolicy(window, int(n), int(days)).spec()
    try:
        plan = plan_retrain(ws, project, spec)
        st.markdown(f"Trains on **{md_escape(', '.join(b.name for b in plan.train))}** "
                    f"({sum(b.rows for b in plan.train):,} rows) with {md_escape(plan.receipt['model']['label'])}, "
                    f"seed {plan.receipt['model'].get('seed')}; judges both models on **{md_escape(plan.holdout.name)}**"
                    f" ({plan.holdout.rows:,} rows), which neither trains on.")
        by = st.text_input("Your name, for the ledger", key="retrain.by", max_chars=80)
        if st.button("Retrain and gate", type="primary", key="retrain.go", icon=":material/model_training:"):
            try:
                with st.spinner("Retraining, scoring both models on the holdout, running the gate…"):
                    done = retrain(ws, project, spec, by=by or "analyst")
                st.session_state["retrain.flash"] = done.holdout.get("sentence", "Retrained.")
                st.rerun()
            except WorkbenchError as err:
                show_error(err)
    except WorkbenchError as err:
        show_error(err)

pending = pending_challenger(ws, project.id)
if pending is not None:
    st.subheader("Pending challenger")
    h = pending.holdout
    st.markdown(md_escape(h.get("sentence", "")))
    for col, (label, value, delta) in zip(st.columns(2), holdout_cards(h)):
        col.metric(label, value, delta)
    st.caption(f"Both measured on {md_escape(h.get('batch', 'the holdout batch'))} ({h.get('rows', 0):,} labelled "
               f"rows neither model trained on). Gain {md_escape(gain_text(h, with_metric=True))}: "
               f"{md_escape(gain_direction(h))}, 95 % paired bootstrap interval.")
    st.markdown("**Launch gate: " + ("passed" if pending.gate_passed else "failed") + "**")
    for c in pending.gate.get("checks") or ():
        st.markdown(f"{_STATUS.get(c['status'], '')} {md_escape(c['label'])} — {md_escape(c['evidence'])}")
    for note in pending.notes:
        st.caption(md_escape(note))
    if not viewer:
        who = st.text_input("Your name", key="retrain.decide_by", max_chars=80)
        reason = st.text_area("Reason (required to keep testing or discard)", key="retrain.reason", max_chars=1000)
        override = "" if pending.gate_passed else st.text_area(
            "The gate failed: to promote anyway, write the override reason", key="retrain.override", max_chars=1000)
        b1, b2, b3 = st.columns(3)
        for col, action, label in ((b1, "promote", "Promote"), (b2, "keep", "Keep testing"), (b3, "discard", "Discard")):
            if col.button(label, key=f"retrain.{action}", type="primary" if action == "promote" else "secondary"):
                try:
                    decide_retrain(ws, pending.id, action, by=who or "analyst", reason=reason,
                                   override_reason=override or None)
                    st.session_state["retrain.flash"] = f"Recorded: {label.lower()}."
                    st.rerun()
                except WorkbenchError as err:
                    show_error(err)

history = list_retrains(ws, project.id)
if history:
    st.subheader("Retrains")
    st.dataframe(history_table(history), hide_index=True, width="stretch", key="retrain.history")
    st.caption(md_escape(gain_note([r.holdout for r in history])))
