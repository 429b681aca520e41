"""Evidently parity, column by column: our "Evidently parity" mode against Evidently 0.7.23 left to type the columns
itself (no DataDefinition), on real sample-data pairs and synthetic ones (integer columns with few values included).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.monitor.checks import DriftOptions, check_drift, evidently_kind
from core.monitor.evidently_report import summarize_snapshot

SAMPLES = Path(__file__).resolve().parents[2] / "sample_data"
PARITY = DriftOptions(method="evidently-default")


def _evidently_inferred(ref: pd.DataFrame, cur: pd.DataFrame) -> dict[str, dict]:
    """Evidently's own verdict per column, with Evidently inferring every column type."""
    from evidently import Dataset, Report
    from evidently.presets import DataDriftPreset

    snapshot = Report([DataDriftPreset()], include_tests=True).run(Dataset.from_pandas(cur), Dataset.from_pandas(ref))
    return summarize_snapshot(snapshot)["columns"]


def _synthetic(n: int, rng: np.random.Generator, shifted: bool) -> pd.DataFrame:
    return pd.DataFrame({
        "rating": rng.choice(np.arange(1, 8), n, p=[.05, .1, .15, .3, .2, .1, .1] if not shifted
                             else [.05, .1, .1, .25, .25, .15, .1]),             # int, 7 values: a category there
        "floors": rng.integers(0, 3, n),                                          # int, 3 values
        "count": rng.poisson(40 + (3 if shifted else 0), n),                      # int, many values: numbers
        "price": rng.lognormal(5 + (0.05 if shifted else 0), 0.4, n),
        "tier": rng.choice(["a", "b", "c", "d"], n, p=[.4, .3, .2, .1]),
        "member": rng.choice([True, False], n),
    })


def _pairs():
    rng = np.random.default_rng(0)
    churn = pd.read_csv(SAMPLES / "churn.csv")
    half = rng.permutation(len(churn)) < len(churn) // 2
    houses = pd.read_csv(SAMPLES / "house_prices.csv")
    cut = houses["sale_date"].sort_values().iloc[len(houses) // 2]
    yield "churn: random halves", churn[half], churn[~half]
    yield "churn: next month", churn, pd.read_csv(SAMPLES / "churn_next_month.csv")
    yield "houses: earlier vs later sales", houses[houses.sale_date < cut], houses[houses.sale_date >= cut]
    for n_ref, n_cur in ((600, 400), (2000, 1500)):          # Evidently's p-value regime and its distance regime
        yield f"synthetic {n_ref} vs {n_cur}", _synthetic(n_ref, rng, False), _synthetic(n_cur, rng, True)


PAIRS = list(_pairs())


@pytest.mark.parametrize("name,ref,cur", PAIRS, ids=[p[0] for p in PAIRS])
def test_parity_mode_matches_evidently_column_by_column(name, ref, cur):
    ref, cur = ref.reset_index(drop=True), cur.reset_index(drop=True)
    ours = check_drift(ref, cur, options=PARITY)
    theirs = _evidently_inferred(ref, cur)
    compared = {c.column: c for c in ours.compared}
    assert compared, name
    for column, row in compared.items():
        want = theirs[column]
        score = row.distance if row.distance is not None else row.p_value
        assert row.method == want["method"], (name, column)
        assert row.threshold == pytest.approx(want["threshold"]), (name, column)
        assert score == pytest.approx(want["score"], rel=1e-7, abs=1e-12), (name, column)
        assert row.drift == want["drift"], (name, column)
    # What we leave out is said, never silent: Evidently's extra columns are identifiers, dates or free text.
    for column in set(theirs) - set(compared):
        row = next(c for c in ours.columns if c.column == column)
        assert row.excluded and row.notes, (name, column)


def test_integers_with_few_values_are_categories_as_in_evidently():
    rng = np.random.default_rng(5)
    ref, cur = _synthetic(3000, rng, False), _synthetic(3000, rng, True)
    assert evidently_kind(cur["rating"]) == "categorical" and evidently_kind(cur["count"]) == "numeric"
    rows = {c.column: c for c in check_drift(ref, cur, options=PARITY).columns}
    assert rows["rating"].kind == "categorical" and rows["rating"].method == "Jensen-Shannon distance"
    assert "as Evidently types it" in rows["rating"].notes
    assert rows["count"].method == "Wasserstein distance (normed)"
    # The sound mode keeps the workspace's kind: whole numbers stay numbers (K-S, conservative with ties); with at
    # most 5 values they are compared as counts.
    sound = {c.column: c for c in check_drift(ref, cur).columns}
    assert sound["rating"].method.startswith("K-S p_value")
    assert sound["floors"].method.startswith("chi-square two-sample")


def test_evidently_kind_follows_its_source():
    assert evidently_kind(pd.Series([1.0, 2.0])) == "numeric"
    assert evidently_kind(pd.Series(np.arange(11))) == "numeric"
    assert evidently_kind(pd.Series(np.arange(10))) == "categorical"
    assert evidently_kind(pd.Series(pd.array([1, 2], dtype="Int64"))) == "unknown"
    assert evidently_kind(pd.Series(["a", "b", "c"])) == "text"                 # more values than half the rows
    assert evidently_kind(pd.Series(["a", "b", "a", "b"])) == "categorical"
    assert evidently_kind(pd.Series([True, False])) == "categorical"
    assert evidently_kind(pd.Series(pd.to_datetime(["2024-01-01"]))) == "datetime"
