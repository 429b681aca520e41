"""Formula-safe CSV exports: the CR / LF / NUL / delimiter corpus parses back one cell per value, no trigger first."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest

from core.data.exporting import neutralize_cell, safe_csv_bytes, safe_frame

TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0")
CORPUS = ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "\0=1", "a\r=1+1", "a\n=1+1", "a\r\n=1", "x,=1",
          'q"=1', "a;=1", "ok", "", None, '=HYPERLINK("http://evil.example")', "'=already", "x\0y"]


def _read_both(data: bytes) -> tuple[list[list[str]], pd.DataFrame]:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    return rows, pd.read_csv(io.BytesIO(data), keep_default_na=False, dtype=str)


@pytest.mark.parametrize("kind", ["object", "category", "string"])
def test_every_export_parses_back_with_no_cell_starting_a_formula(kind):
    # pandas' categorical hashing stops at a NUL ("\0=1" and "" become one category): those cells only as text
    corpus = [c for c in CORPUS if kind != "category" or c is None or "\0" not in c]
    n = len(corpus)
    df = pd.DataFrame({"text": pd.Series(corpus, dtype=object if kind == "object" else kind),
                       "=bad name\r": np.arange(n) - 3, "f": np.linspace(-1, 1, n)})
    data = safe_csv_bytes(df)
    rows, frame = _read_both(data)
    assert len(rows) == n + 1 and len(frame) == n and all(len(r) == 3 for r in rows)  # no row split anywhere
    assert not rows[0][1].startswith(TRIGGERS) and not frame.columns[1].startswith(TRIGGERS)
    for cells in ([r[0] for r in rows], frame["text"].tolist()):
        assert not [c for c in cells if c.startswith(TRIGGERS)], cells
        assert not [c for c in cells if "\0" in c]
    assert rows[1 + corpus.index("a\r=1+1")][0] == "a\r=1+1"  # the lone CR stays inside its cell
    assert rows[1 + corpus.index("a\n=1+1")][0] == "a\n=1+1"
    back = pd.read_csv(io.BytesIO(data))
    assert back.iloc[:, 1].tolist() == list(np.arange(n) - 3)  # numbers, negative ones too, stay numbers
    assert back["text"].isna().sum() == 2  # the missing cell and the empty one read back as missing


def test_a_cell_starting_with_nul_is_prefixed_and_inner_nuls_are_replaced():
    assert neutralize_cell("\0=1") == "'\ufffd=1"
    assert neutralize_cell("x\0y") == "x\ufffdy"
    assert neutralize_cell(-5) == -5 and neutralize_cell("ok") == "ok"


def test_the_old_writer_broke_rows_at_a_lone_cr():
    """The control: pandas' own CSV leaves the CR bare, so a reader starts a new row with '=1+1'."""
    raw = pd.DataFrame({"t": ["a\r=1+1"]}).to_csv(index=False).encode()
    assert len(list(csv.reader(io.StringIO(raw.decode(), newline="")))) == 3


def test_the_vectorised_rule_matches_the_cell_rule_on_every_kind_of_column():
    rng = np.random.default_rng(3)
    pool = CORPUS + ["=", "-", "'", "\0", "a\0", "ok=1", "x@y", 7, 2.5, True, b"=bytes", np.nan]
    for kind in ("object", "category", "string"):
        cells = [pool[i] for i in rng.integers(0, len(pool), 500)]
        if kind != "object":  # categories and strings hold text only
            cells = [c for c in cells if c is None or (isinstance(c, str) and (kind == "string" or "\0" not in c))]
        s = pd.Series(cells, dtype=object if kind == "object" else kind)
        out = safe_frame(pd.DataFrame({"c": s}))["c"].tolist()
        expected = s.astype(object).map(neutralize_cell).tolist()
        assert [("<na>" if pd.isna(v) else v) if not isinstance(v, bytes) else v for v in out] == \
            [("<na>" if pd.isna(v) else v) if not isinstance(v, bytes) else v for v in expected], kind


