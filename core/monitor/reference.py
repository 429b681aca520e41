"""Reference summaries for drift checks: per column the value counts a comparison needs, plus input validation."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.data.kinds import infer_kinds_frame
from core.errors import SchemaMismatch, SpecInvalid, did_you_mean
from core.monitor.stats import Counts

MIN_ROWS = 10            # fewer rows than this on either side: refuse, nothing can be concluded
SMALL_SAMPLE = 100       # fewer values than this on either side: compute, but say it is too small to conclude
ID_SHARE = 0.5           # a text column with more distinct values than this share of rows looks like an identifier
MIN_SHARE = 0.01         # in a column with many categories, only those covering this share of rows are named
OTHER = "(other values)"

# Workspace kinds (core/data/kinds.py) and the usual spellings, mapped to the two kinds drift compares.
_KINDS = {"numeric": "numeric", "number": "numeric", "numerical": "numeric",
          "categorical": "categorical", "category": "categorical", "boolean": "categorical", "binary": "categorical"}
_SKIPPED = {"id": "marked as an identifier: identifiers change by design, so their drift means nothing",
            "text": "free text is not compared (only numbers and categories are)",
            "datetime": "dates are not compared as a distribution; use the over-time view to split by date"}
_IDISH = re.compile(r"(^|_)(id|uuid|key)$|id$", re.IGNORECASE)


@dataclass
class ColumnSummary:
    """What the current-side comparison needs to know about one reference column."""

    name: str
    kind: str                        # "numeric", "categorical", or the workspace kind of a skipped column
    counts: Counts | None = None     # None when the column is excluded
    n_missing: int = 0
    std: float = 0.0                 # population std of the reference values (Evidently's Wasserstein norm)
    kept: tuple[str, ...] | None = None  # many categories: those compared by name (the rest are bucketed)
    excluded: str = ""               # reason the column is left out, or ""
    note: str = ""
    family: str = ""                 # "number", "bool", "datetime" or "text": the other side must match
    time_like: str = ""              # why the column reads as time (year, counter), left out of the sound verdict

    @property
    def n(self) -> int:
        return 0 if self.counts is None else self.counts.n


@dataclass
class ReferenceSummary:
    """Value counts of every reference column, built once and reused for every current set compared with it."""

    n_rows: int
    columns: dict[str, ColumnSummary] = field(default_factory=dict)
    max_categories: int = 50

    def to_payload(self) -> tuple[dict, pd.DataFrame]:
        """Returns a JSON-safe description and a long frame of counts, for storing in the workspace."""
        meta = {"schema": 1, "n_rows": self.n_rows, "max_categories": self.max_categories, "columns": [
            {"name": c.name, "kind": c.kind, "n_missing": c.n_missing, "std": c.std, "excluded": c.excluded,
             "note": c.note, "family": c.family, "kept": None if c.kept is None else list(c.kept),
             "time_like": c.time_like}
            for c in self.columns.values()]}
        parts = []
        for c in self.columns.values():
            if c.counts is None:
                continue
            numeric = c.kind == "numeric"
            parts.append(pd.DataFrame({
                "column": c.name, "number": c.counts.keys if numeric else np.nan,
                "label": None if numeric else c.counts.keys, "count": c.counts.counts}))
        empty = pd.DataFrame({"column": [], "number": [], "label": [], "count": []})
        return meta, (pd.concat(parts, ignore_index=True) if parts else empty)

    @classmethod
    def from_payload(cls, meta: dict, frame: pd.DataFrame) -> "ReferenceSummary":
        """Rebuilds a summary saved with `to_payload`."""
        groups = {name: g for name, g in frame.groupby("column", sort=False)}
        out = cls(n_rows=int(meta["n_rows"]), max_categories=int(meta["max_categories"]))
        for c in meta["columns"]:
            counts = None
            if c["name"] in groups:
                g = groups[c["name"]]
                keys = (g["number"].to_numpy(np.float64) if c["kind"] == "numeric"
                        else g["label"].astype(str).to_numpy(dtype=object))
                counts = Counts(keys, g["count"].to_numpy(np.int64))
            kept = None if c.get("kept") is None else tuple(c["kept"])
            out.columns[c["name"]] = ColumnSummary(c["name"], c["kind"], counts, int(c["n_missing"]), float(c["std"]),
                                                   kept, c["excluded"], c["note"], c["family"],
                                                   c.get("time_like", ""))
        return out


def resolve_kinds(frame: pd.DataFrame, columns: dict[str, str] | None, max_columns: int) -> dict[str, str]:
    """Returns {column: kind} for the columns to compare, inferring kinds when none are given.

    Raises:
        SpecInvalid: an unknown kind, or more columns than the cap.
    """
    if columns is None:
        columns = infer_kinds_frame(frame)
    if not columns:
        raise SpecInvalid("No columns were chosen for the drift check. Pick at least one column to compare.")
    if len(columns) > max_columns:
        raise SpecInvalid(
            f"The drift check got {len(columns)} columns; it compares at most {max_columns}. "
            "Pick the columns that matter most (the model's inputs and its predictions).")
    kinds = {}
    for name, kind in columns.items():
        key = str(kind).lower()
        if key not in _KINDS and key not in _SKIPPED:
            raise SpecInvalid(f"Column {name!r} has kind {kind!r}; use 'numeric' or 'categorical'."
                              f"{did_you_mean(key, list(_KINDS) + list(_SKIPPED))}")
        kinds[name] = _KINDS.get(key, key)
    return kinds


def check_present(frame: pd.DataFrame, names: list[str], side: str) -> None:
    """Raises SchemaMismatch naming every chosen column the frame lacks."""
    missing = [n for n in names if n not in frame.columns]
    if missing:
        listed = ", ".join(repr(m) for m in missing[:10]) + (" …" if len(missing) > 10 else "")
        hint = did_you_mean(missing[0], [str(c) for c in frame.columns]) if len(missing) == 1 else ""
        raise SchemaMismatch(
            f"The {side} set has no column {listed} ({len(missing)} of {len(names)} compared columns missing)."
            f"{hint} Both sides need the same columns: upload a {side} set that has them, "
            "or leave them out of the check.")


def check_rows(n_rows: int, side: str) -> None:
    """Raises SpecInvalid when a side has too few rows to compare at all."""
    if n_rows < MIN_ROWS:
        raise SpecInvalid(
            f"The {side} set has {n_rows} rows; a drift check needs at least {MIN_ROWS} on each side "
            f"(and {SMALL_SAMPLE}+ to conclude anything). Choose a longer time window or upload more rows.")


def column_counts(series: pd.Series, kind: str, side: str) -> tuple[Counts, int]:
    """Returns the non-missing value counts of a column and how many cells were missing (NaN, +/-inf, empty).

    Raises:
        SchemaMismatch: a numeric column holding text or dates.
        SpecInvalid: a column with no values at all.
    """
    name = series.name
    if kind == "numeric":
        if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
            sample = series.dropna()
            example = f" (e.g. {str(sample.iloc[0])[:40]!r})" if len(sample) else ""
            raise SchemaMismatch(
                f"Column {name!r} should hold numbers but the {side} set has {series.dtype} values{example}. "
                "Fix that column in the upload, or compare it as categorical.")
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        values = np.sort(values[np.isfinite(values)])
        counts = Counts.of_sorted(values)
    else:
        vc = series.value_counts(dropna=True, sort=False)
        vc = vc[vc > 0]                              # a pandas Categorical also lists its unused categories
        labels = _labels(vc.index)
        if len(labels) != len(set(labels)):         # e.g. 1 and 1.0: same category once written as text
            vc = pd.Series(vc.to_numpy(), index=labels).groupby(level=0).sum()
            labels = list(vc.index)
        order = np.argsort(np.asarray(labels, dtype=object))
        counts = Counts(np.asarray(labels, dtype=object)[order], vc.to_numpy(np.int64)[order])
    if counts.n == 0:
        raise SpecInvalid(
            f"Column {name!r} is empty in the {side} set, so its drift cannot be measured. "
            "Leave it out of the check, or fix the upload.")
    return counts, int(len(series) - counts.n)


def _family(series: pd.Series) -> str:
    """Names the broad type of a column, so both sides can be checked to hold the same sort of values."""
    if pd.api.types.is_bool_dtype(series):
        return "bool"
    if pd.api.types.is_numeric_dtype(series):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime"
    return "text"


_FAMILY_WORDS = {"number": "numbers", "bool": "true/false values", "datetime": "dates", "text": "text"}


def check_same_family(name: str, reference_family: str, series: pd.Series) -> None:
    """Raises SchemaMismatch when the current column holds another sort of values than the reference."""
    current = _family(series)
    if reference_family and current != reference_family and series.notna().any():
        example = str(series.dropna().iloc[0])[:40]
        raise SchemaMismatch(
            f"Column {name!r} holds {_FAMILY_WORDS[reference_family]} in the reference but "
            f"{_FAMILY_WORDS[current]} in the current set (e.g. {example!r}), so their values cannot be matched. "
            "Fix the column's type in one of the uploads so both sides agree.")


def _labels(index: pd.Index) -> list[str]:
    """Writes category values as text, integral floats without '.0' so 1 and 1.0 match across sides."""
    if pd.api.types.is_float_dtype(index) and np.all(np.mod(index.to_numpy(), 1) == 0):
        return [str(int(v)) for v in index]
    return [str(v) for v in index]


def summarize_column(series: pd.Series, kind: str, max_categories: int) -> ColumnSummary:
    """Summarizes one reference column, excluding ID-like columns and bucketing high-cardinality ones."""
    name = str(series.name)
    if kind not in ("numeric", "categorical"):
        return ColumnSummary(name, kind, excluded=_SKIPPED[kind])
    summary = _summarize_compared(series, kind, max_categories)
    summary.family = _family(series)
    return summary


def _summarize_compared(series: pd.Series, kind: str, max_categories: int) -> ColumnSummary:
    name = str(series.name)
    counts, n_missing = column_counts(series, kind, "reference")
    distinct = len(counts.keys)
    if kind == "numeric":
        if (pd.api.types.is_integer_dtype(series) and counts.n >= SMALL_SAMPLE and distinct == counts.n
                and (series.is_monotonic_increasing or _IDISH.search(name))):
            return ColumnSummary(name, kind, n_missing=n_missing, excluded=(
                f"looks like a row number or identifier ({distinct:,} distinct whole numbers in {counts.n:,} rows); "
                "identifiers change by design, so it is left out"))
        values = np.repeat(counts.keys, counts.counts)
        return ColumnSummary(name, kind, counts, n_missing, float(np.std(values)),
                             time_like=time_like_reason(series, counts))
    if distinct <= max_categories:
        return ColumnSummary(name, kind, counts, n_missing)
    if distinct >= ID_SHARE * counts.n:
        return ColumnSummary(name, kind, n_missing=n_missing, excluded=(
            f"looks like an identifier ({distinct:,} distinct values in {counts.n:,} rows): too sparse to compare "
            "as categories, so it is left out"))
    # Only categories common enough to be stable are kept by name: the ones that are merely the most common of many
    # rare ones are so partly by chance, and would seem to shrink in any new sample.
    common = np.flatnonzero(counts.counts >= MIN_SHARE * counts.n)
    common = common[np.lexsort((counts.keys[common].astype(str), -counts.counts[common]))][: max_categories - 1]
    if len(common) < 2:
        return ColumnSummary(name, kind, n_missing=n_missing, excluded=(
            f"{distinct:,} categories and {'only one covers' if len(common) else 'none covers'} {MIN_SHARE:.0%} of "
            "rows: too sparse to compare as categories (like an identifier), so it is left out"))
    kept = tuple(sorted(str(k) for k in counts.keys[common]))
    note = (f"{distinct:,} categories: the {len(kept)} covering {MIN_SHARE:.0%}+ of reference rows are compared by "
            f"name, the other {distinct - len(kept):,} together as {OTHER!r}")
    return ColumnSummary(name, kind, bucket(counts, kept), n_missing, kept=kept, note=note)


YEARS = (1900, 2100)     # whole numbers all in this range, in a column named like a year, read as years
_YEARISH = re.compile(r"(^|_)(year|yr|yyyy)s?($|_)|year", re.IGNORECASE)


def time_like_reason(series: pd.Series, counts: Counts) -> str:
    """Says why a numeric reference column reads as time (a year, a running counter), or returns "".

    Such a column moves by design as time passes, so a later batch always "drifts" on it: the sound verdict leaves
    it out and shows this reason. Years: whole numbers within YEARS, in a column named like a year (or with 5+
    different years). Counters: whole numbers that never decrease over the reference rows, with more distinct values
    than half the rows.
    """
    keys = counts.keys
    if len(keys) < 2 or not np.all(np.mod(keys, 1) == 0):
        return ""
    lo, hi = float(keys[0]), float(keys[-1])
    if YEARS[0] <= lo and hi <= YEARS[1] and (_YEARISH.search(str(series.name)) or len(keys) >= 5):
        return (f"reads as a year ({int(lo)}–{int(hi)}): later data moves on it by design, so it is left out of "
                "the verdict")
    if counts.n >= 20 and len(keys) > ID_SHARE * counts.n and series.dropna().is_monotonic_increasing:
        return (f"reads as a running counter (never decreases over the reference rows, {len(keys):,} values): later "
                "data moves on it by design, so it is left out of the verdict")
    return ""


def bucket(counts: Counts, kept: tuple[str, ...]) -> Counts:
    """Folds every category outside `kept` into one OTHER category."""
    is_kept = np.isin(counts.keys.astype(str), np.asarray(kept, dtype=str))
    keys = list(counts.keys[is_kept])
    values = list(counts.counts[is_kept])
    if (~is_kept).any():
        keys.append(OTHER)
        values.append(int(counts.counts[~is_kept].sum()))
    order = np.argsort(np.asarray(keys, dtype=object))
    return Counts(np.asarray(keys, dtype=object)[order], np.asarray(values, dtype=np.int64)[order])
