"""Evaluate: how one trained model errs, at which threshold, why it predicts what it does, and whom it treats alike."""

from __future__ import annotations

import streamlit as st

from core.evaluate import charts
from core.evaluate import run_explain, run_fairness, report as run_report
from core.project.criteria import format_class, metric_label
from core.errors import WorkbenchError
from core.models.runs import get_run, load_run_model, set_run_threshold
from pages._projects import criteria_banner, require_project, require_split
from pages._widgets import empty_state, get_workspace, is_viewer, md_escape, page_header, page_link, show_error

TRAIN_PAGE = "pages/07_train.py"
DEFINE_PAGE = "pages/01_define.py"
_KEY = "evaluate.threshold"
_CHART = {"config": {"displaylogo": False}}


# -- cached reads: the workspace passes unhashed, the run id (and the project's last change) key every entry -----------
@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def _model(_ws, run_id: str):
    return load_run_model(_ws, run_id)  # a saved model file never changes, so one copy serves every session


@st.cache_data(show_spinner="Reading the validation rows…", max_entries=8)
def _data(_ws, run_id: str, stamp: str):
    return run_report.load_run_data(_ws, run_id)


@st.cache_data(show_spinner="Scoring every threshold…", max_entries=8)
def _thresholds(_ws, run_id: str, stamp: str):
    return run_report.threshold_view(_data(_ws, run_id, stamp))


@st.cache_data(show_spinner=False, max_entries=64)
def _errors(_ws, run_id: str, stamp: str, threshold: float | None):
    return run_fairness.error_view(_data(_ws, run_id, stamp), threshold)


@st.cache_data(show_spinner=False, max_entries=64)
def _fairness(_ws, run_id: str, stamp: str, threshold: float | None):
    return run_fairness.fairness_view(_data(_ws, run_id, stamp), threshold)


@st.cache_data(show_spinner=False, max_entries=16)
def _tradeoff(_ws, run_id: str, stamp: str, attribute: str):
    return run_fairness.tradeoff_view(_data(_ws, run_id, stamp), attribute)


@st.cache_data(show_spinner="Shuffling each column to see what the model relies on…", max_entries=8)
def _importance(_ws, run_id: str, stamp: str, explain_class):
    return run_explain.importance_view(_model(_ws, run_id), _data(_ws, run_id, stamp), explain_class)


@st.cache_data(show_spinner=False, max_entries=32)
def _pdp(_ws, run_id: str, stamp: str, feature: str, explain_class):
    return run_explain.pdp_view(_model(_ws, run_id), _data(_ws, run_id, stamp), feature, explain_class)


@st.cache_data(show_spinner=False, max_entries=32)
def _what_if(_ws, run_id: str, stamp: str, record: tuple, explain_class, threshold):
    return run_explain.what_if_view(_model(_ws, run_id), _data(_ws, run_id, stamp), dict(record), explain_class,
                                    threshold)


# -- picking the run ---------------------------------------------------------------------------------------------------
def _read_link(project) -> None:
    """On a session's first run, a link's ?run= (and ?row=) opens that model, on its split, at that row."""
    if st.session_state.get("evaluate.url_read"):
        return
    st.session_state["evaluate.url_read"] = True
    wanted = st.query_params.get("run")
    try:
        run = get_run(ws, wanted) if wanted else None
    except WorkbenchError:
        run = None
    if run is not None and run.project_id == project.id:
        st.session_state["split_id"] = run.split_id
        st.session_state["evaluate.run"] = run.id
    row = st.query_params.get("row")
    if row is not None and row.isdigit():
        st.session_state["evaluate.row"] = int(row)


