"""The caches shared by every session (pages/_cache.py): read-only objects, bounded, renewed when data changes, and
keyed by the project a session may read; and a table prepared once draws exactly what a fresh one draws."""

from __future__ import annotations

from types import MappingProxyType

import numpy as np
import pandas as pd
import pytest
import streamlit as st

from pages import _cache
from pages._widgets import blank_missing, shown_frame


@pytest.fixture(autouse=True)
def _fresh_caches():
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def _marshalled(data):
    """What st.dataframe would send for `data` (its Arrow data proto), as Streamlit's own element code builds it."""
    import pyarrow as pa
    from streamlit import dataframe_util
    from streamlit.elements.lib.pandas_styler_utils import marshall_styler
    from streamlit.proto.Dataframe_pb2 import Dataframe as DataframeProto

    proto = DataframeProto()
    if isinstance(data, pa.Table):
        proto.arrow_data.data = dataframe_util.convert_arrow_table_to_arrow_bytes(data)
        return proto
    if dataframe_util.is_pandas_styler(data):
        data.set_uuid("fixed")
        marshall_styler(proto.arrow_data, data, "fixed")
    proto.arrow_data.data = dataframe_util.convert_pandas_df_to_arrow_bytes(
        dataframe_util.convert_anything_to_pandas_df(data, ensure_copy=False))
    return proto


def _frame_with_gaps() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"x": rng.normal(size=50), "t": rng.choice(["a", "b", None], 50), "n": np.arange(50),
                       "d": pd.date_range("2024-01-01", periods=50, freq="D")})
    df.loc[::7, "x"] = np.nan
    df.loc[::9, "d"] = pd.NaT
    return df


def test_a_prepared_table_draws_exactly_what_a_fresh_one_draws():
    gaps = _frame_with_gaps()
    fresh, prepared = blank_missing(gaps.copy()), shown_frame(gaps.copy())
    assert _marshalled(prepared).SerializeToString() == _marshalled(fresh).SerializeToString()
    assert _marshalled(prepared).SerializeToString() == _marshalled(prepared).SerializeToString()  # drawn again
    full = pd.DataFrame({"n": [1, 2, 3], "s": ["a", "b", "c"]})
    assert _marshalled(shown_frame(full)).SerializeToString() == _marshalled(full).SerializeToString()


def test_a_prepared_table_cannot_be_changed_and_still_downloads():
    import pyarrow as pa

    table = shown_frame(pd.DataFrame({"n": [1, 2]}))
    assert isinstance(table, pa.Table)  # immutable: no session can change what another draws
    assert list(table.to_pandas()["n"]) == [1, 2]


def test_frozen_profiles_are_read_only():
    frozen = _cache.freeze({"a": [1, {"b": [2, 3]}], "c": {"d": "e"}})
    assert isinstance(frozen, MappingProxyType) and frozen["a"][1]["b"] == (2, 3)
    with pytest.raises(TypeError):
        frozen["c"]["d"] = "changed"
    with pytest.raises(TypeError):
        frozen["a"][1]["b"][0] = 9  # lists became tuples
    with pytest.raises(AttributeError):
        frozen["a"].append(4)


class _Info:
    def __init__(self, id_: str, content_hash: str):
        self.id, self.content_hash = id_, content_hash


def test_profiles_are_shared_renewed_with_the_data_kept_apart_per_project_and_bounded(monkeypatch):
    calls = []

    def fake_profile(ws, dataset_id, target):
        calls.append((dataset_id, target))
        return {"dataset": dataset_id, "columns": [{"name": "x"}], "n": len(calls)}

    monkeypatch.setattr(_cache, "profile_dataset", fake_profile)
    a = _cache.dataset_profile(object(), "p1", _Info("d1", "h1"), None)
    assert _cache.dataset_profile(object(), "p1", _Info("d1", "h1"), None) is a  # shared: computed once
    assert len(calls) == 1
    renewed = _cache.dataset_profile(object(), "p1", _Info("d1", "h2"), None)  # the data changed: a new hash
    assert renewed is not a and renewed["n"] == 2
    other = _cache.dataset_profile(object(), "p2", _Info("d1", "h1"), None)  # another project: never the same object
    assert other is not a and len(calls) == 3
    for i in range(40):  # more than the bound: the oldest entries go
        _cache.dataset_profile(object(), "p1", _Info(f"x{i}", "h"), None)
    before = len(calls)
    _cache.dataset_profile(object(), "p1", _Info("d1", "h1"), None)
    assert len(calls) == before + 1


def test_shared_tables_are_keyed_by_project_and_bounded():
    built = []

    def build(n):
        built.append(n)
        return pd.DataFrame({"n": range(n)})

    first = _cache.shown_table("p1", ("t", 3), build, 3)
    assert _cache.shown_table("p1", ("t", 3), build, 3) is first and built == [3]
    assert _cache.shown_table("p2", ("t", 3), build, 3) is not first  # another project's viewer gets its own
    for i in range(70):
        _cache.shown_table("p1", ("t", i + 10), build, 1)
    _cache.shown_table("p1", ("t", 3), build, 3)
    assert built.count(3) == 3  # evicted by the bound, built again


def test_a_cached_figure_draws_what_a_fresh_one_draws():
    import plotly.graph_objects as go
    import plotly.io

    def build(n):
        fig = go.Figure(go.Scatter(x=list(range(n)), y=[i * i for i in range(n)], uid="trace-uid"))
        fig.update_layout(title="squares")
        return fig

    cached = _cache.figure("p1", ("squares", 5), build, 5)
    assert _cache.figure("p1", ("squares", 5), build, 5) is cached
    fresh = build(5)
    assert plotly.io.to_json(cached, validate=False) == plotly.io.to_json(fresh, validate=False)
    first = cached.to_dict()
    assert cached.to_dict() is first and "uid" not in first["data"][0]  # one dict for every draw, uids dropped once
    assert _cache.figure("p2", ("squares", 5), build, 5) is not cached  # another project: its own figure
