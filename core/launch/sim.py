"""What a simulated launch is made of: the spec, the replay set, the drawn traffic, the verdict and the result.

Requests are drawn with replacement from a replay set whose rows carry each model's outcome (and optionally its
decision, correctness, group and latency), a fixed number per day, all in numpy with one seeded stream per kind of
random choice. Every strategy (`core.launch.ab`, `core.launch.canary`) builds on these types; `core.launch.rollout`
declares the strategies and runs one.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd

from core.errors import SchemaMismatch, SpecInvalid, did_you_mean

# kind -> (default amount, what the amount means)
INJECTIONS = {
    "degrade": (0.2, "share of the challenger's right decisions that turn wrong from that day"),
    "drift": (0.5, "share of the traffic that comes from the drifted slice from that day"),
    "imbalance": (0.1, "share of the challenger's requests lost from that day (breaks the traffic split)"),
}


MAX_REQUESTS = 20_000_000


DECISIONS = ("Ship", "Roll back", "Keep testing")


@dataclass(frozen=True)
class RolloutSpec:
    """The choices for one simulated launch; `simulate_rollout` validates them."""

    strategy: str = "ab"
    days: int = 30
    traffic_per_day: int = 10_000
    split: float = 0.5                      # challenger's share in an A/B test
    steps: tuple = (1, 5, 10, 25, 50, 100)  # canary traffic shares in %
    step_days: int | tuple | None = None    # days per canary step below 100 %; None: half the run shared out
    failure_limit: int = 0                  # failed measurements a canary guardrail may have per step
    alpha: float = 0.05
    inject: dict | None = None              # {"kind": "degrade"|"drift"|"imbalance", "day": N, "amount": x}
    tolerances: dict | None = None          # guardrail key -> allowed harm (see rollout_canary.GUARDRAILS)
    seed: int = 42

    def to_dict(self) -> dict:
        """Returns the choices as a JSON-ready dict."""
        d = asdict(self)
        d["steps"] = list(self.steps)
        d["step_days"] = list(self.step_days) if isinstance(self.step_days, (tuple, list)) else self.step_days
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "RolloutSpec":
        """Rebuilds a spec from `to_dict()` output, ignoring keys it does not know."""
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        if isinstance(d.get("steps"), list):
            d["steps"] = tuple(d["steps"])
        if isinstance(d.get("step_days"), list):
            d["step_days"] = tuple(d["step_days"])
        return cls(**d)


@dataclass(frozen=True)
class Setting:
    """One choice of a rollout spec as a form shows it: the `RolloutSpec` field, its default, range and help."""

    name: str                       # the RolloutSpec field it sets
    label: str
    default: Any
    low: float | None = None
    high: float | None = None
    step: float | None = None
    choices: tuple | None = None
    choice_labels: tuple[str, ...] | None = None
    scale: float = 1.0              # shown to people multiplied by this (100: a share as a percentage)
    widget: str = "number"          # "number" | "slider" | "choice" | "schedule" (the canary's shares and days)
    help: str = ""


_DEFAULT = RolloutSpec()

# The set-up every strategy shares: its defaults are RolloutSpec's, so the page, the CLI and core agree.
SHARED_SETTINGS = (
    Setting("traffic_per_day", "Requests per day", _DEFAULT.traffic_per_day, 100, 600_000, 1000,
            help="How many predictions the product makes a day."),
    Setting("days", "Days", _DEFAULT.days, 1, 120, 1),
    Setting("seed", "Seed", _DEFAULT.seed, 0, 2**31 - 1, 1,
            help="Every random choice follows it: the same inputs give the same charts."),
)


@dataclass
class ReplayData:
    """Per-row facts of the replay set; every array has one entry per row (outcomes are required, the rest optional)."""

    outcome_champion: np.ndarray                        # business value per decision, or conversion 0/1
    outcome_challenger: np.ndarray
    decision_champion: np.ndarray | None = None         # each model's decision/prediction, for shadow agreement
    decision_challenger: np.ndarray | None = None
    correct_champion: np.ndarray | None = None          # 1 where the model's decision was right
    correct_challenger: np.ndarray | None = None
    positive: np.ndarray | None = None                  # rows of the positive class: the primary metric is then recall
    group: np.ndarray | None = None                     # group label for the fairness-gap guardrail
    latency_champion_ms: np.ndarray | None = None
    latency_challenger_ms: np.ndarray | None = None
    drift_slice: np.ndarray | None = None               # rows a drift injection oversamples (default: see _drift_rows)
    outcome_label: str = "outcome"

    @property
    def rows(self) -> int:
        return len(self.outcome_champion)

    @property
    def is_binary(self) -> bool:
        both = np.concatenate([self.outcome_champion, self.outcome_challenger])
        return bool(np.isin(both, (0.0, 1.0)).all())

    @property
    def primary_metric(self) -> str | None:
        return None if self.correct_champion is None else "recall" if self.positive is not None else "accuracy"

    def checked(self) -> "ReplayData":
        """Returns a copy with numpy arrays of consistent length and type; raises SchemaMismatch otherwise."""
        n = len(np.asarray(self.outcome_champion))
        if n < 2:
            raise SchemaMismatch(f"The replay set has {n} rows; a launch needs at least 2. "
                                 "Choose a larger test split or batch.")
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "outcome_label" or v is None:
                out[f.name] = v
                continue
            v = np.asarray(v)
            if v.shape != (n,):
                raise SchemaMismatch(f"The replay column {f.name!r} has {v.size} values but the replay set has {n} "
                                     "rows. Give every column one value per row.")
            if f.name.startswith(("outcome", "latency")):
                try:
                    v = v.astype(float)
                except (TypeError, ValueError) as err:
                    raise SchemaMismatch(f"The replay column {f.name!r} holds text; it must be numbers.") from err
                if not np.isfinite(v).all():
                    bad = int((~np.isfinite(v)).sum())
                    raise SchemaMismatch(f"The replay column {f.name!r} has {bad} empty or infinite values. "
                                         "Fill or drop those rows before simulating.")
            elif f.name.startswith("correct") or f.name in ("positive", "drift_slice"):
                v = v.astype(bool)
            out[f.name] = v
        if (out["decision_champion"] is None) != (out["decision_challenger"] is None) or \
                (out["correct_champion"] is None) != (out["correct_challenger"] is None) or \
                (out["latency_champion_ms"] is None) != (out["latency_challenger_ms"] is None):
            raise SchemaMismatch("Decisions, correctness and latency must be given for both models or for neither.")
        return ReplayData(**out)


@dataclass(frozen=True)
class Verdict:
    """The card for stakeholders: a decision and the evidence in one sentence."""

    decision: str          # "Ship" | "Roll back" | "Keep testing"
    sentence: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class RolloutResult:
    """What a simulated launch showed: a verdict, scalar figures and small chart-ready frames (per day / per step)."""

    strategy: str
    spec: dict
    verdict: Verdict
    summary: dict
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Returns a JSON-serialisable dict (NaN and infinity become None)."""
        frames = {k: [{c: _plain(v) for c, v in row.items()} for row in df.to_dict(orient="records")]
                  for k, df in self.frames.items()}
        return {"schema": 1, "strategy": self.strategy, "spec": self.spec, "verdict": self.verdict.to_dict(),
                "summary": _plain(self.summary), "frames": frames, "notes": list(self.notes)}

    @classmethod
    def from_dict(cls, d: dict) -> "RolloutResult":
        """Rebuilds a saved result (frames come back as DataFrames)."""
        return cls(d["strategy"], d["spec"], Verdict(**d["verdict"]), d["summary"],
                   {k: pd.DataFrame(v) for k, v in d["frames"].items()}, list(d.get("notes", [])))


