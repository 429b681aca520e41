"""Shared Streamlit helpers for the pages: the workspace handle, headers, pickers, empty states and safe downloads."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence

import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from core.errors import WorkbenchError
from core.text import md_escape  # the one rendering rule for user text; pages import it from here
from core.data.exporting import safe_csv_bytes
from core.store.workspace import DatasetInfo, Workspace
from core.data.samples import open_workspace

log = logging.getLogger("workbench.pages")


@st.cache_resource(show_spinner="Opening the workspace…")
def _shared_workspace() -> Workspace:
    # One Workspace object per server; every method opens its own cursor, so sessions on other threads are safe.
    ws = open_workspace()
    from core.split.demo_seed import seed_demo_project

    seed_demo_project(ws)  # once per workspace: the app opens on a ready sample project, no setup screen
    return ws


def _leave_legacy_multipage_mode() -> None:
    """Reruns through the router when Streamlit ran a page file directly.

    Until some session has called st.navigation, Streamlit treats a `pages/` folder as a legacy multipage app: the
    first visitor who opens /data (or a shared /dashboard link) would run that page file directly, with the legacy
    sidebar and without the router's role check. Switching the flag off and rerunning sends the run through
    streamlit_app.py, which registers only the pages this session may use.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def get_workspace() -> Workspace:
    """Returns the server's workspace, acting with this browser session's role.

    An editor sees everything; any other session reads only the project its share token names (checked in the
    store, so a forged widget value or page name cannot reach another project) and can write nothing. The router
    sets the role before any page runs; a page run alone (AppTest) without a role is an editor.
    """
    _leave_legacy_multipage_mode()
    ws = _shared_workspace()
    if st.session_state.get("role", "editor") == "editor":
        return ws.as_role("editor")
    return ws.as_role("viewer", scope=viewer_scope())


def viewer_scope() -> str:
    """The one project a read-only session may read ('' = none): the router's, from the share token.

    Only a page run alone without the router (AppTest) falls back to the session's project.
    """
    if "share_scope" in st.session_state:
        return str(st.session_state.share_scope or "")
    return str(st.session_state.get("project_id") or "")


def cache_scope() -> str:
    """The first part of a shared-cache key for what is not one project's (a dataset): the one project a viewer may
    read, or "*" for an editor, who may read the whole workspace (pages/_cache.py)."""
    return f"viewer:{viewer_scope()}" if is_viewer() else "*"


def signed_in_name() -> str | None:
    """The signed-in user's e-mail (or name) when this editor came through OpenID Connect sign-in, else None."""
    if st.session_state.get("editor_via") != "sign-in":
        return None
    try:
        if not st.user.is_logged_in:
            return None
        return str(st.user.get("email") or st.user.get("name") or st.user.get("sub") or "") or None
    except Exception:  # noqa: BLE001 — no sign-in configured or no user info: nobody is signed in
        return None


def ledger_name(key: str, label: str = "Your name, for the ledger", placeholder: str = "e.g. Dana (analyst)") -> str:
    """Who the ledger records for this editor: the signed-in user when sign-in is on (nothing to type); a typed name
    on a private single-user server; on a shared server opened with the editor key, the typed name marked so."""
    who = signed_in_name()
    if who:
        st.caption(f"The ledger records you as {md_escape(who)} (signed in).")
        return who
    typed = st.text_input(label, key=key, max_chars=80, placeholder=placeholder).strip()
    if st.session_state.get("editor_via") == "key":
        return f"{typed or 'editor'} (editor key)"
    return typed


def is_viewer() -> bool:
    """True when this session may not edit (it came through a read-only share link)."""
    return st.session_state.get("role", "editor") != "editor"


def page_header(title: str, subtitle: str = "") -> None:
    st.title(title)
    if subtitle:
        st.caption(subtitle)


