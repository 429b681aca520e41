"""Free text becomes features (and stays inert), and a many-level category keeps its signal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import SpecInvalid
from core.evaluate.explain import word_effects
from core.models.training import compare
from core.store.artifacts import dump_model, load_model

KINDS = {"text": "text", "channel": "category", "urgent": "category"}


def _tickets(n=600, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    urgent = rng.random(n) < 0.35
    words = np.where(urgent, rng.choice(["site is down", "payment failed", "cannot log in"], n),
                     rng.choice(["how do I export", "feature request", "invoice copy please"], n))
    text = pd.Series([f"Hello, {w}. Ticket {i}." for i, w in enumerate(words)], dtype=object)
    hostile = ["<script>alert('x')</script> site is down", "=HYPERLINK(\"http://evil\",\"click\")", "",
               "x" * 1_000_000, "<img src=x onerror=alert(1)>", None, "=1+2;@SUM(A1)", "\u0000\ufffd caf\u00e9"]
    text.iloc[: len(hostile)] = hostile
    return pd.DataFrame({"text": text, "channel": rng.choice(["email", "chat"], n),
                         "urgent": np.where(urgent, "yes", "no")})


def test_text_trains_linear_models_and_naive_bayes_and_hostile_cells_stay_inert():
    df = _tickets()
    result = compare(df.iloc[:450], df.iloc[450:], "urgent", "binary", ["logreg", "nb", "tree"], KINDS, cv=3,
                     positive_class="yes", n_jobs=1)
    for key in ("logreg", "nb"):
        run = result.run(key)
        assert run.error is None and run.validation_metrics["roc_auc"] > 0.95, (key, run.error)
        assert load_model(dump_model(run.pipeline)).predict(df.head(20)).tolist() == \
            run.pipeline.predict(df.head(20)).tolist()  # the TF-IDF steps load back through skops
    tree = result.run("tree")
    assert any("does not read free text" in n for n in tree.notes)
    words = word_effects(result.run("logreg").pipeline, "text", "<b>the site is down</b> =SUM(A1)",
                         positive_class="yes")
    assert "down" in set(words["term"]) and set(words["direction"]) <= {"raises", "lowers"}
    assert all(isinstance(t, str) and len(t) < 200 for t in words["term"])  # plain short strings, never markup


def test_an_all_empty_text_column_is_left_out_by_default_and_refused_when_chosen():
    df = _tickets().assign(notes=["  ", "", None] * 200)
    kinds = KINDS | {"notes": "text"}
    result = compare(df, None, "urgent", "binary", ["logreg"], kinds, cv=2, positive_class="yes", n_jobs=1)
    assert {"column": "notes", "reason": "free text that is empty in every training row"} in \
        result.feature_choice["left_out"]
    with pytest.raises(SpecInvalid, match="empty in every training row"):
        compare(df, None, "urgent", "binary", ["logreg"], kinds, cv=2, positive_class="yes", n_jobs=1,
                features=["notes", "channel"])


def _many_levels(n=4000, levels=150, seed=0) -> pd.DataFrame:
    """A regression whose most informative column is a 150-level category (think: a neighbourhood or a product)."""
    rng = np.random.default_rng(seed)
    effect = rng.normal(0, 1.0, levels)
    share = rng.dirichlet(np.full(levels, 2.0))
    level = rng.choice(levels, n, p=share)
    x = rng.normal(size=n)
    y = 2.0 * effect[level] + 0.5 * x + rng.normal(0, 0.5, n)
    return pd.DataFrame({"place": [f"P{i:03d}" for i in level], "x": x, "y": y})


def _plain_sklearn_cv(df: pd.DataFrame) -> float:
    """The textbook baseline: one-hot every level, ridge, scikit-learn's own 5-fold CV."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import KFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    pipe = make_pipeline(ColumnTransformer([("oh", OneHotEncoder(handle_unknown="ignore"), ["place"]),
                                            ("num", StandardScaler(), ["x"])]), Ridge())
    return float(cross_val_score(pipe, df[["place", "x"]], df["y"], cv=KFold(5, shuffle=True, random_state=0),
                                 scoring="r2").mean())


def test_a_many_level_category_carries_its_signal_like_plain_sklearn_one_hot():
    df = _many_levels()
    kinds = {"place": "category", "x": "number", "y": "number"}
    result = compare(df, None, "y", "regression", ["ridge", "xgb"], kinds, cv=5, n_jobs=1)
    plain = _plain_sklearn_cv(df)
    for key in ("ridge", "xgb"):
        ours = result.run(key).cv_summary["r2"]["mean"]
        assert ours > plain - 0.03, (key, ours, plain)  # within noise of one-hot, not 0.2 below as with grouping


def test_the_ticket_sample_is_seeded_and_its_saved_model_shows_the_words_that_push_a_prediction(tmp_path):
    from core.data.samples import open_workspace
    from core.evaluate.report import load_run_data
    from core.evaluate.run_explain import text_words_view
    from core.models.runs import load_run_model, train_and_save
    from core.project.projects import create_project
    from core.split.spec import SplitSpec
    from core.split.splitting import split_project
    from core.store.workspace import close_workspace

    home = tmp_path / "ws"
    ws = open_workspace(home, seed_samples=True)
    try:
        assert ws.dataset("support_tickets").kinds()["text"] == "text"
        project = create_project(ws, "Tickets", "support_tickets", "urgent", positive_class="yes")
        split = split_project(ws, project, SplitSpec("stratified"))
        result, ids = train_and_save(ws, project, split, ["logreg"], cv=0, n_jobs=1)
        assert "ticket_id" not in result.run("logreg").features and "text" in result.run("logreg").features
        data = load_run_data(ws, ids[-1])
        model = load_run_model(ws, ids[-1])
        record = {c: data.features[c].iloc[0] for c in data.features.columns}
        record["text"] = "Hello, our production system is down. Please help asap."
        [(column, words)] = text_words_view(model, data, record)
        assert column == "text" and words.iloc[0]["direction"] == "raises" and len(words) <= 10
    finally:
        close_workspace(home)
