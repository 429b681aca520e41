"""Caches shared by every browser session of the server: loaded models, validation predictions, figures, snapshots.

Why: with a team on the app every page runs many times a minute, and most of what a page draws does not depend on
who looks at it. So it is built once per server and handed to every session:

- models: `run_model(ws, run)`, keyed by the project, the run and the SHA-256 of its model file (a retrained or
  re-saved model has another hash, so it never serves a stale copy);
- validation predictions: `run_predictions(ws, run)`, keyed by the project, the run and its predictions key;
- figures: `figure(project_id, key, build, *args)`, keyed by the project and a key naming everything the figure is
  drawn from (ids of immutable records, thresholds, the workspace generation for views of mutable records);
- anything else derived from the workspace's records: `derived(ws, project_id, name, build)` (and `tracked(ws,
  project_id, key, build, *args)`), keyed by the project and a name, kept until a write changes something the build
  read: the workspace records the tags of every read made during the build (core/store/readcache.py: the records of
  a kind, one record, one stored frame; raw SQL counts as reading everything), so a new split rebuilds the views
  that read splits and keeps the others;
- dataset profiles: `dataset_profile(ws, project_id, info, target)`, keyed by the project, the dataset and its
  content hash, frozen (`freeze`: read-only mappings and tuples), so no session can change what another reads;
- tables as drawn: `shown_table(project_id, key, build, *args)`, for `pages._widgets.table` (an Arrow table, or a
  Styler with its display texts worked out once), keyed like figures.

Rules: every entry is keyed by the project it belongs to first, so one project's viewer is never handed another's
objects; every cache is bounded (`max_entries`), the oldest entry goes first; and a cached object is shared, so
sessions treat it as read-only (`st.plotly_chart` copies a figure before sending it; pages never modify snapshots,
frames or models they are given).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

import streamlit as st

from core.models.runs import load_run_model
from core.models.runs import run_predictions as _read_predictions
from core.profile.profiling import profile_dataset


def freeze(value):
    """A read-only deep copy of JSON-like data: dicts become read-only mappings, lists and tuples tuples."""
    if isinstance(value, dict):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


@st.cache_resource(show_spinner="Loading the model…", max_entries=8)
def _model(_ws, project_id: str, run_id: str, sha256: str):
    return load_run_model(_ws, run_id)


def run_model(ws, run):
    """The fitted pipeline of a run, loaded once per server (checksum and type allow-list checked on that load)."""
    sha = run.artifact.sha256 if run.artifact is not None else ""
    return _model(ws, run.project_id, run.id, sha)


@st.cache_resource(show_spinner=False, max_entries=16)
def _predictions(_ws, project_id: str, run_id: str, predictions_key: str):
    return _read_predictions(_ws, run_id)


def run_predictions(ws, run):
    """A run's validation predictions, read once per server. Shared: do not modify the frame."""
    return _predictions(ws, run.project_id, run.id, run.predictions_key or "")


@st.cache_resource(show_spinner=False, max_entries=256)
def _figure(project_id: str, key: tuple, _build: Callable, _args: tuple):
    return _drawn_once(_build(*_args))


def _drawn_once(fig):
    """A Plotly figure whose `to_dict()` answers from one dict made now.

    st.plotly_chart asks a figure for `to_dict()` (a deep copy of all its data: a fifth of the Evaluate page's run)
    and only reads the result (besides dropping trace uids, done here once), so a cached figure hands out the same
    dict to every session. The figure itself is never modified afterwards (cached objects are read-only)."""
    from plotly.basedatatypes import BaseFigure

    if not isinstance(fig, BaseFigure):
        return fig
    drawn = fig.to_dict()
    for trace in drawn.get("data", []):
        trace.pop("uid", None)  # what plotly.io.to_json drops: done now, so concurrent draws never change the dict
    fig.to_dict = lambda: drawn
    return fig


def figure(project_id: str, key: tuple, build: Callable, *args: Any):
    """`build(*args)`, built once per server for this project and key (a tuple naming all that the figure shows)."""
    return _figure(project_id, tuple(key) + (getattr(build, "__qualname__", str(build)),), build, args)


class _Slot:
    """One derived view: the newest build with the stamp of what it read, and a lock so one session builds it."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.entry: tuple | None = None  # (stamp, value), replaced whole


@st.cache_resource(show_spinner=False, max_entries=128)
def _slot(home: str, project_id: str, key: tuple) -> _Slot:
    return _Slot()


def tracked_with_stamp(ws, project_id: str, key: tuple, build: Callable, *args: Any) -> tuple[Any, tuple]:
    """`build(*args)` and the stamp of what it read (a tuple that changes when the view would: a key for caches of
    things drawn from it), built once per server for this project and key, and again only after a write that can
    change something the build read."""
    slot = _slot(str(ws.home), project_id, tuple(key))
    entry = slot.entry
    if entry is not None and ws.unchanged_since(entry[0]):
        return entry[1], entry[0]
    with slot.lock:  # the others wait for the one session that builds it
        entry = slot.entry
        if entry is not None and ws.unchanged_since(entry[0]):
            return entry[1], entry[0]
        with ws.track_reads() as reads:
            value = _drawn_once(build(*args))
        slot.entry = (reads.stamp, value)
        return value, reads.stamp


def tracked(ws, project_id: str, key: tuple, build: Callable, *args: Any):
    """`tracked_with_stamp` without the stamp."""
    return tracked_with_stamp(ws, project_id, key, build, *args)[0]


def derived(ws, project_id: str, name: str, build: Callable):
    """`build(ws, project_id)`, built once per server and again only after a write that changes what it read."""
    return tracked(ws, project_id, ("derived", name), build, ws, project_id)


@st.cache_resource(show_spinner=False, max_entries=32)
def _profile(project_id: str, dataset_id: str, content_hash: str, target: str | None, _ws):
    return freeze(profile_dataset(_ws, dataset_id, target))


def dataset_profile(ws, project_id: str, info, target: str | None):
    """The profile of a dataset the session may read (`info` comes from its own role's catalogue), read once per
    server for this project, dataset content and target, frozen. Raises what `profile_dataset` raises (not cached)."""
    return _profile(project_id, info.id, info.content_hash, target, ws)


def clear_profiles() -> None:
    """Drops every shared profile (the Profile page's Recompute)."""
    _profile.clear()


@st.cache_resource(show_spinner=False, max_entries=64)
def _shown_table(project_id: str, key: tuple, _build: Callable, _args: tuple):
    from pages._widgets import shown_frame

    return shown_frame(_build(*_args))


def shown_table(project_id: str, key: tuple, build: Callable, *args: Any):
    """`pages._widgets.shown_frame(build(*args))`, made once per server for this project and key (a tuple naming all
    that the table shows), for `pages._widgets.table`: an immutable Arrow table, or a Styler nobody else is handed."""
    return _shown_table(project_id, tuple(key) + (getattr(build, "__qualname__", str(build)),), build, args)


def shared(project_id: str, key: tuple, build: Callable, *args: Any):
    """`build(*args)` for anything drawn from immutable inputs (a saved report's table, a dataset's date columns by
    its content hash), built once per server for this project and key; shared, so only read. Same cache as figures."""
    return figure(project_id, key, build, *args)
