"""Drift: is new data still like the data the model learned from? A verdict, tests per column, Evidently's report."""

from __future__ import annotations

import streamlit as st

from core.errors import WorkbenchError
from core.monitor import charts
from core.monitor.checks import METHODS, DriftOptions
from core.monitor.model import check_over_time, model_choices, run_whatif, whatif_choices
from core.monitor.reports import (SourceSpec, current_user, default_current, default_reference,
                                  list_drift_reports, report_html, reports_table, run_check, save_drift_report)
from core.monitor.views import retrain_window, window_table
from core.monitor.windows import FREQS
from pages._cache import derived, shared
from pages._drift_views import (DRIFT_NUMBERS, dataset_dates, drift_table, evidently_report, histograms, kpi_tiles,
                                load_batch, source_picker, verdict_card)
from pages._projects import criteria_banner, require_project
from pages._widgets import (arrow_frame, dataset_picker, get_workspace, is_viewer, md_escape, page_header, page_link,
                            show_error)

TRAIN_PAGE = "pages/07_train.py"

ws = get_workspace()
page_header("Drift", "Is new data still like the data the model learned from? Compare it column by column, watch it "
                     "over time, and try synthetic shifts.")
project = require_project(ws)
criteria_banner(project)
if st.session_state.get("drift.project") != project.id:  # choices of another project would not fit this one
    for key in [k for k in st.session_state if str(k).startswith("drift.")]:
        del st.session_state[key]
    st.session_state["drift.project"] = project.id


# -- history (all roles) ---------------------------------------------------------------------------------------------
def _reports_table(reports):
    return arrow_frame(reports_table(reports))


def _result_table(result):
    return arrow_frame(result.table())


def _history() -> None:
    # Saved reports never change: read back once per write, their tables once per report (pages/_cache.py).
    reports = derived(ws, project.id, "drift.reports", list_drift_reports)
    if not reports:
        st.info("No saved drift report yet. " + ("An analyst runs the check on the Drift page." if is_viewer()
                                                 else "Run a check on the first tab: every check is saved here."),
                icon=":material/history:")
        return
    st.dataframe(shared(project.id, ("drift.reports", tuple(r.id for r in reports)), _reports_table, reports),
                 hide_index=True, width="stretch",
                 column_config={"drifted share": st.column_config.NumberColumn(format="percent")})
    by_id = {r.id: r for r in reports}
    chosen = st.selectbox("Open a report", list(by_id), key="drift.history.pick",
                          format_func=lambda i: f"{by_id[i].created_at:%Y-%m-%d %H:%M} · {by_id[i].by} · "
                                                f"{'drift' if by_id[i].is_drifted else 'no dataset drift'}")
    report = by_id[chosen]
    result = shared(project.id, ("drift.result", report.id), report.result)
    verdict_card(result, f"{report.reference} against {report.current} · by {report.by} on "
                          f"{report.created_at:%Y-%m-%d %H:%M}" + (f" · model {report.model_label}"
                                                                   if report.model_label else ""))
    kpi_tiles(result, report.payload.get("model_quality"))
    drift_table(result, report.payload.get("notes") or [],
                shared(project.id, ("drift.table", report.id), _result_table, result))
    # The saved report is a few MB: sent only to who asks for it, so the History tab stays fast for a whole team.
    if not st.toggle("Show Evidently's full report", key="drift.history.evidently",
                     help="Evidently's own HTML report of this check, with a download button."):
        return
    try:
        html = report_html(ws, report)
    except WorkbenchError as err:
        show_error(err)
        html = None
    evidently_report(html, report.payload.get("report_notes") or [], report.payload.get("report_error"), "history")


if is_viewer():
    st.subheader("Saved drift reports", anchor=False)
    _history()
    st.stop()


reference_default = default_reference(ws, project)
current_default = default_current(ws, project, reference_default[0] if reference_default else None)
models = {m.run_id: m for m in model_choices(ws, project)}
check_tab, time_tab, whatif_tab, history_tab = st.tabs(["Check drift", "Over time", "What-if drift", "History"])