def page_link(path: str, label: str, icon: str = ":material/arrow_forward:",
              fallback: Callable[[], object] | None = None) -> bool:
    """A link to another page of the app; True when drawn.

    st.page_link raises StreamlitPageNotFoundError when the page is not registered for this session (a viewer is
    given only the read-only pages) or when a page runs alone, outside st.navigation (AppTest). Then `fallback`
    is drawn instead: by default a caption naming the page. Any other error is a bug and is not swallowed.
    """
    try:
        st.page_link(path, label=label, icon=icon)
        return True
    except StreamlitPageNotFoundError:
        if fallback is None:
            st.caption(f"Open: {label}")
        else:
            fallback()
        return False


def empty_state(message: str, page_path: str | None = None, label: str | None = None, icon: str = ":material/info:") -> None:
    """Shows what to do when there is nothing to show yet, with a link to the page that fixes it, then stops."""
    st.info(md_escape(message), icon=icon)
    if page_path:
        page_link(page_path, label or "Go there", fallback=lambda: st.caption(f"Open: {label or page_path}"))
    st.stop()


def show_error(err: WorkbenchError) -> None:
    """Shows a user-caused problem as a calm message (never a traceback)."""
    st.error(md_escape(str(err)), icon=":material/error:")


def dataset_picker(ws: Workspace, key: str, label: str = "Dataset", datasets: Sequence[DatasetInfo] | None = None,
                   default: str | None = None, help: str | None = None) -> DatasetInfo | None:
    """A selectbox over the workspace's datasets; returns the chosen one, or None when there are none."""
    items = list(datasets if datasets is not None else ws.datasets())
    if not items:
        return None
    ids = [d.id for d in items]
    by_id = {d.id: d for d in items}
    index = ids.index(default) if default in ids else 0
    chosen = st.selectbox(label, ids, index=index, key=key, help=help,
                          format_func=lambda i: f"{by_id[i].name}  ·  {by_id[i].rows:,} rows × {len(by_id[i].columns)} cols")
    return by_id.get(chosen)


def param_inputs(entry, task: str, key: str) -> dict:
    """One input per setting of a catalog model entry for `task` (choices, whole numbers, decimals), within its range;
    returns {setting: value}. Widget keys are f"{key}.{entry.key}.{setting}"."""
    values = {}
    for p in entry.params_for(task):
        widget = f"{key}.{entry.key}.{p.name}"
        if p.choices is not None:
            values[p.name] = st.selectbox(p.name, list(p.choices), index=list(p.choices).index(p.default), key=widget,
                                          help=p.help)
        elif p.is_int:
            values[p.name] = int(st.number_input(p.name, int(p.low), int(p.high), int(p.default), 1, key=widget,
                                                 help=p.help))
        else:
            values[p.name] = float(st.number_input(p.name, float(p.low), float(p.high), float(p.default), key=widget,
                                                   help=p.help, format="%g"))
    return values


def table(df, *, key: str, download: str | None = None,
          full: pd.DataFrame | Callable[[], pd.DataFrame] | None = None, height: int | str = "auto", **kwargs) -> None:
    """Shows a table with missing cells empty (not "None"), and with `download` (a file name) our formula-safe CSV
    beside it, of `full` when the table shows only a preview of it (a callable: built only when downloaded).

    `df` is a DataFrame, or what `shown_frame` made of one (shared across sessions: pages/_cache.shown_table).
    Streamlit's own table download is off (client.disableDataExport): it writes cells raw, formulas included.
    """
    prepared = _is_prepared(df)
    st.dataframe(df if prepared else blank_missing(df), hide_index=True, width="stretch", height=height, key=key,
                 **kwargs)
    if download:
        if full is None and prepared:
            full = (lambda: df.to_pandas()) if isinstance(df, _arrow_table()) else (lambda: df.data)
            label = "Download CSV"
        else:
            label = "Download all rows (CSV)" if full is not None else "Download CSV"
        csv_download_button(full if full is not None else df, download, key=f"{key}.download", label=label)


def _arrow_table():
    import pyarrow as pa

    return pa.Table


