"""The one table helper: missing cells empty, Streamlit's raw download off, our formula-safe download beside it."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
from streamlit.testing.v1 import AppTest

from pages._widgets import blank_missing

ROOT = Path(__file__).resolve().parents[2]


def test_streamlits_own_table_download_is_off():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["disableDataExport"] is True


def test_missing_cells_draw_empty_and_numbers_stay_numbers():
    df = pd.DataFrame({"t": ["a", None, "c"], "x": [1.5, np.nan, 3.0], "n": [1, 2, 3],
                       "d": pd.to_datetime(["2024-01-01", None, "2024-01-03"])})
    shown = blank_missing(df)
    text = shown.to_string()
    assert "None" not in text and "nan" not in text.lower() and "NaT" not in text
    assert shown.data["x"].dtype == float and shown.data["n"].dtype == np.int64  # sorting stays numeric
    full = pd.DataFrame({"n": [1, 2]})
    assert blank_missing(full) is full
    twin = pd.DataFrame([[None, 1]], columns=["a", "a"])
    assert blank_missing(twin).iloc[0, 0] == ""


def _table_app():
    import pandas as pd

    from pages._widgets import table

    table(pd.DataFrame({"cell": ["=1+1", "a\r=2", None]}), key="t", download="x.csv")


def test_the_table_offers_the_formula_safe_download():
    at = AppTest.from_function(_table_app, default_timeout=30).run()
    assert not at.exception
    assert len(at.dataframe) == 1
    buttons = at.get("download_button")
    assert len(buttons) == 1 and buttons[0].proto.label == "Download CSV"
