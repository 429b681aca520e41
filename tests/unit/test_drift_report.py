"""Evidently report: our verdicts agree with Evidently's own, samples are stated, report HTML cannot act as the app."""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from core.monitor.checks import DriftOptions, check_drift
from core.monitor.evidently_report import (build_evidently_report, evidently_column_verdicts, safe_download_html,
                               sandboxed_html)
from core.errors import SchemaMismatch

EVIL = "<script>alert(1)</script>"
KINDS = {"age": "numeric", "income": "numeric", "visits": "numeric", "few": "numeric", "binary_num": "numeric",
         "plan": "categorical", "flag": "categorical"}


def frame(n: int, rng: np.random.Generator, shifted: bool = False) -> pd.DataFrame:
    """Numeric (continuous, <= 5 values, 2 values), categorical and binary columns; some shift, some do not."""
    df = pd.DataFrame({
        "age": rng.normal(42 + (4 if shifted else 0), 12, n),
        "income": rng.lognormal(10, 0.5, n),
        "visits": rng.poisson(3, n).astype(float),
        "few": rng.integers(0, 4, n).astype(float),
        "binary_num": rng.choice([0.0, 1.0], n, p=[0.5, 0.5] if shifted else [0.6, 0.4]),
        "plan": rng.choice(["basic", "plus", "premium"], n, p=[0.35, 0.3, 0.35] if shifted else [0.5, 0.2, 0.3]),
        "flag": rng.choice(["yes", "no"], n),
    })
    df.loc[rng.random(n) < 0.04, "income"] = np.nan
    df.loc[rng.random(n) < 0.04, "plan"] = None
    return df


@pytest.mark.parametrize("n_ref,n_cur", [(700, 500), (2500, 1800)])  # Evidently's p-value and distance regimes
def test_our_verdicts_agree_with_evidently(n_ref, n_cur):
    rng = np.random.default_rng(n_ref)
    ref, cur = frame(n_ref, rng), frame(n_cur, rng, shifted=True)
    ours = {c.column: c for c in check_drift(ref, cur, KINDS, DriftOptions(method="evidently-default")).columns}
    theirs = evidently_column_verdicts(ref, cur, KINDS)
    assert set(theirs) == set(KINDS)
    for name, row in ours.items():
        score = row.distance if row.distance is not None else row.p_value
        assert row.method == theirs[name]["method"], name
        assert row.threshold == pytest.approx(theirs[name]["threshold"]), name
        assert score == pytest.approx(theirs[name]["score"], rel=1e-7, abs=1e-12), name
        assert row.drift == theirs[name]["drift"], name
    assert any(r.drift for r in ours.values()) and not all(r.drift for r in ours.values())
    methods = {r.method for r in ours.values()}
    if n_ref <= 1000:
        assert methods == {"K-S p_value", "chi-square p_value", "Z-test p_value"}
    else:
        assert methods == {"Wasserstein distance (normed)", "Jensen-Shannon distance"}


def test_report_is_sampled_stated_and_escaped():
    rng = np.random.default_rng(1)
    ref, cur = frame(900, rng), frame(700, rng, shifted=True)
    for df in (ref, cur):
        df[EVIL] = rng.normal(size=len(df))
        df["target"] = rng.choice(["yes", "no"], len(df))
        df["pred"] = np.where(rng.random(len(df)) < 0.8, df["target"], "no")
    kinds = {"age": "numeric", "plan": "categorical", EVIL: "numeric"}
    result = build_evidently_report(ref, cur, kinds, target="target", prediction="pred", task="classification",
                                    max_rows=500, seed=3)
    assert result.sampled and (result.n_ref, result.n_cur) == (500, 500)
    assert "500 of 900 reference rows" in result.notes[0]
    assert set(result.evidently_summary["columns"]) == {"age", "plan", EVIL, "target", "pred"}
    assert any(name.startswith("Accuracy") for name in result.evidently_summary["metrics"])
    assert EVIL not in result.html and "</script><" not in _data_block(result.html)
    assert EVIL in json.dumps(_data_json(result.html))   # the name survives as data, only escaped


def test_missing_column_is_reported_before_evidently_runs():
    rng = np.random.default_rng(2)
    ref, cur = frame(300, rng), frame(300, rng).drop(columns=["plan"])
    with pytest.raises(SchemaMismatch, match="current set has no column 'plan'"):
        build_evidently_report(ref, cur, KINDS)


class _Frames(HTMLParser):
    def __init__(self):
        super().__init__()
        self.frames, self.scripts = [], 0

    def handle_starttag(self, tag, attrs):
        if tag == "iframe":
            self.frames.append(dict(attrs))
        self.scripts += tag == "script"


def test_sandboxed_html_nests_the_report_in_a_scripts_only_sandbox():
    report = ("<html><body><script>var metric_ab12 = {\"name\": \"" + EVIL + "\"};\n"
              "var additional_graphs_metric_ab12 = {};\n</script><p title=\"x\">report & more</p></body></html>")
    page = sandboxed_html(report, height=600)
    parser = _Frames()
    parser.feed(page)
    assert parser.scripts == 0 and len(parser.frames) == 1           # the outer page runs nothing itself
    frame_attrs = parser.frames[0]
    assert frame_attrs["sandbox"] == "allow-scripts"
    assert "allow-same-origin" not in page
    assert 'sandbox="allow-scripts"' in page
    assert frame_attrs["srcdoc"] == safe_download_html(report)        # escaped on the way in, intact on the way out
    raw_attr = re.search(r'srcdoc="([^"]*)"', page).group(1)
    assert "<" not in raw_attr and "&quot;" in raw_attr and "&amp;" in raw_attr
    assert EVIL not in safe_download_html(report)
    assert "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in safe_download_html(report)


def _data_block(report_html: str) -> str:
    start = re.search(r"<script>\s*var metric_[0-9a-f]+ = ", report_html).end()
    return report_html[start:report_html.index("\n</script>", start)]


def _data_json(report_html: str) -> dict:
    block = _data_block(report_html)
    return json.loads(block[: block.index(";\n")])


def test_report_html_round_trips_through_srcdoc_unchanged():
    rng = np.random.default_rng(4)
    ref = frame(200, rng)
    ref[EVIL] = rng.normal(size=200)
    result = build_evidently_report(ref, ref.copy(), {EVIL: "numeric", "flag": "categorical"})
    assert not result.sampled
    page = sandboxed_html(result.html, 500)
    srcdoc = re.search(r'srcdoc="([^"]*)"', page).group(1)
    assert html.unescape(srcdoc) == result.html == safe_download_html(result.html)
