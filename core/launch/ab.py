"""Shadow and A/B analyses of the launch simulator, plus the A/A runs that show what daily peeking does."""

from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np
import pandas as pd

from core.errors import SpecInvalid
from core.launch.sim import (
    ReplayData,
    RolloutResult,
    RolloutSpec,
    Traffic,
    Verdict,
    check_spec,
    fmt_ci,
    fmt_num,
    fmt_pct,
)
from core.stats import abtests as abstats

SRM_ALARM_P = 0.001


def check_shadow(spec: RolloutSpec) -> None:
    """Checks what a shadow run cannot rehearse. Raises: SpecInvalid."""
    if (spec.inject or {}).get("kind") == "imbalance":
        raise SpecInvalid("A traffic imbalance needs a traffic split; rehearse it with an A/B test or a canary.")


def check_ab(spec: RolloutSpec) -> None:
    """An A/B test needs no checks beyond the shared ones (split and alpha are shared fields)."""


def run_shadow(replay: ReplayData, spec: RolloutSpec, t: Traffic) -> RolloutResult:
    """Scores every request with both models and compares what the challenger would have earned (no user exposed)."""
    D, T = t.days, t.per_day
    diff = (t.out_b - t.out_a).reshape(D, T)
    n = np.arange(1, D + 1) * T
    mean, var = abstats.mean_var(n, np.cumsum(diff.sum(1)), np.cumsum((diff**2).sum(1)))
    # Both models answer the same requests, so the comparison is paired: one interval on the per-request difference.
    half = abstats.normal_quantile(1 - spec.alpha / 2) * np.sqrt(var / n)
    daily = pd.DataFrame({"day": np.arange(1, D + 1), "requests": T,
                          "champion_mean": np.cumsum(t.out_a.reshape(D, T).sum(1)) / n,
                          "challenger_mean": np.cumsum(t.out_b.reshape(D, T).sum(1)) / n,
                          "diff": mean, "diff_low": mean - half, "diff_high": mean + half})
    frames = {"daily": daily}
    summary = {"requests": D * T, "users_exposed": 0, "risk_to_users": "zero", "outcome_diff": float(mean[-1]),
               "outcome_low": float(mean[-1] - half[-1]), "outcome_high": float(mean[-1] + half[-1])}
    if t.dec_a is not None:
        agree = t.dec_a == t.dec_b
        daily["agreement"] = agree.reshape(D, T).mean(1)
        summary["agreement"] = float(agree.mean())
        frames["disagreements"] = _disagreements(t)
    if t.cor_a is not None:
        rel = t.rel if t.rel is not None else np.ones_like(t.cor_a)
        seen = np.maximum(np.cumsum(rel.reshape(D, T).sum(1)), 1)
        for who, cor in (("champion", t.cor_a), ("challenger", t.cor_b)):
            daily[f"{replay.primary_metric}_{who}"] = np.cumsum((cor & rel).reshape(D, T).sum(1)) / seen
    if t.lat_a is not None:
        rows = []
        for who, lat in (("champion", t.lat_a), ("challenger", t.lat_b)):
            per_day = np.percentile(lat.reshape(D, T), [50, 95], axis=1)
            daily[f"latency_p50_{who}"], daily[f"latency_p95_{who}"] = per_day
            p50, p95, p99 = np.percentile(lat, [50, 95, 99])
            rows.append({"model": who, "mean_ms": float(lat.mean()), "p50_ms": p50, "p95_ms": p95, "p99_ms": p99})
        frames["latency"] = pd.DataFrame(rows)
    return RolloutResult("shadow", spec.to_dict(), _shadow_verdict(replay, spec, summary), summary, frames,
                         ["In shadow the champion answers every request; the challenger's latency is not felt by "
                          "users when it scores in parallel."])


def _disagreements(t: Traffic) -> pd.DataFrame:
    """Requests per (champion decision, challenger decision) cell, with up to five replay rows per disagreement."""
    k = len(t.labels)
    cell = t.dec_a.astype(np.int64) * k + t.dec_b
    counts = np.bincount(cell, minlength=k * k)
    rows = []
    for c in np.flatnonzero(counts):
        a, b = divmod(int(c), k)
        examples = np.unique(t.rows[cell == c])[:5].tolist() if a != b else []
        rows.append({"champion": str(t.labels[a]), "challenger": str(t.labels[b]), "requests": int(counts[c]),
                     "share": counts[c] / cell.size, "agree": a == b, "example_rows": examples})
    return pd.DataFrame(rows)