def _pick_run(project, split):
    runs = run_report.evaluable_runs(ws, project.id, split.id)
    if not runs:
        empty_state(f"No trained model on split {split.name} yet. Train and compare models first.", TRAIN_PAGE,
                    "Train models")
    by_id = {r.id: r for r in runs}
    if st.session_state.get("evaluate.run") not in by_id:
        best = run_report.default_run(ws, project, split.id)
        st.session_state["evaluate.run"] = best.id if best else runs[0].id
    metric, _ = run_report.ranking_metric(project)

    def label(run_id: str) -> str:
        run = by_id[run_id]
        value = run.validation_metrics.get(metric)
        shown = f" · {metric_label(metric)} {value:.3f}" if isinstance(value, float) else ""
        when = f" · {run.created_at:%d %b %H:%M}" if run.created_at else ""
        return f"{run.model_label}{' (baseline)' if run.is_baseline else ''}{shown}{when}"

    run_id = st.selectbox("Model", list(by_id), key="evaluate.run", format_func=label,
                          help="The best model of the newest comparison is chosen first. The address bar links to "
                               "this exact model.")
    if st.query_params.get("run") != run_id:
        st.query_params["run"] = run_id
    return get_run(ws, run_id)  # read fresh: the saved threshold may have changed in another session


def _set_threshold(value: float) -> None:
    st.session_state[_KEY] = round(float(value), 2)


# -- the views ---------------------------------------------------------------------------------------------------------
def _threshold_bar(run, view):
    """The one slider that moves every view, with shortcuts to the marked thresholds and the save button."""
    saved = float(run.threshold if run.threshold is not None else 0.5)
    if st.session_state.get("evaluate.threshold_for") != run.id:
        st.session_state["evaluate.threshold_for"] = run.id
        st.session_state[_KEY] = round(saved, 2)
    with st.container(border=True):
        left, right = st.columns([3, 2])
        threshold = left.slider("Decision threshold: flag a row when its score is at least", 0.0, 1.0, step=0.01,
                                key=_KEY, help="Moves every figure on this page at once, from the stored validation "
                                               "scores (no retraining).")
        with right:
            if view.best is not None:
                st.button(f"Best value: {view.best['threshold']:.2f}", key="evaluate.use_best",
                          on_click=_set_threshold, args=(view.best["threshold"],),
                          help=f"{view.best['value_per_1000']:+,.0f} per 1,000 decisions with the project's costs.")
            if view.criterion is not None:
                st.button(f"Meets the rule: {view.criterion['threshold']:.2f}", key="evaluate.use_rule",
                          on_click=_set_threshold, args=(view.criterion["threshold"],))
        st.caption(md_escape(view.criterion_text) + f" Saved threshold of this model: {saved:.2f}.")
        if not is_viewer() and st.button("Save this threshold", key="evaluate.save_threshold", type="primary",
                                         icon=":material/save:", disabled=abs(threshold - saved) < 1e-9,
                                         help="The registry and the launch simulator use the saved threshold."):
            try:
                set_run_threshold(ws, run.id, threshold)
                st.toast(f"Saved threshold {threshold:.2f} for {run.model_label}.", icon=":material/check:")
                st.rerun()
            except WorkbenchError as err:
                show_error(err)
    return threshold


def _checks(checks) -> None:
    mark = {True: ":green[:material/check_circle:]", False: ":red[:material/cancel:]", None: ":material/remove:"}
    lines = [f"{mark[c.passed]} {md_escape(c.text)}" for c in checks if c.kind != "key_result"]
    st.markdown("  ·  ".join(lines))


def _binary_performance(project, run, view, threshold) -> None:
    point = run_report.operating_point(view, threshold, project.criteria, run.validation_metrics)
    st.markdown(f"**{md_escape(run_report.headline(point, 'rows'))}**")
    cols = st.columns(4)
    cols[0].metric("Precision", f"{point['precision']:.3f}", help="Of the flagged rows, the share that are real cases.")
    cols[1].metric("Recall", f"{point['recall']:.3f}", help="Of the real cases, the share that are flagged.")
    cols[2].metric("F1", f"{point['f1']:.3f}", help="Balance of precision and recall.")
    value = point["value_per_1000"]
    cols[3].metric("Value per 1,000 decisions", "no costs set" if value is None else f"{value:+,.0f}",
                   help="From the project's value of each decision (Define page): caught case, false alarm, "
                        "missed case, correct all-clear.")
    _checks(point["checks"])
    left, right = st.columns(2)
    left.plotly_chart(charts.threshold_chart(view, point), key="evaluate.chart.thresholds", **_CHART)
    right.plotly_chart(charts.confusion_chart(point["counts"], point["rates"]), key="evaluate.chart.confusion",
                       **_CHART)
    left, right = st.columns(2)
    left.plotly_chart(charts.roc_chart(view, point), key="evaluate.chart.roc", **_CHART)
    right.plotly_chart(charts.pr_chart(view, point), key="evaluate.chart.pr", **_CHART)
    left, right = st.columns(2)
    if view.calibration is not None:
        left.plotly_chart(charts.calibration_chart(view.calibration), key="evaluate.chart.calibration", **_CHART)
    else:
        left.info(view.calibration_note, icon=":material/info:")
    right.plotly_chart(charts.lift_chart(view.lift), key="evaluate.chart.lift", **_CHART)


