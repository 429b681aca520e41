"""Helpers shared by the page and unit tests: open a page on the sample workspace, check it is clean, train fast."""

from __future__ import annotations

import http.server
import json
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streamlit.testing.v1 import AppTest


def open_page(path: str, seeded, timeout: int = 60, **state) -> AppTest:
    """Runs a page file alone under AppTest on the demo project, with extra session state."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(path, default_timeout=timeout)
    if seeded.demo_project_id:
        at.session_state.project_id = seeded.demo_project_id
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def assert_clean(at: AppTest) -> None:
    """Fails on an exception or an error box."""
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def train_fast(ws, project, split, keys, *, cv: int = 0, train_rows: int | None = None) -> list[str]:
    """Trains catalog models (keys or ModelSpecs) on the split and saves them; returns the run ids.

    Without cross-validation unless `cv` is given; `train_rows` keeps only the first rows of the train part.
    """
    from core.models import runs, training
    from core.split.splitting import split_frames

    info = ws.dataset(project.dataset_id)
    frames = split_frames(ws, split, parts=("train", "validation"), with_row_id=True)
    train = frames["train"] if train_rows is None else frames["train"].head(train_rows)
    result = training.compare(train, frames["validation"], project.target, project.task, keys, info.kinds(), cv=cv,
                              positive_class=project.positive_class, n_jobs=1)
    return runs.save_comparison(ws, project, split, result)


def seed_demo_workspace(home: Path) -> str:
    """Loads the sample data into a new workspace at `home` and seeds the demo project; returns its id.

    A seed that fails is an error, never a quiet None: every test that needs the demo project would skip otherwise.
    Raises: RuntimeError.
    """
    from core.data.samples import open_workspace
    from core.split.demo_seed import seed_demo_project
    from core.store.workspace import close_workspace

    ws = open_workspace(home, seed_samples=True)
    try:
        project = seed_demo_project(ws)
        datasets = sorted(d.name for d in ws.datasets())
    finally:
        close_workspace(home)
    if project is None:
        raise RuntimeError(f"The demo project was not seeded in {home} (datasets loaded: {datasets or 'none'}); "
                           "check sample_data/churn.csv and the warning core.split.demo_seed logged.")
    return project.id



def seed_champion_workspace(home: Path) -> str:
    """Month 1 of the loop: the demo project at `home` with a logistic-regression champion trained on batch 1
    (promoted with a labelled override, as a first launch with nothing to compare against); returns the project id."""
    from core.data.samples import open_workspace
    from core.project.projects import get_project
    from core.release.actions import promote, register_run
    from core.split.splitting import list_splits
    from core.store.workspace import close_workspace

    project_id = seed_demo_workspace(home)
    ws = open_workspace(home, seed_samples=False)
    try:
        project = get_project(ws, project_id)
        runs = train_fast(ws, project, list_splits(ws, project.id)[0], ["logreg"])
        run_id = next(r for r in runs if ws.get_record("run", r)["model_key"] == "logreg")
        promote(ws, register_run(ws, run_id, by="month-1").id, by="month-1", override_reason="first launch")
    finally:
        close_workspace(home)
    return project_id


@contextmanager
def served_from(home: Path, monkeypatch):
    """Points WORKBENCH_HOME (what the pages open) at `home`, with Streamlit's caches cleared before and after."""
    import streamlit as st

    from core.store.workspace import close_workspace

    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    st.cache_resource.clear()
    st.cache_data.clear()
    try:
        yield
    finally:
        st.cache_resource.clear()
        close_workspace(home)


def webhook_sink() -> http.server.ThreadingHTTPServer:
    """A real HTTP server on 127.0.0.1 that records every JSON body POSTed to it in `.received` (call .shutdown())."""
    received: list[dict] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    server.received = received
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
