"""Brings files into the workspace: preview what will be loaded, then load it with DuckDB in one transaction."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.data.kinds import infer_kind, infer_kinds_frame
from core.data.staging import (
    MAX_COLUMNS,
    StagedFile,
    clean_column_names,
    detect_delimiter,
    has_decimal_commas,
    sample_lines,
    stage_path,
    stage_upload,
)
from core.errors import AlreadyLoaded, CsvUnreadable, FileRefused, SpecInvalid, unknown
from core.store.workspace import (
    ColumnInfo,
    DatasetInfo,
    Workspace,
    clean_dataset_name,
    new_id,
    quote_ident,
)

__all__ = ["BadLines", "ColumnPreview", "IngestResult", "KINDS", "UploadPreview", "confirm_ingest", "ingest_path",
           "preview_upload", "stage_path", "stage_upload"]

KINDS = ("number", "category", "text", "datetime", "boolean", "id")
PREVIEW_ROWS = 20
KIND_SAMPLE_ROWS = 20_000
_TYPE_FOR_KIND = {"number": "DOUBLE", "datetime": "TIMESTAMP", "boolean": "BOOLEAN",
                  "category": "VARCHAR", "text": "VARCHAR", "id": "VARCHAR"}
_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "DOUBLE", "FLOAT", "DECIMAL", "REAL", "UBIGINT")


@dataclass(frozen=True)
class ColumnPreview:
    original: str
    name: str
    dtype: str
    kind: str


@dataclass(frozen=True)
class UploadPreview:
    """What the user confirms before loading: dialect, first rows, columns with inferred kinds, a name."""

    staged: StagedFile
    delimiter: str
    has_header: bool
    decimal_separator: str
    columns: tuple[ColumnPreview, ...]
    rows: pd.DataFrame
    suggested_name: str
    sheet: str | None = None
    sheets: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    bad_lines: int = 0
    bad_examples: tuple[tuple[int, str, str], ...] = ()
    # DuckDB's sniff of a CSV, made once in the preview and reused by the load (no second sniff): one type per
    # column and the date/timestamp formats it found; empty when the sniff was not usable (the load then detects).
    csv_types: tuple[str, ...] = ()
    csv_formats: tuple[tuple[str, str], ...] = ()

    @property
    def renamed(self) -> dict[str, str]:
        return {c.original: c.name for c in self.columns if c.original != c.name}

    @property
    def dialect_label(self) -> str:
        names = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
        if self.staged.fmt != "csv":
            return self.staged.fmt.upper() + (f", sheet {self.sheet!r}" if self.sheet else "")
        parts = [f"{names.get(self.delimiter, repr(self.delimiter))}-separated", self.staged.encoding.upper(),
                 "header row" if self.has_header else "no header row"]
        if self.decimal_separator == ",":
            parts.append("decimal commas")
        if self.staged.compressed:
            parts.append("gzip")
        return ", ".join(parts)


@dataclass(frozen=True)
class IngestResult:
    dataset: DatasetInfo
    notes: tuple[str, ...] = field(default_factory=tuple)
    skipped_lines: int = 0


class BadLines(CsvUnreadable):
    """Some lines of a CSV cannot be read: `count` of them, `examples` as (line number, reason, text)."""

    def __init__(self, message: str, count: int, examples: list[tuple[int, str, str]]):
        super().__init__(message)
        self.count = count
        self.examples = examples


# -- preview -------------------------------------------------------------------------------------------------------------
def preview_upload(ws: Workspace, staged: StagedFile, sheet: str | None = None) -> UploadPreview:
    """Reads the first rows and detects delimiter, header, names and kinds, without loading anything.

    Raises: CsvUnreadable, FileRefused.
    """
    if staged.fmt == "xlsx":
        return _preview_excel(staged, sheet)
    if staged.fmt == "parquet":
        return _preview_parquet(ws, staged)
    lines = sample_lines(staged.path)
    if not any(ln.strip() for ln in lines):
        raise FileRefused(f"{staged.original_name!r} holds only blank lines. Export the data again.")
    delim = detect_delimiter(lines)
    decimal = "," if has_decimal_commas(lines, delim) else "."
    header_fields = next(iter(_csv_rows(lines[:1], delim)), [])
    if len(header_fields) > MAX_COLUMNS:
        raise FileRefused(f"{staged.original_name!r} has {len(header_fields):,} columns; the limit is {MAX_COLUMNS:,}. "
                          "Keep the columns you need and upload that file.")
    if len(header_fields) == 1 and sum(ln.count(",") for ln in lines[:50]) >= 10:
        raise CsvUnreadable(f"{staged.original_name!r} looks like comma-separated data, but its rows do not have the "
                            "same number of fields, so it would load as a single column of text. Check the file for "
                            "ragged rows or stray quotes and upload it again.")
    sniffed = _sniff(ws, staged, delim, decimal)
    has_header = sniffed.has_header if sniffed else True
    originals = header_fields if has_header else [f"column_{i}" for i in range(1, len(header_fields) + 1)]
    names = clean_column_names(originals)
    csv_types, formats = (sniffed.types, sniffed.formats) if sniffed and len(sniffed.types) == len(names) else ((), ())
    opts = _csv_options(delim, has_header, decimal, names, csv_types, formats)
    bad, examples = 0, []
    try:
        sample, dtypes = _read_sample(ws, staged, opts)
    except duckdb.Error as err:
        bad, examples = _scan_rejects(ws, staged, delim, has_header, names, decimal)
        if not bad:
            raise CsvUnreadable(f"{staged.original_name!r} cannot be read as a table: {_first_line(err)}. "
                                "Check that it is a CSV file and upload it again.") from None
        try:
            sample, dtypes = _read_sample(ws, staged, opts + ", ignore_errors=true")
        except duckdb.Error:
            _raise_bad_lines(ws, staged, delim, has_header, names, decimal)
            raise
    if has_header and sample.num_rows == 0:
        raise FileRefused(f"{staged.original_name!r} has a header ({', '.join(names[:5])}"
                          f"{'…' if len(names) > 5 else ''}) but no rows of data. Upload a file with data rows.")
    columns = tuple(ColumnPreview(o, n, dtypes[n], _arrow_kind(sample.column(n), dtypes[n], n))
                    for o, n in zip(originals, names))
    notes = []
    if any(o != n for o, n in zip(originals, names)):
        notes.append("Some column names were cleaned (blank, repeated or padded names); see the mapping below.")
    kept = [c.name for c in columns if c.dtype == "VARCHAR" and _has_leading_zeros(_first_values(sample.column(c.name)))]
    if kept:
        notes.append(f"Leading zeros are kept in {', '.join(map(repr, kept[:5]))}: those columns load as codes, not numbers.")
    if bad:
        notes.append(f"{bad:,} line(s) cannot be read, e.g. line {examples[0][0]:,}: {examples[0][1]}.")
    return UploadPreview(staged, delim, has_header, decimal, columns, _preview_rows(sample),
                         clean_dataset_name(staged.original_name), notes=tuple(notes), bad_lines=bad,
                         bad_examples=tuple(examples[:50]), csv_types=csv_types, csv_formats=formats)


def _read_sample(ws: Workspace, staged: StagedFile, opts: str) -> tuple[pa.Table, dict[str, str]]:
    """The first KIND_SAMPLE_ROWS rows as Arrow (no pandas objects for 20,000 rows of text), and DuckDB's types."""
    with ws.cursor() as cur:
        rel = cur.sql(f"SELECT * FROM read_csv(?, {opts}) LIMIT {KIND_SAMPLE_ROWS}", params=[str(staged.path)])
        dtypes = {name: str(t) for name, t in zip(rel.columns, rel.types)}
        return rel.to_arrow_table(), dtypes


