"""Where jobs run, on the Train and Score pages: local by default, a cluster with its workers and a status page that
answers, an unreachable cluster with a one-click fallback to local."""

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


def test_a_cluster_names_its_workers_and_links_a_page_that_answers(seeded_workspace, monkeypatch):
    import urllib.request

    monkeypatch.setenv("WORKBENCH_COMPUTE", "dask-local:1")
    try:
        at = _app(seeded_workspace)
        assert_clean(at)
        [panel] = [i.value for i in at.info if "Dask cluster" in i.value]
        assert "Training runs on a Dask cluster on this machine**: 1 worker, 1 thread in all" in panel
        assert "nothing is saved" in panel  # what happens when the cluster fails
        [link] = at.get("link_button")
        with urllib.request.urlopen(link.proto.url, timeout=10) as r:
            body = r.read().decode()
        # Without bokeh on the scheduler the dashboard is only a "Dask needs bokeh" note: the scheduler's own status
        # page is linked instead, under its own name.
        assert r.status == 200 and "Dask needs bokeh" not in body
        assert link.proto.label == ("Dask dashboard" if compute.describe()["dashboard_ready"] else "Cluster status")
    finally:
        compute.close_all()


def test_the_score_page_says_where_it_scores_and_falls_back_in_one_click(trained_workspace, tmp_path, monkeypatch):
    from core.release.actions import register_run
    from tests.helpers import open_page, served_from

    trained = trained_workspace(["dummy", "logreg"], home=tmp_path / "workspace")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with served_from(trained.home, monkeypatch):
        register_run(trained.ws, trained.runs["logreg"], by="test")
        monkeypatch.setenv("WORKBENCH_COMPUTE", f"tcp://127.0.0.1:{port}")
        monkeypatch.setattr(compute, "CONNECT_SECONDS", 1)
        score_page = str(Path(PAGE).with_name("10_score.py"))
        try:
            at = open_page(score_page, trained, timeout=60)
            at.radio(key="score.source").set_value("dataset").run()
            at.selectbox(key="score.dataset").set_value(trained.ws.dataset("churn_next_month").id).run()
            assert any("did not answer" in w.value and "nothing was saved" in w.value for w in at.warning)
            at = at.button(key="score.compute_local").click().run()
            assert compute.is_fallback()
            assert any("Scoring runs on this machine" in i.value for i in at.info)
            at = at.button(key="score.go").click().run()
            assert_clean(at)
            assert at.session_state["score.result"]["result"].summary["rows"] == trained.ws.dataset(
                "churn_next_month").rows
        finally:
            compute.use_local(False)
