"""Evaluate: how one trained model errs, at which threshold, why it predicts what it does, and whom it treats alike."""

from __future__ import annotations

import streamlit as st

from core.errors import WorkbenchError
from core.evaluate import charts, run_fairness
from core.evaluate import report as run_report
from core.evaluate.shown_threshold import shown_threshold
from core.evaluate.views import (binary_kpis, class_report, fairness_choices, multiclass_kpis, regression_kpis,
                                 segment_measure, shown_checks)
from core.models.runs import set_run_threshold
from core.project.criteria import format_class
from pages._cache import figure
from pages._evaluate_views import (CHART, error_view, explain_tab, fairness_view, pick_run, read_link, run_data,
                             threshold_view, tradeoff_view)
from pages._projects import criteria_banner, require_project, require_split
from pages._widgets import empty_state, get_workspace, is_viewer, md_escape, page_header, page_link, show_error

TRAIN_PAGE = "pages/07_train.py"
DEFINE_PAGE = "pages/01_define.py"
_KEY = "evaluate.threshold"


def _set_threshold(value: float) -> None:
    st.session_state[_KEY] = round(float(value), 2)


# -- the views ---------------------------------------------------------------------------------------------------------
def _threshold_bar(run, view):
    """The one slider that moves every view, with shortcuts to the marked thresholds and the save button."""
    saved = shown_threshold(run).value  # the one rule every page, the report and the CLI use
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
        st.caption(md_escape(view.criterion_text) + f" Opens {shown_threshold(run).label}, as the dashboard, the "
                   "registry and the report show this model.")
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


def _tiles(kpis) -> None:
    for col, k in zip(st.columns(len(kpis)), kpis, strict=True):
        col.metric(k.label, k.value, k.delta, delta_color=k.delta_color, help=k.help)


def _checks(checks) -> None:
    mark = {True: ":green[:material/check_circle:]", False: ":red[:material/cancel:]", None: ":material/remove:"}
    st.markdown("  ·  ".join(f"{mark[c.passed]} {md_escape(c.text)}" for c in shown_checks(checks)))


def _shared(run, threshold, name, build, *args):
    """A figure built once per server for this run, project state and threshold (pages/_cache.py)."""
    return figure(run.project_id, ("evaluate", name, run.id, run.threshold, stamp, threshold), build, *args)


def _binary_performance(project, run, view, threshold) -> None:
    point = run_report.operating_point(view, threshold, project.criteria, run.validation_metrics)
    st.markdown(f"**{md_escape(run_report.headline(point, 'rows'))}**")
    _tiles(binary_kpis(point))
    _checks(point["checks"])
    left, right = st.columns(2)
    left.plotly_chart(_shared(run, threshold, "thresholds", charts.threshold_chart, view, point),
                      key="evaluate.chart.thresholds", **CHART)
    right.plotly_chart(_shared(run, threshold, "confusion", charts.confusion_chart, point["counts"], point["rates"]),
                       key="evaluate.chart.confusion", **CHART)
    left, right = st.columns(2)
    left.plotly_chart(_shared(run, threshold, "roc", charts.roc_chart, view, point), key="evaluate.chart.roc", **CHART)
    right.plotly_chart(_shared(run, threshold, "pr", charts.pr_chart, view, point), key="evaluate.chart.pr", **CHART)
    left, right = st.columns(2)
    if view.calibration is not None:
        left.plotly_chart(_shared(run, threshold, "calibration", charts.calibration_chart, view.calibration),
                          key="evaluate.chart.calibration", **CHART)
    else:
        left.info(view.calibration_note, icon=":material/info:")
    right.plotly_chart(_shared(run, threshold, "lift", charts.lift_chart, view.lift),
                       key="evaluate.chart.lift", **CHART)


def _multiclass_performance(data) -> None:
    view = run_report.multiclass_view(data)
    _tiles(multiclass_kpis(view["summary"]))
    _checks(run_report.criteria_checks(data))
    left, right = st.columns(2)
    conf = view["confusion"]
    left.plotly_chart(charts.confusion_chart(conf.counts, conf.rates), key="evaluate.chart.confusion", **CHART)
    right.dataframe(class_report(view["report"]), hide_index=True,
                    column_config={c: st.column_config.NumberColumn(format="%.3f")
                                   for c in ("precision", "recall", "f1")})


