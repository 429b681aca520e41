"""Exports tables for spreadsheets safely: no cell can start a formula, and no cell can split into two.

- `neutralize_cell(value)`: the rule for one cell (OWASP's advice: a leading quote before a formula trigger).
- `safe_frame(df)`: the rule on every text cell and column name. Column by column, with Arrow's string kernels
  finding the cells that start with a trigger or hold a NUL; only those cells go through `neutralize_cell`.
- `safe_csv_bytes(df, header=True)` / `write_safe_csv(df, sink, header=True)`: the CSV as pandas' QUOTE_NONNUMERIC
  writes it (every text cell quoted, numbers bare, a missing cell ""), composed by Arrow's string kernels for
  columns of numbers, booleans and text. Chunks written with `header=False` after a first one with the header join
  into the CSV of the whole table, so batch scoring writes partitions (on Dask workers too) and concatenates them.
"""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")
_TRIGGER_PATTERN = "^[=+\\-@\\t\\r\\x00]"
_NUL_STANDIN = "\ufffd"  # a NUL inside a cell: most CSV readers stop or cut the row there


def neutralize_cell(value):
    """Prefixes a text cell that a spreadsheet would run as a formula with a single quote (OWASP advice); a NUL
    character inside it becomes U+FFFD, which no reader mistakes for the end of a line."""
    if not isinstance(value, str):
        return value
    if value.startswith(_FORMULA_STARTS):
        value = "'" + value
    return value.replace("\0", _NUL_STANDIN)


def _is_text(s: pd.Series) -> bool:
    return isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object or pd.api.types.is_string_dtype(s)


def _needs_rewrite(values: np.ndarray) -> np.ndarray:
    """Which cells of an object array of strings (and missing values) start with a trigger or hold a NUL."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(values, type=pa.string(), from_pandas=True)
    hit = pc.or_(pc.match_substring_regex(arr, _TRIGGER_PATTERN), pc.match_substring(arr, "\0"))
    return hit.fill_null(False).to_numpy(zero_copy_only=False)


def _safe_values(values: np.ndarray) -> np.ndarray:
    """neutralize_cell of every value of an object array (a copy); strings are checked in C, not one by one."""
    out = values.copy()
    if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):  # mixed types: cell by cell
        for i, v in enumerate(values):
            if isinstance(v, str):
                out[i] = neutralize_cell(v)
        return out
    for i in np.flatnonzero(_needs_rewrite(values)):
        out[i] = neutralize_cell(values[i])
    return out


def _safe_column(s: pd.Series) -> np.ndarray:
    if isinstance(s.dtype, pd.CategoricalDtype):  # one check per category, then the codes pick them
        labels = _safe_values(np.asarray(s.cat.categories, dtype=object))
        codes = s.cat.codes.to_numpy()
        out = labels.take(np.where(codes < 0, 0, codes)) if len(labels) else np.empty(len(s), dtype=object)
        out[codes < 0] = np.nan
        return out
    return _safe_values(s.astype(object).to_numpy(dtype=object))


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Returns a copy whose text cells and column names cannot be read as formulas; numbers stay numbers."""
    out = df.copy()
    out.columns = [neutralize_cell(str(c)) for c in out.columns]
    for i in range(out.shape[1]):
        s = out.iloc[:, i]
        if _is_text(s):
            out.isetitem(i, _safe_column(s))
    return out


def _quoted(text):
    import pyarrow.compute as pc

    return pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")


