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


# -- one sniff: the preview's read of DuckDB's sniffer is what the sample and the load use ---------------------------------
_TRICKY = {
    "day-first dates and times": ("d,t,n\n" + "".join(f"{1 + i % 28:02d}/0{1 + i % 9}/2024,{1 + i % 28:02d}/01/2024 "
                                                      f"{i % 24:02d}:05:00,{i}\n" for i in range(300)), ","),
    "CRLF line ends": ("a,b,c\r\n" + "".join(f"{i},x{i % 7},{i / 3:.4f}\r\n" for i in range(300)), ","),
    "semicolons and decimal commas": ("item;price;qty\n" + "".join(f"P{i};{i},{i % 100:02d};{i % 9}\n"
                                                                  for i in range(300)), ";"),
    "no header row": ("".join(f"{i},{i * 2.5},yes\n" if i % 2 else f"{i},{i * 2.5},no\n" for i in range(300)), ","),
    "quoted delimiters, quotes and newlines": ('id,note\n' + "".join(f'{i},"a, ""b""\nc {i}"\n' for i in range(300)),
                                               ","),
    "a column empty in the sniffed rows": ("a,b\n" + "".join(f"{i},\n" for i in range(21_000)) + "7,late\n", ","),
}


@pytest.mark.parametrize("case", list(_TRICKY))
def test_one_sniff_loads_what_duckdbs_own_detection_loads(workspace, tmp_path, case):
    text, delim = _TRICKY[case]
    path = tmp_path / "tricky.csv"
    path.write_bytes(text.encode())
    preview = preview_upload(workspace, stage_path(path))
    assert preview.csv_types, "the sniff was not reused: the load would detect the types again"
    ds = confirm_ingest(workspace, preview, name="tricky").dataset
    decimal = preview.decimal_separator
    with workspace.cursor() as cur:  # the reference: DuckDB detecting everything itself, dialect given
        ref = cur.sql(f"SELECT * FROM read_csv(?, delim='{delim}', decimal_separator='{decimal}')", params=[str(path)])
        ref_types = [str(t) for t in ref.types]
        ref_rows = ref.fetchall()
    assert [c.dtype for c in ds.columns] == ref_types
    assert workspace.read_rows(f'SELECT * FROM "{ds.table}" ORDER BY rowid') == ref_rows
    assert [c.dtype for c in preview.columns] == ref_types  # the preview showed the types that were loaded


def test_a_sniff_the_load_cannot_reuse_falls_back_to_duckdbs_detection(workspace, tmp_path):
    path = tmp_path / "titled.csv"
    path.write_bytes(b"Sales export\n\nregion,amount\nNorth,10\nSouth,20\n")  # DuckDB skips the title lines
    preview = preview_upload(workspace, stage_path(path))
    assert preview.csv_types == ()
    ds = confirm_ingest(workspace, preview, name="titled").dataset
    assert workspace.read_rows(f'SELECT * FROM "{ds.table}" ORDER BY rowid') == [("North", 10), ("South", 20)]


def test_column_names_with_quotes_stay_names_in_the_columns_option(workspace, tmp_path):
    path = tmp_path / "names.csv"
    path.write_bytes(b'it\'s,"x""); DROP TABLE wb_datasets; --",c\n1,2,3\n4,5,6\n')
    preview = preview_upload(workspace, stage_path(path))
    assert preview.csv_types
    ds = confirm_ingest(workspace, preview, name="names").dataset
    assert ds.column_names == ["it's", 'x"); DROP TABLE wb_datasets; --', "c"]
    assert workspace.frame(ds.id)["it's"].tolist() == [1, 4]
    assert [d.name for d in workspace.datasets()] == ["names"]


def test_kinds_read_from_the_type_alone_match_the_pandas_rule(workspace, tmp_path):
    n = 500
    df = pd.DataFrame({
        "order_id": range(n),                                              # unique whole numbers, id-like name: id
        "qty": [i % 7 for i in range(n)],                                  # whole numbers: number
        "flag": [bool(i % 3) for i in range(n)],                           # boolean
        "day": pd.date_range("2024-01-01", periods=n, freq="D").date,      # date
        "price": [None if i % 11 == 0 else i / 4 for i in range(n)],        # float with gaps: number
        "code": [f"K{i % 40}" for i in range(n)],                          # 40 values in 500: category
    })
    path = _write(tmp_path, df)
    preview = preview_upload(workspace, stage_path(path))
    with workspace.cursor() as cur:
        rel = cur.sql("SELECT * FROM read_csv(?, sample_size=20480)", params=[str(path)])
        ref, types = rel.df(), {c: str(t) for c, t in zip(rel.columns, rel.types)}
    kinds = {c.name: c.kind for c in preview.columns}
    assert kinds == {c: _kind_of(ref[c], types[c], c) for c in ref.columns}
    assert kinds == {"order_id": "id", "qty": "number", "flag": "boolean", "day": "datetime", "price": "number",
                     "code": "category"}