def check_spec(spec: RolloutSpec, strategies: tuple[str, ...]) -> None:
    """Checks the choices every strategy shares for consistency and range (each strategy adds its own checks).

    Raises:
        SpecInvalid: with a message naming the bad choice and what to pick instead.
    """
    keys = list(strategies)
    if spec.strategy not in keys:
        raise SpecInvalid(f"Unknown strategy {spec.strategy!r}; choose one of {', '.join(keys)}."
                          f"{did_you_mean(spec.strategy, keys)}")
    if not isinstance(spec.days, int) or spec.days < 1:
        raise SpecInvalid(f"Days must be a whole number of at least 1, not {spec.days!r}.")
    if not isinstance(spec.traffic_per_day, int) or spec.traffic_per_day < 1:
        raise SpecInvalid(f"Traffic per day must be a whole number of at least 1, not {spec.traffic_per_day!r}.")
    if spec.days * spec.traffic_per_day > MAX_REQUESTS:
        raise SpecInvalid(f"{spec.days} days of {spec.traffic_per_day:,} requests is "
                          f"{spec.days * spec.traffic_per_day:,} requests; the simulator handles up to "
                          f"{MAX_REQUESTS:,}. Lower the traffic or the days.")
    if not 0 < spec.split < 1:
        raise SpecInvalid("The split must be between 0 and 1 (0.5 sends half the traffic to the challenger), "
                          f"not {spec.split}.")
    if not 0 < spec.alpha < 0.5:
        raise SpecInvalid(f"Alpha must be between 0 and 0.5 (0.05 is usual), not {spec.alpha}.")
    if not isinstance(spec.seed, int):
        raise SpecInvalid(f"The seed must be a whole number, not {spec.seed!r}.")
    _check_inject(spec)


