"""Seeded generator for the 21-column benchmark table (docs: /work/shared/BENCHMARKS.md, "The benchmark table").

The table is written as CSV in 200k-row chunks, each drawn from its own seeded stream, so memory stays flat and
the bytes depend only on (n_rows, seed, drifted). The "current" copy (`drifted=True`) shifts numeric means and
scales, reverses the region shares and moves timestamps two years on, while `code`, `segment` and `product` keep
their distributions, so drift checks have columns that must not alarm.

    python -m bench.datagen --rows 1000000 --out .bench_cache/bench.csv [--drifted]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

CHUNK_ROWS = 200_000
GENERATOR_VERSION = 1  # bump when the output changes, so cached files are regenerated

COLUMNS = (
    "id",
    # 12 numeric
    "age", "income", "wait_time", "score", "visits", "code",
    "z", "z_corr", "load", "share_pct", "heavy_tail", "amount",
    # 6 categorical
    "region", "segment", "channel", "product", "flag", "customer_id",
    "event_ts",
    "target",
)

NUMERIC_COLUMNS = COLUMNS[1:13]
CATEGORICAL_COLUMNS = COLUMNS[13:19]

# Share of empty cells per column: four numeric columns plus the two categorical ones the spec names.
MISSING_SHARES = {"age": 0.02, "income": 0.03, "z_corr": 0.04, "amount": 0.05, "channel": 0.02, "product": 0.03}

REGIONS = ("north", "south", "east", "west", "central")
REGION_SHARES = (0.35, 0.25, 0.18, 0.14, 0.08)
SEGMENTS = ("consumer", "smb", "enterprise", "public")
SEGMENT_SHARES = (0.50, 0.30, 0.15, 0.05)
CHANNELS = ("web", "app", "store", "phone", "partner", "email", "social", "referral")
CHANNEL_SHARES = (0.30, 0.22, 0.14, 0.10, 0.08, 0.07, 0.05, 0.04)
PRODUCTS = tuple(f"PRD-{i:03d}" for i in range(1, 51))
_zipf = 1.0 / np.arange(1, 51) ** 0.8
PRODUCT_SHARES = tuple(_zipf / _zipf.sum())

REFERENCE_START = np.datetime64("2023-01-01T00:00:00", "s")
TWO_YEARS_S = 731 * 24 * 3600  # 2023-01-01 .. 2025-01-01 (2024 is a leap year)
DRIFT_TIME_SHIFT_S = TWO_YEARS_S

# Intercept chosen so the positive share is ~46 % (target 0/1 ~ 54/46) in the reference copy.
_TARGET_INTERCEPT = -0.30


def _draw_chunk(rng: np.random.Generator, start: int, size: int, n_customers: int, drifted: bool) -> dict:
    """Draw one chunk of rows as a dict of numpy arrays (None-free; missing cells are applied later)."""
    d = drifted
    age = rng.normal(45.0 if d else 42.0, 13.0 if d else 12.0, size)
    income = rng.lognormal(10.6 + (np.log(1.15) if d else 0.0), 0.6, size)
    wait_time = rng.exponential(6.5 if d else 5.0, size)
    score = rng.uniform(0.1, 1.0, size) if d else rng.uniform(0.0, 1.0, size)
    visits = rng.poisson(3.6 if d else 3.0, size)
    code = rng.integers(0, 1000, size)
    z = rng.normal(0.25 if d else 0.0, 1.1 if d else 1.0, size)
    z_corr = 0.7 * z + rng.normal(0.0, np.sqrt(1 - 0.7**2), size)
    load = rng.gamma(2.0, 2.4 if d else 2.0, size)
    share_pct = rng.beta(2.5 if d else 2.0, 5.0, size) * 100.0
    heavy_tail = rng.standard_t(5, size) * (1.2 if d else 1.0)
    amount = np.round(rng.normal(110.0 if d else 100.0, 25.0, size), 2)

    region_shares = REGION_SHARES[::-1] if d else REGION_SHARES
    region = rng.choice(len(REGIONS), size, p=region_shares)
    segment = rng.choice(len(SEGMENTS), size, p=SEGMENT_SHARES)
    channel = rng.choice(len(CHANNELS), size, p=CHANNEL_SHARES)
    product = rng.choice(len(PRODUCTS), size, p=PRODUCT_SHARES)
    flag = rng.random(size) < (0.48 if d else 0.40)
    customer = rng.integers(0, n_customers, size)

    offset = rng.integers(0, TWO_YEARS_S, size) + (DRIFT_TIME_SHIFT_S if d else 0)
    event_ts = REFERENCE_START + offset.astype("timedelta64[s]")

    # Same relationship in both copies: only the inputs drift, so the positive share moves with them.
    logit = (
        _TARGET_INTERCEPT
        + 0.04 * (age - 42.0)
        + 2.2 * (score - 0.5)
        + 0.7 * z
        + 0.7 * flag
        - 0.9 * (region == REGIONS.index("south"))
        - 0.1 * (wait_time - 5.0)
        + rng.normal(0.0, 0.5, size)
    )
    target = (rng.random(size) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int8)

    return {
        "id": np.arange(start, start + size, dtype=np.int64),
        "age": age, "income": income, "wait_time": wait_time, "score": score, "visits": visits,
        "code": code, "z": z, "z_corr": z_corr, "load": load, "share_pct": share_pct,
        "heavy_tail": heavy_tail, "amount": amount,
        "region": region, "segment": segment, "channel": channel, "product": product,
        "flag": flag, "customer": customer, "event_ts": event_ts, "target": target,
    }


def _to_arrow(cols: dict, rng: np.random.Generator):
    """Turn one drawn chunk into a pyarrow table in COLUMNS order, blanking the missing cells."""
    import pyarrow as pa

    size = len(cols["id"])
    masks = {name: rng.random(size) < share for name, share in MISSING_SHARES.items()}

    def cat(codes: np.ndarray, levels: tuple[str, ...], mask=None):
        return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32), mask=mask), pa.array(levels))

    arrays = {
        "id": pa.array(cols["id"]),
        **{name: pa.array(cols[name], mask=masks.get(name)) for name in NUMERIC_COLUMNS},
        "region": cat(cols["region"], REGIONS),
        "segment": cat(cols["segment"], SEGMENTS),
        "channel": cat(cols["channel"], CHANNELS, masks["channel"]),
        "product": cat(cols["product"], PRODUCTS, masks["product"]),
        "flag": cat(cols["flag"].astype(np.int32), ("no", "yes")),
        "customer_id": pa.array(np.char.add("CUST-", np.char.zfill(cols["customer"].astype("U7"), 7))),
        "event_ts": pa.array(cols["event_ts"], type=pa.timestamp("s")),
        "target": pa.array(cols["target"]),
    }
    # Dictionary columns are written through their string values.
    return pa.table({k: (v.cast(pa.string()) if pa.types.is_dictionary(v.type) else v) for k, v in arrays.items()})


def write_table(path: str | os.PathLike, n_rows: int, seed: int = 7, drifted: bool = False) -> Path:
    """Write the seeded benchmark table (or its drifted "current" copy) as CSV and return its path."""
    import pyarrow.csv as pacsv

    if n_rows < 1:
        raise ValueError(f"n_rows must be at least 1, got {n_rows}.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n_customers = max(1, n_rows // 10)
    options = pacsv.WriteOptions(include_header=False, quoting_style="none")
    with open(path, "wb") as fh:
        # pyarrow quotes header names even with quoting_style="none"; write a plain header ourselves.
        fh.write((",".join(COLUMNS) + "\n").encode())
        for index, start in enumerate(range(0, n_rows, CHUNK_ROWS)):
            size = min(CHUNK_ROWS, n_rows - start)
            rng = np.random.default_rng(np.random.SeedSequence([seed, int(drifted), index]))
            table = _to_arrow(_draw_chunk(rng, start, size, n_customers, drifted), rng)
            pacsv.write_csv(table, fh, options)
    return path


def ensure_table(n_rows: int, drifted: bool = False, cache_dir: Path = Path(".bench_cache"), seed: int = 7) -> Path:
    """Return the cached benchmark CSV for these settings, generating it once if it is not there yet."""
    cache_dir = Path(cache_dir)
    kind = "current" if drifted else "reference"
    path = cache_dir / f"bench_v{GENERATOR_VERSION}_{kind}_{n_rows}_seed{seed}.csv"
    if path.exists():
        return path
    # Write beside the final name and rename, so an interrupted run never leaves a half file to be reused.
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    try:
        write_table(partial, n_rows, seed=seed, drifted=drifted)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def main(argv: list[str] | None = None) -> int:
    """Generate the benchmark table from the command line and print its size and timing."""
    parser = argparse.ArgumentParser(prog="python -m bench.datagen", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, required=True, help="number of data rows")
    parser.add_argument("--out", type=Path, required=True, help="CSV file to write")
    parser.add_argument("--drifted", action="store_true", help='write the drifted "current" copy')
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    path = write_table(args.out, args.rows, seed=args.seed, drifted=args.drifted)
    elapsed = time.perf_counter() - started
    size_mb = path.stat().st_size / 1e6
    print(f"wrote {args.rows:,} rows to {path} ({size_mb:.1f} MB) in {elapsed:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