def test_chunks_without_header_join_into_the_csv_of_the_whole_table():
    rng = np.random.default_rng(4)
    n = 1_000
    df = pd.DataFrame({"row": np.arange(1, n + 1), "id": pd.array(np.where(rng.random(n) < 0.1, None, np.arange(n)),
                                                                 dtype="Int64"),
                       "label": rng.choice(["yes", "=no", "-1"], n), "score": rng.random(n),
                       "when": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**6, n), unit="s")})
    whole = safe_csv_bytes(df)
    parts = [safe_csv_bytes(df.iloc[:1], header=True)] + \
        [safe_csv_bytes(df.iloc[a:a + 250], header=False) for a in range(1, n, 250)]
    assert b"".join(parts) == whole
    back = pd.read_csv(io.BytesIO(whole), float_precision="round_trip")
    assert back["score"].tolist() == df["score"].tolist()  # floats are written in full: they read back exactly
    assert back["id"].isna().sum() == df["id"].isna().sum()


def test_the_fast_writer_writes_the_bytes_pandas_wrote():
    """The control is the writer this module used before: safe_frame + pandas' QUOTE_NONNUMERIC."""
    rng = np.random.default_rng(5)
    n = 2_000
    text = [CORPUS[i] for i in rng.integers(0, len(CORPUS), n)]
    df = pd.DataFrame({"=text": text, "i": rng.integers(-10**6, 10**6, n), "f": rng.normal(0, 100, n),
                       "whole": np.round(rng.normal(0, 100, n)), "b": rng.random(n) < 0.5,
                       "n": pd.array(np.where(rng.random(n) < 0.2, None, rng.integers(0, 9, n)), dtype="Int64"),
                       "gaps": np.where(rng.random(n) < 0.3, np.nan, rng.random(n)),
                       "wide": np.exp(rng.normal(0, 30, n)) * np.sign(rng.normal(size=n))})  # exponents both ways
    df.loc[:5, "wide"] = [1e15, 1e16, 1e-4, 1e-5, 0.0, -0.0]
    df.loc[6:, "sweep"] = 10.0 ** np.linspace(-12, 22, n - 6)  # every layout boundary of repr
    old = safe_frame(df).to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC).encode("utf-8")
    assert safe_csv_bytes(df) == old
    when = df.assign(when=pd.Timestamp("2024-01-01"))  # dates go through pandas itself
    assert safe_csv_bytes(when) == safe_frame(when).to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC).encode()


def test_categories_are_written_as_the_text_pandas_wrote():
    """Category columns (scored labels) are composed from their categories: the bytes safe_frame + pandas wrote,
    with missing cells, unused categories, formula triggers, and categories that are not text."""
    rng = np.random.default_rng(6)
    corpus = [c for c in CORPUS if c is not None and "\0" not in c]
    n = 3_000
    text = pd.Categorical([corpus[i] for i in rng.integers(0, len(corpus), n)], categories=corpus + ["=unused"])
    text[rng.random(n) < 0.1] = np.nan
    df = pd.DataFrame({"row": np.arange(n), "label": text, "two": pd.Categorical(rng.choice(["yes", "-no"], n)),
                       "none": pd.Categorical([None] * n, categories=[]), "f": rng.random(n)})
    old = safe_frame(df).to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC).encode("utf-8")
    assert safe_csv_bytes(df) == old
    numbers = df.assign(label=pd.Categorical(rng.integers(0, 3, n)))  # categories of numbers: as before
    assert safe_csv_bytes(numbers) == safe_frame(numbers).to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC).encode()
    assert safe_csv_bytes(df.iloc[:0]) == safe_frame(df.iloc[:0]).to_csv(index=False,
                                                                        quoting=csv.QUOTE_NONNUMERIC).encode()
