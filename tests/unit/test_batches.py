"""A project's data timeline: batches append with lineage, differing files are refused exactly, nothing loads twice."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.data.batches import (
    BatchSchemaDiffers,
    ColumnMapping,
    append_batch,
    dataset_batches,
    list_batches,
    window_dataset,
)
from core.data.ingest import add_frame
from core.errors import PermissionDenied, SpecInvalid


def _frame(n: int, seed: int, plans=("basic", "premium")) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"age": rng.integers(18, 80, n), "spend": rng.normal(50, 10, n).round(2),
                         "plan": rng.choice(plans, n), "churned": rng.choice(["yes", "no"], n)})


@pytest.fixture
def project(workspace):
    from core.project.projects import create_project

    info = add_frame(workspace, "base", _frame(300, 1))
    return create_project(workspace, "Churn", info.id, "churned")


def _csv(tmp_path, name, df) -> str:
    path = tmp_path / name
    df.to_csv(path, index=False)
    return str(path)


def test_batch_one_is_the_project_dataset_before_anything_is_appended(workspace, project):
    (b,) = list_batches(workspace, project)
    assert (b.seq, b.label, b.dataset_id, b.rows, b.labelled) == (1, "original", project.dataset_id, 300, True)


def test_append_records_lineage_and_casts_to_batch_one_types(workspace, project, tmp_path):
    df = _frame(120, 2)
    df["age"] = df["age"].astype(float)  # "35.0" from another tool is still a whole number
    result = append_batch(workspace, project, _csv(tmp_path, "feb.csv", df), label="2026-02", by="ana",
                          as_of="2026-02-01")
    b = result.batch
    assert (b.seq, b.label, b.rows, b.added_by, b.as_of, b.source_file) == (2, "2026-02", 120, "ana", "2026-02-01",
                                                                            "feb.csv")
    assert len(b.file_sha256) == 64 and not result.already_loaded
    info, base = workspace.dataset(b.dataset_id), workspace.dataset(project.dataset_id)
    assert [(c.name, c.dtype, c.kind) for c in info.columns] == [(c.name, c.dtype, c.kind) for c in base.columns]
    got = workspace.frame(info.id)
    assert got["age"].tolist() == df["age"].astype(int).tolist() and got["plan"].tolist() == df["plan"].tolist()
    assert [x.seq for x in list_batches(workspace, project)] == [1, 2]
    assert workspace.get_record("batch", f"bat_{project.id}_0001")  # batch 1 is written with the first append


def test_same_file_twice_is_not_ingested_twice(workspace, project, tmp_path):
    path = _csv(tmp_path, "feb.csv", _frame(50, 3))
    first = append_batch(workspace, project, path)
    n_datasets = len(workspace.datasets())
    again = append_batch(workspace, project, path)
    assert again.already_loaded and again.batch.id == first.batch.id
    assert len(workspace.datasets()) == n_datasets and len(list_batches(workspace, project)) == 2


def test_a_differing_file_says_exactly_what_differs_and_loads_nothing(workspace, project, tmp_path):
    df = _frame(60, 4, plans=("basic", "premium", "ultra")).drop(columns=["spend"])
    df["region"] = "north"
    df["age"] = df["age"].astype(str)
    df.loc[:2, "age"] = ["forty", "n/a", "??"]
    before = (len(workspace.datasets()), len(workspace.list_records("batch")))
    with pytest.raises(BatchSchemaDiffers) as err:
        append_batch(workspace, project, _csv(tmp_path, "bad.csv", df))
    diff = err.value.diff
    assert diff.missing == ("spend",) and diff.extra == ("region",)
    assert diff.retyped[0]["column"] == "age" and diff.retyped[0]["bad_values"] == 3
    assert set(diff.retyped[0]["examples"]) == {"forty", "n/a", "??"}
    assert "'spend'" in str(err.value) and "'region'" in str(err.value) and "nothing was loaded" in str(err.value)
    assert (len(workspace.datasets()), len(workspace.list_records("batch"))) == before
    assert not workspace.read_rows("SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'stage_%'")


def test_unseen_categories_are_reported_then_loaded_with_an_explicit_mapping(workspace, project, tmp_path):
    df = _frame(80, 5, plans=("basic", "premium", "ultra")).rename(columns={"spend": "monthly_spend"})
    df["note"] = "x"
    path = _csv(tmp_path, "mar.csv", df)
    with pytest.raises(BatchSchemaDiffers) as err:
        append_batch(workspace, project, path)
    assert err.value.diff.missing == ("spend",) and set(err.value.diff.extra) == {"monthly_spend", "note"}
    with pytest.raises(BatchSchemaDiffers) as err:
        append_batch(workspace, project, path, mapping=ColumnMapping(rename={"monthly_spend": "spend"}, drop=("note",)))
    (unseen,) = err.value.diff.unseen
    assert unseen["column"] == "plan" and unseen["values"] == ["ultra"] and unseen["rows"] == int((df.plan == "ultra").sum())
    mapping = ColumnMapping(rename={"monthly_spend": "spend"}, drop=("note",), accept_categories=("plan",))
    result = append_batch(workspace, project, path, mapping=mapping)
    assert result.batch.mapping["rename"] == {"monthly_spend": "spend"}
    assert workspace.frame(result.batch.dataset_id)["spend"].tolist() == df["monthly_spend"].tolist()


def test_a_batch_without_the_target_loads_unlabelled(workspace, project, tmp_path):
    result = append_batch(workspace, project, _csv(tmp_path, "apr.csv", _frame(40, 6).drop(columns=["churned"])))
    assert not result.batch.labelled and result.diff.unlabelled
    assert workspace.frame(result.batch.dataset_id)["churned"].isna().all()


def test_mapping_errors_are_clear(workspace, project, tmp_path):
    with pytest.raises(SpecInvalid, match="no such column"):
        append_batch(workspace, project, _csv(tmp_path, "x.csv", _frame(10, 7)),
                     mapping=ColumnMapping(rename={"nope": "spend"}))
    with pytest.raises(SpecInvalid, match="not a date"):
        append_batch(workspace, project, _csv(tmp_path, "y.csv", _frame(10, 8)), as_of="March")


def test_viewer_cannot_append(workspace, project, tmp_path):
    with pytest.raises(PermissionDenied):
        append_batch(workspace.as_role("viewer"), project, _csv(tmp_path, "z.csv", _frame(10, 9)))


def test_a_window_stacks_batches_in_order_and_splits_record_them(workspace, project, tmp_path):
    from core.split.spec import SplitSpec
    from core.split.splitting import get_split, split_project

    b2 = append_batch(workspace, project, _csv(tmp_path, "b2.csv", _frame(100, 10))).batch
    batches = list_batches(workspace, project)
    info = window_dataset(workspace, project, [b.id for b in batches])
    assert info.rows == 400 and window_dataset(workspace, project, [b2.id, batches[0].id]).id == info.id
    stacked = workspace.frame(info.id)
    expected = pd.concat([workspace.frame(project.dataset_id), workspace.frame(b2.dataset_id)], ignore_index=True)
    pd.testing.assert_frame_equal(stacked, expected)
    assert dataset_batches(workspace, project, info.id) == [batches[0].id, b2.id]
    split = split_project(workspace, project, SplitSpec("random"), dataset_id=info.id)
    assert get_split(workspace, split.id).batches == (batches[0].id, b2.id) and split.dataset_id == info.id
    own = split_project(workspace, project, SplitSpec("random"))
    assert own.batches == (batches[0].id,)


def test_appending_works_while_the_project_has_splits(workspace, project, tmp_path):
    from core.split.spec import SplitSpec
    from core.split.splitting import split_project

    split_project(workspace, project, SplitSpec("random"))
    assert append_batch(workspace, project, _csv(tmp_path, "b.csv", _frame(30, 11))).batch.seq == 2


def test_a_retyped_column_loads_with_an_explicit_cast_leaving_bad_values_empty(workspace, project, tmp_path):
    df = _frame(30, 12)
    df["spend"] = df["spend"].astype(str)
    df.loc[:1, "spend"] = ["lots", "-"]
    path = _csv(tmp_path, "cast.csv", df)
    with pytest.raises(BatchSchemaDiffers) as err:
        append_batch(workspace, project, path)
    assert err.value.diff.retyped[0]["column"] == "spend" and err.value.diff.retyped[0]["expected"] == "number"
    result = append_batch(workspace, project, path, mapping=ColumnMapping(cast=("spend",)))
    got = workspace.frame(result.batch.dataset_id)["spend"]
    assert got.isna().sum() == 2 and got.iloc[2:].tolist() == df["spend"].iloc[2:].astype(float).tolist()
