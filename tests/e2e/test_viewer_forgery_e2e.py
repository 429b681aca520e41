"""A viewer session, or a visitor without the editor key, that forges an editor's button press over the websocket
changes nothing in the workspace.

The same press from an editor session (holding the editor key, since a share link exists) is the control: it does
create a split.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import websockets

from bench.loadtest import Session
from tests.e2e.conftest import AppServer


async def _forge(url: str, project_id: str, token: str, key: str) -> tuple[str, Session, Session]:
    editor = Session(url, project_id, query=f"key={key}")
    async with websockets.connect(f"ws://{url.removeprefix('http://')}/_stcore/stream", subprotocols=["streamlit"],
                                  origin=url) as ws:
        await editor.run_page(ws, "split")
        create_id = editor.buttons["Create split"]
        await editor.click(ws, "split", "Create split")  # the control: an editor's press does write
    viewer = Session(url, project_id, query=f"share={token}")
    async with websockets.connect(f"ws://{url.removeprefix('http://')}/_stcore/stream", subprotocols=["streamlit"],
                                  origin=url) as ws:
        await viewer.run_page(ws, "split")
        assert "Create split" not in viewer.buttons  # not drawn for a viewer at all
        await viewer.click(ws, "split", "Create split", widget_id=create_id)
        await viewer.run_page(ws, "data")  # not registered for a viewer
    stranger = Session(url, project_id)  # no share token and no key: the sign-in screen only
    async with websockets.connect(f"ws://{url.removeprefix('http://')}/_stcore/stream", subprotocols=["streamlit"],
                                  origin=url) as ws:
        await stranger.run_page(ws, "split")
        assert "Create split" not in stranger.buttons and "Open the editor" in stranger.buttons
        await stranger.click(ws, "split", "Create split", widget_id=create_id)
        await stranger.run_page(ws, "data")
    return create_id, viewer, stranger


def test_forged_editor_event_from_a_viewer_changes_nothing(tmp_path):
    from core.split.demo_seed import seed_demo_project
    from core.share.access import rotate_editor_key
    from core.share.links import create_share_link
    from core.split.splitting import list_splits
    from core.store.workspace import close_workspace
    from core.data.samples import open_workspace

    home = tmp_path / "ws"
    ws = open_workspace(home, seed_samples=True)
    project = seed_demo_project(ws)
    token = create_share_link(ws, project.id, label="forgery test")
    key = rotate_editor_key(ws)
    before = [s.id for s in list_splits(ws, project.id)]
    datasets_before = [d.id for d in ws.datasets()]
    close_workspace(home)

    server = AppServer(home, tmp_path / "streamlit.log")
    try:
        server.wait_healthy()
        # Playwright's sync API keeps an event loop running in this thread during the browser tests: use another.
        with ThreadPoolExecutor(1) as pool:
            _, viewer, stranger = pool.submit(asyncio.run, _forge(server.url, project.id, token, key)).result()
    finally:
        server.stop()
    assert not viewer.exceptions and not stranger.exceptions, viewer.exceptions + stranger.exceptions
    ws = open_workspace(home, seed_samples=False)
    after = [s.id for s in list_splits(ws, project.id)]
    assert len(after) == len(before) + 1  # the editor's split, and nothing from the viewer or the stranger
    assert [d.id for d in ws.datasets()] == datasets_before
    close_workspace(home)
