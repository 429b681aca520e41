"""Helpers shared by the page and unit tests: open a page on the sample workspace, check it is clean, train fast."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def open_page(path: str, seeded, timeout: int = 60, **state) -> AppTest:
    """Runs a page file alone under AppTest on the demo project, with extra session state."""
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


def train_fast(ws, project, split, keys) -> list[str]:
    """Trains catalog models without cross-validation on the split and saves them; returns the run ids."""
    from core.models import runs, training
    from core.split.splitting import split_frames

    info = ws.dataset(project.dataset_id)
    frames = split_frames(ws, split, parts=("train", "validation"), with_row_id=True)
    result = training.compare(frames["train"], frames["validation"], project.target, project.task, keys,
                              {c.name: c.kind for c in info.columns}, cv=0, positive_class=project.positive_class,
                              n_jobs=1)
    return runs.save_comparison(ws, project, split, result)
