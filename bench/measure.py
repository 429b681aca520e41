"""Runs one benchmark step in a fresh Python process and reports its wall time and peak memory."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Measurement:
    label: str
    seconds: float
    peak_mb: float
    extra: dict

    def line(self, size_mb: float | None = None) -> str:
        speed = f"  {size_mb / self.seconds:7.1f} MB/s" if size_mb else ""
        return f"{self.label:<44} {self.seconds:8.2f} s  peak {self.peak_mb:7.0f} MB{speed}"


def measure(label: str, setup: str, step: str, python: str = sys.executable, timeout: int = 1800) -> Measurement:
    """Runs `setup` (untimed) then `step` (timed) in a child; `step` may set a dict named `extra`."""
    code = textwrap.dedent(f"""
        import json, resource, sys, time
        sys.path.insert(0, {str(ROOT)!r})
        extra = {{}}
    """) + textwrap.dedent(setup) + textwrap.dedent("""
        _t0 = time.perf_counter()
    """) + textwrap.dedent(step) + textwrap.dedent("""
        _dt = time.perf_counter() - _t0
        _peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print("@@RESULT@@" + json.dumps({"seconds": _dt, "peak_mb": _peak, "extra": extra}, default=str))
    """)
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                         env={"DO_NOT_TRACK": "1", "PATH": "/usr/bin:/bin", "HOME": str(Path.home())})
    for line in out.stdout.splitlines():
        if line.startswith("@@RESULT@@"):
            data = json.loads(line[len("@@RESULT@@"):])
            return Measurement(label, data["seconds"], data["peak_mb"], data["extra"])
    raise RuntimeError(f"{label} failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
