"""Train & compare: pick catalog models, train them in the background, and read an honest leaderboard."""

from __future__ import annotations

import streamlit as st

from core.catalog import ModelSpec, metric_entry, metrics_for, models_for
from core.errors import WorkbenchError
from core.jobs import get_job, start_job
from core.models.leaderboard import (comparable_runs, comparison_choices, comparison_runs, default_pair,
                                    leaderboard_frame, paired_comparison, verdict)
from core.models.runs import (choose_project_features, cluster_and_save, feature_candidates, latest_comparison,
                              list_runs, run_predictions, train_and_save)
from core.models import compute
from pages._compute_views import compute_panel, ran_on
from pages._projects import criteria_banner, md_escape, require_project, require_split
from pages._widgets import get_workspace, is_viewer, page_header, page_link, param_inputs, show_error

EVALUATE_PAGE, REGISTRY_PAGE = "pages/08_evaluate.py", "pages/09_registry.py"
JOB = "train.job_id"
# The form is not drawn while a job runs: its widgets keep their values meanwhile (Streamlit forgets a widget's value
# in a run that does not draw it, unless it persists).
KEEP = "page"

ws = get_workspace()
page_header("Train and compare models", "Cross-validated on the train set, scored once on validation; the test set "
                                        "stays untouched until the final check in the registry.")
project = require_project(ws)
criteria_banner(project)
split = require_split(ws, project)
is_clustering = project.task == "clustering"
metric_keys = [m.key for m in metrics_for(project.task)]
metric = project.criteria.primary_metric if project.criteria.primary_metric in metric_keys else metric_keys[0]


def _link(path: str, label: str, icon: str) -> None:
    page_link(path, label, icon, fallback=lambda: st.caption(f"Next: {label}"))


def _start(fn, *args, **kw) -> None:
    if st.session_state.get("train.sync"):  # tests: run in the script itself
        try:
            with st.spinner("Training…"):
                fn(*args, **kw)
            st.session_state["train.flash"] = ("success", "Training finished; the runs are saved.")
        except WorkbenchError as err:
            st.session_state["train.flash"] = ("error", str(err))
        st.rerun()
    job = start_job(fn, *args, name=f"Train · {project.name}", **kw)
    st.session_state[JOB] = job.id
    st.rerun()


def _on_cluster() -> bool:
    """Whether this page's jobs go to a Dask cluster (finding groups always runs here)."""
    return not is_clustering and not compute.current_config().is_local


def _features():
    """The input columns: the default choice (with why each other column is out), editable; returns the train kwargs."""
    default = choose_project_features(ws, project)
    candidates = feature_candidates(ws, project)
    if "train.features" not in st.session_state:
        st.session_state["train.features"] = list(default.used)
    st.session_state["train.features"] = [c for c in st.session_state["train.features"] if c in candidates]
    with st.expander(f"Features · {len(st.session_state['train.features'])} of {len(candidates)} columns",
                     icon=":material/view_column:"):
        picked = st.multiselect("Input columns", candidates, key="train.features", persist_state=KEEP,
                                help="The columns every model reads. Identifiers, leak suspects from the profile and "
                                     "the project's sensitive attributes are left out by default.")
        for d in default.left_out:
            st.caption(f"Left out by default: **{md_escape(d['column'])}**: {md_escape(d['reason'])}")
        sensitive = [c for c in picked if c in (project.criteria.sensitive_attributes or ())]
        reason = None
        if sensitive:
            reason = st.text_input(f"Why use {', '.join(sensitive)} as an input?", key="train.sensitive_reason",
                                   persist_state=KEEP,
                                   help="A sensitive attribute is checked for fairness, not used to decide, unless "
                                        "you state why; the reason is saved on the runs and the model card.")
        st.button("Back to the default choice", key="train.features_reset", icon=":material/restart_alt:",
                  on_click=lambda: st.session_state.update({"train.features": list(default.used)}))
    if picked == list(default.used):
        return {}
    return {"features": picked, "sensitive_reason": reason}


