"""The shared fixtures hold their promises: a failed demo seed is an error, trained copies are private."""

from __future__ import annotations

import pytest

from tests.helpers import seed_demo_workspace


def test_a_failed_demo_seed_is_an_error_not_a_skip(tmp_path, monkeypatch):
    from core.data import samples

    monkeypatch.setattr(samples, "SAMPLE_DIR", tmp_path / "no_sample_data")  # no churn.csv, so no demo project
    with pytest.raises(RuntimeError, match="demo project was not seeded"):
        seed_demo_workspace(tmp_path / "ws")


def test_the_seeded_workspace_has_the_demo_project(seeded_workspace):
    assert seeded_workspace.demo_project_id and seeded_workspace.project.name == "Customer churn"


def test_trained_workspaces_are_private_copies_of_one_training(trained_workspace):
    from core.models.runs import list_runs, set_run_threshold

    a, b = trained_workspace(["dummy", "logreg"]), trained_workspace(["dummy", "logreg"])
    try:
        assert a.home != b.home and a.runs == b.runs and set(a.runs) == {"dummy", "logreg"}
        set_run_threshold(a.ws, a.runs["logreg"], 0.2)
        [in_a], [in_b] = ([r.threshold for r in list_runs(t.ws, t.project_id) if r.model_key == "logreg"]
                          for t in (a, b))
        assert (in_a, in_b) == (0.2, 0.5)  # a change in one copy is not in the other
    finally:
        a.close()
        b.close()
