"""Splits a project's dataset into train / validation / test sets that are reproducible and free of leaks.

Public API (training, evaluation and drift build on it):
- `SplitSpec(strategy, ratios=(0.7, 0.15, 0.15), seed=42, time_column=None, cutoffs=(), gap=0.0,
  backtest_folds=0, backtest_mode="expanding", group_column=None)`: choices only, `to_dict()` / `from_dict()`.
  Strategies (declared in `STRATEGIES`): "random", "stratified" (on the target; regression targets in ten
  quantile bins), "time" (by a date column; `cutoffs` = ISO dates where validation and test start, or derived
  from the ratios; rows less than `gap` days — or units, for a number column — before a cut-off are left out;
  `backtest_folds` >= 2 adds rolling or expanding folds over the train + validation period), "group" (all rows
  of one value of `group_column` land in one set). A ratio of 0 for validation gives a train/test split.
- `split_project(ws, project, spec, name=None) -> Split`: validates, assigns every row, saves record kind
  "split" (project_id, spec, sizes, cut-offs, content hash, leak-check results) and the assignments as frame
  `split:<id>` (`_row` = the dataset's stable row id, `part` = "train" | "validation" | "test").
- `get_split(ws, id)`, `list_splits(ws, project_id)` (newest first), `split_assignments(ws, split)`,
  `split_frames(ws, split, parts=PARTS, columns=None, with_row_id=False) -> {part: DataFrame}` (rows in file
  order), `backtest_frames(ws, split, fold, columns=None) -> {"train": df, "validation": df}`.
- `allocate_counts(n, ratios)`: exact set sizes (largest remainder: 1,000 rows at 70/15/15 give 700/150/150).
- Per-set summaries, leak checks and distribution differences live in `core.split.leakcheck`.

The same seed gives the same rows: order comes from DuckDB's `hash(row id, seed)`, and assignments are stored.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from core.catalog import Param
from core.errors import NotFound, SpecInvalid, TargetNotUsable, unknown
from core.project.criteria import format_class
from core.split.leakcheck import leak_checks
from core.split.spec import (
    MAX_FOLDS,
    PARTS,
    REGRESSION_BINS,
    SCHEMA,
    Split,
    SplitAssignment,
    SplitSpec,
    allocate_counts,
    allocate_strata,
    assignment_frame,
)
from core.split.timesplit import BACKTEST_MODES, assign_time, check_time
from core.store.workspace import DatasetInfo, Workspace, new_id, quote_ident

KIND = "split"
# -- validation -------------------------------------------------------------------------------------------------------
def _validate(spec: SplitSpec, info: DatasetInfo, project) -> None:
    if spec.strategy not in STRATEGY_KEYS:
        raise SpecInvalid(f"{spec.strategy!r} is not a split strategy; choose one of {', '.join(STRATEGY_KEYS)}.")
    ratios = list(spec.ratios)
    if len(ratios) != 3 or not all(isinstance(r, (int, float)) and math.isfinite(r) for r in ratios):
        raise SpecInvalid("Give three shares: train, validation and test, e.g. 0.7, 0.15, 0.15.")
    if any(r < 0 for r in ratios):
        raise SpecInvalid(f"Shares cannot be negative ({', '.join(f'{r:g}' for r in ratios)}).")
    total = sum(ratios)
    if abs(total - 1.0) > 1e-6:
        raise SpecInvalid(f"The shares add up to {total:.4g}, not 1 ({' + '.join(f'{r:g}' for r in ratios)}). "
                          "Adjust them so train + validation + test = 1 (e.g. 0.7, 0.15, 0.15).")
    if ratios[0] <= 0 or ratios[2] <= 0:
        raise SpecInvalid("The train and test sets both need a share above 0; validation may be 0.")
    if not isinstance(spec.seed, (int, np.integer)) or isinstance(spec.seed, bool) or spec.seed < 0:
        raise SpecInvalid(f"The seed must be a whole number of 0 or more, not {spec.seed!r}.")
    strategy_entry(spec.strategy).validate(spec, info, project)


def _no_checks(spec: SplitSpec, info: DatasetInfo, project) -> None:
    """A random split needs nothing beyond the shared checks."""


def _check_stratified(spec: SplitSpec, info: DatasetInfo, project) -> None:
    if not project.target:
        raise SpecInvalid("A stratified split keeps the target's balance, but this project has no target "
                          "(clustering). Use a random split.")


def _check_group(spec: SplitSpec, info: DatasetInfo, project) -> None:
    if not spec.group_column:
        raise SpecInvalid("A group-based split needs the column that identifies a customer / ID. Choose one.")
    info.column(spec.group_column)
    if spec.group_column == project.target:
        raise SpecInvalid("The group column cannot be the target. Choose the column that identifies a customer.")


def _check_classes(ws: Workspace, info: DatasetInfo, project, spec: SplitSpec) -> None:
    if project.task not in ("binary", "multiclass"):
        return
    q = quote_ident(project.target)
    counts = ws.read_rows(f"SELECT {q}, count(*) FROM {quote_ident(info.table)} WHERE {q} IS NOT NULL "
                          f"GROUP BY 1 ORDER BY 2, 1")

    if len(counts) < 2:
        only = format_class(counts[0][0]) if counts else "nothing"
        raise TargetNotUsable(f"Column {project.target!r} has only one value ({only!r}), so there is nothing to "
                              "predict. Choose another target, or upload rows that include other outcomes.")
    n_sets = sum(1 for r in spec.ratios if r > 0)
    if strategy_entry(spec.strategy).keeps_class_balance and counts[0][1] < n_sets:
        value, n = counts[0]
        raise TargetNotUsable(f"Class {format_class(value)!r} of {project.target!r} has only {n} row(s), fewer than "
                              f"the {n_sets} sets, so a stratified split cannot put it in every set. Add rows of "
                              "that class, merge it with a similar class, or use a random split.")


# -- assignment --------------------------------------------------------------------------------------------------------
def _assign_random(ws: Workspace, info: DatasetInfo, spec: SplitSpec, project=None) -> SplitAssignment:
    pos = ws.read(f"SELECT rowid AS _row, row_number() OVER (ORDER BY hash(rowid, ?), rowid) - 1 AS pos "
                  f"FROM {quote_ident(info.table)}", [int(spec.seed)])
    ends = np.cumsum(allocate_counts(len(pos), spec.ratios))
    return SplitAssignment(assignment_frame(pos["_row"], np.searchsorted(ends, pos["pos"].to_numpy(), side="right")))


def _assign_stratified(ws: Workspace, info: DatasetInfo, spec: SplitSpec, project) -> SplitAssignment:
    q = quote_ident(project.target)
    stratum = q if project.task != "regression" else \
        f"CASE WHEN {q} IS NULL THEN NULL ELSE ntile({REGRESSION_BINS}) OVER (PARTITION BY {q} IS NULL ORDER BY {q}, rowid) END"
    pos = ws.read(
        f"WITH s AS (SELECT rowid AS _row, {stratum} AS k FROM {quote_ident(info.table)}) "
        "SELECT _row, dense_rank() OVER (ORDER BY k NULLS LAST) - 1 AS si, "
        "row_number() OVER (PARTITION BY k ORDER BY hash(_row, ?), _row) - 1 AS pos FROM s", [int(spec.seed)])
    strata = pos.groupby("si").size().sort_index()
    ends = np.cumsum(np.array(allocate_strata(strata.tolist(), spec.ratios)), axis=1)  # [stratum, set] cut points
    si, p = pos["si"].to_numpy(), pos["pos"].to_numpy()
    part = (p[:, None] >= ends[si]).sum(axis=1)
    return SplitAssignment(assignment_frame(pos["_row"], part))


def _assign_group(ws: Workspace, info: DatasetInfo, spec: SplitSpec, project=None) -> SplitAssignment:
    g = quote_ident(spec.group_column)
    table = quote_ident(info.table)
    n_groups, has_null, n_rows = ws.read_rows(
        f"SELECT count(DISTINCT {g}), bool_or({g} IS NULL), count(*) FROM {table}")[0]
    n_groups += 1 if has_null else 0
    n_sets = sum(1 for r in spec.ratios if r > 0)
    if n_groups < n_sets:
        raise SpecInvalid(f"Column {spec.group_column!r} has only {n_groups} different value(s), fewer than the "
                          f"{n_sets} sets, so whole groups cannot fill every set. Choose the column that identifies "
                          "a customer / ID, or use a random split.")
    # Groups in seeded hash order; a group goes to the set holding its middle row, so a large group overshoots a set
    # by at most half its size.
    rows = ws.read(
        f"WITH g AS (SELECT {g} AS g, count(*) AS n FROM {table} GROUP BY 1), "
        "o AS (SELECT g, sum(n) OVER (ORDER BY hash(g, ?), g NULLS LAST ROWS UNBOUNDED PRECEDING) - n / 2.0 AS mid "
        "FROM g) "
        f"SELECT t.rowid AS _row, o.mid FROM {table} t JOIN o ON t.{g} IS NOT DISTINCT FROM o.g",
        [int(spec.seed)])
    ends = np.cumsum(allocate_counts(int(n_rows), spec.ratios))
    part = np.searchsorted(ends, rows["mid"].to_numpy(), side="right")
    notes = [f"Rows with no {spec.group_column!r} were kept together as one group."] if has_null else []
    return SplitAssignment(assignment_frame(rows["_row"], part), notes)


# -- the strategies ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StrategyEntry:
    """A split strategy a user can pick: words for people, its own settings (SplitSpec fields), its checks beyond the
    shared ones, and the function that assigns every row to a set."""

    key: str
    label: str
    help: str
    assign: Callable[[Workspace, DatasetInfo, SplitSpec, object], SplitAssignment]
    validate: Callable[[SplitSpec, DatasetInfo, object], None] = _no_checks  # raises SpecInvalid / NotFound
    params: tuple[Param, ...] = ()
    keeps_class_balance: bool = False  # every class must then have a row for every set
    empty_set: str = ("The {part} set would be empty ({rows:,} rows, {share:.0%} for {part}). Give it a larger "
                      "share, or upload more rows.")
    name: str = "{label} {shares} · seed {spec.seed}"  # the default name of a split

    @property
    def short_label(self) -> str:
        return self.label.split(" ")[0]


_SPEC = SplitSpec()
STRATEGIES = (
    StrategyEntry("random", "Random", "Shuffles rows with a fixed seed. Fine when rows are independent and not "
                                      "ordered in time.", _assign_random),
    StrategyEntry("stratified", "Stratified on the target", "Like random, but every set keeps the target's class "
                  "balance (within one row), so a rare outcome is never missing from a set.", _assign_stratified,
                  _check_stratified, keeps_class_balance=True),
    StrategyEntry("time", "Time-based", "Trains on the past and tests on the future, as the model will be used. "
                  "Pick a date column and, optionally, the cut-off dates.", assign_time, check_time,
                  (Param("time_column", _SPEC.time_column,
                         help="Rows before the first cut-off train the model; later rows validate and test it."),
                   Param("cutoffs", _SPEC.cutoffs, help="Where validation and test start (ISO dates); empty: from "
                                                        "the shares."),
                   Param("gap", _SPEC.gap, 0.0, 3650.0,
                         help="Rows this close before a cut-off are left out, so the model is not judged on days "
                              "right after the ones it learned from."),
                   Param("backtest_folds", _SPEC.backtest_folds, 0, MAX_FOLDS,
                         help="Rolling or expanding folds over the train and validation period (0 = none, else 2 or "
                              "more)."),
                   Param("backtest_mode", _SPEC.backtest_mode, choices=BACKTEST_MODES,
                         help="'expanding' trains each fold on all history, 'rolling' on the recent block only.")),
                  empty_set="The {part} set would be empty ({rows:,} rows, {share:.0%} for {part}). Move the cut-off "
                            "dates so every period holds rows.",
                  name="{label} {shares} on {spec.time_column}"),
    StrategyEntry("group", "Group-based", "Keeps all rows of one customer / ID in one set, so the model is never "
                  "tested on someone it has already seen.", _assign_group, _check_group,
                  (Param("group_column", _SPEC.group_column, help="The column that identifies a customer / ID."),),
                  empty_set="The {part} set would be empty: the groups of {spec.group_column!r} are too few or too "
                            "large to fill {share:.0%} of the rows. Choose a column with more, smaller groups (a "
                            "customer ID), or change the shares."),
)
STRATEGY_KEYS = tuple(e.key for e in STRATEGIES)


def default_strategy(task: str) -> str:
    """Returns the strategy a new split starts from: stratified when there are classes to keep balanced."""
    return "stratified" if task in ("binary", "multiclass") else "random"


def strategy_entry(key: str) -> StrategyEntry:
    """Returns a split strategy by key. Raises: NotFound."""
    for e in STRATEGIES:
        if e.key == key:
            return e
    raise unknown("split strategy", key, STRATEGY_KEYS)


# -- saving and reading ------------------------------------------------------------------------------------------------
def split_project(ws: Workspace, project, spec: SplitSpec, name: str | None = None, *, dataset_id: str | None = None,
                  batches: Sequence[str] | None = None) -> "Split":
    """Assigns every row of the project's dataset (or of `dataset_id`, a stacked window of its batches) to a set,
    checks for leaks and saves the split with the ids of the batches it holds.

    Raises: SpecInvalid, TargetNotUsable, NotFound.
    """
    ws.require_editor()
    info = _dataset_of(ws, dataset_id or project.dataset_id, project.name)
    _validate(spec, info, project)
    _check_classes(ws, info, project, spec)
    if info.rows < sum(1 for r in spec.ratios if r > 0):
        raise SpecInvalid(f"Dataset {info.name!r} has {info.rows} row(s), too few to fill every set. Upload more rows.")
    entry = strategy_entry(spec.strategy)
    result = entry.assign(ws, info, spec, project)
    assigned, notes, cutoffs, folds, fold_frame = (result.frame, result.notes, result.cutoffs, result.folds,
                                                   result.fold_frame)
    sizes = {p: int((assigned["part"] == p).sum()) for p in PARTS}
    sizes["excluded"] = info.rows - len(assigned)
    for p, r in zip(PARTS, spec.ratios):
        if r > 0 and sizes[p] == 0:
            raise SpecInvalid(entry.empty_set.format(part=p, rows=info.rows, share=r, spec=spec))
    split_id = new_id("spl")
    content_hash = _content_hash(info.content_hash, assigned, fold_frame)
    taken = {r["name"] for r in ws.list_records(KIND, project_id=project.id)}
    name = _free_name(" ".join(str(name or default_split_name(spec)).split())[:80] or default_split_name(spec), taken)
    payload = {"schema": SCHEMA, "name": name, "dataset_id": info.id, "dataset_name": info.name,
               "dataset_hash": info.content_hash, "target": project.target, "task": project.task,
               "spec": spec.to_dict(), "sizes": sizes, "content_hash": content_hash, "cutoffs": cutoffs,
               "folds": folds, "notes": notes, "leak_checks": [],
               "batches": list(batches) if batches is not None else _batches_of(info, project)}
    ws.put_frame(f"split:{split_id}", assigned)
    if fold_frame is not None:
        ws.put_frame(f"split:{split_id}:folds", fold_frame)
    unsaved = Split.from_record({**payload, "id": split_id, "project_id": project.id})
    payload["leak_checks"] = [f.to_dict() for f in leak_checks(ws, unsaved)]
    return Split.from_record(ws.put_record(KIND, split_id, payload, project_id=project.id))


def _batches_of(info: DatasetInfo, project) -> list[str]:
    """The batch ids a dataset holds: its window lineage, or batch 1 when it is the project's own dataset."""
    if info.lineage.get("window_of") == project.id:
        return [p["batch_id"] for p in info.lineage.get("batches") or ()]
    if info.id == project.dataset_id:
        return [f"bat_{project.id}_0001"]
    return []