def _is_prepared(df) -> bool:
    return isinstance(df, _arrow_table()) or type(df).__name__ == "Styler"


def arrow_frame(data):
    """The Arrow table Streamlit makes of `data` (a DataFrame, a list of records, …) to draw it: immutable, so it can
    be shared by every session, and st.dataframe sends it as it is (no conversion on each run)."""
    from streamlit import dataframe_util

    return dataframe_util.convert_pandas_df_to_arrow_table(
        dataframe_util.convert_anything_to_pandas_df(data, ensure_copy=False))


def shown_frame(df: pd.DataFrame):
    """What `table` draws for `df`, prepared once so that it can be shared by every session and redrawn cheaply.

    A table without missing cells becomes the Arrow table Streamlit would make of it (immutable; Streamlit sends it
    as is). One with missing cells stays the Styler of `blank_missing`, its styles and display texts worked out now:
    Streamlit asks a Styler for them on every draw (`_compute`, `_translate`: about 30 ms for 200 rows × 13
    columns), so this one answers from what it computed here. Either way the browser receives the same table.
    The result is read-only: Streamlit only reads it, and nobody else is handed it.
    """
    from streamlit import dataframe_util

    shown = blank_missing(df)
    if isinstance(shown, pd.DataFrame):
        return arrow_frame(shown)
    if not dataframe_util.is_pandas_styler(shown):
        return shown
    shown._compute()
    translated = _Translated(shown._translate(False, False))  # what Streamlit's marshall_styler asks for
    shown._compute = lambda: shown
    shown._translate = lambda *args, **kwargs: translated
    _remember_display_values()
    return shown


class _Translated(dict):
    """A prepared Styler's translated styles, which also keep the display texts Streamlit made of them once."""

    display_values: bytes | None = None


@functools.cache
def _remember_display_values() -> None:
    """Lets Streamlit's Styler marshalling reuse the display texts of a prepared Styler (see shown_frame).

    Streamlit turns a Styler's translated styles into a table of display texts (a Python loop over every cell, then
    an Arrow conversion) on every draw. For the translated styles of a prepared Styler, which never change, the bytes
    made the first time are kept on them and handed out again; any other Styler is marshalled as before.
    tests/pages/test_shared_caches.py checks that a prepared table draws byte for byte what a fresh one draws.
    """
    from streamlit.elements.lib import pandas_styler_utils as styler_utils

    original = getattr(styler_utils, "_marshall_display_values", None)
    if original is None or getattr(original, "remembers", False):
        return

    def marshall_display_values(proto, df, styles):
        if isinstance(styles, _Translated):
            if styles.display_values is None:
                original(proto, df, styles)
                styles.display_values = proto.styler.display_values
            else:
                proto.styler.display_values = styles.display_values
            return
        original(proto, df, styles)

    marshall_display_values.remembers = True
    styler_utils._marshall_display_values = marshall_display_values


def blank_missing(df: pd.DataFrame):
    """Returns what st.dataframe should draw so missing cells show empty; numbers keep sorting as numbers."""
    if not isinstance(df, pd.DataFrame) or df.empty:
        return df
    gaps = [c for c, has in df.isna().any().items() if has]
    if not gaps:
        return df
    if not (df.columns.is_unique and df.index.is_unique):  # Styler needs unique labels; text is good enough here
        return df.astype(object).where(df.notna(), "")
    return df.style.format(_cell_text, subset=gaps)


def _cell_text(value) -> str:
    if value is None or value is pd.NaT or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def csv_download_button(df: pd.DataFrame | Callable[[], pd.DataFrame], filename: str, key: str,
                        label: str = "Download CSV") -> None:
    """A download button whose CSV is protected against spreadsheet formula injection (a callable: built on click)."""
    data = (lambda: safe_csv_bytes(df())) if callable(df) else safe_csv_bytes(df)
    st.download_button(label, data=data, file_name=filename, mime="text/csv", key=key, icon=":material/download:")


def human_bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} GB"
