"""What the router (streamlit_app.py) needs built once per server, not on every rerun.

Streamlit executes the main script afresh on every rerun of every session, so a class, a cached function or a file
read defined there is redone each time (a dataclass costs ~1 ms, a cached function's key needs its source read from
disk). Defined here, in an imported module, they are built once per process:

- PageEntry and SessionRole, the router's data types;
- FAVICON: the page icon as a data URL (a file path makes Streamlit open and re-encode the image on every run);
- page_file_exists: whether a declared page file is there (the files do not change while the server runs);
- navigation_pages: the st.Page objects, built once and copied per run;
- announce_editor_key: makes the editor key at the first start and prints it once;
- warm_up: on a server's first run, a background thread imports what the pages import, so the first visitors of
  the other pages do not each wait for scikit-learn, skops and Plotly to load.
"""

from __future__ import annotations

import ast
import gc
import base64
import copy
import functools
import importlib
import logging
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("workbench")

FAVICON = "data:image/png;base64," + base64.b64encode((ROOT / "assets" / "icon.png").read_bytes()).decode("ascii")


@dataclass(frozen=True)
class PageEntry:
    """One page of the navigation: its sidebar section, file, title, icon, and whether a share-link viewer may open it."""

    section: str
    path: str
    title: str
    icon: str
    for_viewers: bool


@dataclass(frozen=True)
class SessionRole:
    """What a session may do: "editor", "viewer" (of one project) or "locked" (must show the editor key or sign in)."""

    role: str
    project_id: str | None = None
    error: str | None = None


@functools.lru_cache(maxsize=64)
def page_file_exists(path: str) -> bool:
    return (ROOT / path).is_file()


_PAGES_LOCK = threading.Lock()
_PAGES: dict[tuple, dict[str, list]] = {}


def navigation_pages(entries: tuple[PageEntry, ...]) -> dict[str, list]:
    """The st.Page objects of `entries` by sidebar section, for st.navigation.

    Building an st.Page resolves its file on disk and reads its name and icon (17 pages: about 5 % of a page run),
    so each is built once per server and every run gets shallow copies: st.navigation marks the page it returns
    as callable and running it clears the mark, so a run never shares a Page object with another session's run.
    """
    with _PAGES_LOCK:
        built = _PAGES.get(entries)
        if built is None:
            built = {}
            for p in entries:
                built.setdefault(p.section, []).append(
                    st.Page(p.path, title=p.title, icon=p.icon, default=p.path.endswith("00_home.py")))
            _PAGES[entries] = built
    return {section: [copy.copy(page) for page in pages] for section, pages in built.items()}


@st.cache_resource(show_spinner=False)
def announce_editor_key() -> bool:
    """Makes the editor key at the server's first start and prints it once, with the editor URL (as Jupyter does)."""
    try:
        from core.share.access import ensure_editor_key
        from pages._widgets import _shared_workspace

        key = ensure_editor_key(_shared_workspace())
    except Exception:  # noqa: BLE001 — without a key editing stays locked where it is needed; the rest still works
        log.exception("The editor key could not be made")
        return False
    if key:
        address = st.get_option("server.address")
        host = address if address and address not in ("0.0.0.0", "::") else "localhost"
        base = (st.get_option("server.baseUrlPath") or "").strip("/")
        url = f"http://{host}:{st.get_option('server.port')}/{base + '/' if base else ''}?key={key}"
        print(f"\n  Editor key (shown once; needed when the server is shared): {key}\n"
              f"  Open the editor at: {url}\n  A new key: workbench editor-key rotate\n", file=sys.stderr, flush=True)
    return True


# Imported inside functions on first use, not at the top of any page: Plotly by the chart builders, skops by
# core.store.artifacts on the first model load (it lists scikit-learn's estimators as it loads: seconds, once).
_LAZY_HEAVY = ("plotly.graph_objects", "skops.io")


def page_imports(paths: list[str]) -> list[str]:
    """The modules the page files import at their top level (read from their syntax tree, nothing executed)."""
    names: dict[str, None] = {}
    for path in paths:
        try:
            tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
        except (OSError, SyntaxError):
            continue
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names[node.module] = None
            elif isinstance(node, ast.Import):
                names.update((alias.name, None) for alias in node.names)
    return list(names)


def _import_all(modules: list[str]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 — a module that fails here fails again, with its message, on its page
            log.debug("warm-up could not import %s", name, exc_info=True)
    freeze_the_heap()


def freeze_the_heap() -> None:
    """Moves every object alive now (the imported libraries: pandas, scikit-learn, Plotly, ...) out of the garbage
    collector's reach. Python's full collection walks every tracked object, and with those libraries loaded one pass
    held the GIL for about 350 ms, seven times in a 20-session load test, while every session waited. Objects made
    later are collected as before; the frozen ones stay alive, as modules do anyway (gc.freeze, Python 3.7+)."""
    gc.collect()
    gc.freeze()


@st.cache_resource(show_spinner=False)
def warm_up(paths: tuple[str, ...]) -> threading.Thread:
    """Once per server: imports every page's modules in a background thread (daemon; the page runs go on)."""
    thread = threading.Thread(target=_import_all, args=(page_imports(list(paths)) + list(_LAZY_HEAVY),),
                              name="workbench-warm-up", daemon=True)
    thread.start()
    return thread
