"""Registry: frozen model versions, the launch gate before one goes live, the ledger, rollbacks, cards and packages."""

from __future__ import annotations

import streamlit as st

from core.project.criteria import metric_label
from core.errors import WorkbenchError
from core.release.gate import GateResult, evaluate_gate
from core.release import charts
from core.release.modelcard import champion_timeline, model_card_html, model_card_markdown
from core.release.views import (VersionActions, comparison_table, default_version, gate_summary, ledger_table,
                                metric_trend, registrable_runs, versions_table)
from core.release.package import model_package
from core.models.receipts import receipt_json
from core.data.batches import list_batches
from core.registry.versions import get_version, ledger, list_versions, registry_state, version_batches
from core.release.actions import archive_version, promote, register_run, rollback, set_challenger
from core.models.runs import list_runs
from pages._cache import derived, tracked
from pages._projects import criteria_banner, md_escape, require_project
from pages._widgets import (arrow_frame, csv_download_button, empty_state, get_workspace, is_viewer, ledger_name,
                            page_header, page_link, show_error)

TRAIN_PAGE = "pages/07_train.py"
RETRAIN_PAGE = "pages/16_retrain.py"
_STATUS = {"pass": (":green", "check_circle"), "fail": (":red", "cancel"), "not-run": (":gray", "radio_button_unchecked")}

ws = get_workspace()
page_header("Model registry", "Frozen model versions, a launch gate before one goes live, and a ledger of every "
                              "change, so you can always say what was live when, and why.")
project = require_project(ws)
criteria_banner(project)
viewer = is_viewer()
metric = project.criteria.primary_metric

flash = st.session_state.pop("registry.flash", None)
if flash:
    st.success(md_escape(flash), icon=":material/check_circle:")


def _done(message: str) -> None:
    st.session_state["registry.flash"] = message
    st.rerun()


by = "" if viewer else ledger_name("registry.by")
versions = list_versions(ws, project.id)

if not viewer:
    runs = registrable_runs(list_runs(ws, project.id), versions)
    with st.expander("Register a trained model", expanded=not versions, icon=":material/add_box:"):
        if not runs:
            st.caption("Every trained model of this project is registered already, or none has been trained yet. "
                       "Train models on the Train page.")
        else:
            by_run = {r.id: r for r in runs}
            def _run_label(i: str) -> str:
                value = by_run[i].validation_metrics.get(metric)
                shown = "not measured" if value is None else f"{value:.3f}"
                return f"{by_run[i].model_label} · {metric_label(metric)} {shown} · trained {by_run[i].created_at:%Y-%m-%d %H:%M}"

            pick = st.selectbox("Trained model", list(by_run), key="registry.run", format_func=_run_label)
            note = st.text_input("Note", key="registry.note", max_chars=300,
                                 placeholder="What is new in this model, and why register it")
            if st.button("Register as a new version", key="registry.register", type="primary",
                         icon=":material/inventory_2:"):
                try:
                    v = register_run(ws, pick, note=note, by=by or "analyst")
                    st.session_state["registry.version"] = v.id
                    _done(f"Registered {v.label} ({v.model_label}). Its model file, metrics and data hashes are frozen.")
                except WorkbenchError as err:
                    show_error(err)

if not versions:
    empty_state("No model versions yet. " + ("Ask the analyst to register one." if viewer else
                                             "Train models, then register one above."),
                None if viewer else TRAIN_PAGE, "Train models")

entries = ledger(ws, project.id)
state = registry_state(ws, project.id, entries)
by_id = {v.id: v for v in versions}
champ = by_id.get(state.champion)

cols = st.columns(3)
# The version alone as the figure (a model's name would be cut off in a third of the page); the model beneath it.
cols[0].metric("Champion (live)", champ.label if champ else "none yet")
if champ is not None:
    cols[0].caption(md_escape(champ.model_label))
challenger = by_id.get(state.challenger)
cols[1].metric("Challenger", challenger.label if challenger is not None else "none")
if challenger is not None:
    cols[1].caption(md_escape(challenger.model_label))
cols[2].metric("Versions", f"{len(versions)}", help=f"{len(state.archived)} archived")

