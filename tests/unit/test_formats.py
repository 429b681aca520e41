"""Compact formats for metric cards: short enough never to be cut off, exact enough to read."""

from __future__ import annotations

import pytest

from core.data.formats import compact_bytes, compact_count


@pytest.mark.parametrize("n, text", [(0, "0 B"), (980, "980 B"), (1024, "1 KB"), (350_720, "342 KB"),
                                     (359_137_280, "342 MB"), (1.5 * 1024 ** 3, "1.5 GB"), (12_900, "12.6 KB"),
                                     (None, "")])
def test_compact_bytes(n, text):
    assert compact_bytes(n) == text


@pytest.mark.parametrize("n, text", [(999, "999"), (1_000, "1 k"), (12_500, "12.5 k"), (1_234_567, "1.23 M"),
                                     (2_000_000_000, "2 B"), (-45_000, "-45 k"), (float("nan"), "")])
def test_compact_count(n, text):
    assert compact_count(n) == text


def test_every_compact_value_stays_short():
    for exponent in range(0, 13):
        for mantissa in (1, 1.23, 4.56, 9.99):
            assert len(compact_bytes(mantissa * 10 ** exponent)) <= 7
            assert len(compact_count(mantissa * 10 ** exponent)) <= 7