def _multiclass_performance(data) -> None:
    view = run_report.multiclass_view(data)
    s = view["summary"]
    cols = st.columns(4)
    cols[0].metric("Accuracy", f"{s['accuracy']:.3f}", help=f"Always answering the commonest class: "
                                                            f"{s['majority_accuracy']:.3f}.")
    cols[1].metric("Balanced accuracy", f"{s['balanced_accuracy']:.3f}")
    cols[2].metric("Macro F1", f"{s['macro_f1']:.3f}")
    cols[3].metric("Kappa", f"{s['kappa']:.3f}", help="How far above chance agreement the model is (0 = chance).")
    _checks(run_report.criteria_checks(data))
    left, right = st.columns(2)
    conf = view["confusion"]
    left.plotly_chart(charts.confusion_chart(conf.counts, conf.rates), key="evaluate.chart.confusion", **_CHART)
    report = view["report"].assign(**{"class": [format_class(c) for c in view["report"]["class"]]})
    right.dataframe(report, hide_index=True,
                    column_config={c: st.column_config.NumberColumn(format="%.3f")
                                   for c in ("precision", "recall", "f1")})


def _regression_performance(data) -> None:
    views = run_report.regression_view(data)
    s = views.summary
    cols = st.columns(5)
    number = run_report.format_number
    cols[0].metric("MAE", number(s["mae"]), help="Average size of an error, in the target's units.")
    cols[1].metric("RMSE", number(s["rmse"]))
    cols[2].metric("R²", f"{s['r2']:.3f}")
    cols[3].metric("Bias", ("+" if s["bias"] > 0 else "") + number(s["bias"]),
                   help="Average of actual − predicted: above 0 means it predicts too low.")
    cols[4].metric("Cost per 1,000 predictions", "no cost set" if s["cost_per_1000"] is None
                   else number(s["cost_per_1000"]), help="MAE × the project's cost per unit of error × 1,000.")
    _checks(run_report.criteria_checks(data))
    figs = charts.regression_charts(views)
    for names in (("scatter", "residual"), ("histogram", "deciles")):
        for col, name in zip(st.columns(2), names, strict=True):
            col.plotly_chart(figs[name], key=f"evaluate.chart.{name}", **_CHART)


def _errors_tab(run, stamp, threshold) -> None:
    table = _errors(ws, run.id, stamp, threshold)
    if table.empty:
        st.info("No segments to show: the model reads no columns that can be grouped.", icon=":material/info:")
        return
    metric = "mae" if run.task == "regression" else "error_rate"
    label = "mean absolute error" if metric == "mae" else "share predicted wrongly"
    st.caption(f"Where the model errs most on the validation rows ({label}, with 95% intervals). Red: worse than "
               "overall beyond doubt; pale: within the noise of its size; grey: under "
               f"{run_report.SMALL_SEGMENT} rows, too few to judge." +
               (f" Follows the threshold ({threshold:.2f})." if threshold is not None else ""))
    st.plotly_chart(charts.segments_chart(table, metric, label), key="evaluate.chart.segments", **_CHART)
    number = st.column_config.NumberColumn
    st.dataframe(table, hide_index=True, column_config={
        metric: number(label, format="%.3f" if metric == "error_rate" else "%.4g"),
        "ci_low": number("95% low", format="%.3f" if metric == "error_rate" else "%.4g"),
        "ci_high": number("95% high", format="%.3f" if metric == "error_rate" else "%.4g"),
        "overall": None, "is_small": st.column_config.CheckboxColumn("too small to judge"),
        "is_clearly_worse": st.column_config.CheckboxColumn("clearly worse")})


