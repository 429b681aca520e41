"""Define: the problem, who acts on the predictions, the target, and what "good enough to launch" means."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.errors import WorkbenchError
from core.project.criteria import (COST_KEYS, COST_LABELS, OP_SYMBOLS, TASK_LABELS, TASKS, SuccessCriteria,
                                   criteria_warnings, default_criteria, describe_criteria, format_class,
                                   metric_choices, metric_label, metric_meaning, natural_op, suggested_threshold)
from core.project.projects import (archive_project, class_shares, create_project, detect_task, duplicate_project,
                                   list_projects, rename_project, update_project)
from core.release.gate import key_result_status
from pages._projects import md_escape, project_picker
from pages._widgets import dataset_picker, empty_state, get_workspace, is_viewer, page_header, show_error

ws = get_workspace()
page_header("Define the problem", "Before any model: what problem, for whom, and how success is measured. Every later "
                                  "page checks its results against the criteria you set here.")
NO_TARGET = "(no target: find groups)"
_CRITERIA_FIELDS = {"metric", "threshold", "guardrails", "min_improvement", "cost_tp", "cost_fp", "cost_fn", "cost_tn",
                    "cost_unit", "sensitive", "tolerance", "objective", "key_results"}


def _flash() -> None:
    message = st.session_state.pop("define.flash", None)
    if message:
        st.success(md_escape(message), icon=":material/check_circle:")


def _target_fields(p: str, dataset, target_default: str | None, task_default: str | None, positive_default):
    """Target, task (detected, editable) and positive class; returns (target, task, positive, classes, shares)."""
    options = [NO_TARGET] + dataset.column_names
    target_key = f"define.{p}target"
    if st.session_state.get(target_key) not in options:
        st.session_state[target_key] = target_default if target_default in options else NO_TARGET
    choice = st.selectbox("Target: the column to predict", options, key=target_key,
                          help="The outcome the model learns to predict. Leave it empty to look for groups instead.")
    target = None if choice == NO_TARGET else choice
    try:
        detected, classes, guess = detect_task(ws, dataset.id, target)
    except WorkbenchError as err:
        show_error(err)
        return target, None, None, [], {}
    task_key = f"define.{p}task"
    if st.session_state.get(f"define.{p}detected_for") != (dataset.id, target):
        st.session_state[f"define.{p}detected_for"] = (dataset.id, target)
        st.session_state[task_key] = task_default if task_default and target == target_default else detected
    task = st.selectbox("Task", list(TASKS), key=task_key, format_func=lambda t: TASK_LABELS[t],
                        help=f"Detected from the target: {TASK_LABELS[detected]}. Change it if that is wrong.")
    positive = None
    if task == "binary" and len(classes) == 2:
        pos_key = f"define.{p}positive"
        if st.session_state.get(pos_key) not in classes:
            st.session_state[pos_key] = positive_default if positive_default in classes else guess
        positive = st.selectbox("Positive class: the outcome to find", classes, key=pos_key, format_func=format_class,
                                help="The case the users act on: the customer who leaves, the fraudulent payment.")
    shares = class_shares(ws, dataset.id, target) if target and task in ("binary", "multiclass") else {}
    if shares:
        st.caption("Balance: " + ", ".join(f"{md_escape(format_class(k))} {v:.0%}" for k, v in shares.items()))
    return target, task, positive, classes, shares


def _criteria_fields(p: str, task: str, columns: list[str], shares: dict, positive, start: SuccessCriteria):
    """The success-criteria form; returns the criteria as typed (checked when saved)."""
    st.subheader("Success criteria", anchor=False)
    if st.session_state.get(f"define.{p}criteria_for") != task:  # another task: start its criteria afresh
        for key in [k for k in st.session_state if str(k).startswith(f"define.{p}") and str(k).split(".")[-1]
                    in _CRITERIA_FIELDS]:
            del st.session_state[key]
        st.session_state[f"define.{p}criteria_for"] = task
    st.caption("Pick the metric that follows the cost of each kind of error: precision when a false alarm is "
               "expensive (blocking real mail), recall when a miss is (overlooking a sick patient).")
    choices = metric_choices(task)
    metric_key = f"define.{p}metric"
    if st.session_state.get(metric_key) not in choices:
        st.session_state[metric_key] = start.primary_metric if start.primary_metric in choices else choices[0]
    left, right = st.columns([2, 1])
    metric = left.selectbox("Primary metric", choices, key=metric_key, format_func=metric_label)
    left.caption(md_escape(metric_meaning(metric)))
    op = natural_op(metric)
    # One key per metric: a threshold typed for one metric (or the task guessed before a target was chosen) must not
    # carry over to another metric.
    start_value = start.threshold if metric == start.primary_metric else suggested_threshold(task, metric)
    threshold = right.number_input(f"Launch when {metric_label(metric)} {OP_SYMBOLS[op]}", value=float(start_value),
                                   step=0.01, format="%.3f", key=f"define.{p}threshold.{metric}")
    st.markdown("**Guardrails**: other metrics that must stay within limits")
    guards = st.data_editor(
        pd.DataFrame([g.__dict__ for g in start.guardrails], columns=["metric", "op", "value"]),
        column_config={"metric": st.column_config.SelectboxColumn("Metric", options=choices),
                       "op": st.column_config.SelectboxColumn("Rule", options=[">=", "<="], default=">="),
                       "value": st.column_config.NumberColumn("Limit", format="%.3f")},
        num_rows="dynamic", hide_index=True, width="stretch", key=f"define.{p}guardrails")
    min_improvement = st.number_input(f"A challenger must beat the champion's {metric_label(metric)} by at least",
                                      min_value=0.0, value=float(start.min_improvement), step=0.005, format="%.3f",
                                      key=f"define.{p}min_improvement")
    costs, cost_per_unit = {}, None
    if task == "binary":
        st.markdown("**Value of each decision** (money per case: gains positive, losses negative)")
        cols = st.columns(4)
        for col, key in zip(cols, COST_KEYS):
            costs[key] = col.number_input(COST_LABELS[key].capitalize(), value=float(start.costs.get(key, 0.0)),
                                          step=1.0, key=f"define.{p}cost_{key}")
    elif task == "regression":
        cost_per_unit = st.number_input("Cost of each unit of error (money lost per unit the prediction is off)",
                                        min_value=0.0, value=float(start.cost_per_unit_error or 0.0), step=1.0,
                                        key=f"define.{p}cost_unit")
    left, right = st.columns([2, 1])
    sensitive = left.multiselect("Sensitive attributes (checked for fairness, not used to decide)", columns,
                                 default=[c for c in start.sensitive_attributes if c in columns],
                                 key=f"define.{p}sensitive")
    tolerance = right.number_input("Largest allowed gap between groups", min_value=0.0, max_value=1.0,
                                   value=float(start.fairness_tolerance), step=0.01, format="%.2f",
                                   key=f"define.{p}tolerance")
    with st.expander("OKR framing (optional): one objective, 2 to 5 key results", expanded=start.okr is not None):
        okr = start.okr
        objective = st.text_input("Objective", value=okr.objective if okr else "", max_chars=200,
                                  key=f"define.{p}objective")
        krs = st.data_editor(
            pd.DataFrame([k.__dict__ for k in okr.key_results] if okr else [], columns=["text", "metric", "target"]),
            column_config={"text": st.column_config.TextColumn("Key result", max_chars=200),
                           "metric": st.column_config.SelectboxColumn("Metric", options=choices),
                           "target": st.column_config.NumberColumn("Target", format="%.3f")},
            num_rows="dynamic", hide_index=True, width="stretch", key=f"define.{p}key_results")
    criteria = SuccessCriteria.from_dict({
        "primary_metric": metric, "op": op, "threshold": threshold, "guardrails": guards.to_dict("records"),
        "min_improvement": min_improvement, "costs": costs, "cost_per_unit_error": cost_per_unit,
        "sensitive_attributes": sensitive, "fairness_tolerance": tolerance,
        "okr": {"objective": objective, "key_results": krs.to_dict("records")}})
    for warning in criteria_warnings(criteria, task, shares, positive):
        st.warning(md_escape(warning), icon=":material/warning:")
    with st.expander("What each metric means"):
        st.dataframe(pd.DataFrame({"Metric": [metric_label(k) for k in choices],
                                   "Meaning": [metric_meaning(k) for k in choices]}), hide_index=True, width="stretch")
    return criteria


def _reset_edit_state(project) -> None:
    """Loads a project's values into the edit form whenever another project (or a saved version) is shown."""
    stamp = (project.id, str(project.updated_at))
    if st.session_state.get("define.edit.loaded") == stamp:
        return
    for key in [k for k in st.session_state if str(k).startswith("define.edit.")]:
        del st.session_state[key]
    st.session_state["define.edit.loaded"] = stamp
    st.session_state["define.edit.problem"] = project.problem
    st.session_state["define.edit.users"] = project.users_and_decision