def _csv_rows(lines: list[str], delim: str) -> list[list[str]]:
    import csv

    return list(csv.reader(lines, delimiter=delim, quotechar='"'))


def _csv_options(delim: str, header: bool, decimal: str, names: list[str], types: Sequence[str] = (),
                 formats: Sequence[tuple[str, str]] = ()) -> str:
    """Builds the fixed read_csv options; every value is a SQL literal built here, never user text.

    With `types` (one per name, from _sniff) the columns are given and DuckDB detects nothing again; without, it
    sniffs types itself from the first 20,480 rows (the same rows _sniff read, so the same types).
    """
    common = (f"delim={_literal(delim)}, quote='\"', escape='\"', header={str(header).lower()}, "
              f"decimal_separator={_literal(decimal)}, strict_mode=true")
    if types:
        cols = "{" + ", ".join(f"{_literal(n)}: {_literal(t)}" for n, t in zip(names, types, strict=True)) + "}"
        fmts = "".join(f", {option}={_literal(value)}" for option, value in formats if option in _FORMAT_OPTIONS)
        return f"{common}, auto_detect=false, columns={cols}{fmts}"
    names_sql = "[" + ", ".join(_literal(n) for n in names) + "]"
    return f"{common}, names={names_sql}, sample_size={SNIFF_ROWS}"


