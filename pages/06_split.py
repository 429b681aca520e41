"""Split: divide a project's data into train, validation and test sets that are reproducible and free of leaks."""

from __future__ import annotations

import streamlit as st

from core.errors import WorkbenchError
from core.split.leakcheck import distribution_differences, id_like_columns, saved_leak_checks, split_summary
from core.split.splitting import (
    STRATEGIES,
    default_strategy,
    get_split,
    list_splits,
    split_assignments,
    split_project,
)
from core.split.spec import PART_LABELS, SplitSpec
from core.split.timesplit import default_cutoffs
from pages._projects import criteria_banner, md_escape, require_project, require_split
from pages._cache import shared
from pages._widgets import arrow_frame, cache_scope, csv_download_button, get_workspace, is_viewer, page_header, show_error

ws = get_workspace()
page_header("Split the data", "Train on one part, tune on another, and keep a test set the model never sees, so the "
                              "final score can be trusted.")
project = require_project(ws)
criteria_banner(project)
info = ws.dataset(project.dataset_id)
_STATUS_BOX = {"ok": st.success, "warning": st.warning, "problem": st.error}
_STATUS_ICON = {"ok": ":material/check_circle:", "warning": ":material/warning:", "problem": ":material/error:"}


def _form() -> None:
    by_key = {e.key: e for e in STRATEGIES}
    default = default_strategy(project.task)
    strategy = st.radio("Strategy", list(by_key), index=list(by_key).index(default), horizontal=True,
                        format_func=lambda k: by_key[k].label, key="split.strategy")
    st.caption(by_key[strategy].help)
    cols = st.columns(4)
    train = cols[0].number_input("Train %", 1.0, 99.0, 70.0, 5.0, key="split.train")
    val = cols[1].number_input("Validation %", 0.0, 98.0, 15.0, 5.0, key="split.validation",
                               help="Used to compare models and tune them. 0 makes a train / test split.")
    test = cols[2].number_input("Test %", 1.0, 99.0, 15.0, 5.0, key="split.test",
                                help="Kept aside until the final check.")
    seed = cols[3].number_input("Seed", 0, 2**31 - 1, 42, 1, key="split.seed",
                                help="The same seed gives exactly the same rows; another seed shuffles differently.")
    ratios = (train / 100, val / 100, test / 100)
    options = _OPTIONS.get(strategy, _no_options)(by_key[strategy], ratios)
    name = st.text_input("Name (optional)", max_chars=80, key="split.name")
    if st.button("Create split", type="primary", key="split.create", icon=":material/call_split:"):
        try:
            with st.spinner("Splitting and checking for leaks…"):
                spec = SplitSpec(strategy=strategy, ratios=ratios, seed=int(seed), **options)
                split = split_project(ws, project, spec, name=name or None)
            st.session_state["split_id"] = split.id
            st.session_state["split.flash"] = f"Saved split {split.name!r}."
            st.rerun()
        except WorkbenchError as err:
            show_error(err)


def _no_options(entry, ratios) -> dict:
    return {}


def _time_options(entry, ratios) -> dict:
    """The time split's settings; ranges, defaults and help come from its strategy entry."""
    params = {p.name: p for p in entry.params}
    options: dict = {}
    dated = [c.name for c in info.columns if c.kind == "datetime"]
    others = [c.name for c in info.columns if c.kind != "datetime" and c.name != project.target]
    column = st.selectbox("Date column", dated + others, key="split.time_column", help=params["time_column"].help)
    own = st.checkbox("Choose the cut-off dates myself", key="split.own_cutoffs")
    if own:
        try:
            suggested = default_cutoffs(ws, info, column, ratios)
        except WorkbenchError:
            suggested = []
        val = ratios[1]
        left, right = st.columns(2)
        first = left.text_input("Validation starts at" if val else "Test starts at",
                                value=suggested[0] if suggested else "", key="split.cutoff_1")
        second = right.text_input("Test starts at", value=suggested[1] if len(suggested) > 1 else "",
                                  key="split.cutoff_2") if val else ""
        options["cutoffs"] = tuple(c for c in (first, second) if c.strip())
    left, mid, right = st.columns(3)
    gap, folds, mode = params["gap"], params["backtest_folds"], params["backtest_mode"]
    options["gap"] = left.number_input("Gap before each cut-off (days)", gap.low, gap.high, gap.default, 1.0,
                                       key="split.gap", help=gap.help)
    options["backtest_folds"] = int(mid.number_input("Backtest folds (0 = none)", folds.low, folds.high, folds.default,
                                                      1, key="split.folds"))
    options["backtest_mode"] = right.radio("Backtest window", list(mode.choices), key="split.mode", horizontal=True,
                                           index=list(mode.choices).index(mode.default),
                                           disabled=not options["backtest_folds"])
    options["time_column"] = column
    return options


