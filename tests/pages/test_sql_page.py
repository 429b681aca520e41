"""The SQL page: run the example query, save it as a dataset, refuse unsafe SQL with a plain message, viewer mode."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest
from tests.helpers import assert_clean as _ok

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "05_sql.py")


def test_runs_the_example_query_and_saves_the_result(seeded_workspace):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    _ok(at)
    assert "FROM churn" in at.text_area(key="sql.query").value
    at.button(key="sql.run").click().run()
    _ok(at)
    result = at.dataframe[0].value
    assert len(result) == 5 and result["customers"].sum() == 6000
    assert any("5 rows in" in c.value and "reads churn" in c.value for c in at.caption)
    at.text_input(key="sql.save_name").input("customers by region").run()
    at.button(key="sql.save").click().run()
    _ok(at)
    assert any("Saved as dataset" in s.value for s in at.success)
    from core.data.samples import open_workspace

    saved = open_workspace(seed_samples=False).dataset("customers by region")
    assert saved.rows == 5 and "FROM churn" in saved.lineage["sql"]


def test_unsafe_sql_is_refused_with_a_plain_message(seeded_workspace):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    for sql in ("DROP TABLE churn", "SELECT * FROM read_csv('/etc/passwd')", "SELECT 1; DELETE FROM churn"):
        at.text_area(key="sql.query").input(sql).run()
        at.button(key="sql.run").click().run()
        assert not at.exception
        assert at.error and "Traceback" not in at.error[0].value
    assert "SELECT" in at.error[0].value
    from core.data.samples import open_workspace

    assert open_workspace(seed_samples=False).dataset("churn").rows == 6000


def test_a_viewer_gets_no_save_control(seeded_workspace):
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["role"] = "viewer"
    at.run()
    at.button(key="sql.run").click().run()
    assert not at.exception
    assert at.dataframe and not [b for b in at.button if b.key == "sql.save"]
