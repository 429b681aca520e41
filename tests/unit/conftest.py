"""Fixtures for the unit tests: a champion workspace (the monitoring tests), made once per module, copied per test."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def champion_home(trained_workspace):
    """The demo project with a logistic-regression champion (threshold 0.3), closed, ready to copy."""
    from core.release.actions import promote

    tw = trained_workspace(models=("logreg",), thresholds={"logreg": 0.3}, register=("logreg",))
    promote(tw.ws, tw.versions["logreg"], by="test", override_reason="test champion")
    tw.close()
    return tw


@pytest.fixture
def home(champion_home, tmp_path):
    tw = champion_home.copy_to(tmp_path / "ws")
    yield tw
    tw.close()
