"""Shared page helpers for projects: the sidebar project picker, "need a project / split first" gates, criteria banner.

- `project_picker(ws) -> Project | None`: a sidebar selectbox; honours `?project=<id>` on a session's first run,
  then `st.session_state["project_id"]`, and writes the choice back to both so a copied link opens the same project.
- `require_project(ws) -> Project`: the picker, or a hint with a link to the Define page and `st.stop()`.
- `require_split(ws, project) -> Split`: a sidebar split picker (newest first, remembered in
  `st.session_state["split_id"]`), or a hint with a link to the Split page and `st.stop()`.
- `criteria_banner(project)`: a compact strip with the project's success criteria, shown on every later page.
"""

from __future__ import annotations

import streamlit as st

from core.project.criteria import describe_criteria
from core.project.projects import Project, list_projects
from core.split.splitting import list_splits
from core.split.spec import Split
from core.store.workspace import Workspace
from pages._widgets import empty_state, md_escape

DEFINE_PAGE = "pages/01_define.py"
SPLIT_PAGE = "pages/06_split.py"
_PICKER = "projects.picker"
_SPLIT_PICKER = "projects.split"
_TASK_SHORT = {"binary": "binary", "multiclass": "multiclass", "regression": "regression", "clustering": "clustering"}


def _current_id(ids: list[str]) -> str | None:
    wanted = st.session_state.get("project_id")
    if wanted is None and "projects.url_read" not in st.session_state:
        wanted = st.query_params.get("project")  # a shared link opens its project on the session's first run
    st.session_state["projects.url_read"] = True
    return wanted if wanted in ids else (ids[0] if ids else None)


def _on_pick() -> None:
    st.session_state["project_id"] = st.session_state[_PICKER]
    st.session_state.pop("split_id", None)


def project_picker(ws: Workspace) -> Project | None:
    """Shows the sidebar project picker and returns the chosen project (None when there is none)."""
    projects = list_projects(ws)
    if not projects:
        st.session_state.pop("project_id", None)
        return None
    by_id = {p.id: p for p in projects}
    ids = list(by_id)
    current = _current_id(ids)
    st.session_state["project_id"] = current
    if st.session_state.get(_PICKER) != current:
        st.session_state[_PICKER] = current
    st.sidebar.selectbox("Project", ids, key=_PICKER, on_change=_on_pick,
                         format_func=lambda i: f"{by_id[i].name} · {_TASK_SHORT.get(by_id[i].task, by_id[i].task)}",
                         help="Every page works on this project. The link in your address bar opens it too.")
    if st.query_params.get("project") != current:
        st.query_params["project"] = current
    return by_id[current]


def require_project(ws: Workspace) -> Project:
    """Returns the chosen project, or shows how to create one and stops the page."""
    project = project_picker(ws)
    if project is None:
        empty_state("No project yet. Define the problem and its success criteria first.", DEFINE_PAGE,
                    "Define a project")
    return project


def require_split(ws: Workspace, project: Project) -> Split:
    """Returns the chosen split of the project, or shows how to create one and stops the page."""
    splits = list_splits(ws, project.id)
    if not splits:
        empty_state(f"Project {project.name} has no split yet. Split its data into train, validation and test "
                    "first.", SPLIT_PAGE, "Split the data")
    by_id = {s.id: s for s in splits}
    current = st.session_state.get("split_id")
    if current not in by_id:
        current = splits[0].id
    st.session_state["split_id"] = current
    if st.session_state.get(_SPLIT_PICKER) != current:
        st.session_state[_SPLIT_PICKER] = current
    st.sidebar.selectbox("Split", list(by_id), key=_SPLIT_PICKER,
                         on_change=lambda: st.session_state.update(split_id=st.session_state[_SPLIT_PICKER]),
                         format_func=lambda i: f"{by_id[i].name} · {sum(by_id[i].sizes.get(p, 0) for p in by_id[i].parts):,} rows")
    return by_id[current]


def criteria_banner(project: Project) -> None:
    """Shows the project's success criteria as one compact strip."""
    lines = describe_criteria(project.criteria, project.task)
    with st.container(border=True):
        st.caption(f"**Success criteria of {md_escape(project.name)}**")
        st.markdown("  ·  ".join(md_escape(line) for line in lines))
