"""Splits: exact sizes, stratified balance, time and group guarantees, seeds, leak checks and every refusal."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest

from core.errors import NotFound, SpecInvalid, TargetNotUsable
from core.split.leakcheck import distribution_differences, leak_checks, saved_leak_checks, split_summary
from core.project.projects import Project, create_project
from core.split.splitting import (
    STRATEGIES,
    backtest_frames,
    default_strategy,
    get_split,
    list_splits,
    split_assignments,
    split_frames,
    split_project,
    strategy_entry,
)
from core.split.spec import PARTS, SplitSpec, allocate_counts, allocate_strata
from core.data.ingest import add_frame


def _frame(n: int = 1003, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    label = rng.choice(["a", "b", "c"], size=n, p=[0.05, 0.30, 0.65])
    day = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, size=n), unit="D")
    return pd.DataFrame({
        "customer": [f"C{int(i):04d}" for i in rng.integers(0, n // 4, size=n)],  # about four rows per customer
        "day": day,
        "x": rng.normal(size=n) + np.arange(n) / n,
        "segment": rng.choice(["p", "q"], size=n),
        "label": label,
        "churned": rng.random(n) < 0.2,
        "amount": rng.gamma(2.0, 50.0, size=n),
    })


@pytest.fixture
def data(workspace):
    df = _frame()
    info = add_frame(workspace, "shop", df)
    return workspace, info, df


def _project(ws, info, target="label", **kw) -> Project:
    return create_project(ws, f"p-{target}-{len(ws.list_records('project'))}", info.id, target, **kw)


def _parts(ws, split) -> pd.Series:
    return split_assignments(ws, split).set_index("_row")["part"]


# -- sizes ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n, ratios, expected", [
    (1000, (0.7, 0.15, 0.15), [700, 150, 150]),
    (101, (0.7, 0.15, 0.15), [71, 15, 15]),
    (10, (0.8, 0.0, 0.2), [8, 0, 2]),
    (7, (1 / 3, 1 / 3, 1 / 3), [3, 2, 2]),
])
def test_allocate_counts_gives_exact_sizes(n, ratios, expected):
    assert allocate_counts(n, ratios) == expected


def test_random_split_has_exact_sizes_and_covers_every_row_once(data):
    ws, info, df = data
    split = split_project(ws, _project(ws, info, task="multiclass"), SplitSpec("random"))
    assert [split.sizes[p] for p in PARTS] == [702, 151, 150] == allocate_counts(1003, (0.7, 0.15, 0.15))
    parts = _parts(ws, split)
    assert sorted(parts.index) == list(range(len(df)))
    frames = split_frames(ws, split, with_row_id=True)
    assert sum(len(f) for f in frames.values()) == len(df)
    assert set(frames["train"]["_row"]).isdisjoint(frames["test"]["_row"])
    # the rows handed out are the dataset's rows, unchanged
    expected = df.iloc[frames["test"]["_row"].to_numpy()].reset_index(drop=True)
    pd.testing.assert_frame_equal(frames["test"].drop(columns="_row"), expected, check_dtype=False)


def test_validation_share_of_zero_gives_a_train_test_split(data):
    ws, info, _ = data
    split = split_project(ws, _project(ws, info), SplitSpec("random", ratios=(0.8, 0.0, 0.2)))
    assert split.parts == ("train", "test")
    assert split.sizes["validation"] == 0 and split.sizes["train"] == 802


# -- stratified ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [1, 42])
def test_stratified_class_shares_within_one_row_of_ideal(data, seed):
    ws, info, df = data
    split = split_project(ws, _project(ws, info), SplitSpec("stratified", seed=seed))
    parts = _parts(ws, split)
    joined = pd.DataFrame({"label": df["label"], "part": parts.sort_index().to_numpy()})
    counts = joined.groupby(["label", "part"]).size()
    for cls, n_c in df["label"].value_counts().items():
        for part, ratio in zip(PARTS, (0.7, 0.15, 0.15)):
            assert abs(counts.get((cls, part), 0) - n_c * ratio) <= 1, (cls, part)
    assert [split.sizes[p] for p in PARTS] == allocate_counts(len(df), (0.7, 0.15, 0.15))


def test_allocate_strata_keeps_cells_within_one_row_and_totals_exact():
    rng = random.Random(7)
    for _ in range(400):
        strata = [rng.randint(1, 300) for _ in range(rng.randint(1, 8))]
        a = rng.uniform(0.3, 0.9)
        b = rng.uniform(0, 1 - a - 0.01)
        ratios = (a, b, 1 - a - b)
        cells = allocate_strata(strata, ratios)
        for n, row in zip(strata, cells):
            assert sum(row) == n
            assert all(abs(c - n * r) <= 1 + 1e-9 for c, r in zip(row, ratios))
        assert [sum(col) for col in zip(*cells)] == allocate_counts(sum(strata), ratios)


def test_stratified_regression_target_keeps_the_distribution(data):
    ws, info, df = data
    split = split_project(ws, _project(ws, info, target="amount"), SplitSpec("stratified"))
    frames = split_frames(ws, split, columns=["amount"])
    med = df["amount"].median()
    for f in frames.values():
        assert abs(f["amount"].median() - med) / med < 0.15


# -- time ----------------------------------------------------------------------------------------------------------------
def test_time_split_never_tests_on_rows_older_than_training(data):
    ws, info, df = data
    split = split_project(ws, _project(ws, info), SplitSpec("time", time_column="day"))
    f = split_frames(ws, split, columns=["day"])
    assert f["train"]["day"].max() < f["validation"]["day"].min()
    assert f["validation"]["day"].max() < f["test"]["day"].min()
    assert sum(split.sizes[p] for p in PARTS) == len(df)
    assert {x.check: x.status for x in leak_checks(ws, split)}["time_overlap"] == "ok"


def test_time_split_with_cutoffs_and_gap(data):
    ws, info, df = data
    spec = SplitSpec("time", time_column="day", cutoffs=("2024-09-01", "2024-11-01"), gap=7)
    split = split_project(ws, _project(ws, info), spec)
    f = split_frames(ws, split, columns=["day"])
    assert f["train"]["day"].max() < pd.Timestamp("2024-08-25")
    assert f["validation"]["day"].min() >= pd.Timestamp("2024-09-01")
    assert f["validation"]["day"].max() < pd.Timestamp("2024-10-25")
    assert f["test"]["day"].min() >= pd.Timestamp("2024-11-01")
    in_gap = df["day"].between("2024-08-25", "2024-08-31") | df["day"].between("2024-10-25", "2024-10-31")
    assert split.sizes["excluded"] == int(in_gap.sum())
    assert split.sizes["test"] == int((df["day"] >= "2024-11-01").sum())
    assert split.cutoffs["test_start"] == "2024-11-01"


@pytest.mark.parametrize("mode", ["expanding", "rolling"])
def test_backtest_folds_train_on_the_past(data, mode):
    ws, info, _ = data
    spec = SplitSpec("time", time_column="day", backtest_folds=3, backtest_mode=mode)
    split = split_project(ws, _project(ws, info), spec)
    assert [f["fold"] for f in split.folds] == [1, 2, 3]
    sizes = []
    for fold in (1, 2, 3):
        f = backtest_frames(ws, split, fold, columns=["day"])
        assert f["train"]["day"].max() < f["validation"]["day"].min()
        sizes.append(len(f["train"]))
    test_start = split_frames(ws, split, parts=["test"], columns=["day"])["test"]["day"].min()
    assert f["validation"]["day"].max() < test_start
    if mode == "expanding":
        assert sizes == sorted(sizes) and sizes[0] < sizes[-1]
    with pytest.raises(NotFound, match="no backtest fold 4"):
        backtest_frames(ws, split, 4)


def test_time_split_reads_text_dates_and_refuses_unparseable_ones(workspace):
    df = pd.DataFrame({"when": [f"2024-01-{d:02d}" for d in range(1, 31)], "y": [0, 1] * 15})
    info = add_frame(workspace, "text dates", df)
    project = create_project(workspace, "t", info.id, "y")
    split = split_project(workspace, project, SplitSpec("time", time_column="when"))
    f = split_frames(workspace, split, columns=["when"])
    assert f["train"]["when"].max() < f["test"]["when"].min()
    bad = add_frame(workspace, "bad dates", df.assign(when=df["when"].where(df.index != 3, "next tuesday")))
    with pytest.raises(SpecInvalid, match="does not read as dates.*next tuesday"):
        split_project(workspace, create_project(workspace, "b", bad.id, "y"), SplitSpec("time", time_column="when"))


# -- group ---------------------------------------------------------------------------------------------------------------
def test_group_split_keeps_each_group_in_one_set(data):
    ws, info, df = data
    split = split_project(ws, _project(ws, info), SplitSpec("group", group_column="customer"))
    frames = split_frames(ws, split, columns=["customer"])
    seen = [set(f["customer"]) for f in frames.values()]
    assert not (seen[0] & seen[1]) and not (seen[0] & seen[2]) and not (seen[1] & seen[2])
    assert abs(split.sizes["train"] / len(df) - 0.7) < 0.03
    assert {x.check: x.status for x in leak_checks(ws, split)}["groups"] == "ok"


def test_random_split_flags_customers_in_two_sets(data):
    ws, info, df = data
    split = split_project(ws, _project(ws, info), SplitSpec("random"))
    finding = {x.check: x for x in leak_checks(ws, split)}["groups"]
    parts = _parts(ws, split).sort_index().to_numpy()
    expected = pd.DataFrame({"g": df["customer"], "p": parts}).groupby("g")["p"].nunique().gt(1).sum()
    assert finding.status == "problem" and finding.count == expected > 0
    assert "group-based split on 'customer'" in finding.fix


# -- every strategy ------------------------------------------------------------------------------------------------------
# One case per split strategy: the settings of its own it needs on the `_frame` data (SplitSpec fields).
CASES = {
    "random": {},
    "stratified": {},
    "time": {"time_column": "day", "gap": 2.0, "backtest_folds": 2},
    "group": {"group_column": "customer"},
}
SEEDED = [k for k in CASES if k != "time"]  # a time split does not depend on the seed


def test_every_split_strategy_has_a_case():
    keys = {e.key for e in STRATEGIES}
    assert set(CASES) == keys, (f"add a case for {sorted(keys - set(CASES))} to CASES in "
                                f"tests/unit/test_splitting.py (and drop {sorted(set(CASES) - keys)})")


@pytest.mark.parametrize("key", list(CASES))
def test_every_strategy_entry_splits_and_declares_its_settings(data, key):
    ws, info, _ = data
    entry = strategy_entry(key)
    assert entry.label and len(entry.help) > 30
    assert set(CASES[key]) <= {p.name for p in entry.params} <= set(SplitSpec().to_dict())
    for p in entry.params:
        assert p.help and p.default == getattr(SplitSpec(), p.name), f"{key}.{p.name}"
        if p.low is not None:
            assert p.low <= p.default <= p.high
    spec = SplitSpec(key, seed=3, **CASES[key])
    assert SplitSpec.from_dict(spec.to_dict()) == spec
    split = split_project(ws, _project(ws, info), spec)
    assert split.spec == spec and all(split.sizes[p] > 0 for p in PARTS)
    assert split.name.startswith(entry.label.split(" ")[0])


def test_a_new_split_starts_stratified_when_there_are_classes():
    assert [default_strategy(t) for t in ("binary", "multiclass", "regression", "clustering")] == [
        "stratified", "stratified", "random", "random"]
    assert {default_strategy(t) for t in ("binary", "regression")} <= set(CASES)


def test_the_cli_offers_the_declared_strategies_with_the_spec_defaults():
    from core.cli import build_parser

    args = build_parser().parse_args(["split", "p"])
    assert (args.strategy, args.seed, args.gap, args.backtest_mode) == ("stratified", 42, 0.0, "expanding")
    assert args.ratios == "0.7,0.15,0.15"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["split", "p", "--strategy", "nope"])


# -- seeds ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("strategy", SEEDED)
def test_same_seed_same_rows_other_seed_other_rows(data, strategy):
    ws, info, _ = data
    project = _project(ws, info)
    spec = SplitSpec(strategy, seed=7, **CASES[strategy])
    a, b = split_project(ws, project, spec), split_project(ws, project, spec)
    c = split_project(ws, project, SplitSpec(strategy, seed=8, **CASES[strategy]))
    assert _parts(ws, a).equals(_parts(ws, b)) and a.content_hash == b.content_hash
    assert not _parts(ws, a).equals(_parts(ws, c)) and a.content_hash != c.content_hash
    assert a.name != b.name  # a second split with the same settings gets its own name


# -- refusals ------------------------------------------------------------------------------------------------------------
def test_refuses_ratios_that_do_not_sum_to_one(data):
    ws, info, _ = data
    with pytest.raises(SpecInvalid, match="add up to 1.05"):
        split_project(ws, _project(ws, info), SplitSpec("random", ratios=(0.7, 0.2, 0.15)))


def test_refuses_a_one_class_target(workspace):
    info = add_frame(workspace, "one", pd.DataFrame({"x": range(20), "y": ["no"] * 20}))
    with pytest.raises(TargetNotUsable, match="only one value"):
        create_project(workspace, "one", info.id, "y")
    # a project saved before the data lost its second class is refused at split time too
    project = Project(id="prj_x", name="x", dataset_id=info.id, target="y", task="binary")
    with pytest.raises(TargetNotUsable, match="only one value"):
        split_project(workspace, project, SplitSpec("random"))


def test_refuses_stratifying_a_class_rarer_than_the_sets(workspace):
    df = pd.DataFrame({"x": range(40), "y": ["a"] * 20 + ["b"] * 18 + ["c"] * 2})
    project = create_project(workspace, "rare", add_frame(workspace, "rare", df).id, "y")
    with pytest.raises(TargetNotUsable, match="'c'.*only 2 row"):
        split_project(workspace, project, SplitSpec("stratified"))
    assert split_project(workspace, project, SplitSpec("random")).sizes["train"] == 28


def test_refuses_a_split_that_leaves_a_set_empty(workspace):
    df = pd.DataFrame({"x": range(4), "y": [0, 1, 0, 1]})
    project = create_project(workspace, "tiny", add_frame(workspace, "tiny", df).id, "y")
    with pytest.raises(SpecInvalid, match="test set would be empty"):
        split_project(workspace, project, SplitSpec("random"))


def test_refuses_cutoffs_that_leave_a_period_empty(data):
    ws, info, _ = data
    with pytest.raises(SpecInvalid, match="test set would be empty"):
        split_project(ws, _project(ws, info), SplitSpec("time", time_column="day", cutoffs=("2024-06-01", "2030-01-01")))


def test_refuses_a_non_date_time_column_and_bad_specs(data):
    ws, info, _ = data
    project = _project(ws, info)
    with pytest.raises(SpecInvalid, match="does not read as dates"):
        split_project(ws, project, SplitSpec("time", time_column="segment"))
    with pytest.raises(SpecInvalid, match="not a date"):
        split_project(ws, project, SplitSpec("time", time_column="day", cutoffs=("soon",)))
    with pytest.raises(SpecInvalid, match="needs the column"):
        split_project(ws, project, SplitSpec("group"))
    with pytest.raises(SpecInvalid, match="not a split strategy"):
        split_project(ws, project, SplitSpec("shuffle"))
    with pytest.raises(NotFound, match="Did you mean 'day'"):
        split_project(ws, project, SplitSpec("time", time_column="dya"))
    with pytest.raises(SpecInvalid, match="fewer than the 3 sets"):
        split_project(ws, project, SplitSpec("group", group_column="churned"))


def test_clustering_project_cannot_stratify(data):
    ws, info, _ = data
    project = create_project(ws, "clusters", info.id, None)
    with pytest.raises(SpecInvalid, match="no target"):
        split_project(ws, project, SplitSpec("stratified"))
    assert split_project(ws, project, SplitSpec("random")).task == "clustering"


# -- records, summaries, leak checks --------------------------------------------------------------------------------------
def test_split_is_saved_and_listed(data):
    ws, info, _ = data
    project = _project(ws, info)
    first = split_project(ws, project, SplitSpec("random"), name="  first   try ")
    second = split_project(ws, project, SplitSpec("stratified"))
    assert first.name == "first try"
    assert [s.id for s in list_splits(ws, project.id)] == [second.id, first.id]
    again = get_split(ws, first.id)
    assert again.spec == first.spec and again.content_hash == first.content_hash and again.sizes == first.sizes
    assert {f["check"] for f in again.leak_checks} == {"duplicates", "groups", "time_overlap"}
    with pytest.raises(NotFound):
        get_split(ws, "spl_missing")
    assert SplitSpec.from_dict(first.spec.to_dict()) == first.spec


def test_summary_matches_pandas(data):
    ws, info, df = data
    split = split_project(ws, _project(ws, info, target="churned"), SplitSpec("stratified"))
    summary = split_summary(ws, split).set_index("set")
    parts = _parts(ws, split).sort_index().to_numpy()
    for part, label in (("train", "Train"), ("test", "Test")):
        rows = df[parts == part]
        assert summary.loc[label, "rows"] == len(rows)
        assert summary.loc[label, "share yes"] == pytest.approx(rows["churned"].mean(), abs=1e-4)
        assert summary.loc[label, "day from"] == rows["day"].min().strftime("%Y-%m-%d")


def test_duplicate_rows_across_sets_are_found(workspace):
    base = pd.DataFrame({"x": range(100), "y": [0, 1] * 50})
    df = pd.concat([base, base.iloc[:30]], ignore_index=True)
    project = create_project(workspace, "dups", add_frame(workspace, "dups", df).id, "y")
    split = split_project(workspace, project, SplitSpec("random"))
    parts = _parts(workspace, split).sort_index().to_numpy()
    key = df.apply(tuple, axis=1)
    spread = pd.DataFrame({"k": key, "p": parts}).groupby("k")["p"].transform("nunique")
    expected = int(((spread > 1) & (parts != "train")).sum())
    finding = {f.check: f for f in leak_checks(workspace, split)}["duplicates"]
    assert expected > 0 and finding.status == "problem" and finding.count == expected


def test_random_split_warns_about_time_overlap(data):
    ws, info, _ = data
    finding = {f.check: f for f in leak_checks(ws, split_project(ws, _project(ws, info), SplitSpec("random")))}
    assert finding["time_overlap"].status == "warning"
    assert "time-based split on 'day'" in finding["time_overlap"].fix


def test_distribution_differences_rank_the_shifted_column_first(workspace):
    rng = np.random.default_rng(3)
    n = 600
    day = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n) // 2, unit="D")
    df = pd.DataFrame({"day": day, "price": np.arange(n) / 100 + rng.normal(size=n),  # rises over time
                       "noise": rng.normal(size=n), "colour": rng.choice(["r", "g"], size=n), "y": rng.random(n) < 0.3})
    project = create_project(workspace, "shift", add_frame(workspace, "shift", df).id, "y")
    split = split_project(workspace, project, SplitSpec("time", time_column="day"))
    diffs = distribution_differences(workspace, split)
    assert list(diffs["score"]) == sorted(diffs["score"], reverse=True)
    top = diffs.iloc[0]
    assert top["column"] == "price" and top["compared"] == "train vs test"
    f = split_frames(workspace, split, parts=["train", "test"], columns=["price"])
    a, b = f["train"]["price"], f["test"]["price"]
    smd = abs(a.mean() - b.mean()) / np.sqrt((a.var() + b.var()) / 2)
    assert top["score"] == pytest.approx(smd, rel=1e-6)
    assert "day" not in set(diffs["column"])


def test_category_differences_are_total_variation_distances_per_set(workspace):
    rng = np.random.default_rng(5)
    n = 900
    df = pd.DataFrame({"colour": rng.choice(["r", "g", "b"], size=n), "size": rng.choice(["s", "m", None], size=n),
                       "many": [f"v{i % 80}" for i in range(n)],  # more levels than are compared: left out
                       "flag": rng.random(n) < 0.5, "x": rng.normal(size=n), "y": rng.random(n) < 0.3})
    project = create_project(workspace, "cats", add_frame(workspace, "cats", df).id, "y")
    split = split_project(workspace, project, SplitSpec("random", seed=3))
    diffs = distribution_differences(workspace, split, top=50)
    sets = split_frames(workspace, split, parts=["train", "validation", "test"], columns=["colour", "size", "flag"])
    assert "many" not in set(diffs["column"])
    for col in ("colour", "size", "flag"):
        train = sets["train"][col].astype(object).where(sets["train"][col].notna(), "(missing)").astype(str)
        for part in ("validation", "test"):
            other = sets[part][col].astype(object).where(sets[part][col].notna(), "(missing)").astype(str)
            a, b = train.value_counts(normalize=True), other.value_counts(normalize=True)
            tvd = float(a.sub(b, fill_value=0).abs().sum() / 2)
            row = diffs[(diffs["column"] == col) & (diffs["compared"] == f"train vs {part}")]
            assert len(row) == 1 and row["score"].iloc[0] == pytest.approx(tvd, abs=1e-12)


def test_the_saved_leak_checks_are_those_run_now(data):
    ws, info, _ = data
    project = _project(ws, info, target="churned")
    for spec in (SplitSpec("random", seed=1), SplitSpec("group", group_column="customer"),
                 SplitSpec("time", time_column="day")):
        split = split_project(ws, project, spec)
        assert saved_leak_checks(ws, split) == leak_checks(ws, split)
    old = get_split(ws, split.id)
    import dataclasses

    unsaved = dataclasses.replace(old, leak_checks=())  # a split saved before findings were kept
    assert saved_leak_checks(ws, unsaved) == leak_checks(ws, split)