def default_split_name(spec: SplitSpec) -> str:
    """Returns a readable default name such as 'Stratified 70/15/15 · seed 42'."""
    shares = "/".join(f"{r * 100:g}" for r in spec.ratios)
    if spec.strategy not in STRATEGY_KEYS:
        return f"{spec.strategy} {shares} · seed {spec.seed}"
    entry = strategy_entry(spec.strategy)
    return entry.name.format(label=entry.short_label, shares=shares, spec=spec)


def _free_name(name: str, taken: set[str]) -> str:
    out, i = name, 2
    while out in taken:
        out, i = f"{name} ({i})", i + 1
    return out


def _content_hash(dataset_hash: str, assigned: pd.DataFrame, folds: pd.DataFrame | None) -> str:
    h = hashlib.sha256(dataset_hash.encode())
    h.update(assigned["_row"].to_numpy(dtype=np.int64).tobytes())
    h.update("\n".join(assigned["part"].tolist()).encode())
    if folds is not None:
        h.update(pd.util.hash_pandas_object(folds, index=False).to_numpy().tobytes())
    return h.hexdigest()


def _dataset_of(ws: Workspace, dataset_id: str, owner: str) -> DatasetInfo:
    try:
        return ws.dataset(dataset_id)
    except NotFound:
        raise NotFound(f"The dataset of {owner!r} is no longer in the workspace. Upload it again and create a "
                       "new project on it.") from None


