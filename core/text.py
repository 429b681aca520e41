"""One rendering rule for user text: Markdown and autolinks neutralised for pages, Plotly's HTML subset for charts.

User strings (project, dataset, column and category names, problem statements, reasons, labels) reach a page only
through `md_escape` and a chart only through `plotly_escape` / `plotly_safe`, so no name becomes a link, an image,
a colour or maths, and no visitor's browser is sent to another host.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, TypeVar

_MD_SPECIALS = "\\`*_[]<>|~$#"
ZWSP = "\u200b"  # zero-width space: invisible, and no autolink or URL scheme survives it
# GFM turns "http://…", "www.…" and "name@host.tld" into links by themselves, escaped brackets or not.
_AUTOLINK = re.compile(r"(?i)://|\bwww\.|@(?=[\w-])")


def md_escape(text: object) -> str:
    """Escapes `text` so Markdown shows it literally: no formatting, link, image, colour, maths or autolink.

    Brackets, emphasis, code, tables, maths, headings and HTML are backslash-escaped (plain punctuation such as '1.05'
    or '(2024)' stays readable); '://', 'www.' and '@' get a zero-width space so the renderer cannot find a URL.
    """
    out = str(text)
    for ch in _MD_SPECIALS:
        out = out.replace(ch, "\\" + ch)
    return _AUTOLINK.sub(lambda m: m.group(0)[0] + ZWSP + m.group(0)[1:], out)


# Plotly draws text with a small HTML subset: <a href> makes a live link, <span style> restyles. Tags without
# attributes that only format (<br>, <b>, <i>, <sup>, <sub>, <em>) are what chart code writes itself; any other '<'
# is shown literally ('&lt;'), and '&' too so an entity cannot rebuild a tag.
_PLOTLY_KEEP = re.compile(r"&lt;(/?(?:br|b|i|em|sup|sub)\s*/?)&gt;", re.IGNORECASE)
_SKIP_KEYS = {"hovertemplate", "texttemplate", "type", "uid", "meta"}  # our own templates and plotly's enums


def plotly_escape(text: object) -> str:
    """Escapes a string for Plotly's text rendering: only attribute-less formatting tags survive."""
    out = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _PLOTLY_KEEP.sub(r"<\1>", out)


def _escape_tree(node: Any) -> tuple[Any, bool]:
    if isinstance(node, str):
        out = plotly_escape(node)
        return out, out != node
    if isinstance(node, dict):
        changed, out = False, {}
        for k, v in node.items():
            if k in _SKIP_KEYS:
                out[k] = v
                continue
            out[k], c = _escape_tree(v)
            changed |= c
        return out, changed
    if isinstance(node, (list, tuple)):
        items = [_escape_tree(v) for v in node]
        return type(node)(v for v, _ in items) if isinstance(node, tuple) else [v for v, _ in items], \
            any(c for _, c in items)
    if getattr(node, "dtype", None) is not None and getattr(node.dtype, "kind", "") in "OUS":
        items = [_escape_tree(v) for v in node.tolist()]
        return [v for v, _ in items], any(c for _, c in items)
    return node, False


def safe_figure(fig: Any) -> Any:
    """Returns a Plotly figure (or a tuple / list / dict of them) whose every text is escaped for Plotly.

    Titles, axis titles, tick texts, legend entries, annotations, category values and hover texts all count; our own
    hover and text templates are kept. A figure with nothing to escape is returned unchanged.
    """
    if isinstance(fig, (tuple, list)):
        return type(fig)(safe_figure(f) for f in fig)
    if isinstance(fig, dict) and not hasattr(fig, "to_plotly_json"):
        return {k: safe_figure(v) for k, v in fig.items()}
    if not hasattr(fig, "to_plotly_json"):
        return fig
    escaped, changed = _escape_tree(fig.to_plotly_json())
    if not changed:
        return fig
    return type(fig)(escaped, skip_invalid=True)


F = TypeVar("F", bound=Callable[..., Any])


def plotly_safe(func: F) -> F:
    """Decorates a chart builder so what it returns passes through safe_figure."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return safe_figure(func(*args, **kwargs))

    wrapper.plotly_safe = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def plotly_safe_module(namespace: dict) -> None:
    """Wraps every public function defined in a chart module with plotly_safe (call it on the module's globals())."""
    module = namespace.get("__name__")
    for name, obj in list(namespace.items()):
        if callable(obj) and not name.startswith("_") and getattr(obj, "__module__", None) == module \
                and isinstance(obj, type(plotly_safe)) and not getattr(obj, "plotly_safe", False):
            namespace[name] = plotly_safe(obj)
