"""The Compare page: two sample datasets side by side, slices of one dataset, a refused condition."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.data.samples import open_workspace
from tests.helpers import assert_clean as _ok

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "04_compare.py")


def test_compares_this_month_with_next_month(seeded_workspace):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    _ok(at)
    headings = " ".join(m.value for m in at.markdown)
    assert "Left: churn" in headings and "Right: churn\\_next\\_month" in headings
    changed = next(m.value for m in at.markdown if "shared columns changed" in m.value)
    assert not changed.startswith("**0 of")
    frame = at.dataframe[0].value
    assert "monthly_charges" in set(frame.loc[frame["Changed"] == "yes", "Column"])
    # The overlay opens on the first changed column; picking another shows that column's figures on both sides.
    assert at.selectbox(key="compare.view_column").value == frame.loc[frame["Changed"] == "yes", "Column"].iloc[0]
    at.selectbox(key="compare.view_column").select("monthly_charges").run()
    _ok(at)
    assert _chart_title(at) == "monthly_charges: left vs right"
    assert any("standard deviations" in w.value for w in at.warning)  # why it is flagged
    stats = at.dataframe[1].value.set_index("Statistic")
    assert stats.columns.tolist() == ["churn (left)", "churn_next_month (right)"]
    ws = open_workspace(seed_samples=False)
    for side, name in zip(stats.columns, ("churn", "churn_next_month")):
        values = ws.frame(name)["monthly_charges"]
        assert stats.loc["Filled", side] == f"{values.notna().sum():,}"
        assert _number(stats.loc["Mean", side]) == pytest.approx(values.mean(), rel=1e-5)
        assert _number(stats.loc["Maximum", side]) == pytest.approx(values.max(), rel=1e-5)
    at.selectbox(key="compare.view_column").select("region").run()  # a category: its own statistics, no mean
    _ok(at)
    assert _chart_title(at) == "region: left vs right"
    stats = at.dataframe[1].value.set_index("Statistic")
    assert "Mean" not in stats.index
    for side, name in zip(stats.columns, ("churn", "churn_next_month")):
        assert stats.loc["Distinct", side].startswith(f"{ws.frame(name)['region'].nunique():,} (")


def test_with_nothing_changed_the_overlay_opens_on_a_readable_column_not_an_identifier(seeded_workspace):
    churn = open_workspace(seed_samples=False).dataset("churn").id
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.selectbox(key="compare.left").set_value(churn).run()
    at.selectbox(key="compare.right").set_value(churn).run()
    _ok(at)
    assert next(m.value for m in at.markdown if "shared columns changed" in m.value).startswith("**0 of")
    frame = at.dataframe[0].value
    first = at.selectbox(key="compare.view_column").value
    assert first != "customer_id" and set(frame.loc[frame["Column"] == first, "Type"]) != {"id"}
    assert _chart_title(at) == f"{first}: left vs right"


def _chart_title(at: AppTest) -> str:
    [chart] = at.get("plotly_chart")
    return json.loads(chart.proto.spec)["layout"]["title"]["text"]


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def test_compares_two_slices_of_one_dataset(seeded_workspace):
    churn = open_workspace(seed_samples=False).dataset("churn").id
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.radio(key="compare.mode").set_value("Two slices of one dataset").run()
    at.selectbox(key="compare.dataset").set_value(churn).run()
    at.selectbox(key="compare.column").select("observation_month").run()
    _ok(at)
    metrics = [m.value for m in at.metric if m.label == "Rows"]
    assert len(metrics) == 2 and sum(int(v.replace(",", "")) for v in metrics) == 6000
    at.text_input(key="compare.cut.observation_month").input("not a date").run()
    assert not at.exception
    assert any("not a valid value" in e.value for e in at.error)
