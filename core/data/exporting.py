"""Exports tables for spreadsheets safely: no cell can start a formula."""

from __future__ import annotations

import pandas as pd

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralize_cell(value):
    """Prefixes a text cell that a spreadsheet would run as a formula with a single quote (OWASP advice)."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Returns a copy whose text cells and column names cannot be read as formulas; numbers stay numbers."""
    out = df.copy()
    out.columns = [neutralize_cell(str(c)) for c in out.columns]
    for col in out.columns:
        s = out[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s):
            out[col] = s.map(neutralize_cell)
    return out


def safe_csv_bytes(df: pd.DataFrame) -> bytes:
    """Returns UTF-8 CSV bytes of `df`, protected against formula injection."""
    return safe_frame(df).to_csv(index=False).encode("utf-8")
