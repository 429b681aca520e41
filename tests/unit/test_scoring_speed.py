"""Batch scoring at speed gives the same answers: distinct-value encoding, CSV partitions, nothing half-written."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.models.distinct import DistinctValues, for_scoring
from core.models.pipeline import build_pipeline


def _frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    customer = rng.integers(0, 3_000, n).astype(str)
    customer[rng.random(n) < 0.05] = None
    return pd.DataFrame({"x": rng.normal(size=n), "plan": rng.choice(["basic", "plus", "pro", None], n),
                         "code": rng.integers(0, 4, n), "customer": customer,
                         "y": rng.choice(["a", "b", "c"], n)})


@pytest.mark.parametrize("task", ["binary", "multiclass"])
@pytest.mark.parametrize("key", ["logreg", "tree"])
def test_encoding_distinct_values_once_gives_the_same_numbers(task, key):
    from core.catalog import ModelSpec

    train, new = _frame(6_000), _frame(9_000, seed=1)
    if task == "binary":
        train["y"], new["y"] = np.where(train["y"] == "a", "a", "b"), np.where(new["y"] == "a", "a", "b")
    new.loc[:50, "customer"] = "never-seen"  # unknown values: zero one-hot, the target mean
    new.loc[51:60, "plan"] = "platinum"
    columns = {"x": "number", "plan": "category", "code": "category", "customer": "category"}
    pipe = build_pipeline(ModelSpec(key), columns, task, seed=0)
    pipe.fit(train[list(columns)], train["y"])
    fast = for_scoring(pipe)
    cat = fast.named_steps["prep"].named_transformers_["cat"]
    wrapped = [t for _, t, _ in cat.transformers_ if isinstance(t, DistinctValues)]
    assert len(wrapped) == 2  # the one-hot and the target-encoded columns
    assert not any(isinstance(t, DistinctValues) for _, t, _ in
                   pipe.named_steps["prep"].named_transformers_["cat"].transformers_)  # the original is untouched
    X = new[list(columns)]
    assert np.array_equal(fast.named_steps["prep"].transform(X), pipe.named_steps["prep"].transform(X))
    assert np.array_equal(fast.predict_proba(X), pipe.predict_proba(X))


def test_scoring_to_a_file_writes_every_row_and_keeps_a_preview(trained_workspace, tmp_path, monkeypatch):
    from core.data.exporting import safe_csv_bytes
    from core.registry.versions import get_version
    from core.release.scoring import PREVIEW_ROWS, score

    monkeypatch.setenv("WORKBENCH_COMPUTE", "local")
    t = trained_workspace(["dummy", "logreg"], register=("logreg",))
    try:
        version = get_version(t.ws, t.versions["logreg"])
        whole = score(t.ws, version, "churn_next_month")
        out = tmp_path / "scored.csv"
        streamed = score(t.ws, version, "churn_next_month", batch_rows=300, out=str(out))
        assert out.read_bytes() == safe_csv_bytes(whole.frame)
        assert streamed.path == str(out) and len(streamed.frame) == min(PREVIEW_ROWS, len(whole.frame))
        assert streamed.summary == whole.summary

        def broken(*args, **kw):
            raise RuntimeError("the model failed half-way")

        monkeypatch.setattr("core.release.scoring._score_batch", broken)
        failed = tmp_path / "failed.csv"
        with pytest.raises(RuntimeError):
            score(t.ws, version, "churn_next_month", batch_rows=300, out=str(failed))
        assert not failed.exists()  # nothing half-written stays
    finally:
        t.close()


def test_integer_ids_with_gaps_are_written_alike_in_every_partition():
    import pyarrow as pa

    from core.release.scoring import _to_pandas

    with_gap = _to_pandas(pa.table({"id": pa.array([1, None, 3]), "x": [1.0, 2.0, 3.0]}), ("id",))
    without = _to_pandas(pa.table({"id": pa.array([4, 5, 6]), "x": [1.0, 2.0, None]}), ("id",))
    assert str(with_gap["id"].dtype) == "Int64" and with_gap["id"].tolist()[::2] == [1, 3]
    assert without["id"].dtype == np.int64 and without["x"].isna().sum() == 1  # features keep pandas' types


@pytest.mark.parametrize("values", [
    np.array([True, False, True]), np.array([1, 0, 1, 1]), np.array([1.0, 2.0, np.nan, 2.5]),
    np.array([0.0, -0.0, np.nan, np.nan, 1.0]), np.array([3, 3, 7], dtype=np.uint8),
    np.array(["yes", "no", "yes"]), np.array([None, "a", np.nan, "a"], dtype=object),
    np.array([np.True_, 1, "x", 3.0], dtype=object), np.array([], dtype=object)])
def test_class_labels_are_formatted_as_before(values):
    from core.project.criteria import format_class
    from core.release.scoring import _class_labels

    series = pd.Series(values, dtype=object)  # the rule before: a dict of labels mapped over the values
    before = series.map({v: format_class(v) for v in pd.unique(series).tolist()}).tolist()
    after = np.asarray(_class_labels(values), dtype=object)
    assert after.dtype == object and after.tolist() == before
    assert pd.DataFrame({"c": after})["c"].tolist() == pd.DataFrame({"c": before})["c"].tolist()


def test_csv_parts_are_appended_byte_for_byte(tmp_path, monkeypatch):
    import os

    from core.release.scoring import _append_file, _write_all

    parts = [os.urandom(3_000_000), b"", b"a,b\r\n\"\xc3\xa9\"\n"]
    for kernel in (True, False):
        if not kernel:  # where the kernel cannot copy between the files, Python copies them
            monkeypatch.setattr(os, "copy_file_range", lambda *a: (_ for _ in ()).throw(OSError(18, "EXDEV")))
        out = tmp_path / f"out_{kernel}.csv"
        with open(out, "wb", buffering=0) as sink:
            _write_all(sink, b"head\n")
            for k, data in enumerate(parts):
                (tmp_path / f"p{k}").write_bytes(data)
                _append_file(str(tmp_path / f"p{k}"), sink)
            _write_all(sink, b"tail")
        assert out.read_bytes() == b"head\n" + b"".join(parts) + b"tail"


def _old_scored(pipe, version, ids, batch: pd.DataFrame, done: int, header: bool) -> tuple[pd.DataFrame, bytes]:
    """The control: scoring as it was first written. The saved pipeline as trained (no distinct-value encoding) on
    the rows as pandas holds them (text as Python strings), each label mapped by format_class, and the CSV written by
    safe_frame + pandas' QUOTE_NONNUMERIC."""
    import csv

    from core.data.exporting import safe_frame
    from core.project.criteria import format_class
    from core.release.gate import predict_frame

    X = batch.copy()
    for col in version.schema["columns"]:
        if col["kind"] == "number":
            X[col["name"]] = pd.to_numeric(X[col["name"]], errors="coerce").astype(float)
    preds = predict_frame(pipe, version, X)

    def label(values):
        return pd.Series(values, dtype=object).map(format_class).to_numpy(dtype=object)

    out = batch[ids].copy()
    out.insert(0, "row", np.arange(done + 1, done + len(batch) + 1))
    if version.task == "binary":
        neg = next(c for c in version.classes if c != version.positive_class)
        out["predicted_class"] = label(np.where(preds["score"].to_numpy() >= 0.5, version.positive_class, neg))
        out["score"] = preds["score"].to_numpy(dtype=float)
        out["decision"] = label(preds["y_pred"].to_numpy())
    else:
        out["predicted_class"] = label(preds["y_pred"].to_numpy())
        out["score"] = preds[[f"proba_{c}" for c in version.classes]].to_numpy(dtype=float).max(axis=1)
        out["decision"] = out["predicted_class"]
    return out, safe_frame(out).to_csv(index=False, header=header, quoting=csv.QUOTE_NONNUMERIC).encode("utf-8")


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_a_partition_read_from_arrow_writes_the_bytes_the_plain_pipeline_wrote(task):
    """Text categories read as Arrow dictionaries (pandas Categoricals), encoded by their codes, labels written
    once per class: the same CSV as the plain pipeline on Python strings, with missing and unseen values."""
    import types

    import pyarrow as pa

    from core.catalog import ModelSpec
    from core.release.scoring import _category_columns, _score_part, _to_pandas

    train, new = _frame(6_000), _frame(9_000, seed=1)
    classes = ["a", "b"] if task == "binary" else ["a", "b", "c"]
    if task == "binary":
        train["y"], new["y"] = np.where(train["y"] == "a", "a", "b"), np.where(new["y"] == "a", "a", "b")
    new.loc[:50, "customer"] = "never-seen"
    new.loc[51:60, "plan"] = "=platinum"  # unseen, and a formula trigger if it were ever written
    refs = np.char.add("=ref-", np.arange(len(new)).astype(str))
    new["ref"] = np.where(np.arange(len(new)) % 7 == 0, None, refs)
    columns = {"x": "number", "plan": "category", "code": "category", "customer": "category"}
    pipe = build_pipeline(ModelSpec("logreg"), columns, task, seed=0).fit(train[list(columns)], train["y"])
    schema = {"columns": [{"name": "x", "kind": "number"},
                          {"name": "plan", "kind": "category", "pandas_dtype": "object"},
                          {"name": "code", "kind": "category", "pandas_dtype": "int64"},
                          {"name": "customer", "kind": "category", "pandas_dtype": "object"}]}
    version = types.SimpleNamespace(task=task, classes=tuple(classes), positive_class="a", threshold=0.3,
                                    features=tuple(columns), schema=schema)
    ids = ["ref"]
    batch = new[ids + list(columns)]
    arrow = _to_pandas(pa.Table.from_pandas(batch, preserve_index=False), tuple(ids), _category_columns(version))
    assert isinstance(arrow["customer"].dtype, pd.CategoricalDtype) and arrow["code"].dtype == np.int64
    assert arrow["ref"].dtype == object  # identifiers stay text
    for done, header in ((0, True), (9_000, False)):
        part = _score_part(for_scoring(pipe), version, ids, arrow, done, True)
        old, old_csv = _old_scored(pipe, version, ids, batch, done, header)
        assert part["csv"] == old_csv
        pd.testing.assert_frame_equal(part["head"], old.head(len(part["head"])))  # callers see text labels
        if task == "binary":
            assert part["tally"] == {"flagged": int((old["decision"] == "a").sum())}
        else:
            assert part["tally"] == {"classes": old["decision"].value_counts(sort=False).to_dict()}
    frame = _score_part(for_scoring(pipe), version, ids, arrow, 0, False)["frame"]
    assert frame["decision"].dtype == object and set(frame["decision"]) <= set(classes)


