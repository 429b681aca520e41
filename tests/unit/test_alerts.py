"""Every alert fires on data built to trigger it and stays quiet on a near miss just inside its threshold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.profile.alerts import RULES, count_by_severity
from core.profile.profiling import profile_dataset
from core.store.workspace import close_workspace
from core.data.samples import open_workspace
from core.data.ingest import add_frame

N = 400


def _shares(rng, values, probs, n=N):
    counts = np.round(np.array(probs) * n).astype(int)
    counts[0] += n - counts.sum()
    out = np.repeat(np.array(values, dtype=object), counts)
    rng.shuffle(out)
    return out


def firing_frame() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    x = rng.normal(size=N)
    with_missing = rng.normal(size=N)
    with_missing[: int(0.3 * N)] = np.nan
    with_inf = rng.normal(size=N)
    with_inf[:4] = np.inf
    numbers = np.array([f"{v:.2f}" for v in rng.normal(50, 5, N)], dtype=object)
    numbers[:8] = "N/A"  # 98 % numbers
    return pd.DataFrame({
        "empty": np.nan,
        "constant": "same",
        "almost_constant": _shares(rng, ["a", "b"], [0.97, 0.03]),
        "record_id": np.arange(N),  # unique whole numbers
        "many_levels": [f"L{i}" for i in rng.integers(0, 120, N)],
        "with_missing": with_missing,
        "mostly_zero": np.where(rng.random(N) < 0.3, 0.0, rng.normal(5, 1, N)),
        "skewed": rng.lognormal(0, 1.5, N),
        "with_inf": with_inf,
        "x": x, "x_copy": x * 2 + rng.normal(0, 0.01, N),
        "imbalanced": _shares(rng, ["p", "q", "r", "s"], [0.88, 0.04, 0.04, 0.04]),
        "numbers_text": numbers,
        "dates_text": (pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, N), unit="D")).strftime("%Y-%m-%d"),
        "mixed": np.where(rng.random(N) < 0.5, rng.integers(0, 100, N).astype(str), rng.choice(["red", "blue"], N)),
    })


def quiet_frame() -> pd.DataFrame:
    rng = np.random.default_rng(12)
    x = rng.normal(size=N)
    some_missing = rng.normal(size=N)
    some_missing[: int(0.04 * N)] = np.nan
    return pd.DataFrame({
        "empty": np.r_[1.5, [np.nan] * (N - 1)],  # one value: not empty
        "constant": _shares(rng, ["same", "other"], [0.5, 0.5]),
        "almost_constant": _shares(rng, ["a", "b"], [0.94, 0.06]),
        "record_id": rng.normal(size=N),  # unique, but measurements, not identifiers
        "many_levels": [f"L{i}" for i in np.r_[np.arange(50), rng.integers(0, 50, N - 50)]],  # exactly 50 levels
        "with_missing": some_missing,  # 4 % missing
        "mostly_zero": np.where(np.arange(N) < int(0.09 * N), 0.0, rng.normal(5, 1, N)),  # 9 % zeros
        "skewed": rng.exponential(1.0, N),  # skewness about 2
        "with_inf": rng.normal(size=N),
        "x": x, "x_copy": 0.85 * x + np.sqrt(1 - 0.85 ** 2) * rng.normal(size=N),  # r about 0.85
        "imbalanced": _shares(rng, ["p", "q", "r"], [0.4, 0.3, 0.3]),
        "numbers_text": np.array([f"{i:05d}" for i in rng.integers(0, 99999, N)], dtype=object),  # codes, zero-padded
        "dates_text": rng.choice(["north", "south", "east"], N),
        "mixed": np.where(rng.random(N) < 0.02, "123", rng.choice(["red", "blue", "green"], N)),  # 2 % numbers
        "flag01": rng.integers(0, 2, N),  # half zeros, but zero is one of two answers, not a missing amount
    })


@pytest.fixture(scope="module")
def profiles(tmp_path_factory):
    home = tmp_path_factory.mktemp("alerts")
    ws = open_workspace(home, seed_samples=False)
    fired = firing_frame()
    quiet = quiet_frame()
    no_ids = fired.drop(columns=["record_id"])  # rows repeat exactly only without an identifier
    add_frame(ws, "fires", fired)
    add_frame(ws, "quiet", quiet)
    add_frame(ws, "repeats", pd.concat([no_ids, no_ids.iloc[:10]], ignore_index=True))
    out = {name: profile_dataset(ws, name) for name in ("fires", "quiet", "repeats")}
    yield out
    close_workspace(home)


def _codes_for(profile: dict, column: str | None) -> set[str]:
    return {a["code"] for a in profile["alerts"] if (column is None and not a["columns"]) or column in a["columns"]}


CASES = [  # (alert code, column that fires it in "fires" and stays quiet in "quiet"; None = table-level)
    ("all_missing", "empty"), ("constant", "constant"), ("almost_constant", "almost_constant"),
    ("id_like", "record_id"), ("high_cardinality", "many_levels"), ("high_missing", "with_missing"),
    ("many_zeros", "mostly_zero"), ("skewed", "skewed"), ("infinite", "with_inf"), ("duplicates", None),
    ("high_correlation", "x_copy"), ("imbalance", "imbalanced"), ("numbers_as_text", "numbers_text"),
    ("dates_as_text", "dates_text"), ("mixed_types", "mixed"),
]


def test_every_rule_has_a_case():
    assert {code for code, _ in CASES} == set(RULES)


@pytest.mark.parametrize("code,column", CASES, ids=[c for c, _ in CASES])
def test_alert_fires(profiles, code, column):
    alerts = [a for a in profiles["repeats" if code == "duplicates" else "fires"]["alerts"] if a["code"] == code]
    assert alerts, f"{code} did not fire"
    if column is not None:
        assert any(column in a["columns"] for a in alerts), alerts
    a = alerts[0]
    assert a["evidence"] and a["suggestion"] == RULES[code].suggestion and a["severity"] in ("problem", "warning", "info")


@pytest.mark.parametrize("code,column", CASES, ids=[c for c, _ in CASES])
def test_alert_stays_quiet_on_a_near_miss(profiles, code, column):
    assert code not in _codes_for(profiles["quiet"], column)
    if code == "many_zeros":
        assert code not in _codes_for(profiles["quiet"], "flag01")
    if code == "duplicates":
        assert code not in _codes_for(profiles["fires"], None)  # unique rows, so no duplicates either


def test_evidence_names_the_numbers(profiles):
    by_code = {a["code"]: a for a in profiles["repeats"]["alerts"] + profiles["fires"]["alerts"]}
    assert "10 rows" in by_code["duplicates"]["evidence"]
    assert "4 values of 'with_inf' are infinite" in by_code["infinite"]["evidence"]
    assert "'N/A'" in by_code["numbers_as_text"]["evidence"]
    assert "'x' and 'x_copy'" in by_code["high_correlation"]["evidence"]
    assert by_code["high_missing"]["severity"] == "warning"  # 30 % missing


def test_alerts_are_sorted_and_counted_by_severity(profiles):
    alerts = profiles["fires"]["alerts"]
    order = [("problem", "warning", "info").index(a["severity"]) for a in alerts]
    assert order == sorted(order)
    counts = count_by_severity(alerts)
    assert sum(counts.values()) == len(alerts) and set(counts) == {"problem", "warning", "info"}


@pytest.fixture(scope="module")
def target_ws(tmp_path_factory):
    home = tmp_path_factory.mktemp("target_alerts")
    ws = open_workspace(home, seed_samples=False)
    rng = np.random.default_rng(4)
    x = rng.normal(size=N)
    add_frame(ws, "targets", pd.DataFrame({
        "x": x, "rare": _shares(rng, ["no", "yes"], [0.95, 0.05]), "common": _shares(rng, ["no", "yes"], [0.75, 0.25]),
        "single": "yes", "leak": (x > 0).astype(int), "signal": (x + rng.normal(0, 1.5, N) > 0).astype(int)}))
    yield ws
    close_workspace(home)


def _target_codes(ws, target: str) -> set[str]:
    return {a["code"] for a in profile_dataset(ws, "targets", target=target)["alerts"]}


def test_target_imbalance_fires_on_a_rare_outcome_and_not_on_a_common_one(target_ws):
    assert "target_imbalance" in _target_codes(target_ws, "rare")
    assert "target_imbalance" not in _target_codes(target_ws, "common")


def test_target_constant_fires_only_when_there_is_one_outcome(target_ws):
    assert "target_constant" in _target_codes(target_ws, "single")
    assert "target_constant" not in _target_codes(target_ws, "common")


def test_leakage_alert_fires_on_a_perfect_predictor_and_not_on_a_noisy_one(target_ws):
    leak = profile_dataset(target_ws, "targets", target="leak")["alerts"]
    assert any(a["code"] == "leakage_near_perfect" and a["columns"] == ["x"] for a in leak)
    noisy = profile_dataset(target_ws, "targets", target="signal")["alerts"]
    assert not any(a["code"] == "leakage_near_perfect" for a in noisy)
