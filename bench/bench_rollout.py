"""Launch simulator: 1,000,000 simulated requests over 30 days for each strategy, against the 2 s target.

The replay set is simulated (`core.launch.sim.synthetic_replay`: 50,000 rows, two models, a cost matrix, three groups,
latencies). Each strategy runs in a fresh process; imports and the replay set are built before the clock starts,
and the timed step includes turning the result into its JSON-ready dict.
"""

from __future__ import annotations

import os

from bench.measure import measure

REQUESTS = int(os.environ.get("BENCH_ROLLOUT_REQUESTS", "1000000"))
DAYS = 30
TARGET_S = 2.0

SETUP = """
import scipy.stats
from core.launch.rollout import simulate_rollout
from core.launch.sim import RolloutSpec, synthetic_replay
replay = synthetic_replay(50_000, seed=7)
"""


def main() -> None:
    per_day = -(-REQUESTS // DAYS)
    print(f"simulated replay set: 50,000 rows; {per_day * DAYS:,} requests over {DAYS} days ({per_day:,} a day)")
    worst = 0.0
    for strategy, inject in (("shadow", None), ("ab", None), ("canary", None),
                             ("canary", {"kind": "degrade", "day": 8, "amount": 0.1})):
        spec = f"RolloutSpec({strategy!r}, days={DAYS}, traffic_per_day={per_day}, inject={inject!r})"
        m = measure(f"{strategy}{' + degradation' if inject else ''}", SETUP,
                    f"r = simulate_rollout(replay, {spec})\nd = r.to_dict()\n"
                    "extra['verdict'] = r.verdict.decision\nextra['requests'] = r.summary['requests']\n")
        worst = max(worst, m.seconds)
        status = "ok" if m.seconds <= TARGET_S else "OVER TARGET"
        print(f"{m.line()}  {m.seconds / TARGET_S:5.0%} of {TARGET_S:.0f} s  {status}  verdict: {m.extra['verdict']}")
        assert m.extra["requests"] == per_day * DAYS, m.extra
    print(f"slowest strategy: {worst:.2f} s (target <= {TARGET_S:.0f} s each)")


if __name__ == "__main__":
    main()
