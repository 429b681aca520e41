"""Reference summaries kept in the workspace: a drift check's reference side is summarized once while it is unchanged.

Record "drift_reference" (id "ref_<hash>"): a ReferenceSummary's meta, its counts in frame "drift_reference:<id>".
The id hashes the dataset's content hash, the split's content hash and part or the window, the compared columns
with their kinds and the category cap.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from core.monitor.checks import DriftOptions, summarize_reference
from core.monitor.reference import ReferenceSummary
from core.monitor.sources import SourceSpec, load_source
from core.split.splitting import get_split
from core.store.workspace import Workspace

SCHEMA = 2  # 2: summaries carry time_like
REFERENCE_KIND = "drift_reference"


def compared_columns(ws: Workspace, reference: SourceSpec, columns: list[str] | None = None) -> dict[str, str]:
    """Returns {column: kind} of the reference dataset (all columns, or the chosen ones). Raises: NotFound."""
    info = ws.dataset(reference.dataset_id)
    kinds = info.kinds()
    if not columns:
        return kinds
    for name in columns:
        info.column(name)
    return {name: kinds[name] for name in columns}


def reference_summary(ws: Workspace, reference: SourceSpec, columns: dict[str, str],
                      options: DriftOptions) -> tuple[ReferenceSummary, bool]:
    """Returns the reference's summary and whether it came from the workspace's cache (saved when new).

    Raises:
        SchemaMismatch, SpecInvalid, NotFound: as `load_source` and `summarize_reference`.
    """
    key = _reference_key(ws, reference, columns, options)
    rec = ws.get_record(REFERENCE_KIND, key)
    counts = ws.get_frame(f"{REFERENCE_KIND}:{key}") if rec is not None else None
    if rec is not None and counts is not None:
        counts = counts.sort_values("i", kind="stable").drop(columns="i").reset_index(drop=True)
        return ReferenceSummary.from_payload(rec["meta"], counts), True
    summary = summarize_reference(load_source(ws, reference, list(columns)), columns, options)
    if ws.is_editor:
        meta, counts = summary.to_payload()
        counts = counts.assign(i=np.arange(len(counts), dtype=np.int64),
                               label=counts["label"].astype(object).where(counts["label"].notna(), None))
        ws.put_frame(f"{REFERENCE_KIND}:{key}", counts)
        ws.put_record(REFERENCE_KIND, key, {"schema": SCHEMA, "meta": meta, "source": reference.to_dict()})
    return summary, False


def _reference_key(ws: Workspace, reference: SourceSpec, columns: dict[str, str], options: DriftOptions) -> str:
    info = ws.dataset(reference.dataset_id)
    parts = {"schema": SCHEMA, "dataset": info.content_hash, "kind": reference.kind,
             "columns": sorted(columns.items()), "max_categories": options.max_categories,
             "max_columns": options.max_columns}
    if reference.kind == "split":
        parts |= {"split": get_split(ws, reference.split_id or "").content_hash, "part": reference.part}
    elif reference.kind == "window":
        parts |= {"window": [reference.time_column, reference.start, reference.end]}
    return "ref_" + hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:32]