def get_split(ws: Workspace, split_id: str) -> Split:
    """Returns a saved split by id. Raises: NotFound."""
    rec = ws.get_record(KIND, split_id)
    if rec is None:
        raise unknown("split", split_id, [r["id"] for r in ws.list_records(KIND)])
    return Split.from_record(rec)


def list_splits(ws: Workspace, project_id: str) -> list[Split]:
    """Lists a project's splits, newest first."""
    return [Split.from_record(r) for r in ws.list_records(KIND, project_id=project_id)]


def dataset_splits(ws: Workspace, dataset_id: str) -> list[Split]:
    """Lists every saved split of a dataset, whichever project made it, newest first."""
    return [Split.from_record(r) for r in ws.list_records(KIND) if r.get("dataset_id") == dataset_id]


def has_splits(ws: Workspace, project_id: str) -> bool:
    """Whether a project has any saved split."""
    return bool(ws.list_records(KIND, project_id=project_id))


def split_assignments(ws: Workspace, split: Split) -> pd.DataFrame:
    """Returns the stored assignments: `_row` (dataset row id) and `part`, ordered by row id. Raises: NotFound."""
    df = ws.get_frame(split.frame_key)
    if df is None:
        raise NotFound(f"The row assignments of split {split.name!r} are missing. Create the split again.")
    return df.sort_values("_row", kind="stable").reset_index(drop=True)


