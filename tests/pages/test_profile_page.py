"""The Profile page: summary and alerts on sample data, column details, correlations, the target view, caching."""

from __future__ import annotations

import time
from core.data.ingest import add_frame
from pathlib import Path

from streamlit.testing.v1 import AppTest
from tests.helpers import assert_clean as _ok

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "03_profile.py")


def _app(**state) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def _pick(at: AppTest, name: str) -> AppTest:
    from core.data.samples import open_workspace

    at.selectbox(key="profile.dataset").set_value(open_workspace(seed_samples=False).dataset(name).id)
    return at.run()


def test_profiles_a_sample_dataset_with_summary_and_alerts(seeded_workspace):
    at = _pick(_app(), "churn")
    _ok(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Rows"] == "6,000" and metrics["Columns"] == "16"
    assert metrics["Duplicate rows"] == "0"
    texts = " ".join(w.value for w in at.warning) + " ".join(i.value for i in at.info)
    assert "customer" in texts  # the ID-like alert names the column
    overview = at.dataframe[0].value if "Severity" not in at.dataframe[0].value.columns else at.dataframe[1].value
    assert "Column" in overview.columns and len(overview) == 16


def test_column_details_and_heatmap_render(seeded_workspace):
    at = _pick(_app(), "house_prices")
    at.selectbox(key="profile.column").select("price").run()
    _ok(at)
    details = [d.value for d in at.dataframe if list(d.value.columns) == ["Statistic", "Value"]]
    assert details and "Median" in list(details[0]["Statistic"])
    at.radio(key="profile.corr_measure").set_value("Pearson (numbers)").run()
    _ok(at)
    assert any("all 3,000 rows" in c.value for c in at.caption)


def test_picking_a_target_shows_associations_and_leakage_checks(seeded_workspace):
    at = _pick(_app(), "churn")
    at.selectbox(key="profile.target").select("churned").run()
    _ok(at)
    frames = [d.value for d in at.dataframe if "Feature" in d.value.columns]
    assert frames and "satisfaction_score" in list(frames[0]["Feature"])[:3]
    assert any("Possible leakage: customer" in w.value for w in at.warning)


def test_a_leaking_column_is_flagged_loudly(seeded_workspace):
    import numpy as np
    import pandas as pd

    from core.data.samples import open_workspace

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    ws = open_workspace(seed_samples=False)
    add_frame(ws, "leaky", pd.DataFrame({"x": rng.normal(size=400), "refund_amount": y * 50.0 + rng.random(400),
                                        "outcome": np.where(y == 1, "left", "stayed")}))
    at = _app()
    at.selectbox(key="profile.dataset").set_value(ws.dataset("leaky").id).run()
    at.selectbox(key="profile.target").select("outcome").run()
    assert not at.exception
    loud = [e.value.replace("\\", "") for e in at.error]
    assert any("refund_amount" in v and "almost perfectly" in v for v in loud)


def test_reopening_a_profiled_dataset_is_served_from_the_cache(seeded_workspace):
    at = _pick(_app(), "churn")
    _ok(at)
    started = time.perf_counter()
    at.run()  # a rerun: the profile comes from the cache, only drawing is left
    assert time.perf_counter() - started < 2.0
    from core.profile.profiling import cached_profile
    from core.data.samples import open_workspace

    assert cached_profile(open_workspace(seed_samples=False), "churn") is not None


def test_a_viewer_sees_only_the_shared_projects_dataset_and_no_recompute(seeded_workspace):
    assert seeded_workspace.demo_project_id, "the seeded workspace must hold the demo project"
    at = _app(role="viewer", project_id=seeded_workspace.demo_project_id)
    _ok(at)
    from core.project.projects import get_project
    from core.data.samples import open_workspace

    ws = open_workspace(seed_samples=False)
    shared = ws.dataset(get_project(ws, seeded_workspace.demo_project_id).dataset_id)
    assert at.selectbox(key="profile.dataset").value == shared.id
    assert len(at.selectbox(key="profile.dataset").options) == 1 < len(ws.datasets())
    assert not [b for b in at.button if b.key == "profile.refresh"]


def test_an_unusable_target_shows_a_message_and_recompute_still_works(seeded_workspace):
    at = _pick(_app(), "house_prices")
    at.selectbox(key="profile.target").select("sale_date").run()
    assert not at.exception
    assert any("holds dates" in e.value for e in at.error)
    at.button(key="profile.refresh").click().run()
    assert not at.exception
    assert any("Rows" == m.label for m in at.metric)  # the profile without the target is still drawn
