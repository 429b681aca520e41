"""Drift: is new data still like the data the model learned from? A verdict, tests per column, Evidently's report."""

from __future__ import annotations

import plotly.express as px
import streamlit as st
import streamlit.components.v1 as components

from core.monitor.checks import METHODS, DriftOptions
from core.monitor.model import check_over_time, model_choices, run_whatif, whatif_choices, window_strengths
from core.monitor.evidently_report import safe_download_html, sandboxed_html
from core.monitor.reports import (SOURCE_KINDS, SourceSpec, current_user, date_columns, default_current,
                              default_reference, list_drift_reports, report_html, reports_table, run_check,
                              save_drift_report, time_windows)
from core.monitor.windows import FREQS
from core.errors import AlreadyLoaded, WorkbenchError
from core.split.splitting import list_splits
from core.split.spec import PART_LABELS
from pages._projects import criteria_banner, require_project
from pages._widgets import dataset_picker, get_workspace, is_viewer, md_escape, page_header, page_link, show_error

TRAIN_PAGE = "pages/07_train.py"
REPORT_HEIGHT = 900
NUMBER = st.column_config.NumberColumn(format="%.4g")

ws = get_workspace()
page_header("Drift", "Is new data still like the data the model learned from? Compare it column by column, watch it "
                     "over time, and try synthetic shifts.")
project = require_project(ws)
criteria_banner(project)
if st.session_state.get("drift.project") != project.id:  # choices of another project would not fit this one
    for key in [k for k in st.session_state if str(k).startswith("drift.")]:
        del st.session_state[key]
    st.session_state["drift.project"] = project.id


# -- shared views ----------------------------------------------------------------------------------------------------
def _verdict_card(result, sides: str) -> None:
    if result.dataset_drift:
        headline, colour = "Drift detected", "red"
    elif result.drifted or (result.prediction is not None and result.prediction.drift):
        headline, colour = "Some columns changed", "orange"
    else:
        headline, colour = "No drift", "green"
    with st.container(border=True):
        st.markdown(f"#### :{colour}[{headline}]")
        st.markdown(md_escape(result.verdict))
        st.caption(md_escape(sides))


def _kpis(result, quality: dict | None) -> None:
    cols = st.columns(4)
    cols[0].metric("Drifted columns", f"{len(result.drifted)} of {len(result.compared)}")
    cols[1].metric("Share drifted", f"{result.drift_share:.0%}",
                   help=f"Dataset drift when at least {result.options.drift_share:.0%} of the columns drifted.")
    pred = result.prediction
    cols[2].metric("Prediction drift", "—" if pred is None else ("yes" if pred.drift else "no"),
                   help="Whether the model's scores on the current rows differ from those on the reference.")
    if quality:
        expected = quality.get("expected")
        cols[3].metric(f"{quality['label']} on current rows", f"{quality['current']:.3f}",
                       None if expected is None else f"{quality['current'] - expected:+.3f} vs validation",
                       delta_color="normal" if quality["op"] == ">=" else "inverse",
                       help=f"Target {quality['op']} {quality['threshold']:g} "
                            f"({'met' if quality['meets'] else 'missed'}), on {quality['n_labelled']:,} labelled rows.")
    else:
        cols[3].metric("Rows compared", f"{result.n_reference:,} vs {result.n_current:,}")


def _table(result, notes: list[str]) -> None:
    st.markdown("**Per column**")
    st.dataframe(result.table(), hide_index=True, width="stretch", column_config={
        c: NUMBER for c in ("statistic", "threshold", "p_value", "distance", "p_value_bh")})
    for note in [*result.notes, *notes, result.false_alarm_note]:
        st.caption(md_escape(note))


def _histograms(histograms: dict) -> None:
    if not histograms:
        return
    st.markdown("**The most drifted columns, reference against current** (share of rows per bin)")
    cols = st.columns(2)
    for i, (column, frame) in enumerate(histograms.items()):
        with cols[i % 2]:
            st.caption(md_escape(column))
            fig = px.bar(frame, x="bin", y="share", color="side", barmode="overlay", opacity=0.6,
                         color_discrete_map={"reference": "#4C78A8", "current": "#E45756"})
            fig.update_layout(height=260, margin=dict(l=0, r=0, t=10, b=0), xaxis_title=None, yaxis_tickformat=".0%",
                              legend_title_text="")
            st.plotly_chart(fig, width="stretch", key=f"drift.hist.{i}")