def _literal(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


SNIFF_ROWS = 20_480
_FORMAT_OPTIONS = ("dateformat", "timestampformat")


@dataclass(frozen=True)
class _Sniffed:
    has_header: bool
    types: tuple[str, ...]
    formats: tuple[tuple[str, str], ...]


def _sniff(ws: Workspace, staged: StagedFile, delim: str, decimal: str) -> _Sniffed | None:
    """DuckDB's sniffer, run once: whether the first line is a header, each column's type and the date formats.

    The preview's sample and the load both read with these (auto_detect off), so neither sniffs the file again.
    Returns None when the sniffer fails; `types` is empty when its result is not one the load can reuse as it is
    (rows to skip, a comment character, an unusual line ending): the sample and the load then detect as before.
    """
    sql = (f"SELECT HasHeader, Columns, SkipRows, Comment, NewLineDelimiter, DateFormat, TimestampFormat "
           f"FROM sniff_csv(?, delim={_literal(delim)}, quote='\"', escape='\"', decimal_separator={_literal(decimal)}, "
           f"strict_mode=true, sample_size={SNIFF_ROWS})")
    try:
        with ws.cursor() as cur:
            row = cur.sql(sql, params=[str(staged.path)]).fetchall()[0]
    except duckdb.Error:
        return None
    has_header, columns, skip, comment, newline, date_fmt, ts_fmt = row
    plain = not skip and comment in (None, "", "(empty)") and newline in _PLAIN_NEWLINES
    if not plain or not columns:
        return _Sniffed(bool(has_header), (), ())
    formats = tuple((opt, v) for opt, v in (("dateformat", date_fmt), ("timestampformat", ts_fmt))
                    if v not in (None, "", "(empty)"))
    return _Sniffed(bool(has_header), tuple(str(c["type"]) for c in columns), formats)


_PLAIN_NEWLINES = ("\\n", "\\r\\n")  # as sniff_csv spells them: a backslash and a letter


def _preview_rows(sample: pa.Table) -> pd.DataFrame:
    """The first rows to show, typed as DuckDB hands a result to pandas: dates as timestamps, whole numbers and
    booleans of a column with gaps (anywhere in the sample) as pandas' nullable types."""
    head = sample.slice(0, PREVIEW_ROWS)
    for i, f in enumerate(head.schema):
        if pa.types.is_date(f.type):
            head = head.set_column(i, f.name, head.column(i).cast(pa.timestamp("us")))
    rows = head.to_pandas()
    for f in sample.schema:
        if sample.column(f.name).null_count and (pa.types.is_integer(f.type) or pa.types.is_boolean(f.type)):
            rows[f.name] = rows[f.name].astype(_NULLABLE.get(str(f.type), "object"))
    return rows


_NULLABLE = {"bool": "boolean", "int8": "Int8", "int16": "Int16", "int32": "Int32", "int64": "Int64",
             "uint8": "UInt8", "uint16": "UInt16", "uint32": "UInt32", "uint64": "UInt64"}


def _arrow_kind(col: pa.ChunkedArray, dtype: str, name: str) -> str:
    """_kind_of over an Arrow column, counting only what infer_kind reads: nothing for booleans, dates and floats
    (their kind follows from the type), distinct values for integers and text, the mean length for text. Arrow's
    counts equal pandas' here (integers and text have no NaN); any other type goes through pandas unchanged."""
    if dtype.upper().startswith(_KIND_FROM_TYPE):
        return infer_kind(dtype, len(col) - col.null_count, 0, None, name)
    is_text = pa.types.is_string(col.type) or pa.types.is_large_string(col.type)
    if not is_text and not pa.types.is_integer(col.type):
        return _kind_of(col.to_pandas(), dtype, name)
    n = len(col) - col.null_count
    distinct = pc.count_distinct(col, mode="only_valid").as_py()
    avg = pc.mean(pc.utf8_length(col)).as_py() if is_text and dtype == "VARCHAR" and n else None
    return infer_kind(dtype, n, int(distinct), avg, name)


_KIND_FROM_TYPE = ("BOOLEAN", "DATE", "TIMESTAMP", "TIME", "DOUBLE", "FLOAT", "DECIMAL", "REAL")


def _first_values(col: pa.ChunkedArray, n: int = 500) -> pd.Series:
    """The first `n` values that are not missing, as _has_leading_zeros reads them."""
    return pd.Series(pc.drop_null(col).slice(0, n).to_pylist(), dtype=object)


def _kind_of(s: pd.Series, dtype: str, name: str) -> str:
    nonnull = s.dropna()
    avg = nonnull.astype(str).str.len().mean() if dtype == "VARCHAR" and len(nonnull) else None
    return infer_kind(dtype, len(nonnull), int(nonnull.nunique()), avg, name)


def _has_leading_zeros(s: pd.Series) -> bool:
    vals = s.dropna().astype(str).head(500)
    return bool(len(vals)) and vals.str.fullmatch(r"0\d+").mean() > 0.05


def _raise_bad_lines(ws, staged, delim, header, names, decimal) -> None:
    """Scans the whole file for unreadable lines and raises BadLines with their line numbers."""
    count, examples = _scan_rejects(ws, staged, delim, header, names, decimal)
    if count:
        shown = "; ".join(f"line {ln:,}: {why}" for ln, why, _ in examples[:3])
        raise BadLines(f"{count:,} line(s) of {staged.original_name!r} cannot be read ({shown}). Fix those lines in "
                       f"the file, or choose to skip them and load the rest.", count, examples)


def _scan_rejects(ws, staged, delim, header, names, decimal) -> tuple[int, list[tuple[int, str, str]]]:
    cols = "{" + ", ".join(f"{_literal(n)}: 'VARCHAR'" for n in names) + "}"
    sql = (f"SELECT count(*) FROM read_csv(?, delim={_literal(delim)}, quote='\"', escape='\"', header={str(header).lower()},"
           f" auto_detect=false, columns={cols}, strict_mode=true, ignore_errors=true, store_rejects=true)")
    with ws.cursor() as cur:
        try:
            cur.sql(sql, params=[str(staged.path)]).fetchall()
            rows = cur.sql("SELECT line, error_type, error_message, csv_line FROM reject_errors ORDER BY line").fetchall()
        except duckdb.Error as err:
            raise CsvUnreadable(f"{staged.original_name!r} cannot be read as a table: {_first_line(err)}. "
                                "Check that it is a CSV file and upload it again.") from None
    reasons = {"TOO MANY COLUMNS": "more fields than the header", "MISSING COLUMNS": "fewer fields than the header",
               "UNQUOTED VALUE": "a stray or unterminated quote", "INVALID UNICODE": "invalid characters"}
    examples = [(int(ln), reasons.get(et, "an unterminated quote" if "quote" in (msg or "").lower() else et.lower()),
                 (text or "")[:120]) for ln, et, msg, text in rows]
    examples = list({ln: (ln, why, text) for ln, why, text in reversed(examples)}.values())[::-1]  # one per line
    return len(examples), examples


def _first_line(err: Exception) -> str:
    text = str(err).split("\n")[0]
    return re.sub(r"^[A-Za-z ]+Error: ", "", text)[:200]


def _preview_parquet(ws: Workspace, staged: StagedFile) -> UploadPreview:
    try:
        with ws.cursor() as cur:
            sample = cur.sql(f"SELECT * FROM read_parquet(?) LIMIT {KIND_SAMPLE_ROWS}", params=[str(staged.path)]).df()
            described = cur.sql("DESCRIBE SELECT * FROM read_parquet(?)", params=[str(staged.path)]).fetchall()
    except duckdb.Error as err:
        raise CsvUnreadable(f"{staged.original_name!r} is not a readable Parquet file ({_first_line(err)}).") from None
    if len(described) > MAX_COLUMNS:
        raise FileRefused(f"{staged.original_name!r} has {len(described):,} columns; the limit is {MAX_COLUMNS:,}.")
    originals = [r[0] for r in described]
    names = clean_column_names(originals)
    sample.columns = names
    if sample.empty:
        raise FileRefused(f"{staged.original_name!r} has no rows. Upload a file with data rows.")
    columns = tuple(ColumnPreview(o, n, r[1], _kind_of(sample[n], r[1], n)) for o, n, r in zip(originals, names, described))
    return UploadPreview(staged, "", True, ".", columns, sample.head(PREVIEW_ROWS), clean_dataset_name(staged.original_name))


def _read_excel(staged: StagedFile, sheet: str | None) -> tuple[pd.DataFrame, str, tuple[str, ...]]:
    import io
    import zipfile

    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    data = io.BytesIO(staged.path.read_bytes())  # a file object: openpyxl judges paths by their extension
    try:
        book = openpyxl.load_workbook(data, read_only=True, data_only=True)
        sheets = tuple(book.sheetnames)
        book.close()
        chosen = sheet or sheets[0]
        if chosen not in sheets:
            raise unknown("sheet", chosen, sheets, where=staged.original_name)
        data.seek(0)
        df = pd.read_excel(data, sheet_name=chosen, engine="openpyxl")
    except (KeyError, ValueError, OSError, IndexError, zipfile.BadZipFile, InvalidFileException) as err:
        raise CsvUnreadable(f"{staged.original_name!r} is not a readable Excel workbook ({err}). "
                            "Open it in Excel, save as .xlsx, and upload it again.") from None
    df = df.dropna(how="all").dropna(axis=1, how="all")
    if df.empty:
        raise FileRefused(f"Sheet {chosen!r} of {staged.original_name!r} has no data. Choose another sheet, "
                          "or upload a workbook with a table in it.")
    if df.shape[1] > MAX_COLUMNS:
        raise FileRefused(f"Sheet {chosen!r} has {df.shape[1]:,} columns; the limit is {MAX_COLUMNS:,}.")
    return df, chosen, sheets


def _preview_excel(staged: StagedFile, sheet: str | None) -> UploadPreview:
    df, chosen, sheets = _read_excel(staged, sheet)
    originals = [str(c) if not str(c).startswith("Unnamed: ") else "" for c in df.columns]
    names = clean_column_names(originals)
    df.columns = names
    kinds = infer_kinds_frame(df)
    columns = tuple(ColumnPreview(o or n, n, str(df[n].dtype), kinds[n]) for o, n in zip(originals, names))
    return UploadPreview(staged, "", True, ".", columns, df.head(PREVIEW_ROWS), clean_dataset_name(staged.original_name),
                         sheet=chosen, sheets=sheets)


# -- load ------------------------------------------------------------------------------------------------------------------
def add_frame(ws: Workspace, name: str, df: pd.DataFrame, *, source_file: str = "", lineage: dict | None = None,
              kinds: dict[str, str] | None = None) -> DatasetInfo:
    """Stores a pandas frame as a new dataset (derived data, Excel sheets), inferring the kinds not given.

    Raises: AlreadyLoaded, NameInvalid.
    """
    inferred = infer_kinds_frame(df)
    inferred.update(kinds or {})
    return ws.store_frame(name, df, kinds=inferred, source_file=source_file, lineage=lineage)


def confirm_ingest(ws: Workspace, preview: UploadPreview, name: str | None = None,
                   kinds: dict[str, str] | None = None, skip_bad_lines: bool = False) -> IngestResult:
    """Loads a previewed file as a new dataset in one transaction; earlier datasets are never touched.

    Raises: AlreadyLoaded, BadLines, CsvUnreadable, NameInvalid, SpecInvalid.
    """
    ws.require_editor()
    name = clean_dataset_name(name or preview.suggested_name)
    wanted = {c.name: c.kind for c in preview.columns}
    for col, kind in (kinds or {}).items():
        if col not in wanted:
            raise unknown("column", col, wanted)
        if kind not in KINDS:
            raise SpecInvalid(f"{kind!r} is not a column type here; choose one of {', '.join(KINDS)}.")
        wanted[col] = kind
    if preview.bad_lines and not skip_bad_lines:
        shown = "; ".join(f"line {ln:,}: {why}" for ln, why, _ in preview.bad_examples[:3])
        raise BadLines(f"{preview.bad_lines:,} line(s) of {preview.staged.original_name!r} cannot be read ({shown}). "
                       "Fix those lines in the file, or choose to skip them and load the rest.",
                       preview.bad_lines, list(preview.bad_examples))
    existing = ws.dataset_by_hash(preview.staged.sha256)
    if existing is not None:
        raise AlreadyLoaded(f"This file is already in the workspace as {existing.name!r}; nothing was loaded twice.",
                            dataset_id=existing.id)
    if preview.staged.fmt == "xlsx":
        df, _, _ = _read_excel(preview.staged, preview.sheet)
        df.columns = [c.name for c in preview.columns]
        info = add_frame(ws, name, df, source_file=preview.staged.original_name, kinds=wanted)
        return IngestResult(_with_hash(ws, info, preview.staged.sha256))
    return _load_table(ws, preview, name, wanted, skip_bad_lines)


def _with_hash(ws: Workspace, info: DatasetInfo, sha: str) -> DatasetInfo:
    """Records the uploaded file's hash (not the frame's) so a second upload of the same file is recognised."""
    with ws.transaction() as cur:
        cur.execute("UPDATE wb_datasets SET content_hash = ? WHERE id = ?", [sha, info.id])
    return ws.dataset(info.id)


def _load_table(ws: Workspace, preview: UploadPreview, name: str, wanted: dict[str, str],
                skip_bad_lines: bool) -> IngestResult:
    staged = preview.staged
    forced = {c.name: _TYPE_FOR_KIND[wanted[c.name]] for c in preview.columns if _needs_cast(c, wanted[c.name])}
    notes: list[str] = []
    table = new_id("t")
    skipped = 0
    for _attempt in range(20):
        try:
            with ws.transaction() as cur:
                source = _source_sql(preview, forced, skip_bad_lines)
                cur.execute(f"CREATE TABLE {quote_ident(table)} AS SELECT * FROM {source}", [str(staged.path)])
                if skip_bad_lines and staged.fmt == "csv":
                    skipped = cur.execute("SELECT count(DISTINCT line) FROM reject_errors").fetchall()[0][0]
                described = cur.execute(f"DESCRIBE {quote_ident(table)}").fetchall()
                columns = [ColumnInfo(r[0], r[1], _final_kind(wanted.get(r[0], "text"), r[1])) for r in described]
                ds_id = ws.register_table(cur, name=name, table_name=table, source_file=staged.original_name,
                                          content_hash=staged.sha256, columns=columns, size_bytes=staged.size_bytes,
                                          lineage={"source": staged.original_name, "format": preview.dialect_label,
                                                   "skipped_lines": skipped, "renamed": preview.renamed})
            break
        except duckdb.ConversionException as err:
            col = _failed_column(err)
            if col is None or col not in wanted or forced.get(col) == "VARCHAR":
                raise CsvUnreadable(f"{staged.original_name!r} could not be loaded: {_first_line(err)}.") from None
            if col in forced and wanted[col] in ("number", "datetime", "boolean"):
                line = re.search(r"Line: (\d+)", str(err))
                raise CsvUnreadable(
                    f"Column {col!r} was set to {wanted[col]}, but some values are not"
                    f"{' (line ' + line.group(1) + ')' if line else ''}: {_bad_value(err)}. "
                    "Set the column to category or text, or fix those values.") from None
            forced[col] = "VARCHAR"
            wanted[col] = "category"
            line = re.search(r"Line: (\d+)", str(err))
            notes.append(f"Column {col!r} has a non-numeric value {_bad_value(err)}"
                         f"{' on line ' + format(int(line.group(1)), ',') if line else ''}, so it was loaded as text.")
        except duckdb.InvalidInputException:
            if staged.fmt == "csv":
                _raise_bad_lines(ws, staged, preview.delimiter, preview.has_header,
                                 [c.name for c in preview.columns], preview.decimal_separator)
            raise
    else:
        raise CsvUnreadable(f"{staged.original_name!r} has too many columns whose type changes late in the file. "
                            "Set those columns to text in the preview and load again.")
    staged.discard()
    if skipped:
        notes.append(f"{skipped:,} unreadable line(s) were skipped, as you chose.")
    return IngestResult(ws.dataset(ds_id), tuple(notes), skipped)


def _needs_cast(col: ColumnPreview, kind: str) -> bool:
    dtype = col.dtype.upper()
    if kind in ("category", "text", "id"):
        return not dtype.startswith("VARCHAR") and not dtype.startswith(_NUMERIC[:5])
    if kind == "number":
        return not dtype.startswith(_NUMERIC)
    if kind == "datetime":
        return not dtype.startswith(("DATE", "TIMESTAMP"))
    return kind == "boolean" and dtype != "BOOLEAN"


def _final_kind(kind: str, dtype: str) -> str:
    if kind == "number" and not dtype.upper().startswith(_NUMERIC):
        return "category"
    return kind


def _source_sql(preview: UploadPreview, forced: dict[str, str], skip_bad_lines: bool) -> str:
    if preview.staged.fmt == "parquet":
        renames = ", ".join(f"{quote_ident(c.original)} AS {quote_ident(c.name)}" for c in preview.columns)
        return f"(SELECT {renames} FROM read_parquet(?))"
    names = [c.name for c in preview.columns]
    if preview.csv_types:  # the preview's sniff, with the types the user or a late value forced
        types = [forced.get(n, t) for n, t in zip(names, preview.csv_types)]
        opts = _csv_options(preview.delimiter, preview.has_header, preview.decimal_separator, names, types,
                            preview.csv_formats)
    else:
        opts = _csv_options(preview.delimiter, preview.has_header, preview.decimal_separator, names)
        if forced:
            opts += ", types={" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in forced.items()) + "}"
    if skip_bad_lines:
        opts += ", ignore_errors=true, store_rejects=true"
    return f"read_csv(?, {opts})"


