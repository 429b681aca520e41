"""Train, tune and score on a real Dask cluster (dask-local, 2 worker processes) through the browser; Cancel stops
the cluster's tasks, receipts name the backend, and the cluster goes when the server stops."""

from __future__ import annotations

import csv
import io
import json
import re
import time
import urllib.request
from pathlib import Path
from urllib.parse import urljoin

import psutil
import pytest

from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.e2e.conftest import (
    ROOT,
    AppServer,
    assert_page_clean,
    choose_models,
    nav,
    register_first_version,
    screenshot,
    wait_for_app,
)

WORKERS = 2
SCORED = ROOT / "sample_data" / "churn_next_month.csv"  # 2,000 rows with the model's columns

# Every text a progress bar shows, kept by the page: a bar can change several times between two looks of the test.
_WATCH_PROGRESS = """() => {
  window.__progress = window.__progress || new Set();
  if (!window.__watching) window.__watching = setInterval(() => {
    for (const el of document.querySelectorAll("[data-testid='stProgress']"))
      window.__progress.add(el.innerText.trim());
  }, 50);
}"""


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    """The app on a fresh workspace (the churn sample project), computing on dask-local with two workers."""
    home = tmp_path_factory.mktemp("dask_e2e_ws")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("WORKBENCH_COMPUTE", f"dask-local:{WORKERS}")  # AppServer passes its environment to the server
        server = AppServer(home, home.parent / f"{home.name}_streamlit.log")
    server.wait_healthy()
    yield server
    server.stop()


def _counts(status_url: str) -> dict:
    """The scheduler's task and worker counts (its JSON route, served with or without the bokeh dashboard)."""
    with urllib.request.urlopen(urljoin(status_url, "/json/counts.json"), timeout=5) as r:
        return json.loads(r.read())


def _train(page, done_text: str = "Training finished", timeout: int = 240_000) -> None:
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text(done_text).first.wait_for(timeout=timeout)
    wait_for_app(page)


def _set_number(page, label: str, value: int) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")
    wait_for_app(page)


def _seen_progress(page) -> list[str]:
    return page.evaluate("() => [...(window.__progress || [])]")