def _form() -> None:
    entries = [m for m in models_for(project.task) if not m.is_baseline]
    by_key = {m.key: m for m in entries}
    with st.container(border=True):
        if is_clustering:
            low, high = st.slider("Numbers of groups to try (k)", 2, 12, (2, 8), key="train.k_range",
                                  persist_state=KEEP,
                                  help="k-means runs once per k; the k whose groups are most clearly separated "
                                       "(highest silhouette) is kept.")
            seed = int(st.number_input("Seed", 0, 2**31 - 1, 42, 1, key="train.seed", persist_state=KEEP))
            if st.button("Find groups", type="primary", key="train.go", icon=":material/bubble_chart:"):
                _start(cluster_and_save, ws, project, split, range(low, high + 1), seed)
            return
        chosen = st.multiselect("Models", list(by_key), default=list(by_key), key="train.models", persist_state=KEEP,
                                format_func=lambda k: by_key[k].label,
                                help="The baseline (a guess that ignores every column) is always included.")
        on_cluster = _on_cluster()
        for key in chosen:
            if by_key[key].notes:
                uncapped = " On the Dask cluster it trains on every row (no cap)." \
                    if on_cluster and by_key[key].on_cluster and by_key[key].max_rows else ""
                st.caption(f"**{md_escape(by_key[key].label)}:** {md_escape(by_key[key].notes + uncapped)}")
        left, mid, right = st.columns(3)
        cv = int(left.number_input("Cross-validation folds", 2, 10, 5, 1, key="train.cv", persist_state=KEEP,
                                   help="The train set is cut into this many parts; each model trains on all but one "
                                        "and is scored on the one left out, in turn."))
        seed = int(mid.number_input("Seed", 0, 2**31 - 1, 42, 1, key="train.seed", persist_state=KEEP,
                                    help="The same seed gives the same folds and the same numbers."))
        tuning = right.toggle("Tune settings automatically", key="train.tune", persist_state=KEEP,
                              help="Tries other settings within each model's ranges and keeps the best.")
        specs = []
        for key in chosen:
            with st.expander(f"Settings · {by_key[key].label}", icon=":material/tune:"):
                specs.append(ModelSpec(key, param_inputs(by_key[key], project.task, key="train.p")))
        try:
            chosen_features = _features()
        except WorkbenchError as err:
            show_error(err)
            return
        budget = {}
        if tuning:
            a, b, c = st.columns(3)
            budget["tune_trials"] = int(a.number_input("Trials per model", 2, 200, 10, 1, key="train.tune_trials",
                                                       persist_state=KEEP))
            minutes = b.number_input("Minutes per model (0 = no limit)", 0.0, 120.0, 2.0, 0.5, key="train.tune_minutes",
                                     persist_state=KEEP)
            budget["tune_seconds"] = minutes * 60 or None
            budget["tune_method"] = c.radio("Search", ["random", "grid"], horizontal=True, key="train.tune_method",
                                            persist_state=KEEP)
        if st.button("Train", type="primary", key="train.go", icon=":material/model_training:", disabled=not chosen):
            try:  # a bad feature list is refused here, before a job starts
                choose_project_features(ws, project, chosen_features.get("features"),
                                        sensitive_reason=chosen_features.get("sensitive_reason"))
            except WorkbenchError as err:
                show_error(err)
                return
            _start(train_and_save, ws, project, split, specs, cv=cv, seed=seed, **budget, **chosen_features)


@st.fragment(run_every=1)
def _progress(job_id: str) -> None:
    job = get_job(job_id)
    if job is None or job.done:
        st.rerun()  # the whole page picks up the result
    fraction, text = job.progress
    on_cluster = _on_cluster()
    st.progress(fraction, text=md_escape(text) + (" · on the Dask cluster" if on_cluster else ""))
    if job.cancel_event.is_set():
        st.caption("Cancelling: no new fold or trial starts" + (" on the cluster" if on_cluster else "")
                   + "; the ones running finish and are thrown away. Nothing is saved.")
    elif st.button("Cancel", key="train.cancel", icon=":material/cancel:",
                   help="Stops the job: nothing of it is saved." + (" Its queued tasks on the cluster are dropped."
                                                                    if on_cluster else "")):
        job.cancel()
        st.rerun(scope="fragment")


