"""The Evaluate page: one slider moves the figures, the threshold saves, every tab renders, viewers cannot save."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from streamlit.testing.v1 import AppTest
from tests.helpers import assert_clean as _ok, served_from, train_fast as _train

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "08_evaluate.py")


@pytest.fixture(scope="module")
def _trained_template(trained_workspace):
    """The sample workspace with two churn runs and a house-price project (random split, two fast models)."""
    from core.project.projects import create_project
    from core.split.splitting import split_project
    from core.split.spec import SplitSpec

    t = trained_workspace(["dummy", "logreg"])
    ws = t.ws
    prices = create_project(ws, "House prices", "house_prices", "price")
    _train(ws, prices, split_project(ws, prices, SplitSpec(strategy="random")), ["dummy", "ridge"])
    t.close()
    return SimpleNamespace(home=t.home, churn=t.project_id, prices=prices.id, baseline=t.runs["dummy"],
                           model=t.runs["logreg"])


@pytest.fixture
def trained(_trained_template, tmp_path, monkeypatch):
    """A private copy of the trained workspace; WORKBENCH_HOME points at it and Streamlit's caches are cleared."""
    from core.data.samples import open_workspace

    home = tmp_path / "workspace"
    shutil.copytree(_trained_template.home, home)
    with served_from(home, monkeypatch):
        yield SimpleNamespace(**{**vars(_trained_template), "home": home,
                                 "ws": lambda: open_workspace(home, seed_samples=False)})


def _app(project_id: str, tab: str | None = None, **state) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=90)
    at.session_state.project_id = project_id
    for key, value in state.items():
        at.session_state[key] = value
    if tab:
        at.query_params["evaluate.tab"] = tab
    return at.run()


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_opens_the_best_model_and_the_slider_moves_the_figures(trained):
    from core.evaluate import report as run_report

    at = _app(trained.churn)
    _ok(at)
    assert at.query_params["run"] == trained.model  # the best non-baseline run, and the link names it
    assert any("Launch when" in m.value for m in at.markdown)  # the criteria banner
    before = _metrics(at)
    assert set(before) == {"Precision", "Recall", "F1", "Value per 1,000 decisions"}
    assert len(at.get("plotly_chart")) == 6
    at.slider(key="evaluate.threshold").set_value(0.3).run()
    _ok(at)
    after = _metrics(at)
    assert after["Precision"] != before["Precision"] and after["Recall"] != before["Recall"]
    point = run_report.operating_point(run_report.threshold_view(run_report.load_run_data(trained.ws(), trained.model)),
                                       0.3)
    assert after["Recall"] == f"{point['recall']:.3f}" and after["Precision"] == f"{point['precision']:.3f}"
    assert any("At threshold 0.30" in m.value for m in at.markdown)


def test_saving_the_threshold_persists_with_the_run(trained):
    from core.models.runs import get_run

    at = _app(trained.churn)
    at.button(key="evaluate.use_rule").click().run()  # jump to the threshold that meets the launch rule
    chosen = at.slider(key="evaluate.threshold").value
    assert chosen != 0.5
    at.button(key="evaluate.save_threshold").click().run()
    _ok(at)
    assert get_run(trained.ws(), trained.model).threshold == pytest.approx(chosen)
    assert at.button(key="evaluate.save_threshold").disabled  # saved: nothing left to save


def test_viewer_sees_the_figures_but_no_save_button(trained):
    at = _app(trained.churn, role="viewer")
    _ok(at)
    assert _metrics(at)["Precision"]
    assert "evaluate.save_threshold" not in [b.key for b in at.button]


@pytest.mark.parametrize("tab", ["Errors", "Explain", "Fairness"])
def test_every_tab_renders_on_the_demo_project(trained, tab):
    at = _app(trained.churn, tab)
    _ok(at)
    assert at.get("plotly_chart")
    if tab == "Explain":
        assert at.query_params["row"]  # the what-if row is in the link
        assert any("threshold 0.50" in m.value for m in at.markdown)
    if tab == "Fairness":  # the verdict follows the one slider
        boxes = lambda: [b.value for b in [*at.warning, *at.success]]  # noqa: E731
        assert any(b.startswith("At threshold 0.50") for b in boxes())
        at.slider(key="evaluate.threshold").set_value(0.3).run()
        _ok(at)
        assert any(b.startswith("At threshold 0.30") for b in boxes())


def test_a_link_opens_the_same_run_and_row(trained):
    from core.models.runs import run_predictions

    row = int(run_predictions(trained.ws(), trained.baseline)["_row"].iloc[3])
    at = AppTest.from_file(PAGE, default_timeout=90)
    at.session_state.project_id = trained.churn
    at.query_params.update({"run": trained.baseline, "row": str(row), "evaluate.tab": "Explain"})
    at.run()
    _ok(at)
    assert at.selectbox(key="evaluate.run").value == trained.baseline
    assert at.selectbox(key="evaluate.row").value == row


def test_regression_project_renders_its_views(trained):
    at = _app(trained.prices)
    _ok(at)
    assert {"MAE", "RMSE", "R²", "Bias"} <= set(_metrics(at))
    assert not [s for s in at.slider if s.key == "evaluate.threshold"]  # a number has no threshold
    assert len(at.get("plotly_chart")) == 4
    at = _app(trained.prices, "Fairness")
    _ok(at)
    assert any("No sensitive columns" in i.value for i in at.info)


def test_project_without_a_trained_model_points_to_training(trained):
    from core.project.projects import create_project
    from core.split.splitting import split_project
    from core.split.spec import SplitSpec

    ws = trained.ws()
    other = create_project(ws, "Prices again", "house_prices", "price")
    split_project(ws, other, SplitSpec(strategy="random"))
    at = _app(other.id)
    assert not at.exception
    assert any("No trained model" in i.value for i in at.info)