def _group_options(entry, ratios) -> dict:
    likely = id_like_columns(info)
    column = st.selectbox("Group column: one customer / ID", likely + [c for c in info.column_names
                                                                        if c not in likely], key="split.group_column")
    return {"group_column": column}


_OPTIONS = {"time": _time_options, "group": _group_options}  # strategies with settings of their own


def _views(split_id: str) -> tuple:
    # A saved split never changes (its content hash covers the dataset and every row's set), so its views are made
    # once per server (pages/_cache.py), the tables as st.dataframe sends them.
    split = get_split(ws, split_id)
    diffs = distribution_differences(ws, split)
    return (split_summary(ws, split), tuple(saved_leak_checks(ws, split)),
            None if diffs.empty else arrow_frame(diffs.drop(columns="score")))


def _show(split) -> None:
    with st.spinner("Checking the split…"):
        summary, findings, diffs = shared(cache_scope(), ("split.views", split.id, split.content_hash), _views,
                                          split.id)
    st.subheader(md_escape(split.name), anchor=False)
    cols = st.columns(4)
    total = sum(split.sizes.get(p, 0) for p in split.parts)
    for col, part in zip(cols, split.parts):
        col.metric(f"{PART_LABELS[part]} · {split.sizes[part] / total:.0%}", f"{split.sizes[part]:,} rows")
    if split.sizes.get("excluded"):
        cols[3].metric("Left out", f"{split.sizes['excluded']:,} rows")
    for note in split.notes:
        st.caption(md_escape(note))
    st.caption(f"Content hash `{split.content_hash[:16]}` · seed {split.spec.seed} · rows are stored, so this split "
               "is exactly reproducible.")
    shares = {c: st.column_config.NumberColumn(c, format="percent") for c in summary.columns if c.startswith("share")}
    st.dataframe(summary, hide_index=True, width="stretch", column_config=shares)  # small; configured by its columns

    st.subheader("Leak checks", anchor=False)
    for finding in findings:
        text = f"**{md_escape(finding.title)}**  \n{md_escape(finding.explanation)}"
        if finding.status != "ok" and finding.fix:
            text += f"  \n**Fix:** {md_escape(finding.fix)}"
        _STATUS_BOX[finding.status](text, icon=_STATUS_ICON[finding.status])

    if split.folds:
        st.subheader("Backtest folds", anchor=False)
        st.dataframe(list(split.folds), hide_index=True, width="stretch")

    st.subheader("Largest differences between sets", anchor=False)
    if diffs is None:
        st.caption("No columns to compare.")
    else:
        st.caption("Standard deviations for numbers, share of rows for categories; above 0.1 is worth a look.")
        st.dataframe(diffs, hide_index=True, width="stretch")
    if st.toggle("Prepare a CSV of the row assignments (row number and set)", key="split.prepare"):
        csv_download_button(split_assignments(ws, split), f"split_{split.id}.csv", key="split.download",
                            label="Download row assignments")


flash = st.session_state.pop("split.flash", None)
if flash:
    st.success(md_escape(flash), icon=":material/check_circle:")
has_splits = bool(list_splits(ws, project.id))
if not is_viewer():
    with st.expander("New split", expanded=not has_splits, icon=":material/add:"):
        _form()
if not has_splits:
    st.info(f"Project {md_escape(project.name)} has no split yet." + ("" if is_viewer() else " Create one above."),
            icon=":material/info:")
    st.stop()
_show(require_split(ws, project))
