"""Tests for the committed sample CSVs, their generator script and the benchmark table generator."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench import datagen

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_data"


def _load_script():
    spec = importlib.util.spec_from_file_location("make_sample_data", ROOT / "scripts" / "make_sample_data.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


msd = _load_script()


@pytest.fixture(scope="module")
def churn() -> pd.DataFrame:
    return pd.read_csv(SAMPLES / "churn.csv")


@pytest.fixture(scope="module")
def next_month() -> pd.DataFrame:
    return pd.read_csv(SAMPLES / "churn_next_month.csv")


@pytest.fixture(scope="module")
def houses() -> pd.DataFrame:
    return pd.read_csv(SAMPLES / "house_prices.csv")


# ---- committed sample files --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, rows", [("churn.csv", 6000), ("churn_next_month.csv", 2000), ("house_prices.csv", 3000),
                   ("support_tickets.csv", 2000)]
)
def test_sample_file_exists_is_small_and_has_expected_rows(name, rows):
    path = SAMPLES / name
    assert path.is_file()
    assert path.stat().st_size < 2_000_000
    assert len(pd.read_csv(path)) == rows


def test_headers_match_the_documented_columns():
    readme = (SAMPLES / "README.md").read_text(encoding="utf-8")
    expected = {"churn.csv": msd.CHURN_COLUMNS, "churn_next_month.csv": msd.CHURN_COLUMNS,
                "house_prices.csv": msd.HOUSE_COLUMNS, "support_tickets.csv": msd.TICKET_COLUMNS}
    for name, columns in expected.items():
        header = (SAMPLES / name).read_text(encoding="utf-8").splitlines()[0]
        assert header.split(",") == list(columns), name
        for column in columns:
            assert f"| `{column}` |" in readme, f"{column} is not described in sample_data/README.md"
    assert "synthetic" in readme.lower()


def test_churn_labels_ids_and_months(churn, next_month):
    assert set(churn["churned"]) == {"yes", "no"}
    assert 0.20 <= (churn["churned"] == "yes").mean() <= 0.30
    assert 0.20 <= (next_month["churned"] == "yes").mean() <= 0.35
    assert churn["customer_id"].is_unique and next_month["customer_id"].is_unique
    assert churn["customer_id"].str.fullmatch(r"C-\d{6}").all()
    assert not set(churn["customer_id"]) & set(next_month["customer_id"])
    months = sorted(churn["observation_month"].unique())
    assert months == [f"2025-{m:02d}-01" for m in range(1, 13)]
    assert set(next_month["observation_month"]) == {"2026-01-01"}


def test_churn_missing_values_are_a_few_percent_in_three_columns(churn):
    missing = churn.isna().mean()
    gappy = missing[missing > 0]
    assert set(gappy.index) == {"total_charges", "last_login_days", "satisfaction_score"}
    assert ((gappy >= 0.015) & (gappy <= 0.04)).all(), gappy.to_dict()


def test_tenure_matches_signup_and_observation_dates(churn):
    signup = pd.to_datetime(churn["signup_date"])
    observed = pd.to_datetime(churn["observation_month"])
    # Full calendar months elapsed, computed independently of the generator.
    months = (observed.dt.year - signup.dt.year) * 12 + (observed.dt.month - signup.dt.month)
    months -= (observed.dt.day < signup.dt.day).astype(int)
    assert (months == churn["tenure_months"]).all()
    assert signup.min() >= pd.Timestamp("2023-01-01") and (signup < observed).all()
    assert 2.5 <= (signup.max() - signup.min()).days / 365.25 <= 3.5


def test_money_has_at_most_two_decimals(churn, houses):
    for values in (churn["monthly_charges"], churn["total_charges"].dropna()):
        assert np.allclose(values, values.round(2), atol=1e-9, rtol=0)
    assert (houses["price"] % 1000 == 0).all()


def test_next_month_is_drifted(churn, next_month):
    assert next_month["monthly_charges"].mean() > 1.12 * churn["monthly_charges"].mean()
    assert next_month["support_calls"].mean() > 1.15 * churn["support_calls"].mean()
    premium = [(df["plan"] == "premium").mean() for df in (churn, next_month)]
    assert premium[1] > premium[0] + 0.07
    shares = [df["region"].value_counts(normalize=True) for df in (churn, next_month)]
    assert (shares[1] - shares[0]).abs().max() > 0.05


def _churn_features(frame: pd.DataFrame, columns=None) -> pd.DataFrame:
    features = frame.drop(columns=["customer_id", "signup_date", "observation_month", "churned", "age_band"])
    encoded = pd.get_dummies(features, columns=["region", "plan", "contract", "paperless_billing"], dtype=float)
    return encoded if columns is None else encoded.reindex(columns=columns, fill_value=0.0)


def test_churn_is_learnable_but_not_leaky_and_decays_next_month(churn, next_month):
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = _churn_features(churn), (churn["churned"] == "yes").astype(int)
    model = make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression(max_iter=2000))
    cv_auc = roc_auc_score(y, cross_val_predict(model, X, y, cv=5, method="predict_proba")[:, 1])
    assert 0.80 <= cv_auc <= 0.90
    model.fit(X, y)
    next_auc = roc_auc_score(
        (next_month["churned"] == "yes").astype(int), model.predict_proba(_churn_features(next_month, X.columns))[:, 1]
    )
    assert 0.70 <= next_auc < cv_auc - 0.01


def test_house_prices_are_realistic_and_learnable(houses):
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.model_selection import cross_val_score

    assert houses["listing_id"].is_unique
    assert houses["neighborhood"].nunique() == 8
    assert 50_000 <= houses["price"].min() and houses["price"].max() <= 3_000_000
    assert houses.isna().to_numpy().any()
    # Bigger homes cost more, as anyone would expect.
    assert houses["price"].corr(houses["living_area_sqm"]) > 0.6
    X = pd.get_dummies(houses.drop(columns=["listing_id", "sale_date", "price"]),
                       columns=["neighborhood", "property_type", "garage"], dtype=float)
    r2 = cross_val_score(HistGradientBoostingRegressor(random_state=0), X, houses["price"], cv=3, scoring="r2").mean()
    assert 0.80 <= r2 <= 0.93


# ---- generator script --------------------------------------------------------------------------------------------


def test_house_generator_is_deterministic(tmp_path):
    first = msd.write_samples(tmp_path / "a", only=("house_prices.csv",))["house_prices.csv"]
    second = msd.write_samples(tmp_path / "b", only=("house_prices.csv",))["house_prices.csv"]
    assert first.read_bytes() == second.read_bytes()
    other = msd.make_house_prices(np.random.default_rng(1), 50)
    assert list(other.columns) == list(msd.HOUSE_COLUMNS) and len(other) == 50


def test_committed_files_match_the_generator(tmp_path):
    written = msd.write_samples(tmp_path)
    for name, path in written.items():
        assert path.read_bytes() == (SAMPLES / name).read_bytes(), f"{name} differs: rerun scripts/make_sample_data.py"


def test_churn_functions_take_any_rng_and_size():
    rng = np.random.default_rng(5)
    history = msd.make_churn(rng, 300)
    later = msd.make_churn_next_month(rng, 100, exclude_ids=history["customer_id"].str[2:].astype(int).to_numpy())
    assert list(history.columns) == list(later.columns) == list(msd.CHURN_COLUMNS)
    assert len(history) == 300 and len(later) == 100
    assert not set(history["customer_id"]) & set(later["customer_id"])


# ---- benchmark table ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bench_paths(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench")
    return (datagen.write_table(folder / "reference.csv", 2000),
            datagen.write_table(folder / "current.csv", 2000, drifted=True))


def test_bench_table_has_21_columns_and_types(bench_paths):
    frame = pd.read_csv(bench_paths[0])
    assert list(frame.columns) == list(datagen.COLUMNS) and len(frame.columns) == 21
    assert len(frame) == 2000 and (frame["id"] == np.arange(2000)).all()
    assert len(datagen.NUMERIC_COLUMNS) == 12 and len(datagen.CATEGORICAL_COLUMNS) == 6
    for column in datagen.NUMERIC_COLUMNS:
        assert pd.api.types.is_numeric_dtype(frame[column]), column
    assert frame["score"].between(0, 1).all() and frame["code"].between(0, 999).all()
    assert frame["region"].nunique() == 5 and frame["segment"].nunique() == 4 and frame["channel"].nunique() == 8
    assert set(frame["flag"]) == {"yes", "no"}
    assert frame["customer_id"].nunique() <= 200
    assert 0.62 <= frame["z"].corr(frame["z_corr"]) <= 0.78
    stamps = pd.to_datetime(frame["event_ts"])
    assert 700 <= (stamps.max() - stamps.min()).days <= 731
    # Full precision: floats are written with more than the 6 digits a default formatter keeps.
    assert frame["z"].astype(str).str.len().median() > 12
    assert np.allclose(frame["amount"].dropna(), frame["amount"].dropna().round(2), atol=1e-9, rtol=0)


def test_bench_table_missing_shares_and_target_balance(bench_paths):
    frame = pd.read_csv(bench_paths[0])
    missing = frame.isna().mean()
    for column, share in datagen.MISSING_SHARES.items():
        assert abs(missing[column] - share) < 0.015, (column, missing[column])
    assert (missing.drop(list(datagen.MISSING_SHARES)) == 0).all()
    assert sum(column in datagen.NUMERIC_COLUMNS for column in datagen.MISSING_SHARES) == 4
    assert 0.41 <= frame["target"].mean() <= 0.51  # ~54/46


def test_bench_current_copy_is_drifted(bench_paths):
    reference, current = (pd.read_csv(path) for path in bench_paths)
    ref_regions = reference["region"].value_counts(normalize=True)
    cur_regions = current["region"].value_counts(normalize=True)
    assert ref_regions.idxmax() == "north" and cur_regions.idxmax() == "central"
    assert current["age"].mean() > reference["age"].mean() + 1.5
    assert pd.to_datetime(current["event_ts"]).min() > pd.to_datetime(reference["event_ts"]).max()


def test_bench_table_is_deterministic_and_cached(tmp_path):
    first = datagen.write_table(tmp_path / "one.csv", 500)
    assert first.read_bytes() == datagen.write_table(tmp_path / "two.csv", 500).read_bytes()
    assert first.read_bytes() != datagen.write_table(tmp_path / "three.csv", 500, seed=8).read_bytes()
    cached = datagen.ensure_table(300, cache_dir=tmp_path / "cache")
    stamp = cached.stat().st_mtime_ns
    assert datagen.ensure_table(300, cache_dir=tmp_path / "cache") == cached
    assert cached.stat().st_mtime_ns == stamp
    assert datagen.ensure_table(300, drifted=True, cache_dir=tmp_path / "cache") != cached
    assert not list((tmp_path / "cache").glob("*.partial"))


def test_support_tickets_are_synthetic_text_whose_words_predict_urgency():
    from core.models.training import compare

    tickets = pd.read_csv(SAMPLES / "support_tickets.csv")
    assert 0.25 < (tickets["urgent"] == "yes").mean() < 0.4 and tickets["ticket_id"].is_unique
    kinds = {"text": "text", "channel": "category", "customer_tier": "category", "urgent": "category"}
    train, val = tickets.iloc[:1500], tickets.iloc[1500:]
    result = compare(train, val, "urgent", "binary", ["logreg"], kinds, cv=0, positive_class="yes", n_jobs=1)
    assert 0.85 < result.run("logreg").validation_metrics["roc_auc"] < 0.97  # words carry most, not all, of it
    assert "synthetic" in (SAMPLES / "README.md").read_text(encoding="utf-8").split("support_tickets.csv`:")[1].lower()
