"""Compact number formats for metric cards, which must never cut a value off: 342 MB, 1.2 M, 12.5 k."""

from __future__ import annotations

import math


def _three_digits(value: float) -> str:
    """At most three significant digits, no trailing '.0': 342, 34.2, 3.42."""
    if value >= 100:
        return f"{value:,.0f}"
    text = f"{value:.1f}" if value >= 10 else f"{value:.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def compact_bytes(n: float | None) -> str:
    """342 MB, 1.2 GB, 980 B (powers of 1,024; '' for a missing value)."""
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return ""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            return f"{value:.0f} B" if unit == "B" else f"{_three_digits(value)} {unit}"
        value /= 1024
    return f"{_three_digits(value)} TB"


def compact_count(n: float | None) -> str:
    """1.2 M, 12.5 k, 999 (thousands, millions, billions; '' for a missing value)."""
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return ""
    value = float(n)
    sign = "-" if value < 0 else ""
    value = abs(value)
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f"{sign}{_three_digits(value / size)} {unit}"
    return f"{sign}{value:,.0f}" if value == int(value) else f"{sign}{_three_digits(value)}"
