"""Generate the monthly batches of the monitoring demo in sample_data/ (seeded, so every run writes the same bytes).

    python scripts/make_demo_batches.py [--out sample_data]

Two files, all made up (see sample_data/README.md, "Monthly batches"), for the churn project whose batch 1 is
churn.csv (the 2025 history the first champion learns from):
- churn_2026_02.csv  3,000 customers observed in February 2026, after a price rise and a premium push: drifted
                     inputs and a changed churn relationship (price-sensitive, premium buyers less loyal).
- churn_2026_03.csv  3,000 customers observed in March 2026 under the same new regime: the fresh holdout on which
                     a model retrained on February is compared with the 2025 champion.

The rows come from the same generator as the other samples (`scripts/make_sample_data.py`, imported, not changed),
drawn from `numpy.random.default_rng(2027)`, with customer ids distinct from churn.csv's and from each other.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE.parent / "sample_data"
SEED = 2027
FILES = {"churn_2026_02.csv": "2026-02", "churn_2026_03.csv": "2026-03"}
ROWS = 3000


def _samples_module():
    spec = importlib.util.spec_from_file_location("make_sample_data", HERE / "make_sample_data.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


def new_regime(m):
    """The 2026 regime: the January drift made stronger and lasting, so a model of 2025 misses many leavers."""
    return replace(m.NEXT_MONTH_SCENARIO, intercept=-2.9, coef_month_to_month=0.7, coef_tenure=-0.03,
                   coef_charges=0.07, coef_calls=0.25, coef_premium=1.2, noise_sd=0.6)


def write_batches(out_dir: str | Path = DEFAULT_OUT, seed: int = SEED) -> dict[str, Path]:
    """Generate the monthly batch CSVs into out_dir and return their paths."""
    m = _samples_module()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    history = m.make_churn(np.random.default_rng(m.SEED).spawn(3)[0], 6000)  # churn.csv's rows, for their ids
    taken = history["customer_id"].str[2:].astype(int).to_numpy()
    scenario = new_regime(m)
    paths = {}
    for rng, (name, month) in zip(np.random.default_rng(seed).spawn(len(FILES)), FILES.items()):
        ids = m._customer_ids(rng, ROWS, taken)
        frame = m._draw_churn(rng, ROWS, np.array([np.datetime64(month, "M")]), ids, scenario)
        taken = np.concatenate([taken, ids])
        paths[name] = m.write_csv(frame, out_dir / name)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder to write into (default: sample_data/)")
    args = parser.parse_args(argv)
    for name, path in write_batches(args.out).items():
        rows = sum(1 for _ in path.open(encoding="utf-8")) - 1
        print(f"{name}: {rows:,} rows -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