def _check_inject(spec: RolloutSpec) -> None:
    if spec.inject is None:
        return
    kind = spec.inject.get("kind")
    if kind not in INJECTIONS:
        raise SpecInvalid(f"Unknown injected problem {kind!r}; choose one of {', '.join(INJECTIONS)}."
                          f"{did_you_mean(str(kind), INJECTIONS)}")
    day = spec.inject.get("day")
    if not isinstance(day, int) or not 1 <= day <= spec.days:
        raise SpecInvalid(f"The injected problem must start on a day from 1 to {spec.days}, not {day!r}.")
    amount = spec.inject.get("amount", INJECTIONS[kind][0])
    if not isinstance(amount, (int, float)) or not 0 < amount <= 1:
        raise SpecInvalid(f"The {kind} amount ({INJECTIONS[kind][1]}) must be above 0 and at most 1, not {amount!r}.")


@dataclass
class Traffic:
    """The simulated requests: per-request arrays, `per_day` requests a day, in day order."""

    rows: np.ndarray
    per_day: int
    days: int
    assign: np.ndarray            # uniform draws; a request goes to the challenger when below its share
    out_a: np.ndarray
    out_b: np.ndarray
    cor_a: np.ndarray | None
    cor_b: np.ndarray | None
    dec_a: np.ndarray | None
    dec_b: np.ndarray | None
    labels: np.ndarray | None     # decision label per code
    rel: np.ndarray | None        # requests that count for the primary metric (positives for recall)
    grp: np.ndarray | None
    group_labels: np.ndarray | None
    lat_a: np.ndarray | None
    lat_b: np.ndarray | None
    lost: np.ndarray | None       # challenger requests that an injected imbalance drops

    def day(self, d: int) -> slice:
        return slice(d * self.per_day, (d + 1) * self.per_day)


def draw_traffic(replay: ReplayData, spec: RolloutSpec) -> tuple[Traffic, list[str]]:
    """Draws the requests, their arm-assignment draws and any injected problem, all from `spec.seed`.

    Each kind of random choice has its own stream, so the same seed gives the same requests whatever the strategy,
    and an injected problem leaves the days before it unchanged. `replay` should have passed `ReplayData.checked()`.
    """
    rng_rows, rng_assign, rng_drift, rng_degrade, rng_lost = (
        np.random.default_rng(s) for s in np.random.SeedSequence(spec.seed).spawn(5))
    T, D = spec.traffic_per_day, spec.days
    n = T * D
    rows = rng_rows.integers(0, replay.rows, size=n)
    assign = rng_assign.random(n)
    inj = spec.inject or {}
    kind, start = inj.get("kind"), (inj.get("day", 1) - 1) * T
    amount = float(inj.get("amount", INJECTIONS.get(kind, (0.0,))[0]))
    notes = [f"Simulated: {n:,} requests drawn with replacement from {replay.rows:,} replay rows; the test's precision "
             "reflects the simulated traffic, not new information about the models."] if n > 2 * replay.rows else []
    if kind == "drift":
        slice_rows, what = _drift_rows(replay)
        take = rng_drift.random(n - start) < amount
        rows[start:][take] = slice_rows[rng_drift.integers(0, slice_rows.size, int(take.sum()))]
        notes.append(f"Injected drift from day {inj['day']}: {amount:.0%} of requests come from {what}.")
    out_a, out_b = replay.outcome_champion[rows], replay.outcome_challenger[rows].copy()
    cor_a = cor_b = dec_a = dec_b = labels = None
    if replay.correct_champion is not None:
        cor_a, cor_b = replay.correct_champion[rows], replay.correct_challenger[rows].copy()
    if replay.decision_champion is not None:
        labels, codes = np.unique(np.concatenate([replay.decision_champion, replay.decision_challenger]).astype(str),
                                  return_inverse=True)
        dec_a, dec_b = codes[: replay.rows][rows], codes[replay.rows:][rows]
    if kind == "degrade":
        flip = np.zeros(n, dtype=bool)
        flip[start:] = rng_degrade.random(n - start) < amount
        if cor_b is not None:
            flip &= cor_b
            cor_b[flip] = False
        elif replay.is_binary:
            flip &= out_b == 1
        out_b[flip] = _wrong_values(replay)[rows[flip]]
        if dec_b is not None:
            dec_b[flip] = (dec_b[flip] + 1) % max(len(labels), 2)
        notes.append(f"Injected degradation from day {inj['day']}: {amount:.0%} of the challenger's "
                     f"{'right decisions' if cor_b is not None else 'good outcomes'} turn bad.")
    lost = None
    if kind == "imbalance":
        lost = np.zeros(n, dtype=bool)
        lost[start:] = rng_lost.random(n - start) < amount
        notes.append(f"Injected imbalance from day {inj['day']}: {amount:.0%} of the challenger's requests are lost.")
    grp = group_labels = None
    if replay.group is not None:
        group_labels, gcodes = np.unique(replay.group.astype(str), return_inverse=True)
        grp = gcodes[rows]
    rel = replay.positive[rows] if replay.positive is not None else None
    lat_a = replay.latency_champion_ms[rows] if replay.latency_champion_ms is not None else None
    lat_b = replay.latency_challenger_ms[rows] if replay.latency_challenger_ms is not None else None
    return Traffic(rows, T, D, assign, out_a, out_b, cor_a, cor_b, dec_a, dec_b, labels, rel, grp, group_labels,
                   lat_a, lat_b, lost), notes