with check_tab:
    left, right = st.columns(2)
    with left:
        st.markdown("**Reference**: what the model learned from")
        if reference_default:
            st.caption(f"Starts as {md_escape(reference_default[1])}.")
        reference = source_picker(ws, project, "reference", reference_default[0] if reference_default else None)
    with right:
        st.markdown("**Current**: the new data to check")
        with st.expander("Upload a new batch (CSV)", icon=":material/upload:"):
            st.file_uploader("New batch", type=["csv", "gz", "parquet", "xlsx"], key="drift.upload")
            st.button("Load as the current set", key="drift.upload.go", on_click=load_batch, args=(ws,))
            kind_, text = st.session_state.pop("drift.upload.message", (None, ""))
            if kind_ == "error":
                st.error(md_escape(text), icon=":material/error:")
            elif kind_:
                st.success(md_escape(text), icon=":material/check_circle:")
        current = source_picker(ws, project, "current", current_default)
    with st.container(border=True):
        st.markdown("**Options**")
        a, b = st.columns(2)
        method = a.radio("Tests per column", list(METHODS), key="drift.method",
                         format_func=lambda k: {"sound": "Sound statistics (the verdict)",
                                                "evidently-default": "Evidently parity: Evidently's defaults"}.get(
                                                    k, f"Evidently parity: {METHODS[k]}"),
                         help=METHODS["sound"] + ". Evidently parity reproduces Evidently 0.7.23's own typing, "
                              "tests and thresholds, so its verdicts agree with Evidently's report.")
        calibrated = b.checkbox("Calibrate thresholds by reshuffling both sets (beyond Evidently)",
                                key="drift.calibrated",
                                help="Reshuffles the rows of both sets into sets of their real sizes to learn how "
                                     "much each statistic moves by chance (a permutation test), and flags only "
                                     "beyond that: at most about 5% of stable columns.")
        sound = method == "sound"
        bh = b.checkbox("Benjamini-Hochberg correction across columns (beyond Evidently)" + (
                            "; on by default here" if sound else ""), value=sound,
                        key="drift.bh" if sound else "drift.bh.evidently",
                        help="With many columns some p-values fall below 0.05 by chance; this keeps the expected "
                             "share of false alarms among flagged columns at 5%.")
        with_report = b.checkbox("Build Evidently's full report (slower: about 10 s)", value=True,
                                 key="drift.evidently")
        ref_columns = ws.dataset(reference.dataset_id).column_names if reference else []
        columns = a.multiselect("Columns to compare (all when empty)", ref_columns, key="drift.columns")
        model_id = a.selectbox("Also check a model's predictions (optional)", [""] + list(models), key="drift.model",
                               format_func=lambda i: models[i].label if i else "No model")
    model = models.get(model_id)
    options = DriftOptions(method=method, calibrated=calibrated, bh=bh)
    if st.button("Check drift", type="primary", key="drift.run", icon=":material/monitoring:",
                 disabled=reference is None or current is None):
        try:
            with st.spinner("Comparing…" + (" Evidently's report takes a few seconds more." if with_report else "")):
                check = run_check(ws, reference, current, options, project=project, columns=columns or None,
                                  model=model, with_report=with_report)
                save_drift_report(ws, check, project.id, by=f"{current_user()} (app)")
            st.session_state["drift.check"] = check
        except WorkbenchError as err:
            st.session_state.pop("drift.check", None)
            show_error(err)
    check = st.session_state.get("drift.check")
    if check is not None:
        verdict_card(check.result, f"{check.reference_label} against {check.current_label}"
                      + (f" · model {check.model_label}" if check.model_label else "") + " · saved to History")
        kpi_tiles(check.result, check.model_quality)
        drift_table(check.result, check.notes)
        histograms(check.histograms)
        report = check.report
        evidently_report(report.html if report else None, report.notes if report else [], check.report_error, "check")


# -- over time -------------------------------------------------------------------------------------------------------
def _over_time_view(result) -> None:
    latest = retrain_window(result)
    if latest is not None:
        st.warning(f"**Retrain recommended.** The latest window ({latest.start:%Y-%m-%d}) crossed a threshold: "
                   f"{md_escape('; '.join(latest.reasons))}. Train on recent data; the new model becomes a "
                   "challenger through the normal gate.", icon=":material/model_training:")
        st.session_state["drift.retrain_window"] = {"start": latest.start.isoformat(), "end": latest.end.isoformat()}
        page_link("pages/16_retrain.py", "Retrain on the latest window")
    st.plotly_chart(charts.drift_share_figure(result), width="stretch", key="drift.time.share")
    if (fig := charts.column_strengths_figure(result)) is not None:
        st.plotly_chart(fig, width="stretch", key="drift.time.columns")
    if (fig := charts.window_metric_figure(result)) is not None:
        st.plotly_chart(fig, width="stretch", key="drift.time.metric")
    day = st.column_config.DatetimeColumn(format="YYYY-MM-DD")
    st.dataframe(window_table(result), hide_index=True, width="stretch", column_config={
        "drift_share": st.column_config.NumberColumn(format="percent"), "start": day, "end": day})
    for note in result.notes:
        st.caption(md_escape(note))