def _edit_tab(project) -> None:
    _reset_edit_state(project)
    dataset = ws.dataset(project.dataset_id)
    st.caption(f"Dataset: **{md_escape(dataset.name)}** · {dataset.rows:,} rows")
    problem = st.text_area("Problem", key="define.edit.problem", max_chars=2000)
    users = st.text_area("Who uses the predictions, and what decision do they drive?", key="define.edit.users",
                         max_chars=2000)
    target, task, positive, _, shares = _target_fields("edit.", dataset, project.target, project.task,
                                                       project.positive_class)
    if task is None:
        return
    start = project.criteria if task == project.task else default_criteria(task, shares)
    criteria = _criteria_fields("edit.", task, [c for c in dataset.column_names if c != target], shares, positive, start)
    if st.button("Save changes", type="primary", key="define.save", icon=":material/save:"):
        try:
            saved = update_project(ws, project.id, problem=problem, users_and_decision=users, target=target,
                                   task=task, positive_class=positive, criteria=criteria)
            st.session_state["define.flash"] = f"Saved {saved.name!r}."
            st.rerun()
        except WorkbenchError as err:
            show_error(err)


def _new_tab() -> None:
    name = st.text_input("Project name", max_chars=80, key="define.new.name", placeholder="e.g. Customer churn")
    problem = st.text_area("Problem", key="define.new.problem", max_chars=2000,
                           placeholder="e.g. Predict which customers will cancel next month.")
    users = st.text_area("Who uses the predictions, and what decision do they drive?", key="define.new.users",
                         max_chars=2000, placeholder="e.g. The retention team calls flagged customers each month.")
    dataset = dataset_picker(ws, key="define.new.dataset")
    if dataset is None:
        st.info("No data yet. Upload a file on the Data page first.", icon=":material/info:")
        return
    target, task, positive, _, shares = _target_fields("new.", dataset, None, None, None)
    if task is None:
        return
    criteria = _criteria_fields("new.", task, [c for c in dataset.column_names if c != target], shares, positive,
                                default_criteria(task, shares))
    if st.button("Create project", type="primary", key="define.create", icon=":material/add:"):
        try:
            project = create_project(ws, name, dataset.id, target, task=task, positive_class=positive,
                                     problem=problem, users_and_decision=users, criteria=criteria)
            st.session_state["project_id"] = project.id
            st.session_state["define.flash"] = f"Created {project.name!r}. Next: split its data on the Split page."
            for key in [k for k in st.session_state if str(k).startswith("define.new.")]:
                del st.session_state[key]
            st.rerun()
        except WorkbenchError as err:
            show_error(err)