def _units(replay: ReplayData) -> tuple[float, str]:
    return (100, "points") if replay.is_binary else (1, f"{replay.outcome_label} per request")


def _shadow_verdict(replay: ReplayData, spec: RolloutSpec, s: dict) -> Verdict:
    scale, unit = _units(replay)
    agree = f" and agreed with the champion on {fmt_pct(s['agreement'])} of requests" if "agreement" in s else ""
    ci = fmt_ci(s["outcome_low"] * scale, s["outcome_high"] * scale, spec.alpha)
    evidence = f"{fmt_num(s['outcome_diff'] * scale, True)} {unit}, {ci}{agree}"
    if s["outcome_high"] < 0:
        return Verdict("Roll back", f"In shadow the challenger would have done worse: {evidence}; no user was exposed.")
    if s["outcome_low"] > 0:
        return Verdict("Ship", f"In shadow the challenger would have done better: {evidence}; no user was exposed.")
    return Verdict("Keep testing", f"In shadow no difference was clear: {evidence}; "
                   "an A/B test would measure how users respond.")


def run_ab(replay: ReplayData, spec: RolloutSpec, t: Traffic) -> RolloutResult:
    """Splits traffic, then tests the arms daily: fixed-horizon (naive peeking), sequential (mSPRT) and sample ratio."""
    D, T, a = t.days, t.per_day, spec.alpha
    arm_b = t.assign < spec.split
    keep = ~(arm_b & t.lost) if t.lost is not None else np.ones_like(arm_b)
    sums = {}
    for name, mask, out in (("a", ~arm_b & keep, t.out_a), ("b", arm_b & keep, t.out_b)):
        m = mask.reshape(D, T)
        x = out.reshape(D, T) * m
        sums[name] = [np.cumsum(v) for v in (m.sum(1), x.sum(1), (x * x).sum(1))]
    (na, sa, ssa), (nb, sb, ssb) = sums["a"], sums["b"]
    fixed = abstats.compare_arms(na, sa, ssa, nb, sb, ssb, replay.is_binary, a)
    (ma, va), (mb, vb) = abstats.mean_var(na, sa, ssa), abstats.mean_var(nb, sb, ssb)
    v0 = float(np.var(replay.outcome_champion, ddof=1)) or 1e-12
    with np.errstate(divide="ignore", invalid="ignore"):
        se_a, se_b = np.sqrt(va / na), np.sqrt(vb / nb)
    seq_p, seq_low, seq_high = abstats.sequential_test(mb - ma, se_a**2 + se_b**2, _tau2(v0, D * T, spec.split, a), a)
    _, srm_p = abstats.srm_test(na, nb, spec.split)
    z = abstats.normal_quantile(1 - a / 2)
    daily = pd.DataFrame({
        "day": np.arange(1, D + 1), "n_champion": na, "n_challenger": nb,
        "mean_champion": ma, "low_champion": ma - z * se_a, "high_champion": ma + z * se_a,
        "mean_challenger": mb, "low_challenger": mb - z * se_b, "high_challenger": mb + z * se_b,
        "diff": fixed.diff, "fixed_low": fixed.low, "fixed_high": fixed.high, "naive_p": fixed.p_value,
        "naive_significant": fixed.p_value < a, "sequential_p": seq_p, "sequential_low": seq_low,
        "sequential_high": seq_high, "srm_p": srm_p, "srm_alarm": srm_p < SRM_ALARM_P})

    def first_day(mask: np.ndarray) -> int | None:
        return int(np.argmax(mask)) + 1 if mask.any() else None

    sd0 = None if replay.is_binary else math.sqrt(v0)
    base = float(replay.outcome_champion.mean())
    mde = abstats.detectable_effect(base, sd0, T, D, spec.split, a) if sd0 or 0 < base < 1 else float("nan")
    summary = {"requests": D * T, "users_exposed": int(arm_b.sum()), "test": fixed.name,
               "fixed": {k: float(np.asarray(v)[-1]) for k, v in asdict(fixed).items() if k != "name"},
               "sequential": {"p_value": float(seq_p[-1]), "low": float(seq_low[-1]), "high": float(seq_high[-1]),
                              "stopped_day": first_day(seq_p < a), "method": "mSPRT, normal mixture"},
               "naive_first_significant_day": first_day(fixed.p_value < a),
               "srm_first_alarm_day": first_day(srm_p < SRM_ALARM_P), "srm_p_final": float(srm_p[-1]), "mde": mde,
               "outcome_delta_total": float((t.out_b - t.out_a)[arm_b].sum())}
    return RolloutResult("ab", spec.to_dict(), _ab_verdict(replay, spec, daily, summary), summary, {"daily": daily},
                         ["The sequential test is the mSPRT with a normal mixture (always-valid p-value and confidence "
                          "sequence); the naive p-value is the fixed-horizon test recomputed every day."])


