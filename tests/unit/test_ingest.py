"""Ingest: every promised format works, every bad input is refused clearly, and earlier datasets survive."""

from __future__ import annotations

import gzip
import io
import zlib

import pandas as pd
import pytest

from core.errors import AlreadyLoaded, CsvUnreadable, FileRefused, NameInvalid
from core.data.ingest import BadLines, confirm_ingest, ingest_upload, preview_upload, stage_upload
from core.data import staging


@pytest.fixture
def ws_with_one(workspace):
    """A workspace that already holds one dataset, to prove failed imports leave it alone."""
    ingest_upload(workspace, b"city,sales\nOslo,10\nLima,20\n", "before.csv")
    return workspace


def _untouched(ws) -> None:
    assert [d.name for d in ws.datasets()] == ["before"]
    assert ws.frame("before")["sales"].tolist() == [10, 20]
    assert not any(p.suffix in (".raw", ".csv") for p in ws.staging.iterdir()), "staging files left behind"


# -- formats that must load ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("delim", [",", ";", "\t", "|"])
def test_each_delimiter_is_detected(workspace, delim):
    data = f"name{delim}age{delim}city\nAna{delim}31{delim}Porto\nBo{delim}42{delim}Oslo\n".encode()
    ds = ingest_upload(workspace, data, "people.csv").dataset
    assert ds.column_names == ["name", "age", "city"]
    assert ws_frame(workspace, ds)["age"].tolist() == [31, 42]


def ws_frame(ws, ds):
    return ws.frame(ds.id)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16"])
def test_encodings_become_utf8(workspace, encoding):
    text = "name,city\nJosé,São Paulo\nZoë,Köln\n"
    ds = ingest_upload(workspace, text.encode(encoding), f"enc_{encoding}.csv").dataset
    assert ws.frame(ds.id)["name"].tolist() == ["José", "Zoë"] if (ws := workspace) else None


def test_gzipped_csv_loads(workspace):
    data = gzip.compress(b"a,b\n1,x\n2,y\n")
    ds = ingest_upload(workspace, data, "small.csv.gz").dataset
    assert ds.rows == 2 and ds.name == "small"


def test_parquet_loads(workspace):
    buf = io.BytesIO()
    pd.DataFrame({"x": [1, 2, 3], "y": ["a", "b", "c"]}).to_parquet(buf)
    ds = ingest_upload(workspace, buf.getvalue(), "table.parquet").dataset
    assert ds.rows == 3 and ds.column_names == ["x", "y"]


def test_excel_first_or_chosen_sheet(workspace):
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xl:
        pd.DataFrame({"a": [1, 2]}).to_excel(xl, sheet_name="first", index=False)
        pd.DataFrame({"b": ["x", "y", "z"]}).to_excel(xl, sheet_name="second", index=False)
    staged = stage_upload(workspace, buf.getvalue(), "book.xlsx")
    preview = preview_upload(workspace, staged)
    assert preview.sheets == ("first", "second") and preview.sheet == "first"
    second = preview_upload(workspace, staged, sheet="second")
    ds = confirm_ingest(workspace, second, name="book second").dataset
    assert ds.rows == 3 and ds.column_names == ["b"]


def test_leading_zeros_are_kept(workspace):
    ds = ingest_upload(workspace, b"zip,amount\n00501,1\n02134,2\n10001,3\n", "zips.csv").dataset
    assert workspace.frame(ds.id)["zip"].tolist() == ["00501", "02134", "10001"]


def test_decimal_commas_are_numbers(workspace):
    ds = ingest_upload(workspace, b"item;price\nA;1,50\nB;2,25\nC;10,00\n", "prices.csv").dataset
    assert workspace.frame(ds.id)["price"].tolist() == [1.5, 2.25, 10.0]
    assert ds.column("price").kind == "number"


def test_column_names_are_cleaned(workspace):
    ds = ingest_upload(workspace, b" price ,price,,Price\n1,2,3,4\n", "names.csv").dataset
    assert ds.column_names == ["price", "price_2", "column_3", "Price_3"]


def test_value_of_another_type_late_in_file_loads_as_text_with_a_note(workspace):
    rows = b"".join(f"{i},{i * 2}\n".encode() for i in range(30_000))
    result = ingest_upload(workspace, b"code,n\n" + rows + b"X-17,5\n", "late.csv")
    assert result.dataset.rows == 30_001
    assert result.dataset.column("code").kind == "category"
    assert any("line 30,002" in n and "X-17" in n for n in result.notes)


def test_malicious_dataset_name_is_stored_as_plain_text(workspace):
    evil = 'x"; DROP TABLE datasets; --'
    ds = ingest_upload(workspace, b"a\n1\n2\n", "evil.csv", name=evil).dataset
    assert ds.name == evil
    assert workspace.dataset(evil).rows == 2
    assert not ds.table.startswith("x") and ds.table.isidentifier()
    ingest_upload(workspace, b"b\n3\n", "other.csv")
    assert len(workspace.datasets()) == 2


