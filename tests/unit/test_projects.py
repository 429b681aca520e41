"""Projects: task detection, create / update / rename / duplicate / archive, and the demo project."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.project.criteria import Guardrail, SuccessCriteria, metric_choices
from core.errors import InUse, NameInvalid, NotFound, PermissionDenied, SpecInvalid, TargetNotUsable
from core.project.projects import archive_project, class_shares, create_project, detect_task, duplicate_project, get_project, list_projects, match_class, rename_project, update_project
from core.split.demo_seed import seed_demo_project
from core.split.splitting import list_splits, split_project
from core.split.spec import SplitSpec
from core.data.samples import SAMPLE_DIR
from core.data.ingest import add_frame


@pytest.fixture
def ds(workspace):
    rng = np.random.default_rng(1)
    n = 200
    df = pd.DataFrame({
        "answer": rng.choice(["yes", "no"], size=n, p=[0.1, 0.9]),
        "flag": rng.random(n) < 0.3,
        "zero_one": rng.integers(0, 2, size=n),
        "rating": rng.integers(1, 6, size=n),
        "colour": rng.choice(["red", "green", "blue"], size=n),
        "price": rng.gamma(2.0, 100.0, size=n),
        "code": [f"X{i:05d}" for i in range(n)],
        "constant": ["same"] * n,
        "empty": [None] * n,
        "when": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n), unit="D"),
        "age_band": rng.choice(["18-34", "35+"], size=n),
    })
    df["empty"] = df["empty"].astype("float64")
    return workspace, add_frame(workspace, "people", df), df


@pytest.mark.parametrize("target, task, positive", [
    ("answer", "binary", "yes"),
    ("flag", "binary", True),
    ("zero_one", "binary", 1),
    ("rating", "multiclass", None),
    ("colour", "multiclass", None),
    ("price", "regression", None),
    (None, "clustering", None),
])
def test_detect_task(ds, target, task, positive):
    ws, info, df = ds
    got_task, classes, guess = detect_task(ws, info.id, target)
    assert got_task == task and guess == positive
    if task in ("binary", "multiclass"):
        assert sorted(classes) == sorted(df[target].unique().tolist())


@pytest.mark.parametrize("target, message", [
    ("constant", "only one value"),
    ("empty", "empty in every row"),
    ("when", "holds dates"),
    ("code", "identifier or free text"),
])
def test_detect_task_refuses_unusable_targets(ds, target, message):
    ws, info, _ = ds
    with pytest.raises(TargetNotUsable, match=message):
        detect_task(ws, info.id, target)


def test_class_shares_match_pandas(ds):
    ws, info, df = ds
    shares = class_shares(ws, info.id, "answer")
    expected = df["answer"].value_counts(normalize=True)
    assert shares == pytest.approx(expected.to_dict())


def test_create_project_with_detected_task_and_default_criteria(ds):
    ws, info, _ = ds
    project = create_project(ws, "  Reply   model ", "people", "answer", problem="Who answers?")
    assert project.name == "Reply model" and project.task == "binary" and project.positive_class == "yes"
    assert project.dataset_id == info.id and set(project.classes) == {"yes", "no"}
    assert project.criteria.primary_metric  # a default launch rule is always there
    again = get_project(ws, project.id)
    assert again == project and get_project(ws, "Reply model").id == project.id
    assert [p.id for p in list_projects(ws)] == [project.id]


def test_create_project_checks_its_choices(ds):
    ws, info, _ = ds
    create_project(ws, "First", info.id, "answer")
    with pytest.raises(NameInvalid, match="already exists"):
        create_project(ws, "first", info.id, "answer")
    with pytest.raises(NameInvalid, match="needs a name"):
        create_project(ws, "   ", info.id, "answer")
    with pytest.raises(NotFound, match="Did you mean 'price'"):
        create_project(ws, "x", info.id, "prise")
    with pytest.raises(NotFound, match="No dataset"):
        create_project(ws, "x", "nope", "answer")
    with pytest.raises(TargetNotUsable, match="exactly two outcomes"):
        create_project(ws, "x", info.id, "colour", task="binary")
    with pytest.raises(TargetNotUsable, match="holds text"):
        create_project(ws, "x", info.id, "colour", task="regression")
    with pytest.raises(TargetNotUsable, match="quantity to estimate"):
        create_project(ws, "x", info.id, "price", task="multiclass")
    with pytest.raises(NotFound, match="No class 'maybe'"):
        create_project(ws, "x", info.id, "answer", positive_class="maybe")
    with pytest.raises(SpecInvalid, match="cannot be measured"):
        create_project(ws, "x", info.id, "price", criteria=SuccessCriteria("recall", 0.7))
    assert len(list_projects(ws)) == 1  # nothing half-made was saved


def test_task_is_editable_and_typed_classes_match(ds):
    ws, info, _ = ds
    rating = create_project(ws, "Rating as number", info.id, "rating", task="regression")
    assert rating.task == "regression" and rating.classes == ()
    flag = create_project(ws, "Flag", info.id, "flag", positive_class="no")
    assert flag.positive_class is False
    assert match_class("yes", (False, True)) is True and match_class("1", (0, 1)) == 1


def test_update_rename_duplicate_archive(ds):
    ws, info, _ = ds
    project = create_project(ws, "Churn", info.id, "answer")
    crit = SuccessCriteria("recall", 0.8, guardrails=[Guardrail("precision", ">=", 0.3)],
                           sensitive_attributes=["age_band"])
    updated = update_project(ws, project.id, criteria=crit, users_and_decision="The call team")
    assert updated.criteria == crit and updated.users_and_decision == "The call team"
    retarget = update_project(ws, project.id, target="colour")
    assert retarget.task == "multiclass" and retarget.positive_class is None
    assert retarget.criteria == crit  # recall can still be measured for several classes, so the criteria stay
    numeric = update_project(ws, project.id, target="price")
    assert numeric.task == "regression" and numeric.criteria.primary_metric in metric_choices("regression")
    assert update_project(ws, project.id, target="colour").task == "multiclass"
    with pytest.raises(SpecInvalid, match="Cannot change name"):
        update_project(ws, project.id, name="other")

    create_project(ws, "Other", info.id, "answer")
    with pytest.raises(NameInvalid, match="already exists"):
        rename_project(ws, project.id, "other")
    renamed = rename_project(ws, project.id, "Churn v2")
    assert renamed.name == "Churn v2" and renamed.task == "multiclass"

    copy = duplicate_project(ws, project.id)
    copy2 = duplicate_project(ws, project.id)
    assert (copy.name, copy2.name) == ("Churn v2 (copy)", "Churn v2 (copy 2)")
    assert copy.id != project.id and copy.criteria == renamed.criteria and copy.target == "colour"

    archive_project(ws, copy.id)
    assert copy.id not in [p.id for p in list_projects(ws)]
    assert copy.id in [p.id for p in list_projects(ws, include_archived=True)]
    assert archive_project(ws, copy.id, archived=False).archived is False


def test_dataset_cannot_change_under_saved_splits(ds):
    ws, info, df = ds
    project = create_project(ws, "P", info.id, "answer")
    split_project(ws, project, SplitSpec("random"))
    other = add_frame(ws, "people2", df.head(100))
    with pytest.raises(InUse, match="saved splits"):
        update_project(ws, project.id, dataset_id=other.id)


def test_viewer_cannot_create(ds):
    ws, info, _ = ds
    with pytest.raises(PermissionDenied):
        create_project(ws.as_role("viewer"), "P", info.id, "answer")


def test_demo_project_is_created_once(workspace):
    from core.data.ingest import ingest_path

    assert seed_demo_project(workspace) is None  # no sample data, nothing to do
    ingest_path(workspace, SAMPLE_DIR / "churn.csv", name="churn")
    demo = seed_demo_project(workspace)
    assert demo is not None and demo.name == "Customer churn" and demo.target == "churned"
    assert demo.task == "binary" and demo.positive_class is True
    assert demo.criteria.primary_metric == "recall" and demo.criteria.threshold == 0.70
    assert demo.criteria.sensitive_attributes == ["age_band"] and len(demo.criteria.okr.key_results) == 3
    splits = list_splits(workspace, demo.id)
    assert len(splits) == 1 and splits[0].spec.strategy == "stratified"
    assert seed_demo_project(workspace).id == demo.id
    assert len(list_projects(workspace)) == 1
    workspace.delete_record("project", demo.id)
    assert seed_demo_project(workspace) is None  # a deleted demo stays deleted
