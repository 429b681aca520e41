"""End-to-end fixtures: a real `streamlit run` on a free loopback port, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("WORKBENCH_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling out, and this closed network refuses it.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    def __init__(self, home: Path, log_path: Path):
        self.home, self.log_path = home, log_path
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, WORKBENCH_HOME=str(home), DO_NOT_TRACK="1", STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
        self._log = open(log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"), "--server.port", str(self.port),
             "--server.address", "127.0.0.1", "--server.headless", "true"],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_healthy(self, timeout: float = 90) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"streamlit never answered on {self.url}; its log:\n{self.log_path.read_text()}")

    def log_text(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._log.close()


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    """The app running headless against a fresh workspace (the samples load on first start)."""
    home = tmp_path_factory.mktemp("e2e_ws")
    server = AppServer(home, home.parent / f"{home.name}_streamlit.log")
    server.wait_healthy()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is missing at {CHROMIUM}: run `make test`, which installs Debian's chromium package.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, app_server):
    """A fresh browser page that records console errors; the test fails if any appear."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    pg = context.new_page()
    pg.console_errors = []
    pg.on("console", lambda m: pg.console_errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.console_errors.append(str(e)))
    pg.bad_responses = []
    pg.on("response", lambda r: pg.bad_responses.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    yield pg
    context.close()


def wait_for_app(page, timeout: int = 60_000) -> None:
    """Waits until Streamlit has finished running the script for the current page."""
    page.wait_for_selector("[data-testid='stApp']", timeout=timeout)
    # The router's navigation (not Streamlit's legacy page list) is in place once its "Start" section shows.
    page.locator("[data-testid='stSidebarNav']").get_by_text("Start", exact=True).wait_for(timeout=timeout)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]') || "
        "!document.querySelector('[data-testid=\"stStatusWidget\"]').innerText.includes('Running')", timeout=timeout)
    page.wait_for_timeout(400)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]') || "
        "!document.querySelector('[data-testid=\"stStatusWidget\"]').innerText.includes('Running')", timeout=timeout)


def nav(page, title: str) -> None:
    """Opens a page by its title in the sidebar's navigation and waits for its script to finish."""
    page.locator("[data-testid='stSidebarNav']").get_by_role("link", name=title).click()
    wait_for_app(page)


MODEL_NAMES = ("Logistic regression", "Gaussian naive Bayes", "Naive Bayes (word counts)", "Linear SVM",
               "SVM (RBF kernel)", "Decision tree", "Random forest", "k-nearest neighbours", "XGBoost")


def choose_models(page, labels: list[str]) -> None:
    """Leaves exactly `labels` chosen in the Train page's Models box, by keyboard. The box's "Clear all" button can be
    missing for a moment while the page reruns, and a press can land on a rerun and be lost, so it clears until no
    model is left before adding the wanted ones."""
    box = page.locator("[data-testid='stMultiSelect']").filter(has_text="Models").first

    def shown() -> set[str]:
        text = box.inner_text()
        return {name for name in MODEL_NAMES if name in text}

    for _ in range(4):
        if not shown():
            break
        box.hover()
        clear = box.get_by_role("button", name="Clear all")
        try:
            clear.first.wait_for(timeout=10_000)
            clear.first.click()
        except Exception:  # noqa: BLE001 — redrawn meanwhile: look again
            pass
        wait_for_app(page)
    assert not shown(), f"the Models box could not be cleared: {shown()}"
    for label in labels:
        box.locator("input").fill(label)
        page.get_by_role("option", name=label, exact=True).wait_for()
        page.keyboard.press("Enter")
        wait_for_app(page)
    page.keyboard.press("Escape")
    wait_for_app(page)
    assert shown() == set(labels), shown()


def register_first_version(page, who: str = "Browser test") -> None:
    """Opens the Registry, signs the ledger as `who` and registers the project's best run as v1."""
    nav(page, "Registry")
    name = page.get_by_label("Your name, for the ledger")
    name.fill(who)
    name.press("Enter")
    wait_for_app(page)
    page.get_by_role("button", name="Register as a new version").click()
    page.get_by_text("Registered v1").first.wait_for(timeout=60_000)
    wait_for_app(page)


# Every element inside a metric card's label or value whose text is wider than its box (the ellipsis case).
_CUT_OFF = """() => {
  const out = [];
  for (const el of document.querySelectorAll(
      "[data-testid='stMetricLabel'], [data-testid='stMetricLabel'] *, [data-testid='stMetricValue'], "
      + "[data-testid='stMetricValue'] *")) {
    if (el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0) out.push(el.innerText.trim());
  }
  return out;
}"""


def cut_off_metrics(page) -> list[str]:
    """The texts of metric-card labels and values that the page cuts off (wider than their box)."""
    return page.evaluate(_CUT_OFF)


def assert_page_clean(page) -> None:
    """Fails on any exception box, error box or browser console error."""
    assert page.locator("[data-testid='stException']").count() == 0, page.locator("[data-testid='stException']").first.inner_text()
    errors = page.locator("[data-testid='stAlertContentError']")
    assert errors.count() == 0, errors.first.inner_text()
    # Opened at a page URL, Streamlit's frontend first probes <page>/_stcore/{health,host-config} (404) and then the
    # root; those probes are its normal start-up, every other failed request or console error is a bug.
    bad = [r for r in page.bad_responses if not re.search(r"/_stcore/(health|host-config)$", r)]
    assert not bad, bad
    real = [e for e in page.console_errors if not e.startswith("Failed to load resource")]
    assert not real, real


def screenshot(page, name: str) -> None:
    out = ROOT / "test-artifacts"
    out.mkdir(exist_ok=True)
    page.screenshot(path=str(out / f"{name}.png"), full_page=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keeps a screenshot of the page when a browser test fails, in test-artifacts/."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed and "page" in item.funcargs:
        try:
            screenshot(item.funcargs["page"], f"FAILED_{item.name}")
        except Exception:  # noqa: BLE001 — a failed screenshot must not hide the real failure
            pass