if not viewer and champ is not None and state.rollback_targets():
    with st.container(border=True):
        targets = state.rollback_targets()
        left, right = st.columns([2, 1], vertical_alignment="bottom")
        to = left.selectbox("Roll back to an earlier champion", targets, key="registry.rollback_to",
                            format_func=lambda i: f"{by_id[i].label} · {by_id[i].model_label}"
                                                  + (" (previous champion)" if i == targets[0] else ""))
        if right.button(f"Roll back to {by_id[to].label}", key="registry.rollback", icon=":material/undo:"):
            try:
                entry = rollback(ws, project.id, by=by, to_version_id=to, expected_seq=state.seq)
                _done(f"Rolled back: v{entry.version_number} is champion again. The ledger records it.")
            except WorkbenchError as err:
                show_error(err)

st.subheader("Versions")


def _versions_table(project_id: str):
    entries_ = ledger(ws, project_id)
    return arrow_frame(versions_table(list_versions(ws, project_id), registry_state(ws, project_id, entries_), entries_,
                                      metric))


# Made once per server until a write changes the versions or the ledger (pages/_cache.py), as the table draws it.
table = tracked(ws, project.id, ("registry.versions", metric), _versions_table, project.id)
st.dataframe(table, hide_index=True, width="stretch", column_config={
    c: st.column_config.NumberColumn(format="%.3f") for c in table.column_names if metric_label(metric) in c})

if st.session_state.get("registry.version") not in by_id:
    st.session_state["registry.version"] = default_version(state, versions)
vid = st.selectbox("Version", list(by_id), key="registry.version",
                   format_func=lambda i: f"{by_id[i].label} · {by_id[i].model_label}"
                                         + (f" · {', '.join(state.aliases_of(i))}" if state.aliases_of(i) else ""))
version = by_id[vid]
actions = VersionActions.of(state, vid)
trained_on = [b.name for b in list_batches(ws, project) if b.id in set(version_batches(ws, version))]
if trained_on:
    st.caption(f"{version.label} was trained on {md_escape(', '.join(trained_on))}.")
if not viewer and champ is not None and len(list_batches(ws, project)) > 1:
    page_link(RETRAIN_PAGE, "Retrain the champion on newer batches", icon=":material/autorenew:")
if not version.is_intact:
    st.error(f"{version.label}'s frozen fields no longer match its content hash: it cannot go live. Register its run "
             "again.", icon=":material/gpp_bad:")

gate_tab, ledger_tab, compare_tab, card_tab = st.tabs(["Launch gate", "Ledger", "Compare versions", "Card & package"])

with gate_tab:
    gate = GateResult.from_dict(version.gate) if version.gate else None
    if gate is None:
        st.info(f"The launch gate has not run for {version.label} yet.", icon=":material/pending:")
    else:
        st.markdown(gate_summary(version, gate, by_id))
        # One paragraph per check, sent as one element (a dozen elements cost the server a dozen messages a run).
        lines = []
        for c in gate.checks:
            color, icon = _STATUS[c.status]
            lines.append(f"{color}[:material/{icon}: **{md_escape(c.label)}**] — {md_escape(c.evidence)}")
        st.markdown("\n\n".join(lines))
    if not viewer and actions.can_propose:
        st.caption("Proposing a version as champion runs every check. The first time, it also scores the untouched "
                   "test set once (the final check); that result is recorded and reused, never silently repeated.")
        if st.button("Propose as champion: run the launch gate", key="registry.gate", icon=":material/rule:"):
            try:
                with st.spinner("Running the launch gate…"):
                    evaluate_gate(ws, version, champ)
                st.rerun()
            except WorkbenchError as err:
                show_error(err)
        if gate is not None:
            why = st.text_input("Why promote it? (optional)", key="registry.why", max_chars=300)
            override = ""
            if not gate.passed:
                st.warning("The gate failed. Promoting anyway needs a written override reason; it goes into the "
                           "ledger with the failed checks.", icon=":material/warning:")
                override = st.text_area("Override reason", key="registry.override", max_chars=1000)
            if st.button(f"Promote {version.label} to champion", key="registry.promote", type="primary",
                         icon=":material/rocket_launch:"):
                try:
                    entry = promote(ws, vid, by=by, why=why, override_reason=override or None, expected_seq=state.seq)
                    _done(f"{version.label} is champion" + (" by override." if entry.override else "."))
                except WorkbenchError as err:
                    show_error(err)
    if not viewer:
        left, right = st.columns(2)
        if actions.can_challenge and left.button("Make challenger", key="registry.challenger",
                                                 icon=":material/sports_kabaddi:"):
            try:
                set_challenger(ws, vid, by=by, expected_seq=state.seq)
                _done(f"{version.label} is the challenger.")
            except WorkbenchError as err:
                show_error(err)
        archived = actions.archived
        if actions.can_archive and right.button("Restore" if archived else "Archive", key="registry.archive",
                                                  icon=":material/unarchive:" if archived else ":material/archive:"):
            try:
                archive_version(ws, vid, by=by, archived=not archived, expected_seq=state.seq)
                _done(f"{version.label} is {'restored' if archived else 'archived'}.")
            except WorkbenchError as err:
                show_error(err)

