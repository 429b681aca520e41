"""Formula-safe CSV exports: the CR / LF / NUL / delimiter corpus parses back one cell per value, no trigger first."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest

from core.data.exporting import neutralize_cell, safe_csv_bytes

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
