"""Exports tables for spreadsheets safely: no cell can start a formula, and no cell can split into two."""

from __future__ import annotations

import csv

import pandas as pd

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")
_NUL_STANDIN = "\ufffd"  # a NUL inside a cell: most CSV readers stop or cut the row there


def neutralize_cell(value):
    """Prefixes a text cell that a spreadsheet would run as a formula with a single quote (OWASP advice); a NUL
    character inside it becomes U+FFFD, which no reader mistakes for the end of a line."""
    if not isinstance(value, str):
        return value
    if value.startswith(_FORMULA_STARTS):
        value = "'" + value
    return value.replace("\0", _NUL_STANDIN)


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Returns a copy whose text cells and column names cannot be read as formulas; numbers stay numbers."""
    out = df.copy()
    out.columns = [neutralize_cell(str(c)) for c in out.columns]
    for i in range(out.shape[1]):
        s = out.iloc[:, i]
        if isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object or pd.api.types.is_string_dtype(s):
            out.isetitem(i, s.astype(object).map(neutralize_cell))
    return out


def safe_csv_bytes(df: pd.DataFrame) -> bytes:
    """Returns UTF-8 CSV bytes of `df`, protected against formula injection.

    Every non-numeric cell is quoted: Python's csv (and so pandas) leaves a lone CR unquoted, and Excel, LibreOffice,
    `csv.reader` and pandas all break the row there, so text after it would start a new cell. Numbers stay bare and
    read back as numbers; a missing cell is "" and reads back as missing.
    """
    return safe_frame(df).to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC).encode("utf-8")
