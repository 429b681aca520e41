"""Canary rollout of the launch simulator: traffic steps, guardrails with Argo Rollouts' semantics, a Kayenta judge.

Each step below 100 % runs an analysis with one measurement per day (Argo's `interval: 1d`, `count: step days`) on
the data since the step began. A guardrail measurement is Failed when the interval of the difference lies wholly on
the harmful side of its tolerance (Argo's failureCondition), Successful when it does not and there were enough rows
(successCondition), and Inconclusive when neither holds, i.e. too few rows to measure. A step fails as soon as one
guardrail has more failed measurements than the failure limit (abort, traffic back to 0 %); it is inconclusive when
its last measurement still lacks data. "Not enough data yet" is not a reason to stop: the rollout continues to the
next step, where more traffic reaches the challenger, and the verdict says which guardrail was not yet judged where;
only the last step below 100 % pauses for a person when a guardrail still lacks data there. (Pausing at any
inconclusive step paused 81 % of A/A canaries at the default settings: the 1 % step rarely has the rows to judge the
fairness gap.) Otherwise the rollout moves to the next step.

Intervals are mSPRT confidence sequences (valid under the daily looks within a step) at alpha divided by the number
of steps and guardrails (Bonferroni), so all of them together hold at the stated confidence. A Kayenta-style judge,
Mann-Whitney on hourly values at 98 % confidence, is scored beside each step; it informs and does not decide.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import SpecInvalid, did_you_mean
from core.launch.sim import (
    ReplayData,
    RolloutResult,
    RolloutSpec,
    Traffic,
    Verdict,
    fmt_ci,
    fmt_level,
    fmt_num,
)
from core.stats import abtests as abstats

MIN_ROWS = 30  # rows per arm below which a guardrail cannot be measured


@dataclass(frozen=True)
class GuardrailEntry:
    key: str
    label: str
    higher_is_better: bool
    tolerance: float            # harm allowed before a measurement fails
    relative: bool              # tolerance as a share of the champion's value
    help: str


GUARDRAILS = (
    GuardrailEntry("outcome", "outcome per request", True, 0.0, False,
                   "Business value per request; fails when the challenger is surely worse."),
    GuardrailEntry("primary", "primary metric", True, 0.01, False,
                   "Recall (or accuracy); fails when it surely drops by more than the tolerance (0.01 = 1 point)."),
    GuardrailEntry("latency", "mean latency", False, 0.2, True,
                   "Mean response time; fails when it is surely more than 20 % slower than the champion."),
    GuardrailEntry("fairness_gap", "fairness gap", False, 0.02, False,
                   "Difference of the primary metric between the best and worst group; fails when it surely widens "
                   "by more than the tolerance."),
)


def plan_steps(spec: RolloutSpec) -> list[tuple[float, int]]:
    """Returns (share %, days) for each canary step below 100 %.

    Raises:
        SpecInvalid: steps not increasing, not ending at 100, step days that do not fit the run, a bad failure
            limit or an unknown guardrail tolerance.
    """
    steps = list(spec.steps or ())
    if not steps or not all(isinstance(s, (int, float)) and not isinstance(s, bool) for s in steps):
        raise SpecInvalid("Canary steps must be traffic shares in %, for example 1, 5, 10, 25, 50, 100.")
    if any(not 0 < s <= 100 for s in steps):
        bad = ", ".join(str(s) for s in steps if not 0 < s <= 100)
        raise SpecInvalid(f"Canary steps must be above 0 and at most 100 %; {bad} are not.")
    if any(b <= a for a, b in zip(steps, steps[1:])):
        raise SpecInvalid(f"Canary steps must increase, each above the one before: "
                          f"{', '.join(map(str, steps))} do not.")
    if steps[-1] != 100:
        raise SpecInvalid(f"Canary steps must end at 100 % (full traffic); they stop at {steps[-1]} %. "
                          "Add 100 as the last step.")
    below = steps[:-1]
    if not below:
        raise SpecInvalid("A canary needs at least one step below 100 %, for example 10, 50, 100.")
    days = spec.step_days if spec.step_days is not None else max(1, spec.days // 2 // len(below))
    days = [days] * len(below) if isinstance(days, int) and not isinstance(days, bool) else list(days)
    if len(days) != len(below) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in days):
        raise SpecInvalid(f"Give one whole number of days (at least 1) for each of the {len(below)} steps below 100 %, "
                          f"not {spec.step_days!r}.")
    if sum(days) > spec.days:
        raise SpecInvalid(f"The canary steps take {sum(days)} days but the simulation runs {spec.days}. "
                          "Shorten the step days or simulate more days.")
    if not isinstance(spec.failure_limit, int) or spec.failure_limit < 0:
        raise SpecInvalid(f"The failure limit must be a whole number of at least 0, not {spec.failure_limit!r}.")
    keys = [g.key for g in GUARDRAILS]
    for key, value in (spec.tolerances or {}).items():
        if key not in keys:
            raise SpecInvalid(f"No guardrail {key!r}; tolerances exist for {', '.join(keys)}.{did_you_mean(key, keys)}")
        if not isinstance(value, (int, float)) or value < 0:
            raise SpecInvalid(f"The tolerance for {key!r} must be a number of at least 0, not {value!r}.")
    return [(float(s), d) for s, d in zip(below, days)]


def check_canary(spec: RolloutSpec) -> None:
    """Checks the canary's steps and their days. Raises: SpecInvalid."""
    plan_steps(spec)


