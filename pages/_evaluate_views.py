"""Parts of the Evaluate page: cached reads of one run's views, picking the run (and reading a shared link), and the
Explain tab with its what-if form.

The workspace passes unhashed; the run id and the project's last change (`stamp`) key every cached entry.
"""

from __future__ import annotations

import streamlit as st

from core.errors import WorkbenchError
from core.evaluate import charts, run_explain, run_fairness
from core.evaluate import report as run_report
from core.models.runs import get_run
from core.project.criteria import format_class, metric_label
from pages._cache import run_model as shared_model
from pages._widgets import empty_state, md_escape, show_error

TRAIN_PAGE = "pages/07_train.py"

CHART = {"config": {"displaylogo": False}}


def run_model(_ws, run_id: str):
    return shared_model(_ws, get_run(_ws, run_id))  # one copy per model file serves every session (pages/_cache.py)


@st.cache_data(show_spinner="Reading the validation rows…", max_entries=8)
def run_data(_ws, run_id: str, stamp: str):
    return run_report.load_run_data(_ws, run_id)


@st.cache_data(show_spinner="Scoring every threshold…", max_entries=8)
def threshold_view(_ws, run_id: str, stamp: str):
    return run_report.threshold_view(run_data(_ws, run_id, stamp))


@st.cache_data(show_spinner=False, max_entries=64)
def error_view(_ws, run_id: str, stamp: str, threshold: float | None):
    return run_fairness.error_view(run_data(_ws, run_id, stamp), threshold)


@st.cache_data(show_spinner=False, max_entries=64)
def fairness_view(_ws, run_id: str, stamp: str, threshold: float | None):
    return run_fairness.fairness_view(run_data(_ws, run_id, stamp), threshold)


@st.cache_data(show_spinner=False, max_entries=16)
def tradeoff_view(_ws, run_id: str, stamp: str, attribute: str):
    return run_fairness.tradeoff_view(run_data(_ws, run_id, stamp), attribute)


@st.cache_data(show_spinner="Shuffling each column to see what the model relies on…", max_entries=8)
def importance_view(_ws, run_id: str, stamp: str, explain_class):
    return run_explain.importance_view(run_model(_ws, run_id), run_data(_ws, run_id, stamp), explain_class)


@st.cache_data(show_spinner=False, max_entries=32)
def pdp_view(_ws, run_id: str, stamp: str, feature: str, explain_class):
    return run_explain.pdp_view(run_model(_ws, run_id), run_data(_ws, run_id, stamp), feature, explain_class)


@st.cache_data(show_spinner=False, max_entries=32)
def what_if_view(_ws, run_id: str, stamp: str, record: tuple, explain_class, threshold):
    return run_explain.what_if_view(run_model(_ws, run_id), run_data(_ws, run_id, stamp), dict(record),
                                    explain_class, threshold)


def read_link(ws, project) -> None:
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


def pick_run(ws, project, split):
    """The model selectbox over the split's evaluable runs (the best of the newest comparison first), in the URL."""
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


def explain_tab(ws, data, run, stamp, threshold) -> None:
    classes = run_explain.explain_classes(data)
    explain_class = None
    if run.task == "multiclass":
        explain_class = st.selectbox("Explain the probability of class", classes, key="evaluate.explain_class",
                                     format_func=format_class)
    elif classes:
        explain_class = classes[0]
    view = importance_view(ws, run.id, stamp, explain_class)
    st.caption(f"Permutation importance: how much {view.scoring_label} drops on the validation rows when one column "
               f"is shuffled. Sentences describe the {md_escape(view.output)}.")
    left, right = st.columns(2)
    left.plotly_chart(charts.importance_chart(view.permutation, "Permutation importance"),
                      key="evaluate.chart.permutation", **CHART)
    if view.native is not None:
        kind = view.native["kind"].iloc[0]
        right.plotly_chart(charts.importance_chart(view.native, f"The model's own importance ({kind})", "share", None),
                           key="evaluate.chart.native", **CHART)
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
    pdp = pdp_view(ws, run.id, stamp, feature, explain_class)
    st.plotly_chart(charts.pdp_chart(pdp), key="evaluate.chart.pdp", **CHART)
    st.caption(md_escape(pdp.sentence))

    st.subheader("What if?")
    what_if_form(ws, data, run, stamp, explain_class, threshold)


def what_if_form(ws, data, run, stamp, explain_class, threshold) -> None:
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
            record[field["name"]] = field_input(cols[i % 3], field, f"evaluate.whatif.{row_id}.{field['name']}")
        st.form_submit_button("Predict", icon=":material/play_arrow:")
    try:
        out = what_if_view(ws, run.id, stamp, tuple(record.items()), explain_class, threshold)
    except WorkbenchError as err:
        show_error(err)
        return
    st.markdown(f"**{md_escape(out['decision'])}**")
    st.plotly_chart(charts.contributions_chart(out["result"]), key="evaluate.chart.whatif", **CHART)
    st.caption(md_escape(out["result"].method))
    for column, words in run_explain.text_words_view(run_model(ws, run.id), data, record, explain_class):
        st.caption(f"Words in **{md_escape(column)}** that push this prediction (TF-IDF value × the model's weight):")
        st.dataframe(words, hide_index=True, key=f"evaluate.words.{column}")


def field_input(col, field: dict, key: str):
    name, value = md_escape(field["name"]), field["value"]  # a column name is user text: a widget label is Markdown
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
