"""What a split is: the choices (`SplitSpec`), a strategy's assignment, the saved result (`Split`), exact set sizes.

Plain types and arithmetic only: `core.split.splitting` declares the strategies, assigns and saves,
`core.split.timesplit` cuts by time and `core.split.leakcheck` inspects; all three build on this module and none on
each other's internals.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Sequence

import numpy as np
import pandas as pd

SCHEMA = 1
PARTS = ("train", "validation", "test")
PART_LABELS = {"train": "Train", "validation": "Validation", "test": "Test"}
MAX_FOLDS = 10
REGRESSION_BINS = 10


@dataclass(frozen=True)
class SplitSpec:
    strategy: str = "stratified"
    ratios: tuple[float, float, float] = (0.7, 0.15, 0.15)
    seed: int = 42
    time_column: str | None = None
    cutoffs: tuple[str, ...] = ()
    gap: float = 0.0
    backtest_folds: int = 0
    backtest_mode: str = "expanding"  # "expanding" (all history) | "rolling" (a fixed-length recent window)
    group_column: str | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ratios"], d["cutoffs"] = list(self.ratios), list(self.cutoffs)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "SplitSpec":
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        if "ratios" in known:
            known["ratios"] = tuple(known["ratios"])
        if "cutoffs" in known:
            known["cutoffs"] = tuple(str(c) for c in known["cutoffs"] or ())
        return cls(**known)


@dataclass
class SplitAssignment:
    """What a strategy's `assign` returns: each row's set, plus what a time split adds (cut-offs used, folds)."""

    frame: pd.DataFrame                 # `_row` and `part`, as `assignment_frame` builds it
    notes: list[str] = field(default_factory=list)
    cutoffs: dict = field(default_factory=dict)
    folds: list[dict] = field(default_factory=list)
    fold_frame: pd.DataFrame | None = None


@dataclass(frozen=True)
class Split:
    id: str
    name: str
    project_id: str
    dataset_id: str
    target: str | None
    task: str
    spec: SplitSpec
    sizes: dict  # train / validation / test / excluded row counts
    content_hash: str
    cutoffs: dict = field(default_factory=dict)  # the cut-off values actually used (time splits), as text
    folds: tuple = ()  # backtest folds: dicts with fold, train_rows, validation_rows and their date ranges
    notes: tuple = ()
    leak_checks: tuple = ()  # findings at creation time as dicts; core.split.leakcheck.leak_checks re-runs them
    batches: tuple = ()  # ids of the project's data batches the split's rows come from (core.data.batches)
    created_at: datetime | None = None

    @property
    def parts(self) -> tuple[str, ...]:
        """The sets that hold rows, in order (a train/test split has no validation)."""
        return tuple(p for p in PARTS if self.sizes.get(p, 0) > 0)

    @property
    def frame_key(self) -> str:
        return f"split:{self.id}"

    @classmethod
    def from_record(cls, rec: dict) -> "Split":
        return cls(id=rec["id"], name=rec["name"], project_id=rec["project_id"], dataset_id=rec["dataset_id"],
                   target=rec.get("target"), task=rec["task"], spec=SplitSpec.from_dict(rec["spec"]),
                   sizes=dict(rec["sizes"]), content_hash=rec["content_hash"], cutoffs=dict(rec.get("cutoffs") or {}),
                   folds=tuple(rec.get("folds") or ()), notes=tuple(rec.get("notes") or ()),
                   leak_checks=tuple(rec.get("leak_checks") or ()),
                   batches=tuple(rec.get("batches") or ()), created_at=rec.get("created_at"))


# -- sizes -------------------------------------------------------------------------------------------------------------
def allocate_counts(n: int, ratios: Sequence[float]) -> list[int]:
    """Splits n rows by ratios into whole counts that sum to n (largest remainder, ties to the earlier set)."""
    ideal = [round(n * r, 9) for r in ratios]  # rounding first: 1000 * 0.7 is 699.999… in floating point
    counts = [math.floor(x) for x in ideal]
    order = sorted(range(len(ratios)), key=lambda i: (-(ideal[i] - counts[i]), i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return counts


def allocate_strata(strata: Sequence[int], ratios: Sequence[float]) -> list[list[int]]:
    """Splits each stratum's rows by ratios: every cell within one row of its ideal, set totals as allocate_counts."""
    totals = allocate_counts(sum(strata), ratios)
    ideal = [[round(n * r, 9) for r in ratios] for n in strata]
    cells = [[math.floor(x) for x in row] for row in ideal]
    row_need = [n - sum(row) for n, row in zip(strata, cells)]
    col_need = [t - sum(row[p] for row in cells) for p, t in enumerate(totals)]
    # Ryser's construction: each set hands its spare rows to the strata with most rows still unplaced.
    for p in sorted(range(len(ratios)), key=lambda p: (-col_need[p], p)):
        order = sorted(range(len(strata)), key=lambda c: (-row_need[c], -(ideal[c][p] - cells[c][p]), c))
        for c in order[: col_need[p]]:
            if row_need[c] <= 0:
                break
            cells[c][p] += 1
            row_need[c] -= 1
    if any(row_need):  # no exact rounding found: keep each stratum right, let set totals move by a row or two
        return [allocate_counts(n, ratios) for n in strata]
    return cells


def assignment_frame(row_ids, part_index) -> pd.DataFrame:
    """One row per dataset row: its stable row id and the set it went to, in row order."""
    labels = np.array(PARTS)[np.minimum(np.asarray(part_index, dtype=np.int64), len(PARTS) - 1)]
    df = pd.DataFrame({"_row": np.asarray(row_ids, dtype=np.int64), "part": labels})
    return df.sort_values("_row", kind="stable").reset_index(drop=True)