def run_canary(replay: ReplayData, spec: RolloutSpec, t: Traffic) -> RolloutResult:
    """Ramps the challenger through the steps, analysing guardrails daily; aborts, pauses or promotes it."""
    plan = plan_steps(spec)
    active = [g for g in GUARDRAILS if _available(g.key, t)]
    tol = {g.key: (spec.tolerances or {}).get(g.key, g.tolerance) for g in active}
    alpha_g = spec.alpha / (len(plan) * len(active))
    state, si, day_in, promoted_day, stop = "progressing", 0, 0, None, None
    continued: list[tuple[int, str]] = []   # (step index, guardrail label) not yet judged when the step moved on
    sums = fails = None
    daily, steps, measures, judges = [], [], [], []
    exposed_total = delta_total = 0
    step_exposed = [0] * (len(plan) + 1)
    for d in range(t.days):
        sl = t.day(d)
        share = {"rolled back": 0.0, "promoted": 1.0}.get(state, plan[min(si, len(plan) - 1)][0] / 100)
        arm_b = t.assign[sl] < share
        exposed = int(arm_b.sum())
        exposed_total += exposed
        delta_total += float((t.out_b[sl] - t.out_a[sl])[arm_b].sum())
        step_exposed[len(plan) if state == "promoted" else si] += exposed
        daily.append({"day": d + 1, "share": share * 100, "step": si + 1 if state != "rolled back" else None,
                      "state": state, "challenger_requests": exposed, "exposed_total": exposed_total})
        if state != "progressing":
            continue
        if day_in == 0:
            sums, fails, hours = None, {g.key: 0 for g in active}, []
        keep = ~(arm_b & t.lost[sl]) if t.lost is not None else np.ones_like(arm_b)
        today = (_day_sums(t, sl, ~arm_b & keep, "a"), _day_sums(t, sl, arm_b & keep, "b"))
        hours.append(today)
        sums = today if sums is None else tuple({k: a[k] + b[k] for k in a} for a, b in zip(sums, today))
        day_in += 1
        planned_b = plan[si][0] / 100 * t.per_day * plan[si][1]
        for g in active:
            m = _measure(g, sums, tol[g.key], alpha_g, min(1.0, sums[1]["n"] / planned_b))
            measures.append({"step": si + 1, "day": d + 1, "guardrail": g.key, "label": _label(g, replay), **m})
            fails[g.key] += m["status"] == "Failed"
        failed = [g for g in active if fails[g.key] > spec.failure_limit]
        last = {m["guardrail"]: m for m in measures[-len(active):]}
        if failed or day_in == plan[si][1]:
            judge = _judge(hours, 1 + tol.get("latency", 0.0))
            judges += [{"step": si + 1, **row} for row in judge["metrics"]]
            lacking = [g for g in active if last[g.key]["status"] == "Inconclusive"]
            result = "Failed" if failed else "Inconclusive" if lacking else "Successful"
            moves_on = result == "Inconclusive" and si < len(plan) - 1
            steps.append({"step": si + 1, "share": plan[si][0], "days_planned": plan[si][1], "end_day": d + 1,
                          "days_run": day_in, "analysis": "Not enough data yet: continued" if moves_on else result,
                          "judge_score": judge["score"], "judge_result": judge["result"]})
            if moves_on:
                continued += [(si, last[g.key]["label"]) for g in lacking]
                si, day_in = si + 1, 0
            elif result != "Successful":
                state, stop = ("rolled back" if failed else "paused"), (si, d + 1, last[(failed or lacking)[0].key])
            else:
                si, day_in = si + 1, 0
                if si == len(plan):
                    state, promoted_day = "promoted", d + 1
    steps_df = _steps_frame(plan, steps, step_exposed, promoted_day)
    summary = {"requests": t.days * t.per_day, "users_exposed": exposed_total, "blast_radius": exposed_total,
               "outcome_delta_total": delta_total,
               "outcome_delta_per_exposed": delta_total / exposed_total if exposed_total else 0.0,
               "final_state": state, "final_share": daily[-1]["share"] if state != "rolled back" else 0.0,
               "promoted_day": promoted_day, "stopped_step": stop[0] + 1 if stop else None,
               "stopped_day": stop[1] if stop else None, "guardrail_alpha": alpha_g,
               "guardrails": [g.key for g in active], "failure_limit": spec.failure_limit,
               "continued_without_data": [{"step": i + 1, "guardrail": label} for i, label in continued]}
    verdict = _verdict(replay, spec, plan, state, stop, promoted_day, measures, exposed_total, active)
    if continued:
        where = "; ".join(f"{label} at step {i + 1} ({plan[i][0]:g} %)" for i, label in continued[:4])
        verdict = Verdict(verdict.decision, verdict.sentence + f" Not enough data yet for {where}: the rollout "
                          "continued to the next step instead of pausing, as more traffic there measures it.")
    frames = {"daily": pd.DataFrame(daily), "steps": steps_df, "measurements": pd.DataFrame(measures),
              "judge": pd.DataFrame(judges)}
    return RolloutResult("canary", spec.to_dict(), verdict, summary, frames,
                         ["Guardrail intervals are always-valid within a step and Bonferroni-adjusted over "
                          f"{len(plan)} steps and {len(active)} guardrails, so together they hold at "
                          f"{fmt_level(spec.alpha)}."
                          " The Kayenta-style judge is shown for comparison and does not steer the rollout."])