def _download(page, button: str) -> bytes:
    """Presses a download button and returns the file; a press that lands on a rerun is lost, so it presses again."""
    for attempt in range(3):
        wait_for_app(page)
        try:
            with page.expect_download(timeout=60_000 if attempt < 2 else 180_000) as info:
                page.get_by_role("button", name=button).click()
            return Path(info.value.path()).read_bytes()
        except PlaywrightTimeout:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def test_train_tune_cancel_and_score_on_the_cluster(page, app_server):
    page.goto(app_server.url)
    wait_for_app(page)
    page.get_by_text("Customer churn").first.wait_for(timeout=60_000)

    # Where the job runs: the cluster, its two workers, and a link to its pages that really answers.
    nav(page, "Train & compare")
    page.get_by_text(re.compile(rf"Training runs on a Dask cluster on this machine: {WORKERS} worker")).first.wait_for(
        timeout=60_000)
    link = page.get_by_role("link", name=re.compile("Dask dashboard|Cluster status"))
    status_url = link.get_attribute("href")
    assert re.match(r"http://127\.0\.0\.1:\d+/", status_url), status_url
    with urllib.request.urlopen(status_url, timeout=10) as r:
        body = r.read().decode()
    assert r.status == 200 and "Dask needs bokeh" not in body, body[:300]  # the link shows the cluster, not an excuse
    assert _counts(status_url)["workers"] == WORKERS
    assert_page_clean(page)
    screenshot(page, "dask_train_panel")

    # A comparison with 3-fold CV: per-fold progress on the cluster, then the leaderboard and where it ran.
    page.evaluate(_WATCH_PROGRESS)
    choose_models(page, ["Logistic regression", "Decision tree", "Random forest"])
    page.get_by_text("On the Dask cluster it trains on every row").first.wait_for()  # not the local 50,000-row cap
    _set_number(page, "Cross-validation folds", 3)
    _train(page)
    seen = _seen_progress(page)
    assert any(re.search(r"fold [1-3] of 3 done · on the Dask cluster", s) for s in seen), seen
    page.get_by_text("Leaderboard").first.wait_for()
    ran = page.get_by_text(f"Trained on a Dask cluster on this machine (dask-local, {WORKERS} workers").first
    ran.wait_for()
    assert page.get_by_text("Random forest").count()
    assert page.get_by_label("Cross-validation folds", exact=True).input_value() == "3"  # the form kept its choices
    assert_page_clean(page)
    ran.scroll_into_view_if_needed()
    screenshot(page, "dask_train_leaderboard")

    # Tuning: every trial's folds run on the cluster; the leaderboard reports the search.
    choose_models(page, ["Decision tree"])
    page.get_by_text("Tune settings automatically").click()
    wait_for_app(page)
    _set_number(page, "Trials per model", 4)
    _train(page)
    page.get_by_text(re.compile(r"Decision tree\s+tuned over 4 trials")).first.wait_for()
    assert_page_clean(page)

    # Cancel during a long search: the page says so, and the cluster's queue empties at once (not after 200 trials).
    choose_models(page, ["Random forest"])
    _set_number(page, "Trials per model", 200)  # tuning is still on: the form kept it
    page.evaluate("() => window.__progress && window.__progress.clear()")
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text(re.compile(r"trial [1-9]\d* of 200")).first.wait_for(timeout=240_000)
    assert _counts(status_url)["processing"] > 0  # the trials run on the workers
    screenshot(page, "dask_train_running")
    page.get_by_role("button", name="Cancel").click()
    page.get_by_text("Tuning was cancelled; nothing was saved").first.wait_for(timeout=120_000)
    wait_for_app(page)
    deadline = time.monotonic() + 30
    while (left := _counts(status_url))["processing"] + left["waiting"] and time.monotonic() < deadline:
        time.sleep(0.25)
    assert left["processing"] == 0 and left["waiting"] == 0, left
    assert_page_clean(page)

    # Register a version; its receipt names the backend and the worker count.
    register_first_version(page)
    page.get_by_role("tab", name="Card & package").click()
    receipt = json.loads(_download(page, "Receipt (JSON)"))
    assert receipt["libraries"]["compute"] == "dask-local", receipt["libraries"]
    assert receipt["libraries"]["compute_workers"] == str(WORKERS), receipt["libraries"]
    assert receipt["libraries"]["distributed"]

    # Batch-score an uploaded file on the cluster and download every row.
    nav(page, "Batch scoring")
    page.locator("input[type='file']").set_input_files(str(SCORED))
    go = page.get_by_role("button", name="Score 2,000 rows")  # the rows passed the model's schema check
    go.wait_for(timeout=60_000)
    wait_for_app(page)
    page.get_by_text(re.compile(rf"Scoring runs on a Dask cluster on this machine: {WORKERS} worker")).first.wait_for()
    go.click()
    page.get_by_text(re.compile(r"Scored on the Dask cluster in \d+ partition")).first.wait_for(timeout=240_000)
    wait_for_app(page)
    assert_page_clean(page)
    screenshot(page, "dask_score")
    rows = list(csv.reader(io.StringIO(_download(page, "Download predictions (CSV)").decode())))
    with open(SCORED, newline="") as fh:
        expected = sum(1 for _ in csv.reader(fh)) - 1
    assert len(rows) - 1 == expected == 2000
    assert {"predicted_class", "score", "decision"} <= set(rows[0]), rows[0]


def test_the_cluster_goes_with_the_server(page, app_server):
    """No worker process outlives the server: the cluster it started is torn down when it stops."""
    page.goto(app_server.url)  # the Train page starts the cluster, if the test above did not get that far
    wait_for_app(page)
    nav(page, "Train & compare")
    page.get_by_text("Training runs on a Dask cluster").first.wait_for(timeout=60_000)
    server = psutil.Process(app_server.proc.pid)
    children = server.children(recursive=True)
    workers = [p for p in children if "spawn_main" in " ".join(p.cmdline())]
    assert len(workers) >= WORKERS, [p.cmdline() for p in children]
    app_server.stop()
    gone, alive = psutil.wait_procs(children, timeout=20)
    assert not alive, [(p.pid, p.cmdline()) for p in alive]