with ledger_tab:
    if not entries:
        st.info("The ledger is empty.", icon=":material/history:")
    else:
        log = tracked(ws, project.id, ("registry.ledger",), lambda: ledger_table(ledger(ws, project.id)))
        st.dataframe(log, hide_index=True, width="stretch")
        # Built when pressed, not on every run (formula-safe CSV of the whole ledger: a fifth of a Registry run).
        csv_download_button(lambda: log, f"{project.name}_ledger.csv", key="registry.ledger_csv",
                            label="Download ledger")
        # Drawn once per server until the next write (pages/_cache.py), not on every rerun of every session.
        if (fig := derived(ws, project.id, "registry.timeline",
                           lambda w, pid: charts.champion_timeline_figure(champion_timeline(w, pid)))) is not None:
            st.plotly_chart(fig, key="registry.timeline")

with compare_tab:
    default = [v.id for v in versions[:5]]
    chosen = st.multiselect("Versions to compare", list(by_id), default=default, key="registry.compare",
                            format_func=lambda i: f"{by_id[i].label} · {by_id[i].model_label}")
    if chosen:
        # Built once per server until a write changes what they read (pages/_cache.py), as the table draws it.
        compared = tracked(ws, project.id, ("registry.compare", tuple(chosen)),
                           lambda: arrow_frame(comparison_table(ws, project.id, chosen)))
        st.dataframe(compared, hide_index=True, width="stretch")
        trend = tracked(ws, project.id, ("registry.trend", tuple(chosen), metric),
                        lambda: charts.metric_trend_figure(metric_trend(list_versions(ws, project.id), chosen, metric),
                                                           metric))
        st.plotly_chart(trend, key="registry.trend")

with card_tab:
    st.caption("The model card documents intended use, data, metrics at the chosen threshold, fairness, limitations "
               "and the launch gate. The package bundles the model file, its input schema, its receipt, the card and "
               "a short predict.py.")
    stem = f"{project.name}_{version.label}".replace(" ", "_")
    left, mid, right = st.columns(3)
    left.download_button("Model card (Markdown)", data=lambda v=vid: model_card_markdown(ws, v), file_name=f"{stem}_card.md",
                         mime="text/markdown", key="registry.card_md", icon=":material/description:")
    mid.download_button("Model card (HTML)", data=lambda v=vid: model_card_html(ws, v), file_name=f"{stem}_card.html",
                        mime="text/html", key="registry.card_html", icon=":material/description:")
    right.download_button("Receipt (JSON)", data=lambda v=vid: receipt_json(get_version(ws, v).receipt),
                          file_name=f"{stem}_receipt.json", mime="application/json", key="registry.receipt",
                          icon=":material/receipt_long:")
    if not viewer:
        st.download_button("Model package (zip)", data=lambda v=vid: model_package(ws, v), file_name=f"{stem}_package.zip",
                           mime="application/zip", key="registry.package", icon=":material/deployed_code:")
    with st.expander("Preview the model card"):
        if st.toggle("Build the preview", key="registry.card_preview"):
            try:
                st.markdown(model_card_markdown(ws, vid))
            except WorkbenchError as err:
                show_error(err)
