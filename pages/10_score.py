"""Batch scoring: check new rows against a model version's schema, predict them in batches, download the result."""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from core.errors import WorkbenchError
from core.registry.versions import list_versions, registry_state
from core.release.scoring import PREVIEW_ROWS, check_input, load_scoring_file, output_file, score
from core.release.views import scorable_versions
from pages._compute_views import compute_panel
from pages._projects import md_escape, require_project
from pages._widgets import dataset_picker, empty_state, get_workspace, page_header, show_error, table

REGISTRY_PAGE = "pages/09_registry.py"

ws = get_workspace()
page_header("Batch scoring", "Score a file of new rows with a registered model: each row gets the predicted class, "
                             "its score and the decision at the version's saved threshold.")
project = require_project(ws)
versions = scorable_versions(list_versions(ws, project.id))
if not versions:
    empty_state("No registered model versions yet. Register one on the Registry page first.", REGISTRY_PAGE,
                "Open the registry")
champion = registry_state(ws, project.id).champion
by_id = {v.id: v for v in versions}
ids = list(by_id)
vid = st.selectbox("Model version", ids, index=ids.index(champion) if champion in by_id else 0, key="score.version",
                   format_func=lambda i: f"{by_id[i].label} · {by_id[i].model_label}"
                                         + (" · champion" if i == champion else ""))
version = by_id[vid]
if version.threshold is not None:
    st.caption(f"Rows scoring at or above {version.threshold:g} get the positive decision (the version's saved "
               "threshold).")

source = st.radio("Rows to score", ["upload", "dataset"], horizontal=True, key="score.source",
                  format_func={"upload": "Upload a file", "dataset": "A dataset in the workspace"}.get)
dataset = None
if source == "upload":
    file = st.file_uploader("CSV, gzipped CSV, Parquet or Excel", type=["csv", "gz", "tsv", "txt", "parquet", "xlsx"],
                            key="score.file")
    if file is not None:
        loaded = st.session_state.get("score.loaded") or {}
        if loaded.get("file_id") != file.file_id:
            try:
                with st.spinner(f"Reading {file.name}…"):
                    info = load_scoring_file(ws, file.getvalue(), file.name)
                loaded = {"file_id": file.file_id, "dataset_id": info.id}
                st.session_state["score.loaded"] = loaded
            except WorkbenchError as err:
                show_error(err)
                st.stop()
        dataset = ws.dataset(loaded["dataset_id"])
        st.caption(f"Loaded as dataset {md_escape(dataset.name)} ({dataset.rows:,} rows), so you can score it again "
                   "later or check it for drift.")
else:
    others = [d for d in ws.datasets() if d.id != project.dataset_id] + [ws.dataset(project.dataset_id)]
    dataset = dataset_picker(ws, key="score.dataset", label="Dataset", datasets=others)
if dataset is None:
    st.stop()


@st.cache_data(show_spinner="Checking the rows against the model's schema…", max_entries=16)
def _check(_ws, version_id: str, dataset_id: str, content_hash: str):
    from core.registry.versions import get_version

    return check_input(_ws, get_version(_ws, version_id), dataset_id)


try:
    report = _check(ws, version.id, dataset.id, dataset.content_hash)
except WorkbenchError as err:
    show_error(err)
    st.stop()
for f in report.errors:
    st.error(md_escape(f.message), icon=":material/error:")
for f in report.tolerated:
    st.info(md_escape(f.message), icon=":material/info:")
if report.is_blocking:
    st.stop()
if not report.tolerated:
    st.success(f"All {report.rows:,} rows match the model's columns and types.", icon=":material/check_circle:")

compute_panel("scoring", key="score")
key = (version.id, dataset.id)
if st.button(f"Score {report.rows:,} rows", key="score.go", type="primary", icon=":material/bolt:"):
    bar = st.progress(0.0, text="Starting…")
    try:
        # The rows go to a file, partition by partition; the session keeps the counts and a preview.
        result = score(ws, version, dataset.id, report=report, out=output_file(ws),
                       progress=lambda f, text: bar.progress(f, text=text))
        st.session_state["score.result"] = {"key": key, "result": result}
    except WorkbenchError as err:
        show_error(err)

done = st.session_state.get("score.result")
if done and done["key"] == key:
    result = done["result"]
    s = result.summary
    cols = st.columns(3)
    cols[0].metric("Rows scored", f"{s['rows']:,}", help=f"in {result.seconds:.1f} s")
    if "flagged" in s:
        cols[1].metric(f"Decided {s['positive_label']}", f"{s['flagged']:,}", f"{s['flagged_share']:.1%} of rows",
                       delta_color="off")
        cols[2].metric("Threshold", f"{s['threshold']:g}")
    elif "mean_prediction" in s:
        cols[1].metric("Average prediction", f"{s['mean_prediction']:,.4g}")
    if result.tasks:
        st.caption(f"Scored on the Dask cluster in {len(result.tasks)} partition(s), {result.seconds:.1f} s in all.")
    table(result.frame.head(PREVIEW_ROWS), key="score.preview")
    if s["rows"] > PREVIEW_ROWS:
        st.caption(f"The first {PREVIEW_ROWS} of {s['rows']:,} rows; the download has them all.")
    if result.path and os.path.exists(result.path):
        path = result.path
        st.download_button("Download predictions (CSV)", data=lambda: Path(path).read_bytes(),
                           file_name=f"{dataset.name}_scored_{version.label}.csv", mime="text/csv",
                           key="score.download", icon=":material/download:")
    else:
        st.caption("This scored file is no longer kept on the server: score the rows again to download them.")