def split_frames(ws: Workspace, split: Split, parts: Sequence[str] = PARTS, columns: Sequence[str] | None = None,
                 with_row_id: bool = False) -> dict[str, pd.DataFrame]:
    """Returns the rows of each requested set as a frame, in file order. Raises: NotFound, SpecInvalid."""
    bad = [p for p in parts if p not in PARTS]
    if bad:
        raise SpecInvalid(f"{bad[0]!r} is not a set; choose from {', '.join(PARTS)}.")
    return {p: _rows_of(ws, split, split.frame_key, "part", p, columns, with_row_id) for p in parts}


def backtest_frames(ws: Workspace, split: Split, fold: int, columns: Sequence[str] | None = None,
                    with_row_id: bool = False) -> dict[str, pd.DataFrame]:
    """Returns the train and validation rows of one backtest fold (1-based). Raises: NotFound."""
    if not any(f["fold"] == fold for f in split.folds):
        raise NotFound(f"Split {split.name!r} has no backtest fold {fold}; it has {len(split.folds)}.")
    key = f"{split.frame_key}:folds"
    return {role: _rows_of(ws, split, key, "role", role, columns, with_row_id, fold=fold)
            for role in ("train", "validation")}


def _rows_of(ws, split, key, column, value, columns, with_row_id, fold=None) -> pd.DataFrame:
    info = _dataset_of(ws, split.dataset_id, split.name)
    table = ws.frame_table(key)
    if table is None:
        raise NotFound(f"The row assignments of split {split.name!r} are missing. Create the split again.")
    names = list(columns) if columns is not None else info.column_names
    for n in names:
        info.column(n)
    select = ", ".join((["d.rowid AS _row"] if with_row_id else []) + [f"d.{quote_ident(n)}" for n in names])
    where, params = f"f.{quote_ident(column)} = ?", [value]
    if fold is not None:
        where += " AND f.fold = ?"
        params.append(int(fold))
    sql = (f"SELECT {select or 'd.rowid AS _row'} FROM {quote_ident(info.table)} d "
           f"JOIN {quote_ident(table)} f ON d.rowid = f._row WHERE {where} ORDER BY d.rowid")
    return ws.read_arrow(sql, params, frames=(key,)).to_pandas()  # the dataset and the split's rows, nothing else