def _available(key: str, t: Traffic) -> bool:
    return {"outcome": True, "primary": t.cor_a is not None, "latency": t.lat_a is not None,
            "fairness_gap": t.cor_a is not None and t.grp is not None}[key]


def _day_sums(t: Traffic, sl: slice, mask: np.ndarray, arm: str) -> dict:
    """Sufficient statistics of one arm on one day, overall and per hour (for the judge) and per group."""
    hour = (np.arange(t.per_day) * 24 // t.per_day)[mask]
    out = (t.out_a if arm == "a" else t.out_b)[sl][mask]
    s = {"n": float(mask.sum()), "out": out.sum(), "out2": (out * out).sum(),
         "h_n": np.bincount(hour, minlength=24), "h_out": np.bincount(hour, out, minlength=24)}
    if t.cor_a is not None:
        rel = t.rel[sl][mask] if t.rel is not None else np.ones(hour.size, dtype=bool)
        hit = (t.cor_a if arm == "a" else t.cor_b)[sl][mask] & rel
        s |= {"rel": float(rel.sum()), "hit": float(hit.sum()),
              "h_rel": np.bincount(hour, rel, minlength=24), "h_hit": np.bincount(hour, hit, minlength=24)}
        if t.grp is not None:
            g, k = t.grp[sl][mask], len(t.group_labels)
            s |= {"g_rel": np.bincount(g, rel, minlength=k), "g_hit": np.bincount(g, hit, minlength=k)}
    if t.lat_a is not None:
        lat = (t.lat_a if arm == "a" else t.lat_b)[sl][mask]
        s |= {"lat": lat.sum(), "lat2": (lat * lat).sum(), "h_lat": np.bincount(hour, lat, minlength=24)}
    return s


def _measure(g: GuardrailEntry, sums: tuple[dict, dict], tol: float, alpha: float, done: float) -> dict:
    """One Argo measurement of a guardrail: the difference (challenger - champion), its interval and the status."""
    a, b = sums
    if g.key in ("outcome", "latency"):
        col = "out" if g.key == "outcome" else "lat"
        ma, va = abstats.mean_var(a["n"], a[col], a[col + "2"])
        mb, vb = abstats.mean_var(b["n"], b[col], b[col + "2"])
        n, est = min(a["n"], b["n"]), mb - ma
        var = va / a["n"] + vb / b["n"] if n >= 2 else np.nan
        tol = tol * abs(ma) if g.relative and n else tol
    elif g.key == "primary":
        n = min(a["rel"], b["rel"])
        pa, pb = a["hit"] / max(a["rel"], 1), b["hit"] / max(b["rel"], 1)
        est, var = pb - pa, pa * (1 - pa) / max(a["rel"], 1) + pb * (1 - pb) / max(b["rel"], 1)
    else:
        ok = (a["g_rel"] >= MIN_ROWS) & (b["g_rel"] >= MIN_ROWS)
        n = float(np.minimum(a["g_rel"], b["g_rel"])[ok].min()) if ok.sum() >= 2 else 0.0
        est = var = np.nan
        if n:
            gaps, var = [], 0.0
            for x in (a, b):
                rate = np.where(ok, x["g_hit"] / np.maximum(x["g_rel"], 1), np.nan)
                hi, lo = np.nanargmax(rate), np.nanargmin(rate)
                gaps.append(rate[hi] - rate[lo])
                var += sum(rate[i] * (1 - rate[i]) / x["g_rel"][i] for i in (hi, lo))
            est = gaps[1] - gaps[0]
    if n < MIN_ROWS or not np.isfinite(est):
        return {"estimate": None, "low": None, "high": None, "tolerance": tol, "rows": n, "status": "Inconclusive"}
    # The mixture is tuned to the step's planned size: variance now times the share of the step done so far.
    tau2 = abstats.mixture_tau2(max(var, 1e-18) * done, alpha)
    low, high = abstats.confidence_sequence(est, var, tau2, alpha)
    failed = high < -tol if g.higher_is_better else low > tol
    return {"estimate": float(est), "low": float(low), "high": float(high), "tolerance": float(tol), "rows": n,
            "status": "Failed" if failed else "Successful"}


def _judge(hours: list[tuple[dict, dict]], latency_allowed: float) -> dict:
    """Kayenta-style judge on hourly values of the step: outcome, primary metric and latency."""
    def hourly(arm: int, num: str, den: str) -> np.ndarray:
        top = np.concatenate([h[arm][num] for h in hours])
        bottom = np.concatenate([h[arm][den] for h in hours])
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(bottom > 0, top / bottom, np.nan)

    a0 = hours[0][0]
    metrics = {"outcome": (hourly(0, "h_out", "h_n"), hourly(1, "h_out", "h_n"), "decrease", 1.0)}
    if "h_hit" in a0:
        metrics["primary"] = (hourly(0, "h_hit", "h_rel"), hourly(1, "h_hit", "h_rel"), "decrease", 1.0)
    if "h_lat" in a0:
        metrics["latency"] = (hourly(0, "h_lat", "h_n"), hourly(1, "h_lat", "h_n"), "increase", latency_allowed)
    return abstats.judge_canary(metrics, confidence=0.98)


def _steps_frame(plan, steps, exposed, promoted_day) -> pd.DataFrame:
    rows = steps + [{"step": i + 1, "share": s, "days_planned": d, "analysis": "Not reached"}
                    for i, (s, d) in enumerate(plan) if i >= len(steps)]
    rows.append({"step": len(plan) + 1, "share": 100.0, "days_planned": None, "end_day": None,
                 "analysis": "Promoted" if promoted_day else "Not reached"})
    df = pd.DataFrame(rows)
    df["challenger_requests"] = exposed
    return df


def _label(g: GuardrailEntry, replay: ReplayData) -> str:
    if g.key == "primary":
        return replay.primary_metric
    if g.key == "outcome":
        return replay.outcome_label
    return g.label


def _effect(g: GuardrailEntry, replay: ReplayData, m: dict, alpha: float) -> str:
    """Words for one measurement: 'recall fell 4.1 points, 95% CI −6.0 to −2.2'."""
    if g.key == "latency":
        scale, unit = 1, "ms"
    elif g.key == "outcome" and not replay.is_binary:
        scale, unit = 1, "per request"
    else:
        scale, unit = 100, "points"
    est = m["estimate"] * scale
    verb = ("rose" if est > 0 else "fell") if g.key != "fairness_gap" else ("widened" if est > 0 else "narrowed")
    return (f"{_label(g, replay)} {verb} {fmt_num(abs(est))} {unit}, "
            f"{fmt_ci(m['low'] * scale, m['high'] * scale, alpha)}")


def _verdict(replay, spec, plan, state, stop, promoted_day, measures, exposed, active) -> Verdict:
    by_key = {g.key: g for g in active}
    if state == "rolled back":
        si, day, m = stop
        return Verdict("Roll back", f"Aborted at step {si + 1} ({plan[si][0]:g} %) on day {day}: "
                       f"{_effect(by_key[m['guardrail']], replay, m, spec.alpha)}; rolled back to 0 % after "
                       f"{exposed:,} requests went to the challenger.")
    if state == "paused":
        si, day, m = stop
        return Verdict("Keep testing", f"Paused at step {si + 1} ({plan[si][0]:g} %) on day {day}: too little data "
                       f"to judge {m['label']} ({int(m['rows'])} rows, need {MIN_ROWS}); "
                       "a person must promote or roll back.")
    # plan_steps makes the steps fit the run, so a canary that was neither stopped nor paused was promoted.
    last = [m for m in measures if m["guardrail"] == "outcome"][-1]
    return Verdict("Ship", f"Promoted to 100 % on day {promoted_day}: every guardrail passed at all {len(plan)} "
                   f"steps; at the last step {_effect(by_key['outcome'], replay, last, spec.alpha)}.")