def _failed_column(err: Exception) -> str | None:
    m = re.search(r'converting column "((?:[^"]|"")*)"', str(err))
    return m.group(1).replace('""', '"') if m else None


def _bad_value(err: Exception) -> str:
    m = re.search(r'Could not convert string "(.*?)" to', str(err))
    return repr(m.group(1)[:40]) if m else "that is not a number"


def ingest_path(ws: Workspace, path: str | Path, name: str | None = None, *, source_label: str | None = None,
                kinds: dict[str, str] | None = None, skip_bad_lines: bool = False) -> IngestResult:
    """Previews and loads a file from disk in one go (CLI, sample data, benchmarks)."""
    staged = stage_path(Path(path), source_label or Path(path).name)
    try:
        preview = preview_upload(ws, staged)
        return confirm_ingest(ws, preview, name=name, kinds=kinds, skip_bad_lines=skip_bad_lines)
    finally:
        staged.discard()


def ingest_upload(ws: Workspace, data: bytes, filename: str, name: str | None = None, **kw) -> IngestResult:
    """Stages, previews and loads uploaded bytes in one go (tests and scripts; the page confirms in between)."""
    staged = stage_upload(ws, data, filename)
    try:
        return confirm_ingest(ws, preview_upload(ws, staged), name=name, **kw)
    finally:
        staged.discard()
