"""The Compare page: two sample datasets side by side, slices of one dataset, a refused condition."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest
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
    at.selectbox(key="compare.view_column").select("region").run()
    _ok(at)
    assert any("region" in str(d.value.columns.tolist()) or "Statistic" in d.value.columns for d in at.dataframe)


def test_compares_two_slices_of_one_dataset(seeded_workspace):
    from core.data.samples import open_workspace

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
