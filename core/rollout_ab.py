"""Shadow and A/B analyses of the launch simulator, plus the A/A peeking demonstration."""

from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np
import pandas as pd

from core import abstats
from core.rollout import ReplayData, RolloutResult, RolloutSpec, Traffic, Verdict, fmt_ci, fmt_num, fmt_pct, validate_spec


def run_shadow(replay: ReplayData, spec: RolloutSpec, t: Traffic) -> RolloutResult:
    """Scores every request with both models and compares what the challenger would have earned (no user exposed)."""
    D, T = t.days, t.per_day
    diff = (t.out_b - t.out_a).reshape(D, T)
    n = np.arange(1, D + 1) * T
    s, ss = np.cumsum(diff.sum(1)), np.cumsum((diff**2).sum(1))
    mean, var = abstats.mean_var(n, s, ss)
    half = abstats._z(1 - spec.alpha / 2) * np.sqrt(var / n)
    daily = pd.DataFrame({"day": np.arange(1, D + 1), "requests": T,
                          "champion_mean": np.cumsum(t.out_a.reshape(D, T).sum(1)) / n,
                          "challenger_mean": np.cumsum(t.out_b.reshape(D, T).sum(1)) / n,
                          "diff": mean, "diff_low": mean - half, "diff_high": mean + half})
    frames, summary = {"daily": daily}, {"requests": D * T, "users_exposed": 0, "risk_to_users": "zero",
                                         "outcome_diff": mean[-1], "outcome_low": mean[-1] - half[-1],
                                         "outcome_high": mean[-1] + half[-1]}
    if t.dec_a is not None:
        agree = t.dec_a == t.dec_b
        daily["agreement"] = agree.reshape(D, T).mean(1)
        summary["agreement"] = float(agree.mean())
        frames["disagreements"] = _disagreements(t)
    if t.cor_a is not None:
        rel = t.rel if t.rel is not None else np.ones_like(t.cor_a)
        for who, cor in (("champion", t.cor_a), ("challenger", t.cor_b)):
            daily[f"{replay.primary_metric}_{who}"] = (np.cumsum((cor & rel).reshape(D, T).sum(1))
                                                       / np.maximum(np.cumsum(rel.reshape(D, T).sum(1)), 1))
    if t.lat_a is not None:
        qs = [50, 95, 99]
        rows = []
        for who, lat in (("champion", t.lat_a), ("challenger", t.lat_b)):
            p = np.percentile(lat.reshape(D, T), [50, 95], axis=1)
            daily[f"latency_p50_{who}"], daily[f"latency_p95_{who}"] = p[0], p[1]
            rows.append({"model": who, "mean_ms": float(lat.mean()),
                         **{f"p{q}_ms": float(v) for q, v in zip(qs, np.percentile(lat, qs))}})
        frames["latency"] = pd.DataFrame(rows)
    verdict = _shadow_verdict(replay, spec, summary)
    return RolloutResult("shadow", spec.to_dict(), verdict, summary, frames,
                         ["Shadow requests are answered by the champion; the challenger's latency is not felt by users "
                          "when it scores in parallel."])


def _disagreements(t: Traffic) -> pd.DataFrame:
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


def _shadow_verdict(replay: ReplayData, spec: RolloutSpec, s: dict) -> Verdict:
    agree = f" and agreed with the champion on {fmt_pct(s['agreement'])} of requests" if "agreement" in s else ""
    unit = "points" if replay.is_binary else f"{replay.outcome_label} per request"
    scale = 100 if replay.is_binary else 1
    ci = f"{fmt_num(s['outcome_diff'] * scale, True)} {unit}, {fmt_ci(s['outcome_low'] * scale, s['outcome_high'] * scale, spec.alpha)}"
    if s["outcome_high"] < 0:
        return Verdict("Roll back", f"In shadow the challenger would have done worse: {ci}{agree}; no user was exposed.")
    if s["outcome_low"] > 0:
        return Verdict("Ship", f"In shadow the challenger would have done better: {ci}{agree}; no user was exposed.")
    return Verdict("Keep testing", f"In shadow no difference was clear: {ci}{agree}; try an A/B test to measure users' response.")