def _regression_performance(data) -> None:
    views = run_report.regression_view(data)
    _tiles(regression_kpis(views.summary))
    _checks(run_report.criteria_checks(data))
    figs = charts.regression_charts(views)
    for names in (("scatter", "residual"), ("histogram", "deciles")):
        for col, name in zip(st.columns(2), names, strict=True):
            col.plotly_chart(figs[name], key=f"evaluate.chart.{name}", **CHART)


def _errors_tab(run, stamp, threshold) -> None:
    table = error_view(ws, run.id, stamp, threshold)
    if table.empty:
        st.info("No segments to show: the model reads no columns that can be grouped.", icon=":material/info:")
        return
    metric, label = segment_measure(run.task)
    st.caption(f"Where the model errs most on the validation rows ({label}, with 95% intervals). Red: worse than "
               "overall beyond doubt; pale: within the noise of its size; grey: under "
               f"{run_report.SMALL_SEGMENT} rows, too few to judge." +
               (f" Follows the threshold ({threshold:.2f})." if threshold is not None else ""))
    st.plotly_chart(charts.segments_chart(table, metric, label), key="evaluate.chart.segments", **CHART)
    number = st.column_config.NumberColumn
    st.dataframe(table, hide_index=True, column_config={
        metric: number(label, format="%.3f" if metric == "error_rate" else "%.4g"),
        "ci_low": number("95% low", format="%.3f" if metric == "error_rate" else "%.4g"),
        "ci_high": number("95% high", format="%.3f" if metric == "error_rate" else "%.4g"),
        "overall": None, "is_small": st.column_config.CheckboxColumn("too small to judge"),
        "is_clearly_worse": st.column_config.CheckboxColumn("clearly worse")})


def _fairness_tab(data, run, stamp, threshold, project) -> None:
    result = fairness_view(ws, run.id, stamp, threshold)
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
    choices = fairness_choices(result)
    outcomes = choices.outcomes
    left, right = st.columns(2)
    attribute = left.selectbox("Groups of", choices.attributes, key="evaluate.fair_attribute")
    outcome = right.selectbox("Outcome", outcomes, key="evaluate.fair_outcome", format_func=format_class) \
        if len(outcomes) > 1 else (outcomes[0] if outcomes else None)
    st.plotly_chart(charts.fairness_groups_chart(run_fairness.group_table(result, attribute, outcome),
                                                 choices.measures),
                    key="evaluate.chart.groups", **CHART)
    st.dataframe(run_fairness.group_table(result, attribute, outcome), hide_index=True,
                 column_config={"attribute": None, "is_small": st.column_config.CheckboxColumn("too small to judge")})
    if run.task == "binary":
        singles = list(data.sensitive.columns)
        trade_attr = st.selectbox("Trade-off for", singles, key="evaluate.tradeoff_attr") if len(singles) > 1 \
            else singles[0]
        table = tradeoff_view(ws, run.id, stamp, trade_attr)
        st.plotly_chart(charts.tradeoff_chart(table, table.attrs["metric"], tolerance, threshold),
                        key="evaluate.chart.tradeoff", **CHART)


# -- the page ----------------------------------------------------------------------------------------------------------
ws = get_workspace()
page_header("Evaluate a model", "How it errs, at which threshold, why it predicts what it does, and whether it treats "
                                "groups alike: on the validation rows.")
project = require_project(ws)
read_link(ws, project)
split = require_split(ws, project)
criteria_banner(project)
if project.task not in ("binary", "multiclass", "regression"):
    empty_state("A clustering project has no outcome to evaluate against. Look at its groups on the Train page.",
                TRAIN_PAGE, "Train & compare")
run = pick_run(ws, project, split)
stamp = str(project.updated_at)
try:
    data = run_data(ws, run.id, stamp)
    view = threshold_view(ws, run.id, stamp) if run.task == "binary" else None
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
            explain_tab(ws, data, run, stamp, threshold)
    if fairness.open:
        with fairness:
            _fairness_tab(data, run, stamp, threshold, project)
except WorkbenchError as err:
    show_error(err)