with time_tab:
    st.caption("Splits data into day, week or month windows and compares each with the reference chosen on the "
               "first tab; with a model and labels, its success metric per window too.")
    info = dataset_picker(ws, key="drift.time.dataset", label="Data to split into windows", default=project.dataset_id)
    dates = dataset_dates(ws, info) if info else []
    if reference is None or not dates:
        st.info("Pick a reference on the first tab and a dataset with a date column here.")
    else:
        a, b = st.columns(2)
        column = a.selectbox("Date column", dates, key="drift.time.column")
        freq = b.radio("Window", list(FREQS), index=2, key="drift.time.freq", format_func=FREQS.get, horizontal=True)
        if st.button("Chart drift over time", key="drift.time.run", icon=":material/timeline:"):
            try:
                with st.spinner("Checking every window…"):
                    st.session_state["drift.time.result"] = check_over_time(
                        ws, project, reference, info.id, column, freq, options, model, columns or None)
            except WorkbenchError as err:
                st.session_state.pop("drift.time.result", None)
                show_error(err)
        if st.session_state.get("drift.time.result") is not None:
            _over_time_view(st.session_state["drift.time.result"])


# -- what-if ---------------------------------------------------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=16)
def _choices(_ws, project_id: str, spec: dict, content_hash: str):
    return whatif_choices(_ws, project, SourceSpec.from_dict(spec))


@st.fragment
def _whatif() -> None:
    if reference is None:
        st.info("Pick a reference on the first tab.")
        return
    choices = _choices(ws, project.id, reference.to_dict(), ws.dataset(reference.dataset_id).content_hash)
    st.caption(f"Simulated data: shifts a copy of {md_escape(choices.base_label)} and checks it against the "
               "reference, step by step from no shift to the full one. Nothing saved changes.")
    shifts = []
    a, b, c = st.columns(3)
    with a:
        numeric = st.selectbox("Move a number's mean", [""] + list(choices.numeric), key="drift.whatif.numeric",
                               format_func=lambda x: x or "—")
        if numeric:
            mean, std = choices.numeric[numeric]
            reach = round(2 * std, 6) or 1.0
            delta = st.slider(f"Change (mean is {mean:.3g})", -reach, reach, 0.0, reach / 20,
                              key=f"drift.whatif.delta.{numeric}")
            if delta:
                shifts.append({"kind": "mean", "column": numeric, "delta": delta})
    with b:
        category_column = st.selectbox("Change a category's share", [""] + list(choices.categorical),
                                       key="drift.whatif.category_column", format_func=lambda x: x or "—")
        if category_column:
            shares = choices.categorical[category_column]
            category = st.selectbox("Category", list(shares), key=f"drift.whatif.category.{category_column}")
            share = st.slider("New share", 0.0, 1.0, round(shares[category], 2), 0.01,
                              key=f"drift.whatif.share.{category_column}.{category}")
            if abs(share - round(shares[category], 2)) > 1e-9:
                shifts.append({"kind": "share", "column": category_column, "category": category, "share": share})
    with c:
        if choices.label:
            flip = st.slider(f"Flip this share of {choices.label!r} labels", 0.0, 0.5, 0.0, 0.01,
                             key="drift.whatif.flip")
            if flip:
                shifts.append({"kind": "flip_labels", "column": choices.label, "fraction": flip})
        else:
            st.caption("This project has no class label to flip.")
    if not shifts:
        st.info("Move a slider to see which tests fire" + (" and how the model's metric decays." if model else "."))
        return
    try:
        whatif = run_whatif(ws, project, reference, shifts, options, model)
    except WorkbenchError as err:
        show_error(err)
        return
    verdict_card(whatif.result, f"Reference against the shifted copy at full strength · {whatif.notes[0]}")
    st.plotly_chart(charts.whatif_share_figure(whatif), width="stretch", key="drift.whatif.share_chart")
    if (fig := charts.whatif_metric_figure(whatif)) is not None:
        st.plotly_chart(fig, width="stretch", key="drift.whatif.metric_chart")
    st.dataframe(whatif.result.table(), hide_index=True, width="stretch", column_config=DRIFT_NUMBERS)


with whatif_tab:
    _whatif()

with history_tab:
    _history()
