"""What a saved split looks like, and whether it leaks: per-set summaries, leak checks, distribution differences.

Public API:
- `leak_checks(ws, split) -> list[LeakFinding]`: exact duplicate rows across sets (ID columns ignored), IDs /
  groups that appear in two sets, and time overlap (latest training time after the earliest validation/test time).
  Each finding has a status ("ok" | "warning" | "problem"), a plain explanation and a fix.
- `saved_leak_checks(ws, split)`: the findings saved with the split at its creation (run afresh for a split saved
  without them).
- `split_summary(ws, split) -> DataFrame`: one row per set with rows, share, date range and the target's balance
  (classification: share of each class) or distribution (regression: mean, median, min, max).
- `distribution_differences(ws, split, top=10) -> DataFrame`: the columns whose distribution differs most between
  train and each other set (standardised mean difference for numbers, total variation distance for categories).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from core.errors import NotFound
from core.project.criteria import format_class
from core.split.spec import PART_LABELS, PARTS, Split
from core.split.timesplit import format_time, time_expression
from core.store.workspace import DatasetInfo, Workspace, quote_ident

MAX_COMPARED_COLUMNS = 200
MAX_LEVELS = 50  # categories with more levels differ between sets by chance alone; they are left out of the comparison
_ID_NAME = re.compile(r"(^|[_\s-])(id|key|uuid|guid)$|^id[_\s-]|(customer|client|user|account|patient|member|device|"
                      r"household|subscriber|session|employee|student)s?([_\s-]?(id|no|number|code|key))?$")
STATUS_ORDER = {"problem": 0, "warning": 1, "ok": 2}


@dataclass(frozen=True)
class LeakFinding:
    check: str  # duplicates | groups | time_overlap
    status: str  # ok | warning | problem
    title: str
    explanation: str
    fix: str = ""
    count: int = 0
    examples: tuple = field(default_factory=tuple)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["examples"] = [str(e) for e in self.examples]
        return d


def _tables(ws: Workspace, split: Split) -> tuple[DatasetInfo, str]:
    try:
        info = ws.dataset(split.dataset_id)
    except NotFound:
        raise NotFound(f"The dataset of split {split.name!r} is no longer in the workspace.") from None
    table = ws.frame_table(split.frame_key)
    if table is None:
        raise NotFound(f"The row assignments of split {split.name!r} are missing. Create the split again.")
    return info, table


def _joined(info: DatasetInfo, frame_table: str, select: str) -> str:
    return (f"SELECT f.part, {select} FROM {quote_ident(info.table)} d "
            f"JOIN {quote_ident(frame_table)} f ON d.rowid = f._row")


def id_like_columns(info: DatasetInfo) -> list[str]:
    """Columns that identify a customer / entity: typed as IDs on upload, or named like one ('customer', 'user_id')."""
    return [c.name for c in info.columns
            if c.kind == "id" or (c.kind in ("category", "text", "number") and _ID_NAME.search(c.name.lower()))]


# -- leak checks -------------------------------------------------------------------------------------------------------
def leak_checks(ws: Workspace, split: Split) -> list[LeakFinding]:
    """Runs every leak check on a saved split; problems first. Raises: NotFound."""
    info, frame = _tables(ws, split)
    findings = [_duplicates(ws, info, frame), _groups(ws, info, frame, split), _time_overlap(ws, info, frame, split)]
    return sorted(findings, key=lambda f: STATUS_ORDER[f.status])


def saved_leak_checks(ws: Workspace, split: Split) -> list[LeakFinding]:
    """The findings saved with the split when it was created (a saved split never changes: its content hash covers
    the dataset and every row's set), or, for a split saved without them, `leak_checks` run now. Raises: NotFound."""
    fields = set(LeakFinding.__dataclass_fields__)
    saved = [d for d in split.leak_checks if isinstance(d, dict) and {"check", "status", "title"} <= set(d)]
    if not saved or len(saved) != len(split.leak_checks):
        return leak_checks(ws, split)
    return [LeakFinding(**{**{k: v for k, v in d.items() if k in fields}, "examples": tuple(d.get("examples") or ())})
            for d in saved]


def _duplicates(ws: Workspace, info: DatasetInfo, frame: str) -> LeakFinding:
    ids = [c.name for c in info.columns if c.kind == "id"]
    cols = [c.name for c in info.columns if c.kind != "id"]
    if not cols:
        return LeakFinding("duplicates", "ok", "No duplicate rows across sets",
                           "Every column is an identifier, so there is nothing to compare.")
    row_hash = "hash(" + ", ".join(f"d.{quote_ident(c)}" for c in cols) + ")"
    sql = (f"WITH r AS ({_joined(info, frame, row_hash + ' AS h, d.rowid AS rid')}), "
           "m AS (SELECT h FROM r GROUP BY h HAVING count(DISTINCT part) > 1) "
           "SELECT count(*), list(rid ORDER BY rid)[1:3] FROM r JOIN m USING (h) WHERE r.part <> 'train'")
    n, examples = ws.read_rows(sql)[0]
    ignoring = f" (ignoring the ID column(s) {', '.join(map(repr, ids))})" if ids else ""
    if not n:
        return LeakFinding("duplicates", "ok", "No duplicate rows across sets",
                           f"No row of validation or test is an exact copy of a row in another set{ignoring}.")
    return LeakFinding(
        "duplicates", "problem", f"{n:,} duplicate row(s) across sets",
        f"{n:,} row(s) outside the training set are exact copies of rows in another set{ignoring}. The model has "
        "seen those answers while training, so their scores flatter it.",
        "Remove duplicate rows before splitting; if the copies describe the same customer, use a group split on "
        "that customer's ID column instead.", int(n), tuple(f"row {r + 1}" for r in examples or ()))


def _groups(ws: Workspace, info: DatasetInfo, frame: str, split: Split) -> LeakFinding:
    if split.spec.strategy == "group" and split.spec.group_column:
        candidates = [split.spec.group_column]
    else:
        candidates = [c for c in id_like_columns(info) if c != split.target]
    repeated = []
    for col in candidates:
        q = f"d.{quote_ident(col)}"
        n_rows, n_distinct = ws.read_rows(f"SELECT count({q}), count(DISTINCT {q}) FROM {quote_ident(info.table)} d")[0]
        if n_distinct < n_rows or col == split.spec.group_column:
            repeated.append(col)
    if not repeated:
        what = ", ".join(map(repr, candidates)) if candidates else "no ID column"
        return LeakFinding("groups", "ok", "No ID appears in two sets",
                           f"Checked {what}: every ID occurs on a single row, so nobody can be in two sets.")
    for col in repeated:
        q = quote_ident(col)
        sql = (f"WITH r AS ({_joined(info, frame, f'd.{q} AS g')} WHERE d.{q} IS NOT NULL), "
               "m AS (SELECT g FROM r GROUP BY g HAVING count(DISTINCT part) > 1) "
               "SELECT (SELECT count(*) FROM m), (SELECT list(g ORDER BY g)[1:3] FROM m), "
               "(SELECT count(*) FROM r JOIN m USING (g))")
        n_groups, examples, n_rows = ws.read_rows(sql)[0]
        if n_groups:
            return LeakFinding(
                "groups", "problem", f"{n_groups:,} {col!r} value(s) appear in two sets",
                f"{n_groups:,} value(s) of {col!r} ({n_rows:,} rows) have rows in more than one set, so the model is "
                "tested on customers it has already seen, and its score will be higher than on new customers.",
                f"Use a group-based split on {col!r}.", int(n_groups), tuple(examples or ()))
    return LeakFinding("groups", "ok", "No ID appears in two sets",
                       f"All rows of each {', '.join(map(repr, repeated))} value are in a single set.")


def _time_overlap(ws: Workspace, info: DatasetInfo, frame: str, split: Split) -> LeakFinding:
    if split.spec.strategy == "time":
        columns = [split.spec.time_column]
    else:
        columns = [c.name for c in info.columns if c.kind == "datetime"]
    if not columns:
        return LeakFinding("time_overlap", "ok", "No date column to check",
                           "The dataset has no date column, so training rows cannot come from after test rows.")
    overlaps = []  # (column, latest training time, earliest later-set time, that set), as text
    for col in columns:
        expr, is_date = time_expression(ws, info, col)
        expr = expr.replace(quote_ident(col), f"d.{quote_ident(col)}")
        rows = ws.read_rows(_joined(info, frame, f"max({expr}), min({expr})") + " GROUP BY f.part")
        ranges = {p: (hi, lo) for p, hi, lo in rows if hi is not None}
        if "train" not in ranges:
            continue
        latest = ranges["train"][0]
        later = [(lo, p) for p, (_, lo) in ranges.items() if p != "train" and lo < latest]
        if later:
            lo, p = min(later)
            overlaps.append((col, format_time(latest, is_date), format_time(lo, is_date), PART_LABELS[p].lower()))
    if overlaps:
        col, latest, earliest, part = overlaps[0]
        names = ", ".join(repr(o[0]) for o in overlaps)
        also = f" The same holds for {', '.join(repr(o[0]) for o in overlaps[1:])}." if len(overlaps) > 1 else ""
        return LeakFinding(
            "time_overlap", "problem" if split.spec.strategy == "time" else "warning",
            f"Training rows come from after {part} rows",
            f"The latest training {col!r} is {latest}, after the earliest {part} {col!r} ({earliest}). If the model "
            f"will predict the future, it is learning from the future here, and its test score will be better than "
            f"after launch.{also}",
            f"Use a time-based split on {names if len(overlaps) == 1 else 'one of ' + names} (the date the prediction "
            "is made for), so every training row is older than every test row.",
            len(overlaps), (latest, earliest))
    return LeakFinding("time_overlap", "ok", "No time overlap",
                       f"Every training row is older than every validation and test row ({', '.join(map(repr, columns))}).")


# -- summaries ---------------------------------------------------------------------------------------------------------
def summary_time_column(info: DatasetInfo, split: Split) -> str | None:
    """The column whose range the summary shows: the split's time column, else the first date column."""
    if split.spec.strategy == "time" and split.spec.time_column:
        return split.spec.time_column
    return next((c.name for c in info.columns if c.kind == "datetime"), None)


def split_summary(ws: Workspace, split: Split) -> pd.DataFrame:
    """Returns one row per set: rows, share, date range and target balance or distribution. Raises: NotFound."""
    info, frame = _tables(ws, split)
    time_col = summary_time_column(info, split)
    select = "count(*) AS n"
    is_date = True
    if time_col:
        expr, is_date = time_expression(ws, info, time_col)
        expr = expr.replace(quote_ident(time_col), f"d.{quote_ident(time_col)}")
        select += f", min({expr}) AS t_from, max({expr}) AS t_to"
    base = ws.read(_joined(info, frame, select) + " GROUP BY f.part").set_index("part")
    total = int(base["n"].sum())
    out = pd.DataFrame({"set": [PART_LABELS[p] for p in PARTS if p in base.index]})
    out["rows"] = [int(base.loc[p, "n"]) for p in PARTS if p in base.index]
    out["share"] = (out["rows"] / total).round(4) if total else 0.0
    if time_col:
        out[f"{time_col} from"] = [format_time(base.loc[p, "t_from"], is_date) for p in PARTS if p in base.index]
        out[f"{time_col} to"] = [format_time(base.loc[p, "t_to"], is_date) for p in PARTS if p in base.index]
    present = [p for p in PARTS if p in base.index]
    if split.target and split.task in ("binary", "multiclass"):
        q = f"d.{quote_ident(split.target)}"
        counts = ws.read_rows(_joined(info, frame, f"{q} AS y, count(*)") + " GROUP BY ALL ORDER BY 2 DESC")
        classes = list(dict.fromkeys(y for _, y, _ in counts))
        table = {(p, y): n for p, y, n in counts}
        for y in classes:
            out[f"share {format_class(y)}"] = [round(table.get((p, y), 0) / int(base.loc[p, "n"]), 4) for p in present]
    elif split.target and split.task == "regression":
        q = f"d.{quote_ident(split.target)}"
        stats = ws.read(_joined(info, frame, f"avg({q}) AS mean, median({q}) AS median, min({q}) AS min, "
                                             f"max({q}) AS max") + " GROUP BY f.part").set_index("part")
        for stat in ("mean", "median", "min", "max"):
            out[f"{split.target} {stat}"] = [float(stats.loc[p, stat]) for p in present]
    return out


def distribution_differences(ws: Workspace, split: Split, top: int = 10) -> pd.DataFrame:
    """Returns the columns that differ most between train and each other set, largest difference first."""
    info, frame = _tables(ws, split)
    skip = {split.target, split.spec.time_column if split.spec.strategy == "time" else None,
            split.spec.group_column, *id_like_columns(info)}
    columns = [c for c in info.columns if c.name not in skip and c.kind in ("number", "category", "boolean")]
    columns = columns[:MAX_COMPARED_COLUMNS]
    others = [p for p in split.parts if p != "train"]
    rows: list[dict] = []
    numeric = [c.name for c in columns if c.kind == "number"]
    if numeric:
        aggs = ", ".join(f"avg(d.{quote_ident(c)}) AS {quote_ident('m' + str(i))}, "
                         f"stddev_samp(d.{quote_ident(c)}) AS {quote_ident('s' + str(i))}" for i, c in enumerate(numeric))
        stats = ws.read(_joined(info, frame, aggs) + " GROUP BY f.part").set_index("part")
        for i, col in enumerate(numeric):
            for p in others:
                if "train" not in stats.index or p not in stats.index:
                    continue
                m1, m2 = stats.loc["train", f"m{i}"], stats.loc[p, f"m{i}"]
                s1, s2 = stats.loc["train", f"s{i}"], stats.loc[p, f"s{i}"]
                pooled = np.sqrt((np.nan_to_num(s1) ** 2 + np.nan_to_num(s2) ** 2) / 2)
                if pd.isna(m1) or pd.isna(m2):
                    continue
                score = abs(m1 - m2) / pooled if pooled > 0 else (0.0 if m1 == m2 else 1.0)
                rows.append({"column": col, "compared": f"train vs {p}", "train": f"mean {m1:,.4g}",
                             "other": f"mean {m2:,.4g}", "difference": f"{score:.2f} standard deviations",
                             "score": float(score)})
    categorical = [c.name for c in columns if c.kind != "number"]
    if categorical:  # every column's counts per set in one scan, each column capped at MAX_LEVELS + 1 levels
        counted = " UNION ALL ".join(
            f"SELECT {i} AS c, part, v, n FROM (SELECT f.part, coalesce(CAST(d.{quote_ident(col)} AS VARCHAR), "
            f"'(missing)') AS v, count(*) AS n FROM {quote_ident(info.table)} d JOIN {quote_ident(frame)} f "
            f"ON d.rowid = f._row GROUP BY ALL)" for i, col in enumerate(categorical))
        all_counts = ws.read(f"SELECT * FROM ({counted}) ORDER BY c, v, part")
        by_column = dict(tuple(all_counts.groupby("c", sort=False)))
    for i, col in enumerate(categorical):
        counts = by_column.get(i)
        if counts is None or counts["v"].nunique() > MAX_LEVELS:
            continue
        shares = counts.set_index(["v", "part"])["n"].unstack("part", fill_value=0).sort_index()
        shares = shares / shares.sum()
        for p in others:
            if "train" not in shares or p not in shares:
                continue
            diff = (shares[p] - shares["train"])
            tvd = float(diff.abs().sum() / 2)
            v = diff.abs().idxmax()
            rows.append({"column": col, "compared": f"train vs {p}", "train": f"{v!r} {shares.loc[v, 'train']:.1%}",
                         "other": f"{v!r} {shares.loc[v, p]:.1%}",
                         "difference": f"{tvd:.1%} of rows would have to change category", "score": tvd})
    out = pd.DataFrame(rows, columns=["column", "compared", "train", "other", "difference", "score"])
    return out.sort_values("score", ascending=False, kind="stable").head(top).reset_index(drop=True)