def _cells(s: pd.Series):
    """One column of an already neutralised frame as the Arrow strings of its CSV cells, or None when the column
    holds values this writer leaves to pandas (dates, mixed objects). As pandas' QUOTE_NONNUMERIC writes them:
    numbers bare (floats in full, always with a point or an exponent, so they read back as floats), booleans as
    True / False, text quoted with its quotes doubled, a missing cell as ""."""
    import pyarrow as pa
    import pyarrow.compute as pc

    dtype = s.dtype
    if pd.api.types.is_bool_dtype(dtype):
        arr = pa.array(s, type=pa.bool_(), from_pandas=True)
        text = pc.if_else(arr, "True", "False")
    elif pd.api.types.is_integer_dtype(dtype):
        text = pa.array(s, from_pandas=True).cast(pa.string())
    elif pd.api.types.is_float_dtype(dtype) and dtype != np.float16:
        arr = pa.array(s, type=pa.float64(), from_pandas=True)  # NaN becomes missing, as pandas writes it
        text = arr.cast(pa.string())  # the same shortest digits as Python's repr, not always laid out the same
        values = s.to_numpy(dtype=float, na_value=np.nan)
        size = np.abs(values)
        finite = np.isfinite(values)
        # An exponent (in Arrow's text or in repr's, which starts one below 1e-4 and from 1e16) is laid out
        # differently ("1e-7" / "1e-07"): repr itself writes those cells, which are rare in real data.
        odd = ((size < 1e-4) & (size > 0)) | ((size >= 1e16) & finite) | \
            pc.match_substring(text, "e").fill_null(False).to_numpy(zero_copy_only=False)
        whole = finite & ~odd & (values == np.round(values))  # Arrow writes 2.0 as "2": repr adds ".0"
        if whole.any():
            text = pc.replace_with_mask(text, pa.array(whole),
                                        pc.binary_join_element_wise(text.filter(pa.array(whole)), ".0", ""))
        if odd.any():
            text = pc.replace_with_mask(text, pa.array(odd), pa.array([repr(float(v)) for v in values[odd]]))
    elif dtype == object or pd.api.types.is_string_dtype(dtype):
        values = s.to_numpy(dtype=object)
        if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
            return None
        text = _quoted(pa.array(values, type=pa.string(), from_pandas=True))
    else:
        return None
    return text.fill_null('""')


def _text_cells(s: pd.Series):
    """A text column (object, string or categories) neutralised as safe_frame does, as its CSV cells (see _cells).
    Categories of text are neutralised and quoted once each, and their codes pick the cells."""
    import pyarrow as pa

    if isinstance(s.dtype, pd.CategoricalDtype):
        labels = _safe_values(np.asarray(s.cat.categories, dtype=object))
        if pd.api.types.infer_dtype(labels, skipna=True) in ("string", "empty"):
            codes = s.cat.codes.to_numpy()
            cells = _quoted(pa.array(labels, type=pa.string()))
            return cells.take(pa.array(codes, mask=codes < 0)).fill_null('""')
    return _cells(pd.Series(_safe_column(s), dtype=object))


def _fast_csv(df: pd.DataFrame, header: bool) -> bytes | None:
    """The CSV of safe_frame(df), composed by Arrow, or None when a column is left to pandas."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = [_text_cells(s) if _is_text(s) else _cells(s) for s in (df.iloc[:, i] for i in range(df.shape[1]))]
    if not columns or any(c is None for c in columns):
        return None
    names = [neutralize_cell(str(c)) for c in df.columns]
    head = (",".join('"' + c.replace('"', '""') + '"' for c in names) + "\n").encode() if header else b""
    if not len(df):
        return head
    lines = pc.binary_join_element_wise(*columns, ",") if len(columns) > 1 else columns[0]
    lines = pc.binary_join_element_wise(lines, "", "\n").cast(pa.large_string())
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset:lines.offset + len(lines) + 1]
    return head + memoryview(lines.buffers()[2])[offsets[0]:offsets[-1]].tobytes()


def write_safe_csv(df: pd.DataFrame, sink, header: bool = True) -> None:
    """Writes `df` as formula-safe UTF-8 CSV to `sink` (a binary file object)."""
    sink.write(safe_csv_bytes(df, header=header))


def safe_csv_bytes(df: pd.DataFrame, header: bool = True) -> bytes:
    """Returns UTF-8 CSV bytes of `df`, protected against formula injection.

    Every non-numeric cell is quoted: Python's csv (and so pandas) leaves a lone CR unquoted, and Excel, LibreOffice,
    `csv.reader` and pandas all break the row there, so text after it would start a new cell. Numbers stay bare and
    read back as numbers; a missing cell is "" and reads back as missing. Columns of numbers, booleans and text are
    composed by Arrow's string kernels; a frame with other columns (dates, mixed objects) is written by pandas.
    """
    fast = _fast_csv(df, header)
    if fast is not None:
        return fast
    return safe_frame(df).to_csv(index=False, header=header, quoting=csv.QUOTE_NONNUMERIC).encode("utf-8")
