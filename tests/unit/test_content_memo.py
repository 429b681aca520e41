"""core.stats.memo: a call is answered from the memo only when every argument has the same content."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.stats.memo import content_memo
from core.stats.metric_intervals import auc_interval


def test_equal_content_is_answered_once_and_any_change_recomputes():
    calls = []

    @content_memo(maxsize=8)
    def total(values, frame, label, scale=1.0):
        calls.append(1)
        return float(values.sum() + frame["a"].sum()) * scale

    v, f = np.array([1.0, 2.0]), pd.DataFrame({"a": [1, 2]})
    assert total(v, f, "x") == 6.0
    assert total(v.copy(), f.copy(), "x") == 6.0  # equal content, other objects
    assert len(calls) == 1
    assert total(np.array([1.0, 3.0]), f, "x") == 7.0  # one value changed
    assert total(v, pd.DataFrame({"a": [1, 3]}), "x") == 7.0
    assert total(v, pd.DataFrame({"b": [1, 2]}).rename(columns={"b": "a"}).astype("int32"), "x") == 6.0  # dtype
    assert total(v, f, "y") == 6.0 and total(v, f, "x", scale=2.0) == 12.0
    assert total(v.astype("float32"), f, "x") == 6.0  # another dtype is another input
    assert len(calls) == 7


def test_the_memo_is_bounded_newest_kept():
    @content_memo(maxsize=3)
    def ident(x):
        return x

    for i in range(10):
        ident(np.array([i]))
    assert ident.cache_size() == 3


def test_auc_interval_from_the_memo_equals_a_fresh_one():
    rng = np.random.default_rng(3)
    positive = rng.random(500) < 0.3
    scores = positive * 0.3 + rng.random(500)
    first = auc_interval(positive, scores)
    auc_interval.cache_clear()
    assert auc_interval(positive.copy(), scores.copy()) == first
    other = auc_interval(positive, scores + rng.normal(0, 0.5, 500))
    assert other != first
