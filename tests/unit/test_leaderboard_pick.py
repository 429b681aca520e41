"""The Train page's default pair for "Is one model really better?" (core.models.leaderboard.default_pair)."""

from __future__ import annotations

import dataclasses

import pytest

from core.models.leaderboard import comparable_runs, default_pair
from core.models.runs import list_runs


@pytest.fixture(scope="module")
def runs(trained_workspace):
    trained = trained_workspace(("dummy", "logreg", "tree"), cv=3)
    try:
        return list(reversed(list_runs(trained.ws, trained.project_id)))  # the page's order: oldest first
    finally:
        trained.close()


def _best_non_baseline(runs, metric, higher=True):
    candidates = [r for r in runs if not r.is_baseline]
    pick = max if higher else min
    return pick(candidates, key=lambda r: r.cv_summary[metric]["mean"])


@pytest.mark.parametrize("metric", ["recall", "roc_auc"])
def test_b_is_the_best_model_by_cv_mean_and_never_the_baseline(runs, metric):
    usable = comparable_runs(runs)
    assert len(usable) == 3 and all(r.fold_metrics for r in usable)
    a, b = default_pair(usable, metric)
    assert a == 0
    best = _best_non_baseline(usable, metric)
    assert usable[b] is (best if best is not usable[0] else usable[1])
    assert not usable[b].is_baseline or usable[0] is best


def test_lower_is_better_metrics_pick_the_lowest(runs):
    usable = comparable_runs(runs)
    _, b = default_pair(usable, "log_loss")
    best = _best_non_baseline(usable, "log_loss", higher=False)
    assert usable[b] is (best if best is not usable[0] else usable[1])


def test_when_a_is_the_best_b_is_the_second_run(runs):
    usable = comparable_runs(runs)
    best = _best_non_baseline(usable, "roc_auc")
    ordered = [best] + [r for r in usable if r is not best]
    assert default_pair(ordered, "roc_auc") == (0, 1)


def test_failed_runs_and_runs_without_folds_cannot_be_compared(runs):
    broken = dataclasses.replace(runs[0], error="boom")
    no_folds = dataclasses.replace(runs[1], fold_metrics=())
    assert comparable_runs([broken, no_folds, runs[2]]) == [runs[2]]
    assert default_pair([runs[2]], "recall") is None
    [baseline] = [r for r in runs if r.is_baseline]
    first, second = [r for r in runs if not r.is_baseline]
    missing = dataclasses.replace(first, cv_summary={})  # no CV mean: ranks below every measured model
    assert default_pair([baseline, missing, second], "recall") == (0, 2)
    assert default_pair([baseline, second, missing], "log_loss") == (0, 1)


def test_comparisons_newest_first_with_their_runs_in_training_order(trained_workspace):
    from core.models.leaderboard import comparison_choices, comparison_runs
    from tests.helpers import train_fast

    trained = trained_workspace(("dummy", "logreg"))
    try:
        ws, project = trained.ws, trained.project
        train_fast(ws, project, trained.split, ["tree"])  # a second comparison on the same split
        runs = list_runs(ws, project.id, split_id=trained.split_id)
        choices = comparison_choices(runs)
        assert len(choices) == 2 and choices[0].started >= choices[1].started
        assert [c.runs for c in choices] == [sum(r.comparison_id == c.id for r in runs) for c in choices]
        newest = comparison_runs(runs, choices[0].id)
        assert {r.model_key for r in newest} >= {"tree"} and "logreg" not in {r.model_key for r in newest}
        assert [r.created_at for r in newest] == sorted(r.created_at for r in newest)
        assert {r.model_key for r in comparison_runs(runs, choices[1].id)} >= {"dummy", "logreg"}
    finally:
        trained.close()
