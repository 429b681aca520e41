"""`make bench`: runs every bench/bench_*.py that has a main(), or only those named on the command line."""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import time
from pathlib import Path

os.environ.setdefault("DO_NOT_TRACK", "1")


def main(argv: list[str]) -> int:
    wanted = set(argv)
    names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("bench_"))
    failed = []
    for name in names:
        if wanted and name.removeprefix("bench_") not in wanted and name not in wanted:
            continue
        module = importlib.import_module(f"bench.{name}")
        if not hasattr(module, "main"):
            continue
        print(f"\n=== {name} ===", flush=True)
        started = time.perf_counter()
        try:
            module.main()
        except Exception as err:  # noqa: BLE001 — one failing benchmark must not hide the others' figures
            failed.append(name)
            print(f"!! {name} failed: {type(err).__name__}: {err}", flush=True)
        print(f"--- {name} took {time.perf_counter() - started:.1f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
