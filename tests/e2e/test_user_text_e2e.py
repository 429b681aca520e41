"""In a real browser: user text (project name, column names, category values) never becomes a link, an image or a
request to another host, on the pages that show it, as editor and as share-link viewer.

Pages visited (kept to those that render these names, for speed): editor — Home, Data, Profile, Split, Evaluate,
Share; viewer — Home, Dashboard, Profile, Split, Evaluate.
"""

from __future__ import annotations

from urllib.parse import urlparse

import numpy as np
import pandas as pd
import pytest

from tests.e2e.conftest import AppServer, wait_for_app

EVIL = "evil.example"
CORPUS = [f"[x](http://{EVIL}/md)", f"![x](http://{EVIL}/i.png)", f"http://{EVIL}/bare", f'<img src="http://{EVIL}/j.png">',
          f'<a href="http://{EVIL}/a">a</a>', ":red[red]", "$x^2$", f"www.{EVIL}", f"boss@{EVIL}"]
PROJECT_NAME = f"P [p](http://{EVIL}/p) www.{EVIL} :red[x] $y$"


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    from core.data.ingest import add_frame
    from core.data.samples import open_workspace
    from core.project.projects import create_project
    from core.share.links import create_share_link
    from core.split.spec import SplitSpec
    from core.split.splitting import split_project
    from core.store.workspace import close_workspace
    from tests.helpers import train_fast

    home = tmp_path_factory.mktemp("corpus_ws")
    ws = open_workspace(home, seed_samples=False)
    rng = np.random.default_rng(7)
    n = 240
    frame = {name: rng.normal(size=n).round(3) for name in CORPUS[:4]}
    frame["segment"] = [CORPUS[i % len(CORPUS)] for i in range(n)]
    frame[CORPUS[4]] = [CORPUS[(i + 3) % len(CORPUS)] for i in range(n)]
    frame["left"] = (frame[CORPUS[0]] + rng.normal(scale=0.5, size=n) > 0).astype(int)
    info = add_frame(ws, f"data [d](http://{EVIL}/d)", pd.DataFrame(frame))
    project = create_project(ws, PROJECT_NAME, info.id, "left", problem=f"Problem ![i](http://{EVIL}/p.png) "
                                                                         f"http://{EVIL}/problem")
    split = split_project(ws, project, SplitSpec(strategy="stratified"), name=f"split <a href='http://{EVIL}'>s</a>")
    train_fast(ws, project, split, ["dummy", "logreg"])
    token = create_share_link(ws, project.id)
    from core.share.access import rotate_editor_key

    key = rotate_editor_key(ws)
    close_workspace(home)
    server = AppServer(home, home.parent / f"{home.name}_streamlit.log")
    server.wait_healthy()
    yield server, project, token, key
    server.stop()


def _offending(page, origin: str) -> list[str]:
    found = page.evaluate("""() => [...document.querySelectorAll('a[href], img[src], iframe[src], source[src]')]
        .map(e => e.getAttribute('href') || e.getAttribute('src'))""")
    bad = []
    for ref in found:
        parsed = urlparse(ref)
        if parsed.scheme in ("", "data", "blob") and not ref.startswith("//"):
            continue
        if f"{parsed.scheme}://{parsed.netloc}" != origin:
            bad.append(ref)
    return bad


def _visit(browser, server, paths, query) -> dict[str, list[str]]:
    context = browser.new_context(viewport={"width": 1400, "height": 1600})
    foreign: list[str] = []
    context.on("request", lambda r: foreign.append(r.url) if urlparse(r.url).hostname not in ("127.0.0.1",) else None)
    page = context.new_page()
    problems = {}
    try:
        for path in paths:
            page.goto(f"{server.url}/{path}?{query}")  # each visit is a new session: it brings its key or token
            wait_for_app(page)
            page.wait_for_timeout(800)
            text = page.locator("[data-testid='stMain']").inner_text()
            bad = _offending(page, server.url)
            if bad:
                problems[path or "home"] = bad
            problems.setdefault("_seen", []).append(f"{path}:{'segment' in text or 'P [p]' in text}")
    finally:
        context.close()
    if foreign:
        problems["requests"] = foreign
    return problems


def test_the_corpus_becomes_no_link_image_or_foreign_request_for_the_editor(browser, planted):
    server, project, _, key = planted
    problems = _visit(browser, server, ["", "data", "profile", "split", "evaluate", "share"],
                      f"project={project.id}&key={key}")
    seen = problems.pop("_seen")
    assert not problems, problems
    assert any(s.endswith("True") for s in seen), seen  # the planted names really were on screen


def test_the_corpus_becomes_no_link_image_or_foreign_request_for_a_viewer(browser, planted):
    server, project, token, _ = planted
    problems = _visit(browser, server, ["", "dashboard", "profile", "split", "evaluate"],
                      f"share={token}&project={project.id}")
    seen = problems.pop("_seen")
    assert not problems, problems
    assert any(s.endswith("True") for s in seen), seen