def run_ab(replay: ReplayData, spec: RolloutSpec, t: Traffic) -> RolloutResult:
    """Splits traffic, then tests the arms daily: fixed-horizon (naive peeking), sequential (mSPRT) and sample ratio."""
    D, T, a = t.days, t.per_day, spec.alpha
    arm_b = t.assign < spec.split
    keep = ~(arm_b & t.lost) if t.lost is not None else np.ones_like(arm_b)
    stats = {}
    for name, mask in (("a", ~arm_b & keep), ("b", arm_b & keep)):
        m = mask.reshape(D, T)
        out = t.out_a if name == "a" else t.out_b
        x = out.reshape(D, T) * m
        stats[name] = [np.cumsum(v) for v in (m.sum(1), x.sum(1), (x * x).sum(1))]
    (na, sa, ssa), (nb, sb, ssb) = stats["a"], stats["b"]
    binary = replay.is_binary
    fixed = abstats.compare_arms(na, sa, ssa, nb, sb, ssb, binary, a)
    (ma, va), (mb, vb) = abstats.mean_var(na, sa, ssa), abstats.mean_var(nb, sb, ssb)
    if binary:
        va, vb = ma * (1 - ma), mb * (1 - mb)
    var_diff = va / np.maximum(na, 1) + vb / np.maximum(nb, 1)
    # The mixing variance is set before the test from the replay set (pre-launch data) and the planned traffic.
    v0 = float(np.var(replay.outcome_champion, ddof=1)) or 1e-12
    tau2 = abstats.mixture_tau2(v0 / (D * T * (1 - spec.split)) + v0 / (D * T * spec.split), a)
    seq_p, seq_low, seq_high = abstats.sequential_test(mb - ma, var_diff, tau2, a)
    _, srm_p = abstats.srm_test(na, nb, spec.split)
    z = abstats._z(1 - a / 2)
    daily = pd.DataFrame({
        "day": np.arange(1, D + 1), "n_champion": na, "n_challenger": nb,
        "mean_champion": ma, "low_champion": ma - z * np.sqrt(va / na), "high_champion": ma + z * np.sqrt(va / na),
        "mean_challenger": mb, "low_challenger": mb - z * np.sqrt(vb / nb), "high_challenger": mb + z * np.sqrt(vb / nb),
        "diff": fixed.diff, "fixed_low": fixed.low, "fixed_high": fixed.high, "naive_p": fixed.p_value,
        "naive_significant": fixed.p_value < a, "sequential_p": seq_p, "sequential_low": seq_low,
        "sequential_high": seq_high, "srm_p": srm_p, "srm_alarm": srm_p < 0.001})
    first = lambda m: int(daily["day"][m].iloc[0]) if m.any() else None  # noqa: E731
    sd0 = None if binary else math.sqrt(v0)
    base = float(replay.outcome_champion.mean())
    mde = abstats.detectable_effect(base, sd0, T, D, spec.split, a) if (sd0 or 0 < base < 1) else float("nan")
    exposed = int(nb[-1])
    summary = {"requests": D * T, "users_exposed": exposed, "test": fixed.name,
               "fixed": {k: float(np.asarray(v)[-1]) for k, v in asdict(fixed).items() if k != "name"},
               "sequential": {"p_value": float(seq_p[-1]), "low": float(seq_low[-1]), "high": float(seq_high[-1]),
                              "stopped_day": first(seq_p < a), "method": "mSPRT, normal mixture"},
               "naive_first_significant_day": first(fixed.p_value < a), "srm_first_alarm_day": first(srm_p < 0.001),
               "srm_p_final": float(srm_p[-1]), "mde": mde,
               "outcome_delta_total": float((t.out_b - t.out_a)[arm_b & keep].sum())}
    return RolloutResult("ab", spec.to_dict(), _ab_verdict(replay, spec, daily, summary), summary, {"daily": daily},
                         ["The sequential test is the mSPRT with a normal mixture (always-valid p-value and confidence "
                          "sequence); the naive p-value is the fixed-horizon test recomputed every day."])


