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


def test_the_warm_up_freezes_the_heap_it_imported():
    """After the background import the libraries' objects are out of the collector's reach (a full collection then
    no longer walks pandas, scikit-learn and Plotly), and a collection still frees what is made later."""
    import gc
    import weakref

    from pages import _router

    try:
        _router._import_all(["json"])
        frozen = gc.get_freeze_count()
        assert frozen > 10_000

        class Cycle:
            pass

        a, b = Cycle(), Cycle()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
        gc.collect()
        assert gone() is None  # made after the freeze: collected as before
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
