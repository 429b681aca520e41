"""Shared fixtures: an empty workspace, and a copy of a workspace seeded with the sample data for page tests."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("DO_NOT_TRACK", "1")


@dataclass
class SeededWorkspace:
    home: Path
    demo_project_id: str | None

    @property
    def ws(self):
        from core.data.samples import open_workspace

        return open_workspace(self.home, seed_samples=False)


def _seed(home: Path) -> str | None:
    from core.store.workspace import close_workspace
    from core.data.samples import open_workspace

    ws = open_workspace(home, seed_samples=True)
    project_id = None
    try:
        from core.split.demo_seed import seed_demo_project
    except ImportError:
        seed_demo_project = None
    if seed_demo_project is not None:
        project = seed_demo_project(ws)
        project_id = project.id if project is not None else None
    close_workspace(home)
    return project_id


@pytest.fixture(scope="session")
def _seeded_template(tmp_path_factory) -> tuple[Path, str | None]:
    home = tmp_path_factory.mktemp("seeded_template")
    return home, _seed(home)


@pytest.fixture
def seeded_workspace(_seeded_template, tmp_path, monkeypatch) -> SeededWorkspace:
    """A private copy of the sample workspace; WORKBENCH_HOME points at it and Streamlit's caches are cleared."""
    template, project_id = _seeded_template
    home = tmp_path / "workspace"
    shutil.copytree(template, home)
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    import streamlit as st

    st.cache_resource.clear()
    st.cache_data.clear()
    yield SeededWorkspace(home=home, demo_project_id=project_id)
    from core.store.workspace import close_workspace

    st.cache_resource.clear()
    close_workspace(home)


@pytest.fixture
def workspace(tmp_path):
    """An empty workspace (no samples) in a temporary folder."""
    from core.store.workspace import close_workspace
    from core.data.samples import open_workspace

    ws = open_workspace(tmp_path / "ws", seed_samples=False)
    yield ws
    close_workspace(tmp_path / "ws")