def test_conform_does_not_change_the_rows_it_was_given():
    from core.release.scoring import _conform

    batch = pd.DataFrame({"n": np.arange(5), "f": np.linspace(0, 1, 5), "c": pd.Categorical(list("abcab"))})
    schema = {"columns": [{"name": "n", "kind": "number"}, {"name": "f", "kind": "number"},
                          {"name": "c", "kind": "category", "pandas_dtype": "object"}]}
    before = batch.copy()
    out = _conform(batch, schema)
    assert out["n"].dtype == np.float64 and out["n"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    pd.testing.assert_frame_equal(batch, before)


def test_date_parts_of_typed_dates_are_those_of_the_same_dates_as_text():
    from core.models.preprocess import date_parts

    rng = np.random.default_rng(7)
    when = pd.Series(pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 10**8, 60_000), unit="s"))
    when[rng.random(len(when)) < 0.05] = pd.NaT
    text = when.dt.strftime("%Y-%m-%d %H:%M:%S").where(when.notna(), None)
    typed = date_parts(pd.DataFrame({"t": when}))
    assert np.isnan(typed).sum() == 3 * when.isna().sum()
    np.testing.assert_array_equal(typed, date_parts(pd.DataFrame({"t": text})))
    aware = date_parts(pd.DataFrame({"t": when.dt.tz_localize("Europe/Paris", nonexistent="NaT", ambiguous="NaT")}))
    assert aware.shape == typed.shape
