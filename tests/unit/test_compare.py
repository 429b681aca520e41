"""Comparing datasets and slices: statistics, differences and shared bins against pandas; refusals with reasons."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.profile.compare import SliceSpec, compare, differences_frame, side_by_side, slice_suggestion, split_slices, \
    suggest_partner
from core.errors import NotFound, SpecInvalid
from core.store.workspace import close_workspace
from core.data.samples import open_workspace
from core.data.ingest import add_frame


def _frames(n: int = 600):
    rng = np.random.default_rng(8)
    ref = pd.DataFrame({"amount": rng.normal(100, 10, n), "visits": rng.poisson(3, n),
                        "region": rng.choice(["north", "south", "east"], n, p=[0.5, 0.3, 0.2]),
                        "day": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 60, n), unit="D"),
                        "stable": rng.normal(0, 1, n), "only_ref": 1})
    cur = pd.DataFrame({"amount": rng.normal(106, 10, n), "visits": rng.poisson(3, n),
                        "region": rng.choice(["north", "south", "east", "west"], n, p=[0.2, 0.3, 0.2, 0.3]),
                        "day": pd.Timestamp("2025-03-01") + pd.to_timedelta(rng.integers(0, 60, n), unit="D"),
                        "stable": rng.normal(0, 1, n), "only_cur": 2})
    cur.loc[: n // 10, "visits"] = np.nan  # 10 % missing appear
    return ref, cur


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    home = tmp_path_factory.mktemp("compare")
    w = open_workspace(home, seed_samples=False)
    ref, cur = _frames()
    add_frame(w, "reference", ref)
    add_frame(w, "current", cur)
    yield w
    close_workspace(home)


@pytest.fixture(scope="module")
def result(ws):
    return compare(ws, SliceSpec("reference"), SliceSpec("current"))


def _col(result, name):
    return next(c for c in result["columns"] if c["name"] == name)


def test_statistics_on_each_side_match_pandas(ws, result):
    ref, cur = ws.frame("reference"), ws.frame("current")
    for name in ("amount", "visits", "stable"):
        c = _col(result, name)
        for side, df in (("left", ref), ("right", cur)):
            s = df[name].astype(float)
            assert math.isclose(c[side]["mean"], s.mean(), rel_tol=1e-9)
            assert math.isclose(c[side]["std"], s.std(), rel_tol=1e-9)
            assert c[side]["missing"] == s.isna().sum()
    assert result["left"]["rows"] == len(ref) and result["right"]["rows"] == len(cur)
    assert result["only_left"] == ["only_ref"] and result["only_right"] == ["only_cur"]


def test_differences_match_hand_computation(ws, result):
    ref, cur = ws.frame("reference"), ws.frame("current")
    amount = _col(result, "amount")
    pooled = math.sqrt((ref["amount"].var() + cur["amount"].var()) / 2)
    assert math.isclose(amount["differences"]["smd"], (cur["amount"].mean() - ref["amount"].mean()) / pooled,
                        rel_tol=1e-9)
    assert amount["flagged"]
    assert not _col(result, "stable")["flagged"]
    visits = _col(result, "visits")
    assert visits["flagged"] and any("missing values" in r for r in visits["reasons"])
    region = _col(result, "region")
    lp = ref["region"].value_counts(normalize=True)
    rp = cur["region"].value_counts(normalize=True)
    tvd = 0.5 * (lp.reindex(rp.index.union(lp.index), fill_value=0) - rp.reindex(rp.index.union(lp.index),
                                                                                  fill_value=0)).abs().sum()
    assert math.isclose(region["differences"]["tvd"], tvd, abs_tol=1e-6)
    assert region["differences"]["new_values"] == ["west"] and region["flagged"]


def test_overlaid_histograms_share_bins_and_match_pandas(ws, result):
    ref, cur = ws.frame("reference"), ws.frame("current")
    chart = _col(result, "amount")["chart"]
    assert chart["type"] == "histogram"
    lo, hi = min(ref["amount"].min(), cur["amount"].min()), max(ref["amount"].max(), cur["amount"].max())
    assert chart["edges"][0] == lo and chart["edges"][-1] == hi
    for side, df in (("left", ref), ("right", cur)):
        expected = pd.cut(df["amount"], chart["edges"], right=True, include_lowest=True).value_counts(sort=False)
        assert chart[side] == expected.tolist()
    region = _col(result, "region")["chart"]
    assert region["right"][region["labels"].index("west")] == (cur["region"] == "west").sum()
    assert region["left"][region["labels"].index("west")] == 0
    days = _col(result, "day")["chart"]
    assert days["type"] == "period" and sum(days["left"]) == len(ref) and sum(days["right"]) == len(cur)


def test_slices_by_condition_hold_the_right_rows(ws):
    cur = ws.frame("current")
    out = compare(ws, SliceSpec("current", "region", "=", ("west",)), SliceSpec("current", "amount", ">=", ("106",)))
    assert out["left"]["rows"] == (cur["region"] == "west").sum()
    assert out["right"]["rows"] == (cur["amount"] >= 106).sum()
    out = compare(ws, SliceSpec("current", "day", "<", ("2025-04-01",)), SliceSpec("current", "visits", "is missing"))
    assert out["left"]["rows"] == (cur["day"] < "2025-04-01").sum()
    assert out["right"]["rows"] == cur["visits"].isna().sum()
    out = compare(ws, SliceSpec("current", "region", "in", ("north", "east")),
                  SliceSpec("current", "visits", "between", ("1", "3")))
    assert out["left"]["rows"] == cur["region"].isin(["north", "east"]).sum()
    assert out["right"]["rows"] == cur["visits"].between(1, 3).sum()


def test_slices_of_a_saved_split(ws):
    info = ws.dataset("reference")
    parts = np.where(np.arange(info.rows) % 5 == 0, "test", "train")
    ws.put_frame("split:sp_test", pd.DataFrame({"_row": np.arange(info.rows, dtype=np.int64), "part": parts}))
    ws.put_record("split", "sp_test", {"name": "demo split", "dataset_id": info.id, "task": "binary", "target": None,
                                       "spec": {"strategy": "random", "ratios": [0.8, 0.0, 0.2]}, "content_hash": "x",
                                       "sizes": {"train": int((parts == "train").sum()), "test": int((parts == "test").sum())}},
                  project_id="prj_test")
    slices = split_slices(ws, info.id)
    assert [s.part for s in slices] == ["train", "test"]
    out = compare(ws, slices[0], slices[1])
    assert (out["left"]["rows"], out["right"]["rows"]) == ((parts == "train").sum(), (parts == "test").sum())
    ref = ws.frame("reference")
    assert math.isclose(_col(out, "amount")["right"]["mean"], ref.loc[parts == "test", "amount"].mean(), rel_tol=1e-9)


def test_bad_slices_are_refused_with_a_reason(ws):
    with pytest.raises(SpecInvalid, match="'soon' is not a valid value for column 'day'"):
        compare(ws, SliceSpec("current", "day", "<", ("soon",)), SliceSpec("current"))
    with pytest.raises(NotFound, match="Did you mean 'region'"):
        compare(ws, SliceSpec("current", "regoin", "=", ("x",)), SliceSpec("current"))
    with pytest.raises(SpecInvalid, match="needs 2 value"):
        compare(ws, SliceSpec("current", "amount", "between", ("1",)), SliceSpec("current"))
    with pytest.raises(SpecInvalid, match="has no rows"):
        compare(ws, SliceSpec("current", "region", "=", ("nowhere",)), SliceSpec("current"))
    with pytest.raises(SpecInvalid, match="not a condition"):
        compare(ws, SliceSpec("current", "region", "LIKE", ("%",)), SliceSpec("current"))
    add_frame(ws, "unrelated", pd.DataFrame({"zzz": [1, 2, 3]}))
    with pytest.raises(SpecInvalid, match="no column names in common"):
        compare(ws, SliceSpec("current"), SliceSpec("unrelated"))
    with pytest.raises(NotFound, match="No saved split"):
        compare(ws, SliceSpec("current", op="split", split_id="nope", part="test"), SliceSpec("current"))


def test_a_hostile_value_is_bound_not_spliced(ws):
    cur = ws.frame("current")
    out = compare(ws, SliceSpec("current", "region", "!=", ("x' OR 1=1 --",)), SliceSpec("current"))
    assert out["left"]["rows"] == len(cur)  # every region differs from that odd text; nothing was injected
    assert ws.dataset("current").rows == len(cur)


def test_display_helpers_and_suggestions(ws, result):
    frame = differences_frame(result)
    assert list(frame["Column"])[:1] != [] and frame.iloc[0]["Changed"] == "yes"
    table = side_by_side(result, "amount")
    assert "Mean" in list(table["Statistic"]) and table.shape[1] == 3
    assert suggest_partner(ws, ws.dataset("reference").id) == ws.dataset("current").id
    cut = slice_suggestion(ws, ws.dataset("current").id, "amount")
    assert cut["mode"] == "cut" and float(cut["value"]) == pytest.approx(ws.frame("current")["amount"].quantile(0.5, interpolation="lower"))
    assert slice_suggestion(ws, ws.dataset("current").id, "region")["values"][0] in ("west", "south")
    assert SliceSpec.from_dict(SliceSpec("a", "b", "in", ("x", "y")).to_dict()) == SliceSpec("a", "b", "in", ("x", "y"))