def _explain_tab(data, run, stamp, threshold) -> None:
    classes = run_explain.explain_classes(data)
    explain_class = None
    if run.task == "multiclass":
        explain_class = st.selectbox("Explain the probability of class", classes, key="evaluate.explain_class",
                                     format_func=format_class)
    elif classes:
        explain_class = classes[0]
    view = _importance(ws, run.id, stamp, explain_class)
    st.caption(f"Permutation importance: how much {view.scoring_label} drops on the validation rows when one column "
               f"is shuffled. Sentences describe the {md_escape(view.output)}.")
    left, right = st.columns(2)
    left.plotly_chart(charts.importance_chart(view.permutation, "Permutation importance"),
                      key="evaluate.chart.permutation", **_CHART)
    if view.native is not None:
        kind = view.native["kind"].iloc[0]
        right.plotly_chart(charts.importance_chart(view.native, f"The model's own importance ({kind})", "share", None),
                           key="evaluate.chart.native", **_CHART)
    else:
        right.info("This kind of model has no importance of its own; permutation importance works for every model.",
                   icon=":material/info:")
    sentences = [f"- {md_escape(s)}" for s in view.permutation["sentence"]]
    st.markdown("\n".join(sentences[:8]))
    if len(sentences) > 8:
        with st.expander(f"The other {len(sentences) - 8} columns"):
            st.markdown("\n".join(sentences[8:]))

    st.subheader("Partial dependence")
    features = list(view.permutation["feature"])
    feature = st.selectbox("Column", features, key="evaluate.pdp_feature")
    pdp = _pdp(ws, run.id, stamp, feature, explain_class)
    st.plotly_chart(charts.pdp_chart(pdp), key="evaluate.chart.pdp", **_CHART)
    st.caption(md_escape(pdp.sentence))

    st.subheader("What if?")
    _what_if_form(data, run, stamp, explain_class, threshold)


def _what_if_form(data, run, stamp, explain_class, threshold) -> None:
    choices = run_explain.row_choices(data)
    labels = dict(zip(choices["_row"].tolist(), choices["label"], strict=True))
    if st.session_state.get("evaluate.row") not in labels:
        st.session_state["evaluate.row"] = next(iter(labels))
    row_id = st.selectbox("Start from a validation row", list(labels), key="evaluate.row", format_func=labels.get,
                          help="The row number is in the address bar, so a link opens this same example.")
    if st.query_params.get("row") != str(row_id):
        st.query_params["row"] = str(row_id)
    record = {}
    with st.form(f"evaluate.whatif.{row_id}"):
        cols = st.columns(3)
        for i, field in enumerate(run_explain.record_fields(data, row_id)):
            record[field["name"]] = _field_input(cols[i % 3], field, f"evaluate.whatif.{row_id}.{field['name']}")
        st.form_submit_button("Predict", icon=":material/play_arrow:")
    try:
        out = _what_if(ws, run.id, stamp, tuple(record.items()), explain_class, threshold)
    except WorkbenchError as err:
        show_error(err)
        return
    st.markdown(f"**{md_escape(out['decision'])}**")
    st.plotly_chart(charts.contributions_chart(out["result"]), key="evaluate.chart.whatif", **_CHART)
    st.caption(md_escape(out["result"].method))


def _field_input(col, field: dict, key: str):
    name, value = field["name"], field["value"]
    if field["kind"] == "number":
        step = 1 if field["is_integer"] else None
        return col.number_input(name, value=value, step=step, key=key, placeholder="missing")
    if field["kind"] == "choice":
        options = field["choices"]
        index = options.index(value) if value in options else None
        return col.selectbox(name, options, index=index, key=key, format_func=format_class)
    if field["kind"] == "date":
        return col.date_input(name, value=value, key=key)
    return col.text_input(name, value=value, key=key)


