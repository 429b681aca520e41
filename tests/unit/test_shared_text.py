"""Free text is counted once per comparison, yet every fold's TF-IDF is what a vectorizer fitted on that fold's own
rows gives, and saved models hold plain fitted vectorizers (core.models.sharedtext; issue 14's text speed).

The regression guard counts vocabulary fits (CountVectorizer passes that learn n-grams), not seconds: before the
sharing, three text models x (3 folds + final fit) x 2 vectorizers made 24 fits; now it is 2 per text column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.metrics import roc_auc_score

from core.catalog import ModelSpec
from core.models import preprocess, sharedtext
from core.models.pipeline import build_pipeline
from core.models.training import LATENCY_ROWS, compare, tune
from core.store.artifacts import load_model

KINDS = {"text": "text", "channel": "category", "urgent": "category"}
TEXT_MODELS = ["logreg", "nb", "linear_svm"]


def _tickets(n=500, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    urgent = rng.random(n) < 0.35
    words = np.where(urgent, rng.choice(["site is down", "payment failed", "cannot log in", "outage again"], n),
                     rng.choice(["how do I export", "feature request", "invoice copy please", "thanks"], n))
    noise = rng.choice(["", "asap", "regards", "hello team", "urgent?", "see attached"], n)
    flip = rng.random(n) < 0.1
    text = [f"{w} {z} ref{rng.integers(0, 50)}" for w, z in zip(words, noise)]
    text[3], text[7] = None, ""  # missing and empty cells
    return pd.DataFrame({"text": text, "channel": rng.choice(["email", "chat", "phone"], n),
                         "urgent": np.where(urgent ^ flip, "yes", "no")})


@pytest.fixture
def passes(monkeypatch):
    """Records every CountVectorizer counting pass: (learns a vocabulary?, number of documents)."""
    seen = []
    original = CountVectorizer._count_vocab

    def counting(self, raw_documents, fixed_vocab):
        docs = list(raw_documents)
        seen.append((not fixed_vocab, len(docs)))
        return original(self, docs, fixed_vocab)

    monkeypatch.setattr(CountVectorizer, "_count_vocab", counting)
    return seen


@pytest.mark.parametrize("cap", [None, 25])
def test_fold_tfidf_equals_a_vectorizer_fitted_on_the_fold_rows_alone(monkeypatch, cap):
    if cap:  # a binding cap: the kept n-grams are the fold's most frequent, ties broken as scikit-learn does
        monkeypatch.setattr(preprocess, "WORD_VOCABULARY", cap)
        monkeypatch.setattr(preprocess, "CHAR_VOCABULARY", cap)
    df = _tickets()
    train, val = df.iloc[:400].reset_index(drop=True), df.iloc[400:].reset_index(drop=True)
    counts = sharedtext.count_text(train, val, ["text"])
    fit_rows = np.sort(np.random.default_rng(1).choice(400, 300, replace=False))
    for part in preprocess.TEXT_STEPS:
        block, val_block, vectorizer = sharedtext.fold_blocks(counts[(part, "text")], fit_rows)
        real = preprocess.text_vectorizer(part).fit(preprocess.as_documents(train.iloc[fit_rows][["text"]]))
        assert vectorizer.vocabulary_ == real.vocabulary_ and np.array_equal(vectorizer.idf_, real.idf_)
        assert len(real.vocabulary_) == cap or cap is None
        assert sorted(vectorizer.__dict__) == sorted(real.__dict__)  # the same fitted object a real fit leaves
        for rows, ours in ((train, block), (val, val_block)):
            theirs = real.transform(preprocess.as_documents(rows[["text"]]))
            assert ours.shape == theirs.shape and ours.dtype == np.float32
            assert abs(ours - theirs).max() < 1e-6  # rows outside fit_rows are only transformed, never learnt from


def test_a_text_comparison_counts_each_vectorizer_once_and_keeps_cv_honest(passes):
    df = _tickets()
    train, val = df.iloc[:400], df.iloc[400:]
    result = compare(train, val, "urgent", "binary", TEXT_MODELS, KINDS, cv=3, positive_class="yes", n_jobs=1)
    assert _vocabularies(passes) == 2  # one words and one chars vocabulary, whatever the models and folds
    latency = len(TEXT_MODELS) * 2 * (3 * LATENCY_ROWS + 5)  # _time_predictions times raw-text predictions
    counted = sum(n for _, n in passes)
    assert counted <= 2 * (len(train) + len(val)) + latency, counted  # no fold or model recounts a row

    for key in TEXT_MODELS:
        run = result.run(key)
        assert run.error is None, run.error
        # CV: the pipeline fitted the plain way on each fold's training part scores exactly what the run recorded.
        for j, (fit_idx, eval_idx) in enumerate(result_folds(train)):
            pipe = build_pipeline(ModelSpec(key), run_columns(), "binary", 42, target="urgent")
            pipe.fit(train.iloc[fit_idx][run.features], train["urgent"].to_numpy()[fit_idx])
            y = train["urgent"].to_numpy()[eval_idx] == "yes"
            auc = roc_auc_score(y, _scores(pipe, train.iloc[eval_idx][run.features]))
            assert run.fold_metrics[j]["roc_auc"] == pytest.approx(auc, abs=1e-6), (key, j)
        # The saved model holds plain fitted steps, loads through skops and predicts from raw text as scored.
        assert "SharedText" not in repr(run.pipeline.named_steps["prep"].transformers_)
        loaded = load_model(run.model_bytes)
        scores = _scores(loaded, val[run.features].reset_index(drop=True))
        assert np.allclose(scores, run.predictions["score"].to_numpy(), atol=1e-6)


def test_models_that_read_no_text_skip_a_text_only_table_and_say_why(passes):
    from core.models.leaderboard import left_out_line, verdict

    df = _tickets()[["text", "urgent"]]
    result = compare(df.iloc[:400], df.iloc[400:], "urgent", "binary", ["tree", "rf", "logreg"], KINDS, cv=3,
                     positive_class="yes", n_jobs=1)
    # The leaderboard lists only the models that ran; the two that read no text are named once, with why.
    board = result.leaderboard()
    assert board["key"].tolist() == ["logreg", "dummy"] and (board["error"] == "").all()
    assert [m["key"] for m in result.left_out] == ["tree", "rf"]
    line = left_out_line(result.runs)
    assert line == ("Decision tree and Random forest were not trained: every feature is free text, which they do "
                    "not read (linear models and naive Bayes read it as word and character n-grams).")
    assert board.attrs["left_out"] == line and verdict(result.runs, "roc_auc").endswith(line)
    # Every saved run keeps the comparison's record of what it left out, and its own feature record (receipt,
    # model card) says which columns it read.
    logreg = result.run("logreg")
    assert logreg.error is None and logreg.feature_choice["used"] == ["text"]
    assert [m["key"] for m in logreg.extras["left_out_models"]] == ["tree", "rf"]
    assert "Decision tree does not read" in logreg.extras["left_out_models"][0]["reason"]
    assert _vocabularies(passes) == 2


def test_tuning_a_text_model_counts_the_text_once(passes):
    df = _tickets()
    out = tune(df.iloc[:400], "urgent", "binary", "logreg", KINDS, cv=3, trials=3, positive_class="yes", n_jobs=1)
    assert out["trials"] == 3 and out["best_score"] is not None
    assert _vocabularies(passes) == 2


def test_worker_processes_read_the_shared_counts_and_score_as_in_process():
    df = _tickets()
    args = (df.iloc[:400], df.iloc[400:], "urgent", "binary", ["logreg"], KINDS)
    one = compare(*args, cv=3, positive_class="yes", n_jobs=1)
    two = compare(*args, cv=3, positive_class="yes", n_jobs=2)
    assert two.workers == 2
    for key in ("logreg",):
        assert two.run(key).error is None
        assert [f["roc_auc"] for f in two.run(key).fold_metrics] == \
            pytest.approx([f["roc_auc"] for f in one.run(key).fold_metrics], abs=1e-9)
        assert two.run(key).validation_metrics["roc_auc"] == pytest.approx(
            one.run(key).validation_metrics["roc_auc"], abs=1e-9)


def _vocabularies(passes) -> int:
    """How many passes learnt a vocabulary from the 400 training rows (validation is counted apart, 100 rows)."""
    assert {n for learns, n in passes if learns} <= {400, 100}
    return sum(1 for learns, n in passes if learns and n == 400)


def result_folds(train: pd.DataFrame):
    """The shuffled stratified folds compare() cuts for cv=3, seed 42 (core.models.folds)."""
    from core.models.folds import make_folds

    y = train["urgent"].to_numpy()
    values, n = np.unique(y, return_counts=True)
    folds, _ = make_folds(train.reset_index(drop=True), y, "binary", 3, 42, None, dict(zip(values, n)))
    return folds


def run_columns() -> dict:
    return {"text": "text", "channel": "category", "urgent": "category"}


def _scores(pipe, X) -> np.ndarray:
    classes = list(pipe.classes_)
    if hasattr(pipe, "predict_proba"):
        return pipe.predict_proba(X)[:, classes.index("yes")]
    margin = pipe.decision_function(X)
    return 1.0 / (1.0 + np.exp(-margin)) if classes.index("yes") == 1 else 1.0 / (1.0 + np.exp(margin))


def test_counting_in_runs_of_rows_merges_to_the_counts_of_one_pass():
    df = _tickets()
    train, val = df.iloc[:400].reset_index(drop=True), df.iloc[400:].reset_index(drop=True)
    one = sharedtext.count_text(train, val, ["text"])
    three = sharedtext.count_text(train, val, ["text"], pieces=3)
    for key, counts in one.items():
        assert list(three[key].terms) == list(counts.terms)
        assert abs(three[key].train - counts.train).max() == 0
        assert abs(three[key].validation - counts.validation).max() == 0


def test_a_dask_cluster_reads_the_shared_counts_and_scores_as_locally(monkeypatch):
    import os

    from core.models import compute

    df = _tickets(300)
    args = (df.iloc[:240], df.iloc[240:], "urgent", "binary", ["nb"], KINDS)
    local = compare(*args, cv=2, positive_class="yes", n_jobs=1)
    monkeypatch.setitem(os.environ, "WORKBENCH_COMPUTE", "dask-local:1")
    try:
        on_cluster = compare(*args, cv=2, positive_class="yes")
    finally:
        compute.close_all()
    run = on_cluster.run("nb")
    assert run.error is None and "dask" in str(run.versions).lower()
    assert [f["roc_auc"] for f in run.fold_metrics] == \
        pytest.approx([f["roc_auc"] for f in local.run("nb").fold_metrics], abs=1e-9)
    assert np.allclose(load_model(run.model_bytes).predict_proba(df.iloc[240:][run.features])[:, 1],
                       run.predictions["score"].to_numpy(), atol=1e-6)


def test_counts_reach_worker_processes_without_pickle(tmp_path):
    """The counts a comparison hands its workers are JSON and .npz (loaded with pickle off), the same after the trip."""
    import pandas as pd

    from core.models.sharedtext import count_text, load_counts, save_counts

    X = pd.DataFrame({"t": ["refund now please", "=cmd|' /C calc'!A0", "", "ünïcode words here", "refund later"]})
    val = pd.DataFrame({"t": ["refund please", "nothing seen"]})
    counts = count_text(X, val, ["t"])
    assert load_counts(str(tmp_path)) is None
    save_counts(counts, str(tmp_path))
    assert not list(tmp_path.glob("*.joblib")) and not list(tmp_path.glob("*.pkl"))
    back = load_counts(str(tmp_path))
    assert back.keys() == counts.keys()
    for key, c in counts.items():
        b = back[key]
        assert list(b.terms) == list(c.terms) and (b.train != c.train).nnz == 0
        assert (b.validation != c.validation).nnz == 0 and b.train.dtype == c.train.dtype
