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


def test_a_tracked_view_outlives_the_writes_it_did_not_read_and_follows_those_it_did(workspace):
    ws = workspace
    ws.put_record("run", "r1", {"v": 1}, project_id="p1")
    ws.put_record("version", "v1", {"v": 1}, project_id="p1")
    ws.put_frame("run:r1:preds", pd.DataFrame({"a": [1]}))
    builds = []

    def view():
        builds.append(1)
        return (len(ws.list_records("run", "p1")), ws.get_record("version", "v1")["v"],
                int(ws.get_frame("run:r1:preds")["a"].iloc[0]))

    def shown():
        return _cache.tracked(ws, "p1", ("view",), view)

    assert shown() == (1, 1, 1) and shown() == (1, 1, 1) and len(builds) == 1
    ws.put_record("split", "s1", {"n": 1}, project_id="p1")  # what the view does not read
    ws.put_frame("split:s1", pd.DataFrame({"b": [1]}))
    ws.put_record("version", "v2", {"v": 9}, project_id="p1")  # another record of a kind it reads one of
    assert shown() == (1, 1, 1) and len(builds) == 1
    for write, expected in ((lambda: ws.put_record("version", "v1", {"v": 2}, project_id="p1"), (1, 2, 1)),
                            (lambda: ws.put_record("run", "r2", {"v": 1}, project_id="p1"), (2, 2, 1)),
                            (lambda: ws.put_frame("run:r1:preds", pd.DataFrame({"a": [3]})), (2, 2, 3)),
                            (lambda: ws.delete_record("run", "r2"), (1, 2, 3))):
        write()
        n = len(builds)
        assert shown() == expected and len(builds) == n + 1
    with ws.cursor() as cur:  # a write the store cannot name: every view is built again
        cur.execute("UPDATE wb_records SET payload = '{\"v\": 7}' WHERE kind = 'version' AND id = 'v1'")
    assert shown() == (1, 7, 3) and len(builds) == 6


def test_a_view_that_runs_raw_sql_follows_every_write(workspace):
    ws = workspace
    builds = []

    def view():
        builds.append(1)
        return ws.read_rows("SELECT count(*) FROM wb_records")[0][0]

    assert _cache.tracked(ws, "p1", ("raw",), view) == 0
    ws.put_record("split", "s1", {"n": 1}, project_id="p1")
    assert _cache.tracked(ws, "p1", ("raw",), view) == 1 and len(builds) == 2


def test_a_write_during_a_build_makes_the_next_run_build_again(workspace):
    ws = workspace
    ws.put_record("run", "r1", {"v": 1}, project_id="p1")
    calls = []

    def view():
        value = ws.get_record("run", "r1")["v"]
        if not calls:  # a write lands after the build read its record
            ws.put_record("run", "r1", {"v": 2}, project_id="p1")
        calls.append(value)
        return value

    assert _cache.tracked(ws, "p1", ("racy",), view) == 1
    assert _cache.tracked(ws, "p1", ("racy",), view) == 2 and calls == [1, 2]


def test_the_dashboard_snapshot_outlives_a_new_split_and_always_equals_a_fresh_one(trained_workspace):
    from core.models.runs import set_run_threshold
    from core.release.actions import register_run
    from core.share.dashboard import project_snapshot
    from core.split.spec import SplitSpec
    from core.split.splitting import split_project

    trained = trained_workspace(models=("dummy", "logreg"), register=("logreg",))
    ws, pid = trained.ws, trained.project_id
    builds = []

    def snapshot(ws_, pid_):
        builds.append(1)
        return project_snapshot(ws_, pid_, important_features=lambda w, run: [], with_split=False)

    def facts(snap):
        return (snap.decision.verdict, snap.decision.why, [(k.label, k.value, k.threshold) for k in snap.kpis],
                [(v.id, tuple(v.aliases)) for v in snap.versions], len(snap.ledger),
                None if snap.value is None else (snap.value.model, snap.value.no_model))

    def check(rebuilt: bool):
        n = len(builds)
        cached = _cache.tracked(ws, pid, ("snap",), snapshot, ws, pid)
        assert len(builds) == n + rebuilt
        assert facts(cached) == facts(snapshot(ws, pid))
        builds.pop()  # the fresh one

    check(True)
    split_project(ws, trained.project, SplitSpec("stratified", seed=7))  # the dashboard shows no split: kept
    check(False)
    set_run_threshold(ws, trained.runs["logreg"], 0.3)
    check(True)
    register_run(ws, trained.runs["dummy"], by="test")
    check(True)
    check(False)
    trained.close()