def _fairness_tab(data, run, stamp, threshold, project) -> None:
    result = _fairness(ws, run.id, stamp, threshold)
    if result is None:
        st.info("No sensitive columns are declared for this project, so fairness cannot be checked. Declare them "
                "(age band, region, …) with the success criteria.", icon=":material/info:")
        page_link(DEFINE_PAGE, "Declare sensitive columns", fallback=lambda: None)
        return
    tolerance = project.criteria.fairness_tolerance
    status, sentence = run_fairness.fairness_verdict(result, threshold)
    box = st.success if status == "pass" else st.warning  # a failing check is a finding, not an error of the page
    box(md_escape(sentence), icon={"pass": ":material/balance:", "unclear": ":material/help:",
                                   "fail": ":material/gpp_bad:"}[status])
    st.caption(md_escape(run_fairness.fairness_description(data, result, threshold)))
    for warning in result.warnings:
        st.warning(md_escape(warning), icon=":material/warning:")
    number = st.column_config.NumberColumn
    st.dataframe(run_fairness.fairness_table(result), hide_index=True, column_config={
        "value": number(format="%.3f"), "ci_low": number("95% low", format="%.3f"),
        "ci_high": number("95% high", format="%.3f"), "limit": number(format="%.3g"),
        "small_groups": number("small groups")})
    attributes = list(dict.fromkeys(result.groups["attribute"]))
    outcomes = [o for o in dict.fromkeys(result.groups["outcome"]) if o is not None]
    left, right = st.columns(2)
    attribute = left.selectbox("Groups of", attributes, key="evaluate.fair_attribute")
    outcome = right.selectbox("Outcome", outcomes, key="evaluate.fair_outcome", format_func=format_class) \
        if len(outcomes) > 1 else (outcomes[0] if outcomes else None)
    measures = ("mae", "rmse") if result.mode == "regression" else ("selection_rate", "recall", "fpr")
    st.plotly_chart(charts.fairness_groups_chart(run_fairness.group_table(result, attribute, outcome), measures),
                    key="evaluate.chart.groups", **_CHART)
    st.dataframe(run_fairness.group_table(result, attribute, outcome), hide_index=True,
                 column_config={"attribute": None, "is_small": st.column_config.CheckboxColumn("too small to judge")})
    if run.task == "binary":
        singles = list(data.sensitive.columns)
        trade_attr = st.selectbox("Trade-off for", singles, key="evaluate.tradeoff_attr") if len(singles) > 1 \
            else singles[0]
        table = _tradeoff(ws, run.id, stamp, trade_attr)
        st.plotly_chart(charts.tradeoff_chart(table, table.attrs["metric"], tolerance, threshold),
                        key="evaluate.chart.tradeoff", **_CHART)


# -- the page ----------------------------------------------------------------------------------------------------------
ws = get_workspace()
page_header("Evaluate a model", "How it errs, at which threshold, why it predicts what it does, and whether it treats "
                                "groups alike: on the validation rows.")
project = require_project(ws)
_read_link(project)
split = require_split(ws, project)
criteria_banner(project)
if project.task not in ("binary", "multiclass", "regression"):
    empty_state("A clustering project has no outcome to evaluate against. Look at its groups on the Train page.",
                TRAIN_PAGE, "Train & compare")
run = _pick_run(project, split)
stamp = str(project.updated_at)
try:
    data = _data(ws, run.id, stamp)
    view = _thresholds(ws, run.id, stamp) if run.task == "binary" else None
except WorkbenchError as err:
    show_error(err)
    st.stop()
for note in (*data.notes, *run.warnings):
    st.info(md_escape(note), icon=":material/info:")
threshold = _threshold_bar(run, view) if view is not None else None

# Only the open tab runs (its name is in the address bar, so a link opens the same tab): the slider stays instant.
performance, errors, explain, fairness = st.tabs(["Performance", "Errors", "Explain", "Fairness"], key="evaluate.tab",
                                                 bind="query-params")
try:
    if performance.open is not False:
        with performance:
            if run.task == "binary":
                _binary_performance(project, run, view, threshold)
            elif run.task == "multiclass":
                _multiclass_performance(data)
            else:
                _regression_performance(data)
    if errors.open:
        with errors:
            _errors_tab(run, stamp, threshold)
    if explain.open:
        with explain:
            _explain_tab(data, run, stamp, threshold)
    if fairness.open:
        with fairness:
            _fairness_tab(data, run, stamp, threshold, project)
except WorkbenchError as err:
    show_error(err)
