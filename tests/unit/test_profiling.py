"""Every statistic of a profile against the same statistic computed independently with pandas, numpy and scipy.

Datasets: the three sample CSVs (ingested as the app does) and a hostile table with nulls, NaN, infinities, a
constant column, all-empty columns, a column mixing numbers and words, nullable integers, dates and free text.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from core.errors import NotFound, TargetNotUsable
from core.profile.profiling import cached_profile, data_health, profile_dataset
from core.store.workspace import close_workspace
from core.data.samples import SAMPLE_DIR, open_workspace
from core.data.ingest import add_frame

SAMPLES = ("churn", "churn_next_month", "house_prices")
REL = 1e-9


def hostile_frame(n: int = 400, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.normal(10, 3, n)
    a[rng.random(n) < 0.1] = np.nan
    b = rng.lognormal(0, 1, n)
    b[:3], b[3:5], b[5:9], b[9:40] = np.inf, -np.inf, np.nan, 0.0
    b[40:60] = -rng.random(20)
    mixed = np.array(["12", "3.5", "abc", "N/A", None, "7"], dtype=object)[rng.integers(0, 6, n)]
    ints = pd.array(rng.integers(-5, 6, n), dtype="Int64")
    ints[rng.random(n) < 0.05] = pd.NA
    when = pd.Series(pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D"))
    when[rng.random(n) < 0.05] = pd.NaT
    cat = pd.Series(rng.choice(["red", "green", "blue"], n, p=[0.6, 0.3, 0.1]), dtype=object)
    cat[rng.random(n) < 0.08] = None
    words = ["lorem", "ipsum", "dolor", "sit", "amet", "consectetur"]
    text = [" ".join(rng.choice(words, rng.integers(3, 12))) for _ in range(n)]
    return pd.DataFrame({"a": a, "b": b, "const": 7.0, "all_null": np.nan,
                         "all_null_text": pd.Series([None] * n, dtype=object), "mixed": mixed, "ints": ints,
                         "when": when, "cat": cat, "flag": rng.random(n) < 0.3, "text": text})


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    from core.data.ingest import ingest_path

    home = tmp_path_factory.mktemp("profiling")
    w = open_workspace(home, seed_samples=False)
    for name in SAMPLES:
        ingest_path(w, SAMPLE_DIR / f"{name}.csv", name=name)
    add_frame(w, "hostile", hostile_frame())
    yield w
    close_workspace(home)


@pytest.fixture(scope="module")
def profiles(ws):
    return {name: profile_dataset(ws, name) for name in SAMPLES + ("hostile",)}


def _col(profile: dict, name: str) -> dict:
    return next(c for c in profile["columns"] if c["name"] == name)


def _close(ours, theirs, rel=REL, abs_=1e-9) -> bool:
    if ours is None or theirs is None or (isinstance(theirs, float) and math.isnan(theirs)):
        return ours is None and (theirs is None or math.isnan(theirs))
    return math.isclose(float(ours), float(theirs), rel_tol=rel, abs_tol=abs_)


DATASETS = SAMPLES + ("hostile",)


@pytest.mark.parametrize("name", DATASETS)
def test_summary_matches_pandas(ws, profiles, name):
    df, p = ws.frame(name), profiles[name]
    s = p["summary"]
    assert s["rows"] == len(df) and s["columns"] == df.shape[1]
    assert s["missing_cells"] == int(df.isna().sum().sum())
    assert _close(s["missing_pct"], 100 * df.isna().sum().sum() / df.size, rel=0, abs_=1e-4)
    assert s["duplicate_rows"] == int(df.duplicated().sum())
    assert sum(s["kinds"].values()) == df.shape[1]
    assert s["memory_bytes"] > 0


@pytest.mark.parametrize("name", DATASETS)
def test_numeric_statistics_match_pandas(ws, profiles, name):
    df, p = ws.frame(name), profiles[name]
    numeric = [c for c in p["columns"] if c["family"] == "numeric"]
    assert numeric
    for c in numeric:
        raw = pd.to_numeric(df[c["name"]], errors="raise").astype(float)
        finite = raw[np.isfinite(raw)]
        rows = len(raw)
        assert c["count"] == raw.notna().sum(), c["name"]
        assert c["missing"] == raw.isna().sum() and _close(c["missing_pct"], 100 * raw.isna().mean(), rel=0, abs_=1e-4)
        assert c["distinct"] == raw.nunique(dropna=True), c["name"]
        assert c["infinite"] == np.isinf(raw).sum() and c["zeros"] == (raw == 0).sum()
        assert c["negatives"] == (raw < 0).sum() and _close(c["zeros_pct"], 100 * (raw == 0).sum() / rows, rel=0, abs_=1e-4)
        if finite.empty:
            assert c["min"] is None and c["mean"] is None and c["std"] is None
            continue
        assert _close(c["min"], finite.min()) and _close(c["max"], finite.max())
        assert _close(c["mean"], finite.mean())
        assert _close(c["std"], finite.std(ddof=1) if len(finite) > 1 else None)
        expected_skew = finite.skew() if finite.std() > 0 else None
        assert _close(c["skewness"], expected_skew, rel=1e-7), c["name"]
        for label, q in zip(("q05", "q25", "q50", "q75", "q95"), (0.05, 0.25, 0.5, 0.75, 0.95)):
            assert _close(c[label], finite.quantile(q)), (c["name"], label)
        assert c["integral"] == bool((finite == finite.round()).all())


@pytest.mark.parametrize("name", DATASETS)
def test_histograms_match_pandas_cut(ws, profiles, name):
    df, p = ws.frame(name), profiles[name]
    for c in p["columns"]:
        hist = c.get("histogram") if c["family"] == "numeric" else c.get("length_histogram")
        if not hist:
            continue
        values = df[c["name"]].astype(float) if c["family"] == "numeric" else df[c["name"]].dropna().str.len()
        values = values[np.isfinite(values)]
        expected = pd.cut(values, bins=hist["edges"], right=True, include_lowest=True).value_counts(sort=False)
        assert hist["counts"] == expected.tolist(), c["name"]
        assert len(hist["counts"]) <= 60 and sum(hist["counts"]) == len(values)


@pytest.mark.parametrize("name", DATASETS)
def test_categories_match_value_counts(ws, profiles, name):
    df, p = ws.frame(name), profiles[name]
    for c in p["columns"]:
        if c["family"] not in ("categorical", "text"):
            continue
        s = df[c["name"]]
        if set(s.dropna().unique()) <= {True, False}:
            s = s.map({True: "true", False: "false"})
        elif s.dtype != object:
            s = s.astype(str).where(s.notna())
        counts = s.value_counts(dropna=True)
        assert c["count"] == s.notna().sum() and c["distinct"] == s.nunique(dropna=True), c["name"]
        shown = {t["value"]: t["count"] for t in c["top"]}
        assert all(counts[v] == n for v, n in shown.items()), c["name"]
        assert sorted(shown.values(), reverse=True) == counts.sort_values(ascending=False).head(len(shown)).tolist()
        assert c["other_count"] == s.notna().sum() - sum(shown.values())
        if c["distinct"] >= 2:
            shares = counts / counts.sum()
            assert _close(c["balance"], -(shares * np.log(shares)).sum() / math.log(len(counts)), rel=1e-5)


@pytest.mark.parametrize("name", DATASETS)
def test_dates_match_pandas(ws, profiles, name):
    df, p = ws.frame(name), profiles[name]
    dates = [c for c in p["columns"] if c["family"] == "datetime"]
    for c in dates:
        s = pd.to_datetime(df[c["name"]])
        assert c["count"] == s.notna().sum() and c["distinct"] == s.nunique()
        assert pd.Timestamp(c["min"]) == s.min() and pd.Timestamp(c["max"]) == s.max()
        months = s.dropna().dt.strftime("%Y-%m").value_counts().sort_index()
        assert c["by_period"]["labels"] == months.index.tolist() and c["by_period"]["counts"] == months.tolist()


def test_text_lengths_and_type_shares_match_pandas(ws, profiles):
    df, p = ws.frame("hostile"), profiles["hostile"]
    text = _col(p, "text")
    lengths = df["text"].str.len()
    assert (text["length_min"], text["length_max"]) == (lengths.min(), lengths.max())
    assert _close(text["length_mean"], lengths.mean())
    mixed = _col(p, "mixed")
    values = df["mixed"].dropna()
    assert mixed["as_number"] == pd.to_numeric(values, errors="coerce").notna().sum()
    assert mixed["type_check_values"] == len(values) and mixed["as_date"] == 0


def test_hostile_columns_are_described_honestly(profiles):
    p = profiles["hostile"]
    assert _col(p, "all_null")["count"] == 0 and _col(p, "all_null")["missing_pct"] == 100.0
    assert _col(p, "const")["distinct"] == 1 and _col(p, "const")["skewness"] is None
    b = _col(p, "b")
    assert b["infinite"] == 5 and b["missing"] == 4  # NaN counts as missing, infinities as (infinite) values
    codes = {a["code"] for a in p["alerts"]}
    assert {"all_missing", "constant", "infinite", "mixed_types", "skewed"} <= codes
    assert len(json.dumps(p)) < 100_000


def test_correlations_match_scipy(ws, profiles):
    from scipy import stats
    from scipy.stats.contingency import association

    for name in ("house_prices", "hostile", "churn"):
        df, corr = ws.frame(name), profiles[name]["correlations"]
        assert corr["sample_rows"] == len(df)
        num = corr["numeric"]
        for i, a in enumerate(num):
            for j, b in enumerate(num):
                if i >= j:
                    continue
                x, y = df[a].astype(float), df[b].astype(float)
                ok = np.isfinite(x) & np.isfinite(y)
                assert _close(corr["pearson"][i][j], stats.pearsonr(x[ok], y[ok])[0], rel=0, abs_=1e-6), (a, b)
                assert _close(corr["spearman"][i][j], stats.spearmanr(x[ok], y[ok])[0], rel=0, abs_=1e-6), (a, b)
        cats = corr["categorical"]
        for i, a in enumerate(cats):
            for b in cats[i + 1:]:
                both = df[[a, b]].dropna()
                table = pd.crosstab(both[a], both[b]).to_numpy()
                got = corr["association"][corr["columns"].index(a)][corr["columns"].index(b)]
                assert _close(got, association(table, method="cramer"), rel=0, abs_=1e-6), (a, b)
        for a in num:
            for b in cats:
                both = df[[a, b]].dropna()
                both = both[np.isfinite(both[a].astype(float))]
                x, g = both[a].astype(float), both[b]
                between = (g.map(x.groupby(g).mean()) - x.mean()).pow(2).sum()
                eta = math.sqrt(between / ((x - x.mean()) ** 2).sum())
                got = corr["association"][corr["columns"].index(a)][corr["columns"].index(b)]
                assert _close(got, eta, rel=0, abs_=1e-6), (a, b)


def test_large_tables_use_hyperloglog_and_a_sample_within_tolerance(ws, monkeypatch):
    import core.profile.stats as stats
    import core.profile.profiling as profiling

    monkeypatch.setattr(profiling, "EXACT_LIMIT", 1000)
    monkeypatch.setattr(stats, "SAMPLE_ROWS", 1500)
    p = profile_dataset(ws, "churn", refresh=True)
    df = ws.frame("churn")
    charges = _col(p, "monthly_charges")
    assert charges["distinct_exact"] is False and charges["quantile_sample_rows"] < 6000
    assert abs(charges["distinct"] - df["monthly_charges"].nunique()) <= 0.05 * df["monthly_charges"].nunique()
    assert abs(charges["q50"] - df["monthly_charges"].median()) < 0.1 * df["monthly_charges"].std()
    assert _close(charges["mean"], df["monthly_charges"].mean())  # moments stay exact
    assert p["correlations"]["sample_rows"] < 6000
    monkeypatch.undo()
    profile_dataset(ws, "churn", refresh=True)


def test_profiles_are_cached_by_content_and_feed_the_home_page(ws, profiles, monkeypatch):
    import core.profile.profiling as profiling

    assert data_health(ws, ws.dataset("house_prices").id)["rows"] == 3000
    monkeypatch.setattr(profiling, "_compute", lambda *a, **k: pytest.fail("recomputed a cached profile"))
    again = profile_dataset(ws, "house_prices")
    assert again["summary"] == profiles["house_prices"]["summary"]
    health = data_health(ws, ws.dataset("hostile").id)
    assert health["missing_pct"] == profiles["hostile"]["summary"]["missing_pct"]
    assert sum(health["alerts_by_severity"].values()) == len(profiles["hostile"]["alerts"])
    fresh = add_frame(ws, "fresh", pd.DataFrame({"x": [1, 2, 3]}))
    assert data_health(ws, fresh.id) is None and cached_profile(ws, fresh.id) is None


def test_a_viewer_sees_a_profile_without_storing_it(ws):
    info = add_frame(ws, "for_viewer", pd.DataFrame({"x": np.arange(50.0), "y": ["a", "b"] * 25}))
    viewer = ws.as_role("viewer")
    assert profile_dataset(viewer, info.id)["summary"]["rows"] == 50
    assert cached_profile(ws, info.id) is None


def test_target_view_for_classification_matches_sklearn(ws):
    from sklearn.metrics import roc_auc_score

    p = profile_dataset(ws, "churn", target="churned")
    view = p["target_view"]
    df = ws.frame("churn")
    assert view["task"] == "classification" and view["sample_rows"] == len(df)
    counts = df["churned"].value_counts()
    assert {str(c["value"]).lower(): c["count"] for c in view["classes"]} == {str(k).lower(): v for k, v in counts.items()}
    row = next(a for a in view["associations"] if a["feature"] == "satisfaction_score")
    ok = df["satisfaction_score"].notna()
    auc = roc_auc_score(df.loc[ok, "churned"].astype(bool), df.loc[ok, "satisfaction_score"])
    assert _close(row["auc"], max(auc, 1 - auc), rel=1e-9)
    assert [s["column"] for s in view["suspects"] if s["code"] == "id_like"] == ["customer_id"]
    assert not [s for s in view["suspects"] if s["code"] == "near_perfect"]  # the sample data has no leaks


def test_target_view_for_regression(ws):
    from scipy import stats

    view = profile_dataset(ws, "house_prices", target="price")["target_view"]
    df = ws.frame("house_prices")
    assert view["task"] == "regression" and view["histogram"]["counts"]
    row = next(a for a in view["associations"] if a["feature"] == "living_area_sqm")
    assert _close(row["value"], abs(stats.spearmanr(df["living_area_sqm"], df["price"])[0]), rel=1e-6)


def test_leakage_suspects_are_flagged(ws):
    rng = np.random.default_rng(3)
    n = 500
    y = rng.integers(0, 2, n)
    cancelled = pd.Series(pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 90, n), unit="D"))
    cancelled[y == 0] = pd.NaT
    df = pd.DataFrame({"noise": rng.normal(size=n), "refund_amount": y * 40 + rng.random(n),
                       "ticket_no": np.arange(n), "cancel_date": cancelled, "churn": np.where(y == 1, "yes", "no")})
    add_frame(ws, "leaky", df)
    view = profile_dataset(ws, "leaky", target="churn")["target_view"]
    found = {(s["column"], s["code"]) for s in view["suspects"]}
    assert ("refund_amount", "near_perfect") in found
    assert ("cancel_date", "missing_tells") in found and ("cancel_date", "after_outcome") in found
    assert ("ticket_no", "id_like") in found
    assert not any(col == "noise" for col, _ in found)
    codes = {a["code"] for a in profile_dataset(ws, "leaky", target="churn")["alerts"]}
    assert "leakage_near_perfect" in codes


def test_unusable_targets_are_refused_with_a_reason(ws):
    with pytest.raises(NotFound, match="Did you mean 'churned'"):
        profile_dataset(ws, "churn", target="churn")
    with pytest.raises(TargetNotUsable, match="empty in every row"):
        profile_dataset(ws, "hostile", target="all_null")
    with pytest.raises(TargetNotUsable, match="dates"):
        profile_dataset(ws, "hostile", target="when")
    with pytest.raises(TargetNotUsable, match="identifier"):
        profile_dataset(ws, "house_prices", target="listing_id")
    with pytest.raises(TargetNotUsable, match="free text"):
        profile_dataset(ws, "hostile", target="text")


def test_duplicates_on_large_tables_by_hash_or_by_a_unique_key(ws, monkeypatch):
    import core.profile.profiling as profiling

    monkeypatch.setattr(profiling, "EXACT_LIMIT", 100)
    rng = np.random.default_rng(9)
    repeats = pd.DataFrame({"a": rng.integers(0, 5, 2000), "b": rng.choice(["x", "y"], 2000)})
    keyed = pd.DataFrame({"key": np.arange(2000), "a": rng.integers(0, 5, 2000)})
    add_frame(ws, "repeats_large", repeats)
    add_frame(ws, "keyed_large", keyed)
    p = profile_dataset(ws, "repeats_large")["summary"]
    assert p["duplicate_rows"] == repeats.duplicated().sum() and p["duplicates_exact"] is False
    p = profile_dataset(ws, "keyed_large")["summary"]
    assert p["duplicate_rows"] == 0 and p["duplicates_exact"] is True


def test_the_cli_prints_the_same_statistics_and_alerts(ws, profiles, capsys, monkeypatch):
    from core.cli import main

    monkeypatch.setenv("WORKBENCH_HOME", str(ws.home))
    assert main(["--home", str(ws.home), "profile", "house_prices", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["summary"]["rows"] == profiles["house_prices"]["summary"]["rows"]
    assert [c["name"] for c in out["columns"]] == [c["name"] for c in profiles["house_prices"]["columns"]]
    assert [a["code"] for a in out["alerts"]] == [a["code"] for a in profiles["house_prices"]["alerts"]]
    assert main(["--home", str(ws.home), "profile", "churn", "--target", "churned"]) == 0
    text = capsys.readouterr().out
    assert "Target 'churned' (classification)" in text and "satisfaction_score" in text
    assert main(["--home", str(ws.home), "profile", "churn", "--target", "nope"]) == 2
    assert "No column 'nope'" in capsys.readouterr().err
    assert main(["--home", str(ws.home), "compare-data", "churn", "churn_next_month", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["right"]["rows"] == 2000


def test_wide_tables_are_profiled_in_batches(ws, monkeypatch):
    import core.profile.stats as stats
    import core.profile.profiling as profiling

    monkeypatch.setattr(profiling, "EXACT_LIMIT", 500)
    monkeypatch.setattr(stats, "SAMPLE_ROWS", 800)
    rng = np.random.default_rng(2)
    wide = pd.DataFrame(rng.normal(size=(1500, 130)), columns=[f"m{i:03d}" for i in range(130)])
    wide["label"] = rng.choice(["a", "b", "c"], 1500)
    add_frame(ws, "wide", wide)
    p = profile_dataset(ws, "wide")
    assert len(p["columns"]) == 131 and all(c.get("q50") is not None for c in p["columns"][:130])
    assert all(c["histogram"]["counts"] and sum(c["histogram"]["counts"]) == 1500 for c in p["columns"][:130])
    assert len(p["correlations"]["columns"]) == 40  # the heatmap keeps the first 40 eligible columns
    assert p["columns"][5]["mean"] == pytest.approx(wide["m005"].mean(), rel=1e-9)


def test_a_unique_million_row_column_is_flagged_id_like(ws):
    """HyperLogLog undershoots near the row count (a unique 201,000-row order number read 200,059): counted exactly."""
    n = 1_000_000
    rng = np.random.default_rng(0)
    add_frame(ws, "orders_1m", pd.DataFrame({"order_no": rng.permutation(n) + 10_000_000,
                                             "amount": np.round(rng.gamma(2.0, 30.0, n), 2)}))
    p = profile_dataset(ws, "orders_1m")
    order = _col(p, "order_no")
    assert order["distinct"] == n and order["distinct_exact"] is True
    assert any(a["code"] == "id_like" and "order_no" in a["columns"] for a in p["alerts"]), p["alerts"]
    assert _col(p, "amount")["distinct_exact"] is False   # far from unique: the approximate count stands