def _manage_tab(project) -> None:
    new_name = st.text_input("New name", value=project.name, max_chars=80, key="define.rename_to")
    if st.button("Rename", key="define.rename", icon=":material/edit:"):
        try:
            rename_project(ws, project.id, new_name)
            st.session_state["define.flash"] = "Renamed."
            st.rerun()
        except WorkbenchError as err:
            show_error(err)
    st.caption("Duplicate copies the definition and criteria, not the splits or models.")
    if st.button("Duplicate", key="define.duplicate", icon=":material/content_copy:"):
        copy = duplicate_project(ws, project.id)
        st.session_state["project_id"] = copy.id
        st.session_state["define.flash"] = f"Created {copy.name!r}."
        st.rerun()
    st.caption("Archiving hides the project from the pickers; its splits and models stay in the workspace.")
    if st.button("Archive", key="define.archive", icon=":material/archive:"):
        archive_project(ws, project.id)
        st.session_state.pop("project_id", None)
        st.session_state["define.flash"] = f"Archived {project.name!r}."
        st.rerun()
    archived = [p for p in list_projects(ws, include_archived=True) if p.archived]
    if archived:
        by_id = {p.id: p for p in archived}
        chosen = st.selectbox("Archived projects", list(by_id), format_func=lambda i: by_id[i].name,
                              key="define.archived")
        if st.button("Restore", key="define.restore", icon=":material/unarchive:"):
            archive_project(ws, chosen, archived=False)
            st.session_state["define.flash"] = f"Restored {by_id[chosen].name!r}."
            st.rerun()


def _key_results(project) -> None:
    """The OKR's key results with their current values (the champion's validation metrics) and whether met."""
    rows = key_result_status(ws, project)
    if not rows:
        return
    okr = project.criteria.okr
    st.markdown(f"**Objective:** {md_escape(okr.objective or '—')}")
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="define.okr_status",
                 column_config={"current": st.column_config.NumberColumn(format="%.3f"),
                                "met": st.column_config.CheckboxColumn("met"),
                                "checked by the gate": st.column_config.CheckboxColumn("checked by the gate")})
    st.caption("Key results on a model metric are checked by the launch gate, with the same value; the others are "
               "tracked by people.")


def _read_only(project) -> None:
    st.subheader(md_escape(project.name), anchor=False)
    st.markdown(f"**Problem:** {md_escape(project.problem or '—')}")
    st.markdown(f"**Users and decision:** {md_escape(project.users_and_decision or '—')}")
    st.markdown(f"**Target:** {md_escape(project.target or 'none')} · {md_escape(TASK_LABELS[project.task])}")
    for line in describe_criteria(project.criteria, project.task):
        st.markdown(f"- {md_escape(line)}")
    _key_results(project)


_flash()
current = project_picker(ws)
if is_viewer():
    if current is None:
        empty_state("No project has been shared here yet.")
    _read_only(current)
    st.stop()
if current is None:
    st.info("No project yet. Describe the first one below.", icon=":material/flag:")
    _new_tab()
else:
    edit, new, manage = st.tabs(["This project", "New project", "Rename, duplicate, archive"])
    with edit:
        _key_results(current)
        _edit_tab(current)
    with new:
        _new_tab()
    with manage:
        _manage_tab(current)