def _ab_verdict(replay: ReplayData, spec: RolloutSpec, daily: pd.DataFrame, s: dict) -> Verdict:
    scale, unit = (100, "points") if replay.is_binary else (1, f"{replay.outcome_label} per request")
    if s["srm_first_alarm_day"] is not None:
        d = s["srm_first_alarm_day"]
        return Verdict("Keep testing", f"Sample ratio mismatch from day {d} (p = {daily['srm_p'].iloc[d - 1]:.1e}): the arms "
                       f"got {daily['n_champion'].iloc[d - 1]:,} and {daily['n_challenger'].iloc[d - 1]:,} requests, "
                       "so the result can't be trusted; fix the traffic split and rerun.")
    day = s["sequential"]["stopped_day"]
    if day is not None:
        row = daily.iloc[day - 1]
        ci = f"{fmt_ci(row['sequential_low'] * scale, row['sequential_high'] * scale, spec.alpha)} (always valid)"
        better = row["sequential_low"] > 0
        return Verdict("Ship" if better else "Roll back",
                       f"Stopped on day {day}: the challenger {'earns more' if better else 'earns less'}, "
                       f"{fmt_num(row['diff'] * scale, True)} {unit}, {ci}.")
    f = s["fixed"]
    mde = f" it can detect about ±{fmt_num(s['mde'] * scale)} {unit} with this traffic" if math.isfinite(s["mde"]) else ""
    return Verdict("Keep testing", f"No clear difference after {spec.days} days: {fmt_num(f['diff'] * scale, True)} {unit}, "
                   f"{fmt_ci(f['low'] * scale, f['high'] * scale, spec.alpha)};{mde or ' keep the test running'}.")


def simulate_peeking(replay: ReplayData, spec: RolloutSpec, runs: int = 200, traffic_per_day: int = 2000) -> pd.DataFrame:
    """Runs A/A tests (both arms the champion) and returns, per day, the share of runs that a naive daily test and the
    sequential test had wrongly declared significant by then. Smaller traffic than the spec keeps it quick; the
    inflation from peeking does not depend on the traffic."""
    validate_spec(spec)
    replay = replay.checked()
    rng = np.random.default_rng(np.random.SeedSequence(spec.seed).spawn(6)[5])
    D, T, s, a = spec.days, traffic_per_day, spec.split, spec.alpha
    v0 = float(np.var(replay.outcome_champion, ddof=1)) or 1e-12
    tau2 = abstats.mixture_tau2(v0 / (D * T * (1 - s)) + v0 / (D * T * s), a)
    naive, seq = np.zeros(D), np.zeros(D)
    for start in range(0, runs, 50):
        r = min(50, runs - start)
        x = replay.outcome_champion[rng.integers(0, replay.rows, size=(r, D, T))]
        arm = rng.random((r, D, T)) < s
        sums = {k: [np.cumsum(v, axis=1) for v in (m.sum(2), (x * m).sum(2), (x * x * m).sum(2))]
                for k, m in (("a", ~arm), ("b", arm))}
        test = abstats.compare_arms(*sums["a"], *sums["b"], replay.is_binary, a)
        (ma, va), (mb, vb) = abstats.mean_var(*sums["a"]), abstats.mean_var(*sums["b"])
        p, _, _ = abstats.sequential_test(mb - ma, va / sums["a"][0] + vb / sums["b"][0], tau2, a)
        naive += np.maximum.accumulate(test.p_value < a, axis=1).sum(0)
        seq += (p < a).sum(0)
    return pd.DataFrame({"day": np.arange(1, D + 1), "naive_fpr": naive / runs, "sequential_fpr": seq / runs})
