"""Column kinds: maps a stored type and a few sample statistics to the kind a user thinks in.

Kinds are number, category, text, datetime, boolean and id; every dataset's columns carry one (ColumnInfo.kind).
"""

from __future__ import annotations

import re

import pandas as pd

KINDS = ("number", "category", "text", "datetime", "boolean", "id")


def infer_kind(dtype: str, n: int, n_distinct: int, avg_len: float | None, name: str) -> str:
    """Maps a DuckDB type and a few sample statistics to the kind a user thinks in."""
    t = dtype.upper()
    idish = bool(re.search(r"(^|_|\b)(id|uuid|key|code)$", name.lower())) or name.lower().endswith("id")
    if t == "BOOLEAN":
        return "boolean"
    if t.startswith(("DATE", "TIMESTAMP", "TIME")):
        return "datetime"
    if any(t.startswith(p) for p in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UBIGINT", "UINTEGER")):
        return "id" if idish and n > 20 and n_distinct >= 0.98 * n else "number"
    if any(t.startswith(p) for p in ("DOUBLE", "FLOAT", "DECIMAL", "REAL")):
        return "number"
    if n > 20 and n_distinct >= 0.98 * n and (avg_len or 0) <= 40:
        return "id"
    if n_distinct <= max(30, 0.05 * n):
        return "category"
    return "text" if (avg_len or 0) > 25 else "category"


def infer_kinds_frame(df: pd.DataFrame) -> dict[str, str]:
    """Infers a kind for every column of a pandas frame (used for Excel sheets and derived data)."""
    out = {}
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_bool_dtype(s):
            dtype = "BOOLEAN"
        elif pd.api.types.is_datetime64_any_dtype(s):
            dtype = "TIMESTAMP"
        elif pd.api.types.is_integer_dtype(s):
            dtype = "BIGINT"
        elif pd.api.types.is_float_dtype(s):
            dtype = "DOUBLE"
        else:
            dtype = "VARCHAR"
        nonnull = s.dropna()
        avg = nonnull.astype(str).str.len().mean() if dtype == "VARCHAR" and len(nonnull) else None
        out[str(col)] = infer_kind(dtype, len(nonnull), int(nonnull.nunique()), avg, str(col))
    return out
