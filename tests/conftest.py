"""Shared fixtures: an empty workspace, a copy of the seeded sample workspace, and trained copies of it.

- `workspace`: an empty workspace (no samples) in a temporary folder.
- `seeded_workspace`: a private copy of the sample workspace with the demo project; the pages open it.
- `trained_workspace(models=…, cv=0, train_rows=None, thresholds=None, register=())`: a factory returning a private
  copy of the demo project with those models trained, thresholds set and runs registered. Each distinct set of
  arguments is trained once per session; every call copies it, so tests never see each other's changes.

A demo seed that fails is an error for every test that uses these fixtures, never a skip.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers import seed_demo_workspace, served_from, train_fast

os.environ.setdefault("DO_NOT_TRACK", "1")
# The artifact key (core/store/integrity.py) of the test run's workspaces: a private folder, never ~/.config/workbench.
os.environ.setdefault("WORKBENCH_SECRET_DIR", tempfile.mkdtemp(prefix="wb-test-secrets-"))


@dataclass
class SeededWorkspace:
    home: Path
    demo_project_id: str

    @property
    def ws(self):
        from core.data.samples import open_workspace

        return open_workspace(self.home, seed_samples=False)

    @property
    def project(self):
        from core.project.projects import get_project

        return get_project(self.ws, self.demo_project_id)


@dataclass
class TrainedWorkspace(SeededWorkspace):
    """The demo project with trained runs: `runs` and `versions` map a model key ('dummy', 'logreg', …) to an id."""

    split_id: str = ""
    runs: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def project_id(self) -> str:
        return self.demo_project_id

    @property
    def split(self):
        from core.split.splitting import get_split

        return get_split(self.ws, self.split_id)

    def copy_to(self, home: Path) -> "TrainedWorkspace":
        shutil.copytree(self.home, home)
        return TrainedWorkspace(home=Path(home), demo_project_id=self.demo_project_id, split_id=self.split_id,
                                runs=dict(self.runs), versions=dict(self.versions))

    def close(self) -> None:
        from core.store.workspace import close_workspace

        close_workspace(self.home)


@pytest.fixture(scope="session")
def _seeded_template(tmp_path_factory) -> tuple[Path, str]:
    home = tmp_path_factory.mktemp("seeded_template")
    return home, seed_demo_workspace(home)


@pytest.fixture
def seeded_workspace(_seeded_template, tmp_path, monkeypatch) -> SeededWorkspace:
    """A private copy of the sample workspace; WORKBENCH_HOME points at it and Streamlit's caches are cleared."""
    template, project_id = _seeded_template
    home = tmp_path / "workspace"
    shutil.copytree(template, home)
    with served_from(home, monkeypatch):
        yield SeededWorkspace(home=home, demo_project_id=project_id)


def _train_template(seeded: tuple[Path, str], home: Path, models, cv, train_rows, thresholds, register, by):
    from core.models.runs import list_runs, set_run_threshold
    from core.release.actions import register_run
    from core.split.splitting import list_splits

    template, project_id = seeded
    shutil.copytree(template, home)
    trained = TrainedWorkspace(home=home, demo_project_id=project_id)
    try:
        ws, project = trained.ws, trained.project
        split = list_splits(ws, project.id)[0]
        train_fast(ws, project, split, list(models), cv=cv, train_rows=train_rows)
        trained.split_id = split.id
        trained.runs = {r.model_key: r.id for r in list_runs(ws, project.id)}
        for key, threshold in (thresholds or {}).items():
            set_run_threshold(ws, trained.runs[key], threshold)
        for key in register:
            trained.versions[key] = register_run(ws, trained.runs[key], by=by).id
    finally:
        trained.close()
    return trained


@pytest.fixture(scope="session")
def trained_workspace(_seeded_template, tmp_path_factory):
    """Factory: `trained_workspace(models=("dummy", "logreg"), *, cv=0, train_rows=None, thresholds=None,
    register=(), by="test", home=None) -> TrainedWorkspace`.

    The demo project with `models` (catalog keys or ModelSpecs; a baseline is always added) trained on its split,
    `thresholds` ({model key: threshold}) set, and the runs in `register` registered in that order by `by`.
    Returns a private, closed copy at `home` (default: a new temporary folder); call `.close()` when done with it.
    """
    templates: dict[str, TrainedWorkspace] = {}

    def make(models=("dummy", "logreg"), *, cv: int = 0, train_rows: int | None = None,
             thresholds: dict[str, float] | None = None, register=(), by: str = "test",
             home: Path | None = None) -> TrainedWorkspace:
        key = repr((tuple(models), cv, train_rows, sorted((thresholds or {}).items()), tuple(register), by))
        if key not in templates:
            templates[key] = _train_template(_seeded_template, tmp_path_factory.mktemp("trained_template") / "ws",
                                             models, cv, train_rows, thresholds, tuple(register), by)
        return templates[key].copy_to(Path(home) if home else tmp_path_factory.mktemp("trained") / "ws")

    return make


@pytest.fixture
def workspace(tmp_path):
    """An empty workspace (no samples) in a temporary folder."""
    from core.store.workspace import close_workspace
    from core.data.samples import open_workspace

    ws = open_workspace(tmp_path / "ws", seed_samples=False)
    yield ws
    close_workspace(tmp_path / "ws")
