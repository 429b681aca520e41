"""Widgets of the Drift page: the verdict card, key figures, drift table, histograms, Evidently's report, and the
picker for each side of a check. Views only: what they show comes from core.monitor (views, charts, reports)."""

from __future__ import annotations

import streamlit as st
import streamlit.components.v1 as components

from core.errors import AlreadyLoaded, WorkbenchError
from core.monitor import charts
from core.monitor.evidently_report import safe_download_html, sandboxed_html
from core.monitor.reports import SOURCE_KINDS, SourceSpec, date_columns, time_windows
from core.monitor.views import kpis, verdict_headline
from core.monitor.windows import FREQS
from core.split.spec import PART_LABELS
from core.split.splitting import list_splits
from core.store.workspace import Workspace
from pages._cache import shared
from pages._widgets import cache_scope, dataset_picker, md_escape

REPORT_HEIGHT = 900
NUMBER = st.column_config.NumberColumn(format="%.4g")
DRIFT_NUMBERS = {c: NUMBER for c in ("statistic", "threshold", "p_value", "distance", "p_value_bh")}


def verdict_card(result, sides: str) -> None:
    """The headline in its colour, the one-sentence verdict and what was compared."""
    headline = verdict_headline(result)
    with st.container(border=True):
        st.markdown(f"#### :{headline.colour}[{headline.text}]")
        st.markdown(md_escape(result.verdict))
        st.caption(md_escape(sides))


def kpi_tiles(result, quality: dict | None) -> None:
    for col, k in zip(st.columns(4), kpis(result, quality)):
        col.metric(k.label, k.value, k.delta, delta_color=k.delta_color, help=k.help)


def drift_table(result, notes: list[str], shown=None) -> None:
    """The per-column table (`shown`: the same, prepared once for a saved report) and its notes."""
    st.markdown("**Per column**")
    st.dataframe(result.table() if shown is None else shown, hide_index=True, width="stretch",
                 column_config=DRIFT_NUMBERS)
    for note in [*result.notes, *notes, result.false_alarm_note]:
        st.caption(md_escape(note))


def histograms(histograms: dict) -> None:
    if not histograms:
        return
    st.markdown("**The most drifted columns, reference against current** (share of rows per bin)")
    cols = st.columns(2)
    for i, (column, frame) in enumerate(histograms.items()):
        with cols[i % 2]:
            st.caption(md_escape(column))
            st.plotly_chart(charts.histogram_figure(frame), width="stretch", key=f"drift.hist.{i}")


def evidently_report(html: str | None, notes: list[str], error: str | None, key: str) -> None:
    st.markdown("**Evidently's report**")
    if error:
        st.warning(md_escape(error), icon=":material/warning:")
    if not html:
        if not error:
            st.caption("Not built for this check.")
        return
    for note in notes:
        st.caption(md_escape(note))
    # Shown only inside a nested frame sandboxed to scripts without same-origin: its data cannot reach this page.
    components.html(sandboxed_html(html, height=REPORT_HEIGHT), height=REPORT_HEIGHT + 10)
    st.download_button("Download the report (HTML)", data=safe_download_html(html).encode("utf-8"),
                       file_name="drift_report.html", mime="text/html", key=f"drift.download.{key}",
                       icon=":material/download:")


def dataset_dates(ws: Workspace, info) -> list[str]:
    """A dataset's date columns, fewest distinct dates first (a query over the data), once per server per content."""
    return shared(cache_scope(), ("drift.dates", info.id, info.content_hash), date_columns, info, ws)


def _windows(ws: Workspace, dataset_id: str, column: str, freq: str) -> tuple:
    return tuple(time_windows(ws, dataset_id, column, freq))  # frozen windows in a tuple: shared, read-only


def source_picker(ws: Workspace, project, side: str, default: SourceSpec | None) -> SourceSpec | None:
    """Radio, pickers and window choice for one side of a check (`side` is "reference" or "current")."""
    key = f"drift.{side}"
    kinds = list(SOURCE_KINDS)
    kind = st.radio("From", kinds, index=kinds.index(default.kind) if default else 1, key=f"{key}.kind",
                    format_func=SOURCE_KINDS.get, horizontal=True)
    if kind == "split":
        splits = [s for s in list_splits(ws, project.id)]
        if not splits:
            st.info("This project has no split yet. Create one on the Split page, or pick a dataset.")
            return None
        by_id = {s.id: s for s in splits}
        ids = list(by_id)
        split_id = st.selectbox("Split", ids, key=f"{key}.split", format_func=lambda i: by_id[i].name,
                                index=ids.index(default.split_id) if default and default.split_id in ids else 0)
        parts = list(by_id[split_id].parts)
        part = st.selectbox("Part", parts, key=f"{key}.part", format_func=PART_LABELS.get,
                            index=parts.index(default.part) if default and default.part in parts else 0)
        return SourceSpec("split", by_id[split_id].dataset_id, split_id, part)
    info = dataset_picker(ws, key=f"{key}.{kind}_dataset", label="Dataset",
                          default=default.dataset_id if default else project.dataset_id)
    if info is None:
        st.info("No dataset yet. Upload one on the Data page.")
        return None
    if kind == "dataset":
        return SourceSpec("dataset", info.id)
    dates = dataset_dates(ws, info)
    if not dates:
        st.info(f"{md_escape(info.name)} has no date column, so it has no time windows. Pick another dataset.")
        return None
    column = st.selectbox("Date column", dates, key=f"{key}.time_column",
                          index=dates.index(default.time_column) if default and default.time_column in dates else 0)
    freq = st.radio("Window", list(FREQS), index=2, key=f"{key}.freq", format_func=FREQS.get, horizontal=True)
    windows = shared(cache_scope(), ("drift.windows", info.id, info.content_hash, column, freq), _windows, ws, info.id,
                     column, freq)
    starts = [w.start.isoformat() for w in windows]
    chosen = st.selectbox("Which one", range(len(windows)), key=f"{key}.window",
                          index=starts.index(default.start) if default and default.start in starts
                          else len(windows) - 1,
                          format_func=lambda i: f"{windows[i].label} · {windows[i].rows:,} rows")
    w = windows[chosen]
    return SourceSpec("window", info.id, time_column=column, start=w.start.isoformat(), end=w.end.isoformat())


def load_batch(ws: Workspace) -> None:
    """Loads the uploaded file as a dataset and makes it the current set (runs before the page, so widgets update)."""
    from core.data.ingest import ingest_upload

    upload = st.session_state.get("drift.upload")
    if upload is None:
        st.session_state["drift.upload.message"] = ("error", "Choose a CSV file first.")
        return
    try:
        dataset_id = ingest_upload(ws, upload.getvalue(), upload.name).dataset.id
        message = ("success", f"Loaded {upload.name} as a new dataset.")
    except AlreadyLoaded as err:
        dataset_id, message = err.dataset_id, ("success", str(err))
    except WorkbenchError as err:
        st.session_state["drift.upload.message"] = ("error", str(err))
        return
    st.session_state["drift.current.kind"] = "dataset"
    st.session_state["drift.current.dataset_dataset"] = dataset_id
    st.session_state["drift.upload.message"] = message
