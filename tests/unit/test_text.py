"""The one rendering rule for user text: Markdown and autolinks neutralised; Plotly's HTML subset escaped."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

from core.text import ZWSP, md_escape, plotly_escape, safe_figure

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ["[x](http://evil.example/a)", "![x](http://evil.example/i.png)", "see http://evil.example/b now",
          "https://evil.example", "www.evil.example", "mail ceo@evil.example", '<img src="http://evil.example/i.png">',
          '<a href="http://evil.example">click</a>', ":red[alarm]", "$x^2$", "**bold** _it_ `code` # head | t |"]


_AUTOLINKS = re.compile(r"(?i)\b(?:https?|ftp)://|\bwww\.|[\w.+-]+@[\w-]+\.\w")  # what GFM links by itself


def _rendered_links(markdown: str) -> list[str]:
    """Links, images and raw HTML a CommonMark renderer makes of `markdown`, plus GFM's literal autolinks."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parseInline(markdown)
    out = _AUTOLINKS.findall(markdown)
    for t in tokens:
        for child in t.children or []:
            if child.type in ("link_open", "image"):
                out.append(child.attrGet("href") or child.attrGet("src"))
            if child.type in ("html_inline",):
                out.append(child.content)
    return out


@pytest.mark.parametrize("text", CORPUS)
def test_md_escape_leaves_no_link_image_or_html(text):
    escaped = md_escape(text)
    assert _rendered_links(escaped) == [], escaped
    assert escaped.replace("\\", "").replace(ZWSP, "") == text  # shown literally: only invisible changes


def test_the_corpus_would_link_without_the_rule():
    assert all(_rendered_links(t) for t in CORPUS[:8])  # the check above can fail


def test_plain_text_stays_readable():
    assert md_escape("Churn 2024 (v1.05), 12% - ok") == "Churn 2024 (v1.05), 12% - ok"


def test_plotly_escape_keeps_formatting_tags_and_drops_links():
    assert plotly_escape('<a href="http://x">y</a>') == '&lt;a href="http://x"&gt;y&lt;/a&gt;'
    assert plotly_escape("A<br>B <b>c</b> &amp;") == "A<br>B <b>c</b> &amp;amp;"
    assert plotly_escape('<span style="color:red">x</span>') == '&lt;span style="color:red"&gt;x&lt;/span&gt;'


def test_safe_figure_escapes_titles_names_categories_and_annotations():
    import plotly.graph_objects as go

    bad = '<a href="http://evil.example">x</a>'
    fig = go.Figure(go.Bar(x=[bad, "fine"], y=[1, 2], name=bad, hovertemplate="%{x}<br>%{y}<extra></extra>"))
    fig.update_layout(title=bad, xaxis_title=bad)
    fig.add_annotation(text=bad, x=0, y=0)
    out = safe_figure(fig)
    text = out.to_json()
    assert "<a href" not in text and "&lt;a href" in text
    assert out.data[0].hovertemplate == "%{x}<br>%{y}<extra></extra>"  # our own template is kept
    assert list(out.data[0].y) == [1, 2]
    clean = go.Figure(go.Scatter(x=[1, 2], y=[3, 4], name="model"))
    assert safe_figure(clean) is clean


def test_every_public_chart_function_escapes_its_figures():
    """A guard: a chart module without `plotly_safe_module(globals())` at its end, or a function defined after it."""
    for path in sorted(ROOT.glob("core/*/charts.py")):
        module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
        public = [(n, f) for n, f in vars(module).items()
                  if inspect.isfunction(f) and not n.startswith("_") and f.__module__ == module.__name__]
        assert public, path
        unwrapped = [n for n, f in public if not getattr(f, "plotly_safe", False)]
        assert not unwrapped, f"{path.name}: {unwrapped} build charts without escaping user text"