def test_same_file_twice_is_not_loaded_twice(ws_with_one):
    with pytest.raises(AlreadyLoaded, match="already in the workspace as 'before'"):
        ingest_upload(ws_with_one, b"city,sales\nOslo,10\nLima,20\n", "again.csv")
    _untouched(ws_with_one)


# -- bad input: a clear message and nothing lost ---------------------------------------------------------------------------
BAD = {
    "empty": (b"", FileRefused, "empty"),
    "header only": (b"a,b,c\n", FileRefused, "header .* but no rows"),
    "blank lines": (b"\n\n  \n", FileRefused, "blank lines"),
    "binary garbage": (bytes(range(256)) * 64, CsvUnreadable, "binary"),
    "ragged rows": (b"a,b,c\n1,2,3\n4,5,6,7\n8,9,10\n", BadLines, "line 3: more fields"),
    "unterminated quote": (b'a,b\n1,"abc\n2,3\n4,5\n', BadLines, "line 2"),
    "truncated gzip": (gzip.compress(b"a,b\n" + b"1,2\n" * 5000)[:-40], CsvUnreadable, "damaged or truncated gzip"),
    "empty gzip": (gzip.compress(b""), FileRefused, "nothing inside"),
    "one column of commas": (b"a\n1,2,3\n4,5\n6,7,8,9\n1,2\n3,4,5\n6,7,8,9,0\n", CsvUnreadable, "ragged"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_refused_and_nothing_is_lost(ws_with_one, case):
    data, error, message = BAD[case]
    with pytest.raises(error, match=message):
        ingest_upload(ws_with_one, data, f"{case}.csv")
    _untouched(ws_with_one)


def test_bad_lines_can_be_skipped_on_request(ws_with_one):
    result = ingest_upload(ws_with_one, b"a,b,c\n1,2,3\n4,5,6,7\n8,9,10\n", "ragged.csv", skip_bad_lines=True)
    assert result.dataset.rows == 2 and result.skipped_lines == 1


def test_too_many_columns(ws_with_one):
    header = ",".join(f"c{i}" for i in range(2001)).encode()
    with pytest.raises(FileRefused, match="2,001 columns; the limit is 2,000"):
        ingest_upload(ws_with_one, header + b"\n" + b",".join(b"1" for _ in range(2001)) + b"\n", "wide.csv")
    _untouched(ws_with_one)


def test_file_over_the_limit(ws_with_one, monkeypatch):
    monkeypatch.setattr(staging, "MAX_UPLOAD_BYTES", 1000)
    with pytest.raises(FileRefused, match="larger than"):
        ingest_upload(ws_with_one, b"a,b\n" + b"1,2\n" * 1000, "big.csv")
    _untouched(ws_with_one)


def test_gzip_bomb_is_refused_quickly(ws_with_one, monkeypatch):
    import time

    monkeypatch.setattr(staging, "MAX_INFLATED_BYTES", 64 * 2**20)
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"0" * (2**20)
    bomb = b"".join(comp.compress(zeros) for _ in range(1024)) + comp.flush()  # 1 GB of zeros in ~1 MB
    started = time.perf_counter()
    with pytest.raises(FileRefused, match="inflates to more than"):
        ingest_upload(ws_with_one, bomb, "bomb.csv.gz")
    assert time.perf_counter() - started < 10
    _untouched(ws_with_one)


def test_excel_without_data(ws_with_one):
    buf = io.BytesIO()
    pd.DataFrame().to_excel(buf, engine="openpyxl", index=False)
    with pytest.raises(FileRefused, match="has no data"):
        ingest_upload(ws_with_one, buf.getvalue(), "blank.xlsx")
    _untouched(ws_with_one)


def test_number_override_on_text_column_is_refused_with_the_value(ws_with_one):
    staged = stage_upload(ws_with_one, b"id,score\n1,10\n2,ten\n3,30\n", "scores.csv")
    preview = preview_upload(ws_with_one, staged)
    with pytest.raises(CsvUnreadable, match="'score' was set to number.*'ten'"):
        confirm_ingest(ws_with_one, preview, kinds={"score": "number"})
    staged.discard()
    _untouched(ws_with_one)


def test_name_clash_and_blank_name(ws_with_one):
    with pytest.raises(NameInvalid, match="already exists"):
        ingest_upload(ws_with_one, b"z\n1\n", "x.csv", name="before")
    with pytest.raises(NameInvalid, match="needs a name"):
        ingest_upload(ws_with_one, b"z\n1\n", "x.csv", name="   ")
    _untouched(ws_with_one)


def test_utf8_check_sees_every_chunk_and_split_characters():
    def scan(*chunks):
        s = staging._Scan()
        for c in chunks:
            s.feed(c)
        return s.is_utf8()

    assert scan(b"plain ascii", "Jos\u00e9".encode())
    assert not scan(b"ascii first", "Jos\u00e9".encode("cp1252"))
    e_acute = "\u00e9".encode()
    assert scan(b"abc" + e_acute[:1], e_acute[1:] + b"def")  # a character split across two chunks
    assert not scan(b"abc" + e_acute[:1], b"def")  # a truncated character followed by ASCII
