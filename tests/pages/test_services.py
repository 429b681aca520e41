"""The router starts the monitoring queue's drainer only in a real server: a page test runs on a mock runtime."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def test_the_router_under_apptest_starts_no_background_service(seeded_workspace):
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert not (Path(seeded_workspace.home) / "monitor_queue").exists()
    # the real start is covered by tests/e2e/test_monitor_queue_e2e.py (a streamlit server and the CLI)
