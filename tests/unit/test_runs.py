"""Saved runs: records, model files and predictions persist across a reopen; tampering and viewers are refused."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import ArtifactRejected, NotFound, PermissionDenied, SpecInvalid
from core.project.projects import create_project
from core.models.runs import (
    cluster_and_save,
    get_run,
    latest_comparison,
    list_runs,
    load_run_model,
    run_predictions,
    set_run_threshold,
    train_and_save,
)
from core.split.splitting import split_frames, split_project
from core.split.spec import SplitSpec
from core.store.workspace import close_workspace
from core.data.samples import open_workspace


@pytest.fixture
def churn(tmp_path):
    home = tmp_path / "ws"
    ws = open_workspace(home, seed_samples=True)
    project = create_project(ws, "Churn", "churn", "churned", positive_class="yes")
    split = split_project(ws, project, SplitSpec("stratified"))
    yield home, ws, project, split
    close_workspace(home)


def test_runs_persist_across_a_workspace_reopen(churn):
    home, ws, project, split = churn
    result, ids = train_and_save(ws, project, split, ["logreg", "tree"], cv=3, n_jobs=1)
    assert len(ids) == 3 and result.runs[0].key == "dummy"
    close_workspace(home)
    ws = open_workspace(home, seed_samples=False)
    runs = latest_comparison(ws, project.id)
    assert [r.model_key for r in runs] == ["dummy", "logreg", "tree"]
    logreg = runs[1]
    assert logreg.comparison_id == result.id and logreg.split_id == split.id
    assert logreg.split_hash == split.content_hash and logreg.seed == 42 and logreg.cv_folds == 3
    assert logreg.params == {"C": 1.0, "class_weight": "none"} and logreg.threshold == 0.5
    assert logreg.positive_class is True and logreg.classes == (False, True)
    assert len(logreg.fold_metrics) == 3 and logreg.cv_summary["roc_auc"]["mean"] > 0.75
    assert logreg.validation_metrics == pytest.approx(result.run("logreg").validation_metrics)
    assert logreg.versions["sklearn"] and logreg.size_bytes > 0 and logreg.artifact.sha256
    model = load_run_model(ws, logreg.id)
    val = split_frames(ws, split, ("validation",), with_row_id=True)["validation"]
    preds = run_predictions(ws, logreg.id)
    assert preds["_row"].tolist() == val["_row"].tolist()
    np.testing.assert_allclose(model.predict_proba(val[list(model.feature_names_in_)])[:, 1], preds["score"])
    assert model.classes_.tolist() == [False, True]


def test_threshold_updates_and_its_limits(churn):
    _, ws, project, split = churn
    _, ids = train_and_save(ws, project, split, ["logreg"], cv=2, n_jobs=1)
    assert set_run_threshold(ws, ids[1], 0.3).threshold == 0.3
    assert get_run(ws, ids[1]).threshold == 0.3
    with pytest.raises(SpecInvalid, match="between 0 and 1"):
        set_run_threshold(ws, ids[1], 1.5)
    with pytest.raises(NotFound):
        get_run(ws, "run_nope")


def test_a_changed_model_file_is_refused(churn):
    _, ws, project, split = churn
    _, ids = train_and_save(ws, project, split, ["logreg"], cv=2, n_jobs=1)
    path = ws.artifacts / get_run(ws, ids[1]).artifact.path
    path.write_bytes(path.read_bytes() + b"tampered")
    with pytest.raises(ArtifactRejected, match="changed since it was saved"):
        load_run_model(ws, ids[1])


def test_a_failed_run_is_saved_with_its_message_and_no_model(churn, monkeypatch):
    from sklearn.tree import DecisionTreeClassifier

    monkeypatch.setattr(DecisionTreeClassifier, "fit", lambda *a, **k: (_ for _ in ()).throw(ValueError("boom")))
    _, ws, project, split = churn
    result, ids = train_and_save(ws, project, split, ["tree"], cv=2, n_jobs=1)
    failed = get_run(ws, ids[1])
    assert failed.error == "Decision tree failed: boom" and failed.artifact is None and failed.threshold is None
    with pytest.raises(ArtifactRejected, match="has no saved model because it failed"):
        load_run_model(ws, failed.id)
    with pytest.raises(NotFound, match="no saved validation predictions"):
        run_predictions(ws, failed.id)


def test_viewers_cannot_train_or_change_runs(churn):
    _, ws, project, split = churn
    _, ids = train_and_save(ws, project, split, ["logreg"], cv=2, n_jobs=1)
    viewer = ws.as_role("viewer")
    with pytest.raises(PermissionDenied):
        train_and_save(viewer, project, split, ["logreg"], cv=2, n_jobs=1)
    with pytest.raises(PermissionDenied):
        set_run_threshold(viewer, ids[1], 0.2)
    assert len(list_runs(viewer, project.id)) == 2  # reading stays open


def test_a_split_of_another_target_is_refused(churn):
    _, ws, project, split = churn
    from core.project.projects import update_project

    changed = update_project(ws, project.id, target="plan")
    with pytest.raises(SpecInvalid, match="Create a new split"):
        train_and_save(ws, changed, split, ["logreg"], cv=2, n_jobs=1)


def test_clustering_runs_are_saved_with_their_charts_data(tmp_path):
    ws = open_workspace(tmp_path / "c", seed_samples=True)
    try:
        project = create_project(ws, "House groups", "house_prices", None)
        split = split_project(ws, project, SplitSpec("random"))
        result, pca, run_id = cluster_and_save(ws, project, split, range(2, 5))
        run = get_run(ws, run_id)
        assert run.task == "clustering" and run.params == {"n_clusters": result.best_k}
        assert [r["k"] for r in run.extras["k_table"]] == [2, 3, 4]
        assert run.validation_metrics["silhouette"] == pytest.approx(max(r["silhouette"] for r in run.extras["k_table"]))
        points = run_predictions(ws, run_id)
        assert set(points.columns) == {"_row", "y_pred", "x", "y"} and points["y_pred"].between(1, result.best_k).all()
        assert len(load_run_model(ws, run_id).predict(ws.frame("house_prices").head(5))) == 5
    finally:
        close_workspace(tmp_path / "c")
