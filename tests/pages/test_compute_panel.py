"""The Train page's compute panel: local by default, an unreachable cluster with a one-click fallback to local."""

from __future__ import annotations

import socket
from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.models import compute
from tests.helpers import assert_clean

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "07_train.py")


def _app(seeded) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state.project_id = seeded.demo_project_id
    return at.run()


def test_local_is_the_default_and_says_so(seeded_workspace, monkeypatch):
    monkeypatch.delenv("WORKBENCH_COMPUTE", raising=False)
    monkeypatch.setenv("WORKBENCH_SECRETS", "/nonexistent/secrets.toml")
    at = _app(seeded_workspace)
    assert_clean(at)
    assert any("Runs on this machine" in c.value for c in at.caption)


def test_an_unreachable_cluster_offers_to_train_here_and_nothing_runs_until_asked(seeded_workspace, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("WORKBENCH_COMPUTE", f"tcp://127.0.0.1:{port}")
    monkeypatch.setattr(compute, "CONNECT_SECONDS", 1)
    try:
        at = _app(seeded_workspace)
        assert not at.exception
        assert any("did not answer" in w.value and "nothing was saved" in w.value for w in at.warning)
        at = at.button(key="train.compute_local").click().run()
        assert compute.current_config().is_local and compute.is_fallback()
        assert any("Training runs on this machine" in i.value for i in at.info)
        at = at.button(key="train.compute_cluster").click().run()
        assert not compute.is_fallback()
    finally:
        compute.use_local(False)