def _evidently(html: str | None, notes: list[str], error: str | None, key: str) -> None:
    st.markdown("**Evidently's report**")
    if error:
        st.warning(md_escape(error), icon=":material/warning:")
    if not html:
        if not error:
            st.caption("Not built for this check.")
        return
    for note in notes:
        st.caption(md_escape(note))
    # Shown only inside a nested frame sandboxed to scripts without same-origin: its data cannot reach this page.
    components.html(sandboxed_html(html, height=REPORT_HEIGHT), height=REPORT_HEIGHT + 10)
    st.download_button("Download the report (HTML)", data=safe_download_html(html).encode("utf-8"),
                       file_name="drift_report.html", mime="text/html", key=f"drift.download.{key}",
                       icon=":material/download:")


# -- history (all roles) ---------------------------------------------------------------------------------------------
def _history() -> None:
    reports = list_drift_reports(ws, project.id)
    if not reports:
        st.info("No saved drift report yet. " + ("An analyst runs the check on the Drift page." if is_viewer()
                                                 else "Run a check on the first tab: every check is saved here."),
                icon=":material/history:")
        return
    st.dataframe(reports_table(reports), hide_index=True, width="stretch",
                 column_config={"drifted share": st.column_config.NumberColumn(format="percent")})
    by_id = {r.id: r for r in reports}
    chosen = st.selectbox("Open a report", list(by_id), key="drift.history.pick",
                          format_func=lambda i: f"{by_id[i].created_at:%Y-%m-%d %H:%M} · {by_id[i].by} · "
                                                f"{'drift' if by_id[i].is_drifted else 'no dataset drift'}")
    report = by_id[chosen]
    result = report.result()
    _verdict_card(result, f"{report.reference} against {report.current} · by {report.by} on "
                          f"{report.created_at:%Y-%m-%d %H:%M}" + (f" · model {report.model_label}"
                                                                   if report.model_label else ""))
    _kpis(result, report.payload.get("model_quality"))
    _table(result, report.payload.get("notes") or [])
    try:
        html = report_html(ws, report)
    except WorkbenchError as err:
        show_error(err)
        html = None
    _evidently(html, report.payload.get("report_notes") or [], report.payload.get("report_error"), "history")


if is_viewer():
    st.subheader("Saved drift reports", anchor=False)
    _history()
    st.stop()


# -- choosing both sides ---------------------------------------------------------------------------------------------
def _source_picker(side: str, default: SourceSpec | None) -> SourceSpec | None:
    key = f"drift.{side}"
    kinds = list(SOURCE_KINDS)
    kind = st.radio("From", kinds, index=kinds.index(default.kind) if default else 1, key=f"{key}.kind",
                    format_func=SOURCE_KINDS.get, horizontal=True)
    if kind == "split":
        splits = [s for s in list_splits(ws, project.id)]
        if not splits:
            st.info("This project has no split yet. Create one on the Split page, or pick a dataset.")
            return None
        by_id = {s.id: s for s in splits}
        ids = list(by_id)
        split_id = st.selectbox("Split", ids, key=f"{key}.split", format_func=lambda i: by_id[i].name,
                                index=ids.index(default.split_id) if default and default.split_id in ids else 0)
        parts = list(by_id[split_id].parts)
        part = st.selectbox("Part", parts, key=f"{key}.part", format_func=PART_LABELS.get,
                            index=parts.index(default.part) if default and default.part in parts else 0)
        return SourceSpec("split", by_id[split_id].dataset_id, split_id, part)
    info = dataset_picker(ws, key=f"{key}.{kind}_dataset", label="Dataset",
                          default=default.dataset_id if default else project.dataset_id)
    if info is None:
        st.info("No dataset yet. Upload one on the Data page.")
        return None
    if kind == "dataset":
        return SourceSpec("dataset", info.id)
    dates = date_columns(info, ws)
    if not dates:
        st.info(f"{md_escape(info.name)} has no date column, so it has no time windows. Pick another dataset.")
        return None
    column = st.selectbox("Date column", dates, key=f"{key}.time_column",
                          index=dates.index(default.time_column) if default and default.time_column in dates else 0)
    freq = st.radio("Window", list(FREQS), index=2, key=f"{key}.freq", format_func=FREQS.get, horizontal=True)
    windows = time_windows(ws, info.id, column, freq)
    starts = [w.start.isoformat() for w in windows]
    chosen = st.selectbox("Which one", range(len(windows)), key=f"{key}.window",
                          index=starts.index(default.start) if default and default.start in starts
                          else len(windows) - 1,
                          format_func=lambda i: f"{windows[i].label} · {windows[i].rows:,} rows")
    w = windows[chosen]
    return SourceSpec("window", info.id, time_column=column, start=w.start.isoformat(), end=w.end.isoformat())


