"""Data: upload a file, confirm how it is read, and manage the workspace's datasets."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.errors import AlreadyLoaded, WorkbenchError
from core.data.ingest import KINDS, BadLines, confirm_ingest, preview_upload, stage_upload
from core.data.staging import UPLOAD_TYPES, UploadLease, upload_name
from pages._cache import shared, shown_table
from pages._widgets import (arrow_frame, cache_scope, dataset_picker, get_workspace, human_bytes, is_viewer, md_escape,
                            page_header, show_error, table)

PREVIEW_ROWS = 200


def _first_rows(ws_, dataset_id: str):
    return ws_.frame(dataset_id, limit=PREVIEW_ROWS)


ws = get_workspace()
page_header("Data", "Upload CSV (comma, semicolon, tab, pipe; any common encoding), gzipped CSV, Parquet or Excel.")


def _drop_staged() -> None:
    st.session_state.pop("data.preview", None)
    lease = st.session_state.pop("data.lease", None)
    if lease is not None:
        lease.discard()


def _upload_section() -> None:
    # A new key after each load empties the uploader, so the loaded file is not offered again.
    generation = st.session_state.setdefault("data.upload_generation", 0)
    # No `type=`: Streamlit would check a forged name itself and raise on every rerun; upload_name refuses it plainly.
    upload = st.file_uploader(f"Upload a file ({', '.join('.' + t for t in UPLOAD_TYPES)})",
                              key=f"data.upload.{generation}")
    if upload is None:
        _drop_staged()
        return
    cached = st.session_state.get("data.preview")
    if cached is None or cached[0] != upload.file_id:
        _drop_staged()  # the upload it replaces leaves the disk now
        staged = None
        try:
            filename = upload_name(upload.name)
            with st.spinner(f"Reading {md_escape(filename)}…"):
                staged = stage_upload(ws, upload, filename)
                preview = preview_upload(ws, staged)
            st.session_state["data.preview"] = (upload.file_id, preview)
            st.session_state["data.lease"] = UploadLease(staged)  # deleted with the session if never loaded
        except WorkbenchError as err:
            if staged is not None:
                staged.discard()  # refused: nothing of it stays on disk
            show_error(err)
            return
    preview = st.session_state["data.preview"][1]
    if preview.sheets and len(preview.sheets) > 1:
        sheet = st.selectbox("Sheet", preview.sheets, index=preview.sheets.index(preview.sheet), key="data.sheet")
        if sheet != preview.sheet:
            preview = preview_upload(ws, preview.staged, sheet=sheet)
            st.session_state["data.preview"] = (upload.file_id, preview)

    with st.container(border=True):
        st.markdown(f"**Read as:** {preview.dialect_label} · {len(preview.columns)} columns")
        for note in preview.notes:
            st.caption(md_escape(note))
        table(preview.rows, key="data.preview_rows", height=260)
        name = st.text_input("Dataset name", value=preview.suggested_name, key="data.name", max_chars=80)
        st.markdown("**Columns** — check the detected type of each column and change it where it is wrong.")
        editor = st.data_editor(
            pd.DataFrame({"In the file": [c.original for c in preview.columns],
                          "Column": [c.name for c in preview.columns],
                          "Detected as": [c.dtype for c in preview.columns],
                          "Type": [c.kind for c in preview.columns]}),
            column_config={"Type": st.column_config.SelectboxColumn("Type", options=list(KINDS), required=True)},
            disabled=["In the file", "Column", "Detected as"], hide_index=True, width="stretch", key="data.kinds")
        kinds = {row["Column"]: row["Type"] for _, row in editor.iterrows()}
        skip = False
        if preview.bad_lines:
            st.warning(f"{preview.bad_lines:,} line(s) of this file cannot be read. Fix them in the file and upload it "
                       "again, or skip them.", icon=":material/warning:")
            table(pd.DataFrame(list(preview.bad_examples), columns=["Line", "Problem", "Text"]), key="data.bad")
            skip = st.checkbox(f"Skip the {preview.bad_lines:,} unreadable line(s) and load the rest", key="data.skip")
        if st.button("Load into workspace", type="primary", key="data.confirm", icon=":material/download_done:"):
            try:
                with st.spinner("Loading…"):
                    result = confirm_ingest(ws, preview, name=name, kinds=kinds, skip_bad_lines=bool(skip))
                st.session_state.pop("data.preview", None)
                st.session_state.pop("data.lease", None)
                st.session_state["data.upload_generation"] = generation + 1
                st.session_state["data.selected"] = result.dataset.id
                st.session_state["data.dataset"] = result.dataset.id
                st.session_state["data.flash"] = (f"Loaded **{md_escape(result.dataset.name)}**: {result.dataset.rows:,} rows × "
                                                  f"{len(result.dataset.columns)} columns.",
                                                  [md_escape(n) for n in result.notes])
                st.rerun()
            except BadLines as err:
                show_error(err)
            except AlreadyLoaded as err:
                st.warning(md_escape(str(err)), icon=":material/content_copy:")
            except WorkbenchError as err:
                show_error(err)


if not is_viewer():
    _upload_section()

flash = st.session_state.pop("data.flash", None)
if flash:
    st.success(flash[0], icon=":material/check_circle:")
    for note in flash[1]:
        st.info(note)

st.subheader("Datasets")
datasets = ws.datasets()
if not datasets:
    st.info("No datasets yet. Upload a file above to start.", icon=":material/upload:")
    st.stop()

def _catalogue(datasets) -> pd.DataFrame:
    return pd.DataFrame([{"Dataset": d.name, "Rows": d.rows, "Columns": len(d.columns), "Size": human_bytes(d.size_bytes),
                          "Source file": d.source_file, "Added": d.created_at, "Content hash": d.content_hash[:12]}
                         for d in datasets])


# Made once per server for this catalogue (the key holds every value the table shows).
st.dataframe(
    shared(cache_scope(), ("data.catalogue", tuple((d.id, d.name, d.rows, len(d.columns), d.size_bytes, d.source_file,
                                                     str(d.created_at), d.content_hash) for d in datasets)),
           lambda: arrow_frame(_catalogue(datasets))),
    hide_index=True, width="stretch",
    column_config={"Added": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")})

selected = dataset_picker(ws, key="data.dataset", label="Look at a dataset", datasets=datasets,
                          default=st.session_state.get("data.selected"))
if selected is None:
    st.stop()
tab_rows, tab_schema, tab_manage = st.tabs(["Preview", "Columns", "Rename / delete"])
with tab_rows:
    # The first rows as drawn, prepared once per server for this dataset's content (pages/_cache.py).
    rows = shown_table(cache_scope(), ("data.rows", selected.id, selected.content_hash, PREVIEW_ROWS), _first_rows,
                       ws, selected.id)
    table(rows, key="data.rows", height=380, download=f"{selected.name}.csv", full=lambda: ws.frame(selected.id))
    st.caption(f"First {min(PREVIEW_ROWS, selected.rows):,} of {selected.rows:,} rows.")
with tab_schema:
    st.dataframe(shared(cache_scope(), ("data.columns", tuple((c.name, c.kind, c.dtype) for c in selected.columns)),
                        lambda: arrow_frame(pd.DataFrame([{"Column": c.name, "Type": c.kind, "Stored as": c.dtype}
                                                          for c in selected.columns]))),
                 hide_index=True, width="stretch")
    if selected.lineage.get("renamed"):
        st.caption(md_escape("Renamed on import: " + ", ".join(f"{a!r} → {b!r}"
                                                          for a, b in selected.lineage["renamed"].items())))
with tab_manage:
    if is_viewer():
        st.caption("This is a read-only view.")
    else:
        new_name = st.text_input("New name", value=selected.name, key="data.rename_to", max_chars=80)
        if st.button("Rename", key="data.rename"):
            try:
                ws.rename_dataset(selected.id, new_name)
                st.toast(md_escape(f"Renamed to {new_name.strip()!r}."))
                st.rerun()
            except WorkbenchError as err:
                show_error(err)
        deps = ws.dependents(selected.id)
        if deps:
            st.warning(md_escape(f"{len(deps)} saved object(s) use this dataset: "
                                 + ", ".join(f"{d['kind']} {d['name']!r}" for d in deps[:8])
                                 + ". Delete or archive them first."))
        sure = st.checkbox(f"Yes, delete {md_escape(repr(selected.name))} and its data", key="data.delete_sure", disabled=bool(deps))
        if st.button("Delete dataset", key="data.delete", disabled=not sure, type="secondary"):
            try:
                ws.delete_dataset(selected.id)
                st.session_state.pop("data.selected", None)
                st.session_state.pop("data.dataset", None)
                st.rerun()
            except WorkbenchError as err:
                show_error(err)