def _tau2(v0: float, total: int, split: float, alpha: float) -> float:
    """Mixing variance fixed before the test, from the replay set (pre-launch data) and the planned traffic."""
    return abstats.mixture_tau2(v0 / (total * (1 - split)) + v0 / (total * split), alpha)


def _ab_verdict(replay: ReplayData, spec: RolloutSpec, daily: pd.DataFrame, s: dict) -> Verdict:
    scale, unit = _units(replay)
    if s["srm_first_alarm_day"] is not None:
        row = daily.iloc[s["srm_first_alarm_day"] - 1]
        return Verdict("Keep testing", f"Sample ratio mismatch from day {int(row['day'])} (p = {row['srm_p']:.1e}): "
                       f"the arms got {int(row['n_champion']):,} and {int(row['n_challenger']):,} requests against a "
                       f"{fmt_pct(1 - spec.split)} / {fmt_pct(spec.split)} split, so the result can't be trusted; "
                       "fix the traffic split and rerun.")
    day = s["sequential"]["stopped_day"]
    if day is not None:
        row = daily.iloc[day - 1]
        better = row["sequential_low"] > 0
        ci = fmt_ci(row["sequential_low"] * scale, row["sequential_high"] * scale, spec.alpha)
        return Verdict("Ship" if better else "Roll back",
                       f"Stopped on day {day}: the challenger does {'better' if better else 'worse'}, "
                       f"{fmt_num(row['diff'] * scale, True)} {unit}, {ci} (valid despite daily looks).")
    seq, f = s["sequential"], s["fixed"]
    reach = (f"; with this traffic it can detect about ±{fmt_num(s['mde'] * scale)} {unit}"
             if math.isfinite(s["mde"]) else "")
    return Verdict("Keep testing", f"No clear difference after {spec.days} days: {fmt_num(f['diff'] * scale, True)} "
                   f"{unit}, {fmt_ci(seq['low'] * scale, seq['high'] * scale, spec.alpha)} (valid despite daily "
                   f"looks); a single test at day {spec.days} gives p = {f['p_value']:.2g}{reach}.")


def simulate_peeking(replay: ReplayData, spec: RolloutSpec, runs: int = 200, traffic_per_day: int = 1000,
                     chunk: int = 20) -> pd.DataFrame:
    """Returns, per day, the share of A/A runs wrongly called significant so far by naive daily tests and by mSPRT.

    Both arms serve the champion, so every 'significant' result is a false positive. The runs use less traffic than
    the spec to stay quick: how much peeking inflates false positives does not depend on the traffic.
    """
    check_spec(spec, (spec.strategy,))
    replay = replay.checked()
    rng = np.random.default_rng(np.random.SeedSequence(spec.seed).spawn(6)[5])
    D, T, a = spec.days, traffic_per_day, spec.alpha
    tau2 = _tau2(float(np.var(replay.outcome_champion, ddof=1)) or 1e-12, D * T, spec.split, a)
    naive, seq = np.zeros(D), np.zeros(D)
    for start in range(0, runs, chunk):
        r = min(chunk, runs - start)
        x = replay.outcome_champion[rng.integers(0, replay.rows, size=(r, D, T))]
        arm = rng.random((r, D, T)) < spec.split
        sums = {k: [np.cumsum(v, axis=1) for v in (m.sum(2), (x * m).sum(2), (x * x * m).sum(2))]
                for k, m in (("a", ~arm), ("b", arm))}
        test = abstats.compare_arms(*sums["a"], *sums["b"], replay.is_binary, a)
        (ma, va), (mb, vb) = abstats.mean_var(*sums["a"]), abstats.mean_var(*sums["b"])
        p, _, _ = abstats.sequential_test(mb - ma, va / sums["a"][0] + vb / sums["b"][0], tau2, a)
        naive += np.maximum.accumulate(test.p_value < a, axis=1).sum(0)
        seq += (p < a).sum(0)
    return pd.DataFrame({"day": np.arange(1, D + 1), "naive_fpr": naive / runs, "sequential_fpr": seq / runs})
