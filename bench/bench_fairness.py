"""Fairness intervals: coverage of the between-group gap intervals over a grid of groups, sizes and true gaps.

Nominal 95 %; the contract is >= 93 % for 2-12 groups of 30-1,000 rows (fast version in tests/unit/test_fairness.py).
Also prints how often a true gap of 0.08 is called "outside beyond doubt" at a 0.10 tolerance (a valid interval:
at most 2.5 %).
"""

from __future__ import annotations

import os

import numpy as np

from core.evaluate.fairness import simultaneous_intervals

RUNS = int(os.environ.get("BENCH_FAIRNESS_RUNS", "1000"))


def _run(k: int, n: int, spread: float, rng: np.random.Generator) -> tuple[float, float, float]:
    rates = np.linspace(0.3, 0.3 + spread, k)
    true = rates.max() - rates.min()
    hit_dp = hit_eo = outside = 0
    for _ in range(RUNS):
        y_true = rng.random((k, n)) < 0.4
        y_pred = rng.random((k, n)) < rates[:, None]
        cells = np.stack([(y_true & y_pred).sum(1), (~y_true & y_pred).sum(1), (y_true & ~y_pred).sum(1),
                          (~y_true & ~y_pred).sum(1)], axis=1)
        box = simultaneous_intervals(cells, 0.95)
        low, high = box["demographic_parity_difference"]
        hit_dp += low - 1e-12 <= true <= high + 1e-12
        outside += low > 0.10
        low, high = box["equalized_odds_difference"]
        hit_eo += low - 1e-12 <= true <= high + 1e-12
    return hit_dp / RUNS, hit_eo / RUNS, outside / RUNS


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"Gap interval coverage at nominal 95 % ({RUNS} runs per cell; contract >= 93 %)")
    worst = 1.0
    for k in (2, 3, 5, 8, 12):
        for n in (30, 100, 300, 1000):
            for spread in (0.0, 0.08, 0.3):
                dp, eo, outside = _run(k, n, spread, rng)
                worst = min(worst, dp, eo)
                extra = f"  called outside at tolerance 0.10: {outside:.3f}" if spread == 0.08 else ""
                print(f"  {k:>2} groups x {n:>5,} rows, true gap {spread:.2f}: demographic parity {dp:.3f}, "
                      f"equalized odds {eo:.3f}{extra}", flush=True)
    print(f"  worst coverage {worst:.3f} ({'ok' if worst >= 0.93 else 'MISSED'})")


if __name__ == "__main__":
    main()