def _drift_rows(replay: ReplayData) -> tuple[np.ndarray, str]:
    """Rows a drift moves traffic towards: the given slice, else the positive class, else the smallest group, else the
    lower half of the champion's outcomes (the cases that earn least)."""
    if replay.drift_slice is not None and replay.drift_slice.any():
        return np.flatnonzero(replay.drift_slice), "the chosen slice"
    if replay.positive is not None and replay.positive.any():
        return np.flatnonzero(replay.positive), "the positive class"
    if replay.group is not None:
        values, counts = np.unique(replay.group.astype(str), return_counts=True)
        return np.flatnonzero(replay.group.astype(str) == values[counts.argmin()]), f"group {values[counts.argmin()]!r}"
    low = replay.outcome_champion <= np.median(replay.outcome_champion)
    return np.flatnonzero(low), "the rows with the lower half of outcomes"


def _wrong_values(replay: ReplayData) -> np.ndarray:
    """Per row, the outcome a wrong challenger decision earns: the mean over its wrong rows of the same class (0 for a
    conversion); without correctness, the mean of its lowest-decile outcomes."""
    out = replay.outcome_challenger
    if replay.is_binary:
        return np.zeros(replay.rows)
    if replay.correct_challenger is None:
        return np.full(replay.rows, out[out <= np.quantile(out, 0.1)].mean())
    cls = replay.positive if replay.positive is not None else np.zeros(replay.rows, dtype=bool)
    values = np.empty(replay.rows)
    for c in (False, True):
        in_c = cls == c
        wrong = in_c & ~replay.correct_challenger
        values[in_c] = out[wrong].mean() if wrong.any() else (out[in_c].min() if in_c.any() else 0.0)
    return values


def synthetic_replay(rows: int = 20_000, *, lift: float = 0.0, seed: int = 0) -> ReplayData:
    """Builds a simulated replay set (labelled as such): a yes/no task scored by two models, outcomes from a cost
    matrix (+10 caught, -5 missed, -1 false alarm, 0 correct no), three groups and latencies; `lift` raises the
    challenger's recall and specificity."""
    rng = np.random.default_rng(seed)
    positive = rng.random(rows) < 0.3
    group = rng.choice(np.array(["north", "south", "east"]), size=rows, p=[0.5, 0.3, 0.2])
    u = rng.random(rows)
    u_b = np.where(rng.random(rows) < 0.8, u, rng.random(rows))   # errors mostly shared, as for two similar models
    right_a = np.where(positive, 0.75, 0.90)
    right_b = np.clip(right_a + lift * np.where(positive, 1.0, 0.5), 0, 1)
    cor_a, cor_b = u < right_a, u_b < right_b
    value = lambda cor: np.where(positive, np.where(cor, 10.0, -5.0), np.where(cor, 0.0, -1.0))  # noqa: E731
    decide = lambda cor: np.where(cor == positive, "yes", "no")  # noqa: E731
    return ReplayData(value(cor_a), value(cor_b), decide(cor_a), decide(cor_b), cor_a, cor_b, positive, group,
                      rng.lognormal(np.log(20), 0.3, rows), rng.lognormal(np.log(22), 0.3, rows),
                      outcome_label="simulated value")


def fmt_num(x: float, signed: bool = False) -> str:
    """Formats a number for a sentence with a true minus sign and three significant figures at most."""
    if x is None or not math.isfinite(x):
        return "n/a"
    digits = max(0, min(3, 2 - int(math.floor(math.log10(abs(x)))))) if x else 1
    text = f"{x:+,.{digits}f}" if signed else f"{x:,.{digits}f}"
    return text.replace("-", "−")


def fmt_ci(low: float, high: float, alpha: float) -> str:
    """Formats a confidence interval as '95% CI −6.0 to −2.2'."""
    return f"{fmt_level(alpha)} CI {fmt_num(low)} to {fmt_num(high)}"


def fmt_level(alpha: float) -> str:
    return f"{round((1 - alpha) * 100, 2):g}%"


def fmt_pct(x: float) -> str:
    """Formats a share (0.952) as '95.2 %'."""
    return f"{x * 100:.1f} %"


def _plain(v):
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_plain(x) for x in v]
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(v) else None
    return v
