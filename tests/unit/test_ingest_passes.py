"""Ingest without extra passes: the file hash computed beside the preview and the kinds counted in Arrow must give
exactly what the one-pass-at-a-time code gave (the same hash, the same duplicate refusal, kinds and preview rows)."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from core.data.ingest import _kind_of, confirm_ingest, ingest_path, preview_upload
from core.data.staging import stage_path
from core.errors import AlreadyLoaded, FileRefused


def _write(tmp_path, df: pd.DataFrame, name: str = "t.csv"):
    path = tmp_path / name
    df.to_csv(path, index=False)
    return path


def test_staged_file_hash_is_the_files_sha256_and_a_second_load_is_refused(workspace, tmp_path):
    path = _write(tmp_path, pd.DataFrame({"a": range(5000), "b": ["x", "y"] * 2500}))
    staged = stage_path(path)
    assert staged.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    first = confirm_ingest(workspace, preview_upload(workspace, staged), name="first").dataset
    assert first.content_hash == staged.sha256
    with pytest.raises(AlreadyLoaded, match="'first'"):
        ingest_path(workspace, path, name="again")
    assert [d.name for d in workspace.datasets()] == ["first"]


def test_a_file_that_cannot_be_read_to_the_end_is_refused_clearly(tmp_path):
    from core.data import staging

    with pytest.raises(FileRefused, match="could not be read to the end"):
        staging._file_sha256(tmp_path)  # a folder: reading it fails as a vanished or damaged file would


def test_kinds_counted_in_arrow_match_the_pandas_rule(workspace, tmp_path):
    rng = np.random.default_rng(3)
    n = 3000
    df = pd.DataFrame({
        "ident": [f"C-{i:05d}" for i in range(n)],                     # unique short text: id
        "city": rng.choice(["Oslo", "Lima", "Köln", None], n),          # few values with gaps: category
        "note": [("très long commentaire " * 2 + str(i)) if i % 3 else None for i in range(n)],  # long text
        "zip": [f"0{i % 900:03d}" for i in range(n)],                   # leading zeros: kept as codes
        "amount": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
        "count": np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, 9, n)),
        "when": pd.date_range("2024-01-01", periods=n, freq="h").astype(str),
    })
    df.loc[5, "count"] = np.nan  # a gap after the shown rows too
    path = _write(tmp_path, df)
    preview = preview_upload(workspace, stage_path(path))
    with workspace.cursor() as cur:  # the reference: DuckDB's pandas frame and the pandas rule, column by column
        rel = cur.sql("SELECT * FROM read_csv(?, sample_size=20480)", params=[str(path)])
        ref = rel.df()
        types = {c: str(t) for c, t in zip(rel.columns, rel.types)}
    assert {c.name: c.kind for c in preview.columns} == {c: _kind_of(ref[c], types[c], c) for c in ref.columns}
    assert {c.name: c.kind for c in preview.columns}["note"] == "text"
    assert any("Leading zeros" in n and "'zip'" in n for n in preview.notes)
    pd.testing.assert_frame_equal(preview.rows, ref.head(len(preview.rows)))  # same values and dtypes (Int64, dates)


def test_an_unreadable_path_is_refused(tmp_path):
    with pytest.raises(FileRefused):
        stage_path(tmp_path / "missing.csv")
