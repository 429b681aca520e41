"""Where each side of a drift check comes from: a split's part, a dataset (an uploaded batch), or a time window.

Public API (re-exported by core.monitor.reports):
- `SourceSpec(kind, dataset_id, split_id=None, part="train", time_column=None, start=None, end=None)`: choices
  only. Kinds: "split" (one part of a saved split), "dataset" (a whole dataset, e.g. an uploaded batch) and
  "window" (rows of a dataset whose `time_column` lies in [start, end)).
- `load_source(ws, spec, columns=None) -> DataFrame`, `describe_source(ws, spec) -> str`.
- `date_columns(info, ws=None)` (fewest distinct dates first),
  `time_windows(ws, dataset, time_column, freq="M") -> [TimeWindow]`.
- `default_reference(ws, project) -> (SourceSpec, why) | None`: the champion's training split (registry records
  of kind "version" with the alias "champion"), else the latest split's train part, else the project's dataset.
- `default_current(ws, project, reference) -> SourceSpec | None`: the sample "churn_next_month" or another
  dataset holding the reference's columns, else the latest month of a date column, else the split's test part.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

import pandas as pd

from core.errors import NotFound, SpecInvalid
from core.models.runs import get_run
from core.registry.versions import list_versions
from core.split.splitting import get_split, list_splits, split_frames
from core.store.workspace import DatasetInfo, Workspace, quote_ident

SOURCE_KINDS = {"split": "Part of a saved split", "dataset": "A dataset or uploaded batch",
                "window": "A time window of a dataset"}
FREQ_SQL = {"D": "day", "W": "week", "M": "month"}
PREFERRED_CURRENT = "churn_next_month"


@dataclass(frozen=True)
class SourceSpec:
    """Where one side of a drift check comes from; building one checks nothing (`load_source` does)."""

    kind: str = "dataset"
    dataset_id: str = ""
    split_id: str | None = None
    part: str = "train"
    time_column: str | None = None
    start: str | None = None   # ISO date or timestamp, inclusive
    end: str | None = None     # exclusive

    def to_dict(self) -> dict:
        """Returns the choices as a JSON-safe dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "SourceSpec":
        """Builds a spec from `to_dict` output, ignoring unknown keys."""
        return cls(**{k: v for k, v in (data or {}).items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class TimeWindow:
    """One day, week or month of a dataset that holds rows."""

    start: pd.Timestamp
    end: pd.Timestamp
    rows: int
    label: str


# -- loading ---------------------------------------------------------------------------------------------------------
def date_columns(info: DatasetInfo, ws: Workspace | None = None) -> list[str]:
    """Lists a dataset's date columns; given the workspace, those with the fewest distinct dates first.

    A snapshot column (an observation month) has few distinct dates and suits windows better than an event date
    (a sign-up day), so it comes first.
    """
    names = [c.name for c in info.columns if c.kind == "datetime"]
    if ws is None or len(names) < 2:
        return names
    counts = ws.read_rows("SELECT " + ", ".join(f"count(DISTINCT {quote_ident(n)})" for n in names)
                          + f" FROM {quote_ident(info.table)}")[0]
    return [n for _, n in sorted(zip(counts, names), key=lambda pair: pair[0])]


def time_windows(ws: Workspace, dataset: str, time_column: str, freq: str = "M") -> list[TimeWindow]:
    """Lists the day / week / month windows of a dataset that hold rows, oldest first.

    Raises:
        SpecInvalid: an unknown window length or a column without dates.
        NotFound: an unknown dataset or column.
    """
    if freq not in FREQ_SQL:
        raise SpecInvalid(f"Unknown window {freq!r}; use 'D' (day), 'W' (week) or 'M' (month).")
    info = ws.dataset(dataset)
    info.column(time_column)
    stamp = f"TRY_CAST({quote_ident(time_column)} AS TIMESTAMP)"
    # The unit is one of three fixed words, never user text.
    rows = ws.read_rows(f"SELECT date_trunc('{FREQ_SQL[freq]}', {stamp}) AS s, count(*) FROM "
                        f"{quote_ident(info.table)} WHERE {stamp} IS NOT NULL GROUP BY 1 ORDER BY 1")
    if not rows:
        raise SpecInvalid(f"Column {time_column!r} of {info.name!r} holds no dates, so it cannot be split into time "
                          "windows. Choose a date column.")
    step = {"D": pd.DateOffset(days=1), "W": pd.DateOffset(weeks=1), "M": pd.DateOffset(months=1)}[freq]
    out = []
    for start, n in rows:
        start = pd.Timestamp(start)
        label = {"D": f"{start:%Y-%m-%d}", "W": f"week of {start:%Y-%m-%d}", "M": f"{start:%Y-%m}"}[freq]
        out.append(TimeWindow(start, start + step, int(n), label))
    return out


def describe_source(ws: Workspace, spec: SourceSpec) -> str:
    """Returns a short readable name for one side of a check. Raises: NotFound."""
    info = ws.dataset(spec.dataset_id)
    if spec.kind == "split":
        return f"{info.name} · {spec.part} part of split {get_split(ws, spec.split_id).name!r}"
    if spec.kind == "window":
        return f"{info.name} · {spec.time_column} from {_day(spec.start)} to before {_day(spec.end)}"
    return info.name


def load_source(ws: Workspace, spec: SourceSpec, columns: list[str] | None = None) -> pd.DataFrame:
    """Returns the rows of one side of a check, in file order.

    Raises:
        SpecInvalid: an unknown kind, a missing split part or window bounds.
        NotFound: an unknown dataset, split or column.
    """
    if spec.kind not in SOURCE_KINDS:
        raise SpecInvalid(f"Unknown data source {spec.kind!r}; use one of: {', '.join(SOURCE_KINDS)}.")
    info = ws.dataset(spec.dataset_id)
    if spec.kind == "dataset":
        return ws.frame(info.id, columns)
    if spec.kind == "split":
        split = get_split(ws, spec.split_id or "")
        if split.dataset_id != info.id:
            raise SpecInvalid(f"Split {split.name!r} belongs to another dataset than {info.name!r}. Pick it again.")
        return split_frames(ws, split, [spec.part], columns)[spec.part]
    if not spec.time_column or not spec.start or not spec.end:
        raise SpecInvalid("A time window needs a date column, a start and an end. Pick a window.")
    info.column(spec.time_column)
    names = list(columns) if columns is not None else info.column_names
    for n in names:
        info.column(n)
    stamp = f"TRY_CAST({quote_ident(spec.time_column)} AS TIMESTAMP)"
    sql = (f"SELECT {', '.join(quote_ident(n) for n in names)} FROM {quote_ident(info.table)} "
           f"WHERE {stamp} >= ? AND {stamp} < ? ORDER BY rowid")
    return ws.read_arrow(sql, [_stamp(spec.start), _stamp(spec.end)]).to_pandas()


def default_reference(ws: Workspace, project) -> tuple[SourceSpec, str] | None:
    """Returns the reference a check starts from and why: the champion's training split, else the latest split's."""
    for version in list_versions(ws, project.id):
        if "champion" not in version.aliases:
            continue
        try:
            split = get_split(ws, version.split_id or get_run(ws, version.run_id).split_id)
        except NotFound:
            split = None
        if split is not None:
            return (SourceSpec("split", split.dataset_id, split.id, "train"),
                    f"the training rows of the champion (version {version.number})")
    splits = [s for s in list_splits(ws, project.id) if s.sizes.get("train")]
    if splits:
        return SourceSpec("split", splits[0].dataset_id, splits[0].id, "train"), "the latest split's training rows"
    try:
        ws.dataset(project.dataset_id)
    except NotFound:
        return None
    return SourceSpec("dataset", project.dataset_id), "the project's whole dataset (it has no split yet)"


def default_current(ws: Workspace, project, reference: SourceSpec | None) -> SourceSpec | None:
    """Returns the current set a check starts from: a newer dataset with the reference's columns, else a window."""
    if reference is None:
        return None
    try:
        ref_info = ws.dataset(reference.dataset_id)
    except NotFound:
        return None
    wanted = set(ref_info.column_names)
    same = [d for d in ws.datasets() if d.id != ref_info.id and wanted <= set(d.column_names)]
    if same:
        preferred = [d for d in same if d.name == PREFERRED_CURRENT]
        return SourceSpec("dataset", (preferred or same)[0].id)
    for column in date_columns(ref_info, ws):
        windows = time_windows(ws, ref_info.id, column, "M")
        if len(windows) >= 2:
            last = windows[-1]
            return SourceSpec("window", ref_info.id, time_column=column, start=_iso(last.start), end=_iso(last.end))
    if reference.kind == "split":
        return SourceSpec("split", reference.dataset_id, reference.split_id, "test")
    return None


# -- helpers ---------------------------------------------------------------------------------------------------------
def _stamp(text: str) -> datetime:
    try:
        return pd.Timestamp(text).to_pydatetime()
    except (ValueError, TypeError):
        raise SpecInvalid(f"{text!r} is not a date. Write it as 2025-12-01.") from None


def _iso(ts: pd.Timestamp) -> str:
    return ts.isoformat()


def _day(text: str | None) -> str:
    if not text:
        return "?"
    ts = pd.Timestamp(text)
    return f"{ts:%Y-%m-%d}" if ts == ts.normalize() else f"{ts:%Y-%m-%d %H:%M}"