def _load_batch() -> None:
    """Loads the uploaded file as a dataset and makes it the current set (runs before the page, so widgets update)."""
    from core.data.ingest import ingest_upload

    upload = st.session_state.get("drift.upload")
    if upload is None:
        st.session_state["drift.upload.message"] = ("error", "Choose a CSV file first.")
        return
    try:
        dataset_id = ingest_upload(ws, upload.getvalue(), upload.name).dataset.id
        message = ("success", f"Loaded {upload.name} as a new dataset.")
    except AlreadyLoaded as err:
        dataset_id, message = err.dataset_id, ("success", str(err))
    except WorkbenchError as err:
        st.session_state["drift.upload.message"] = ("error", str(err))
        return
    st.session_state["drift.current.kind"] = "dataset"
    st.session_state["drift.current.dataset_dataset"] = dataset_id
    st.session_state["drift.upload.message"] = message


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
        reference = _source_picker("reference", reference_default[0] if reference_default else None)
    with right:
        st.markdown("**Current**: the new data to check")
        with st.expander("Upload a new batch (CSV)", icon=":material/upload:"):
            st.file_uploader("New batch", type=["csv", "gz", "parquet", "xlsx"], key="drift.upload")
            st.button("Load as the current set", key="drift.upload.go", on_click=_load_batch)
            kind_, text = st.session_state.pop("drift.upload.message", (None, ""))
            if kind_ == "error":
                st.error(md_escape(text), icon=":material/error:")
            elif kind_:
                st.success(md_escape(text), icon=":material/check_circle:")
        current = _source_picker("current", current_default)
    with st.container(border=True):
        st.markdown("**Options**")
        a, b = st.columns(2)
        method = a.radio("Tests per column", list(METHODS), key="drift.method",
                         format_func=lambda k: "Evidently's defaults" if k == "evidently-default" else METHODS[k],
                         help=METHODS["evidently-default"] + ". The verdicts agree with Evidently's own report.")
        calibrated = b.checkbox("Calibrate thresholds on the reference (beyond Evidently)", key="drift.calibrated",
                                help="Resamples the reference to learn how much each statistic moves by chance, and "
                                     "flags only beyond that: a known false-alarm rate of about 5%.")
        bh = b.checkbox("Benjamini-Hochberg correction across columns (beyond Evidently)", key="drift.bh",
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
        _verdict_card(check.result, f"{check.reference_label} against {check.current_label}"
                      + (f" · model {check.model_label}" if check.model_label else "") + " · saved to History")
        _kpis(check.result, check.model_quality)
        _table(check.result, check.notes)
        _histograms(check.histograms)
        report = check.report
        _evidently(report.html if report else None, report.notes if report else [], check.report_error, "check")


# -- over time -------------------------------------------------------------------------------------------------------
def _over_time_view(result) -> None:
    frame = result.frame()
    if result.retrain_recommended:
        latest = [w for w in result.windows if w.result is not None][-1]
        st.warning(f"**Retrain recommended.** The latest window ({latest.start:%Y-%m-%d}) crossed a threshold: "
                   f"{md_escape('; '.join(latest.reasons))}. Train on recent data; the new model becomes a "
                   "challenger through the normal gate.", icon=":material/model_training:")
        st.session_state["drift.retrain_window"] = {"start": latest.start.isoformat(), "end": latest.end.isoformat()}
        page_link(TRAIN_PAGE, "Retrain on the latest window")
    fig = px.line(frame, x="start", y="drift_share", markers=True, labels={"start": "window", "drift_share": "share"})
    fig.add_hline(y=result.options.drift_share, line_dash="dash", annotation_text="dataset drift line")
    flagged = frame[frame["flagged"]]
    fig.add_scatter(x=flagged["start"], y=flagged["drift_share"], mode="markers", name="crossed a threshold",
                    marker=dict(color="#E45756", size=13, symbol="x"))
    fig.update_layout(height=300, yaxis_tickformat=".0%", title="Share of drifted columns per window")
    st.plotly_chart(fig, width="stretch", key="drift.time.share")
    strengths = window_strengths(result)
    if len(strengths):
        fig = px.line(strengths, x="start", y="strength", color="column", markers=True,
                      labels={"start": "window", "strength": "statistic ÷ its threshold"})
        fig.add_hline(y=1, line_dash="dash", annotation_text="threshold")
        fig.update_layout(height=340, title="Each column's statistic against its threshold (above 1 = drift)")
        st.plotly_chart(fig, width="stretch", key="drift.time.columns")
    if frame[result.metric_name].notna().any():
        fig = px.line(frame, x="start", y=result.metric_name, markers=True, labels={"start": "window"})
        if result.metric_threshold is not None:
            fig.add_hline(y=result.metric_threshold, line_dash="dash", annotation_text="success threshold")
        fig.update_layout(height=300, title=f"Model {result.metric_name} per window")
        st.plotly_chart(fig, width="stretch", key="drift.time.metric")
    if frame[result.metric_name].isna().all():
        frame = frame.drop(columns=[result.metric_name])
    day = st.column_config.DatetimeColumn(format="YYYY-MM-DD")
    st.dataframe(frame, hide_index=True, width="stretch", column_config={
        "drift_share": st.column_config.NumberColumn(format="percent"), "start": day, "end": day})
    for note in result.notes:
        st.caption(md_escape(note))


with time_tab:
    st.caption("Splits data into day, week or month windows and compares each with the reference chosen on the "
               "first tab; with a model and labels, its success metric per window too.")
    info = dataset_picker(ws, key="drift.time.dataset", label="Data to split into windows", default=project.dataset_id)
    dates = date_columns(info, ws) if info else []
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
    _verdict_card(whatif.result, f"Reference against the shifted copy at full strength · {whatif.notes[0]}")
    steps = whatif.steps
    fig = px.line(steps, x="strength", y="drift_share", markers=True, hover_data=["drifted"],
                  labels={"strength": "shift strength (1 = as set above)", "drift_share": "share drifted"})
    fig.update_layout(height=280, yaxis_tickformat=".0%", title="Share of drifted columns as the shift grows")
    st.plotly_chart(fig, width="stretch", key="drift.whatif.share_chart")
    if whatif.metric_label and steps["metric"].notna().any():
        fig = px.line(steps, x="strength", y="metric", markers=True,
                      labels={"strength": "shift strength", "metric": whatif.metric_label})
        if whatif.metric_threshold is not None:
            fig.add_hline(y=whatif.metric_threshold, line_dash="dash", annotation_text="success threshold")
        fig.update_layout(height=280, title=f"Model {whatif.metric_label} as the shift grows")
        st.plotly_chart(fig, width="stretch", key="drift.whatif.metric_chart")
    st.dataframe(whatif.result.table(), hide_index=True, width="stretch", column_config={
        k: NUMBER for k in ("statistic", "threshold", "p_value", "distance", "p_value_bh")})


with whatif_tab:
    _whatif()

with history_tab:
    _history()