def _finished_job() -> None:
    job = get_job(st.session_state.get(JOB))
    if job is None:
        st.session_state.pop(JOB, None)
        return
    if not job.done:
        _progress(job.id)
        return
    st.session_state.pop(JOB, None)
    if job.state == "done":
        st.session_state["train.flash"] = ("success", "Training finished; the runs are saved.")
    else:
        st.session_state["train.flash"] = ("info" if job.state == "cancelled" else "error", job.error or "Stopped.")


def _leaderboard(runs) -> None:
    board = leaderboard_frame(runs, project.task, metric, project.criteria)
    label = metric_entry(metric).label
    st.markdown(md_escape(verdict(runs, metric, project.criteria)))
    if board.attrs.get("cv_scheme"):
        st.caption(f"Cross-validation: {md_escape(board.attrs['cv_scheme'])}")
    st.caption(f"Trained on {md_escape(ran_on(runs[0].versions))}.")
    used = next((r.feature_choice for r in runs if r.feature_choice), None)
    if used:
        st.caption(f"Features ({len(used['used'])}): {md_escape(', '.join(used['used']))}"
                   + (f" · left out: {md_escape(', '.join(d['column'] for d in used['left_out']))}"
                      if used["left_out"] else ""))
    shown = board.assign(
        meets=board["meets_criteria"].map({True: "✅ meets", False: "✖ not yet"}).fillna("—"),
        size_kb=board["size_bytes"] / 1024)
    others = {f"val_{k}": st.column_config.NumberColumn(metric_entry(k).label, format="%.3f")
              for k in metric_keys if k != metric}
    columns = ["rank", "model", "meets", "cv_mean", "cv_sd", "validation", "gap", *others, "fit_seconds",
               "predict_ms_per_1k", "predict_ms_per_row", "size_kb", "warnings", "error"]
    st.dataframe(shown[columns], hide_index=True, width="stretch", key="train.board", column_config={
        "rank": st.column_config.NumberColumn("#", width="small"), "model": "Model", "meets": "Success criteria",
        "cv_mean": st.column_config.NumberColumn(f"{label} · CV mean", format="%.3f"),
        "cv_sd": st.column_config.NumberColumn("± SD", format="%.3f"),
        "validation": st.column_config.NumberColumn(f"{label} · validation", format="%.3f"),
        "gap": st.column_config.NumberColumn("Train − validation", format="%+.3f"), **others,
        "fit_seconds": st.column_config.NumberColumn("Fit (s)", format="%.2f"),
        "predict_ms_per_1k": st.column_config.NumberColumn("Predict (ms / 1,000 rows)", format="%.1f",
                                                           help="Timed on a fixed batch of 1,000 rows resampled "
                                                                "from validation."),
        "predict_ms_per_row": st.column_config.NumberColumn("Predict (ms / row)", format="%.2f"),
        "size_kb": st.column_config.NumberColumn("Size (KB)", format="%.0f"),
        "warnings": st.column_config.TextColumn("Warnings", width="large"), "error": "Error"})
    offered = set()
    for r in runs:
        for w in r.warnings:
            st.warning(f"**{md_escape(r.model_label)}:** {md_escape(w)}", icon=":material/warning:")
        for e in r.evidence:
            if e["column"] not in offered and not is_viewer() and not st.session_state.get(JOB):
                offered.add(e["column"])
                st.button(f"Leave out {e['column']} for the next training", key=f"train.drop.{len(offered)}",
                          icon=":material/remove_circle:", on_click=_drop_feature, args=(e["column"],))
        if r.error:
            st.error(md_escape(r.error), icon=":material/error:")
        if r.tuning and r.tuning.get("gain") is not None:
            t = r.tuning
            st.info(f"**{md_escape(r.model_label)}** tuned over {t['trials']} trials ({t['method']} search): the best "
                    f"settings score {t['best_score']:.3f} vs {t['default_score']:.3f} with the defaults "
                    f"({t['gain']:+.3f} {md_escape(metric_entry(t['metric']).label)} in cross-validation).",
                    icon=":material/tune:")
    notes = [(r.model_label, n) for r in runs for n in r.notes]
    if notes:
        with st.expander("Notes on how each model was trained", icon=":material/info:"):
            for who, note in notes:
                st.markdown(f"- **{md_escape(who)}:** {md_escape(note)}")
    _paired(runs)
    left, right = st.columns(2)
    with left:
        _link(EVALUATE_PAGE, "Evaluate a model: thresholds, costs, errors", ":material/insights:")
    with right:
        _link(REGISTRY_PAGE, "Register the best model", ":material/inventory_2:")


def _drop_feature(column: str) -> None:
    current = st.session_state.get("train.features")
    if current is None:
        current = list(choose_project_features(ws, project).used)
    st.session_state["train.features"] = [c for c in current if c != column]


def _paired(runs) -> None:
    usable = comparable_runs(runs)
    pair = default_pair(usable, metric)
    if pair is None:
        return
    st.subheader("Is one model really better?", anchor=False)
    by_id = {r.id: r for r in usable}
    ids = list(by_id)
    left, right = st.columns(2)
    a = left.selectbox("Model A", ids, index=pair[0], key="train.pair_a", format_func=lambda i: by_id[i].model_label)
    b = right.selectbox("Model B", ids, index=pair[1], key="train.pair_b", format_func=lambda i: by_id[i].model_label)
    if a == b:
        st.caption("Choose two different models.")
        return
    try:
        st.markdown(md_escape(paired_comparison(by_id[a], by_id[b], metric).sentence))
    except WorkbenchError as err:
        show_error(err)


def _clusters(run) -> None:
    extras = run.extras or {}
    st.markdown(md_escape(f"Best k = {extras.get('best_k')}: silhouette "
                          f"{run.validation_metrics.get('silhouette', float('nan')):.3f} (higher = clearer groups)."))
    import pandas as pd

    table = pd.DataFrame(extras.get("k_table") or [])
    if not table.empty:
        left, right = st.columns(2)
        left.caption("Elbow: spread within groups by k (look for the bend)")
        left.line_chart(table, x="k", y="inertia", height=220)
        right.caption("Silhouette by k (higher = better separated)")
        right.line_chart(table, x="k", y="silhouette", height=220)
    for sentence in extras.get("descriptions") or []:
        st.markdown(f"- {md_escape(sentence)}")
    if extras.get("profiles"):
        st.dataframe(pd.DataFrame(extras["profiles"]), hide_index=True, width="stretch")
    described = set(extras.get("descriptions") or [])
    for note in [n for n in run.notes if n not in described] + list(extras.get("pca_notes") or []):
        st.caption(md_escape(note))
    st.subheader("Map of the rows (PCA)", anchor=False)
    explained = pd.DataFrame(extras.get("explained") or [])
    if not explained.empty:
        st.caption(md_escape(f"The two axes keep {explained['cumulative'].iloc[min(1, len(explained) - 1)]:.0%} of "
                             "the variation in the data."))
    try:
        points = run_predictions(ws, run.id).rename(columns={"y_pred": "group"})
        points["group"] = "Group " + points["group"].astype(str)
        st.scatter_chart(points, x="x", y="y", color="group", height=380)
    except WorkbenchError as err:
        show_error(err)


if is_clustering:
    st.caption("Finding groups runs on this machine.")
else:
    compute_panel()
if not is_viewer() and st.session_state.get(JOB):
    _finished_job()
flash = st.session_state.pop("train.flash", None)
if flash:
    {"success": st.success, "info": st.info}.get(flash[0], st.error)(md_escape(flash[1]))
if not is_viewer():
    if not st.session_state.get(JOB):
        with st.expander("Train models" if not is_clustering else "Find groups", expanded=True,
                         icon=":material/play_arrow:"):
            _form()

all_runs = list_runs(ws, project.id, split_id=split.id)
if not all_runs:
    st.info("No runs on this split yet." + ("" if is_viewer() else " Choose models above and press Train."),
            icon=":material/info:")
    st.stop()
comparisons = {c.id: c for c in comparison_choices(all_runs)}
chosen = next(iter(comparisons))
if len(comparisons) > 1:
    chosen = st.selectbox("Comparison", list(comparisons), key="train.comparison",
                          format_func=lambda c: f"{comparisons[c].started:%Y-%m-%d %H:%M} · {comparisons[c].runs} runs")
runs = comparison_runs(all_runs, chosen) if chosen else latest_comparison(ws, project.id)
st.subheader("Groups" if is_clustering else "Leaderboard", anchor=False)
if is_clustering:
    _clusters(runs[-1])
else:
    _leaderboard(runs)
