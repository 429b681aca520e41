"""Free-text n-grams counted once per comparison and shared by every model and every fold (issue 14).

Fitting a TfidfVectorizer means counting every document's word and character n-grams, which is pure Python and
dominates a text comparison (char_wb n-grams on 50,000 tickets take seconds per pass). Before, each text-reading
model refit both vectorizers in each CV fold and in its final fit, and recounted every evaluated row.

Here the parent counts each text column once (`count_text`: one CountVectorizer pass over the training rows, one
over validation, the same analyzer settings as the saved vectorizer), and each fit derives its TF-IDF from the
counts of ITS OWN fitting rows only (`fold_blocks`): the vocabulary is the n-grams present in those rows, capped at
max_features by their frequency in those rows, and the idf is scikit-learn's TfidfTransformer fitted on those rows.
That is the same computation as `TfidfVectorizer.fit` on the fold's rows followed by `transform` (tests compare the
two matrices), so CV scores stay honest: no fold sees the words or document frequencies of its evaluation rows.

`share(pipe, counts, fit_rows)` puts a `SharedText` stand-in in place of each text step of an unfitted pipeline
built by `core.models.pipeline.build_pipeline`; it hands out rows of the precomputed matrices by the rows' index
labels (the shared training frame is indexed 0..n-1). `Shared.finish()` swaps the stand-ins for the real fitted
steps (`as_documents` plus a fitted TfidfVectorizer), so a saved model holds only scikit-learn classes and this
package's trusted functions, predicts from raw text and loads as every model before it did. The stand-in itself
is never saved.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import pairwise
from numbers import Integral

import numpy as np
import pandas as pd

from core.models.preprocess import TEXT_STEPS, as_documents, text_vectorizer

_STEP = re.compile(r"(words|chars)(\d+)")


@dataclass
class TextCounts:
    """One text column's n-gram counts under one analyzer ("words" or "chars"), over all training rows."""

    column: str
    part: str
    terms: np.ndarray  # the n-grams seen in the training rows, sorted (as CountVectorizer sorts them)
    train: object  # csr_matrix float32, training rows x terms
    validation: object | None  # csr_matrix float32, validation rows x terms (n-grams unseen in training dropped)


def count_text(X: pd.DataFrame, val: pd.DataFrame | None, text_columns: list[str], run=None,
               pieces: int = 1) -> dict:
    """Counts each text column's word and character n-grams once. Returns {(part, column): TextCounts}.

    `run(fn, items) -> [fn(*item) for item in items]` may spread the counting over worker processes; the training
    rows are then cut into `pieces` runs of rows, counted apart and merged (the same counts as one pass).
    """
    run = run or (lambda fn, items: [fn(*item) for item in items])
    items, keys = [], []
    for column in text_columns:
        docs = as_documents(X[[column]])
        bounds = np.linspace(0, len(docs), max(1, int(pieces)) + 1).astype(int)
        for part in ("chars", "words"):  # the costlier counting first, so both workers finish together
            for a, b in pairwise(bounds):
                items.append((docs[a:b], part))
                keys.append((part, column, "train"))
            if val is not None:
                items.append((as_documents(val[[column]]), part))
                keys.append((part, column, "validation"))
    results = run(count_documents, items)
    out = {}
    for column in text_columns:
        for part in TEXT_STEPS:
            train = [r for r, k in zip(results, keys) if k == (part, column, "train")]
            terms, matrix = _stack(train)
            held = [r for r, k in zip(results, keys) if k == (part, column, "validation")]
            validation = _onto(terms, *held[0]) if held else None
            out[(part, column)] = TextCounts(column, part, terms, matrix, validation)
    return out


def save_counts(counts: dict, folder: str) -> None:
    """Writes count_text's result for worker processes, without pickle: n-grams as JSON, matrices as .npz."""
    import json

    import scipy.sparse as sp

    manifest = []
    for k, ((part, column), c) in enumerate(counts.items()):
        sp.save_npz(os.path.join(folder, f"text_{k}_train.npz"), c.train, compressed=False)
        if c.validation is not None:
            sp.save_npz(os.path.join(folder, f"text_{k}_validation.npz"), c.validation, compressed=False)
        manifest.append({"part": part, "column": column, "terms": [str(t) for t in c.terms],
                         "validation": c.validation is not None})
    with open(os.path.join(folder, "text.json"), "w", encoding="utf-8") as fh:
        json.dump(manifest, fh)


def load_counts(folder: str) -> dict | None:
    """Reads what save_counts wrote (None when there is none); .npz files load with pickle off."""
    import json

    import scipy.sparse as sp

    path = os.path.join(folder, "text.json")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as fh:
        manifest = json.load(fh)
    out = {}
    for k, m in enumerate(manifest):
        terms = np.empty(len(m["terms"]), dtype=object)
        terms[:] = m["terms"]
        train = sp.load_npz(os.path.join(folder, f"text_{k}_train.npz")).tocsr()
        validation = sp.load_npz(os.path.join(folder, f"text_{k}_validation.npz")).tocsr() if m["validation"] else None
        out[(m["part"], m["column"])] = TextCounts(m["column"], m["part"], terms, train, validation)
    return out


def count_documents(docs: list[str], part: str):
    """One CountVectorizer pass with a text step's analyzer settings: (sorted n-grams, csr float32 counts)."""
    from sklearn.feature_extraction.text import CountVectorizer

    settings = text_vectorizer(part).get_params()
    counter = CountVectorizer(**{k: v for k, v in settings.items() if k not in _NOT_COUNTING})
    matrix = counter.fit_transform(docs).tocsr()
    terms = np.empty(len(counter.vocabulary_), dtype=object)
    for term, j in counter.vocabulary_.items():
        terms[j] = term
    return terms, matrix


_NOT_COUNTING = ("max_features", "min_df", "max_df", "norm", "use_idf", "smooth_idf", "sublinear_tf")


def _stack(pieces):
    """Merges counts of consecutive runs of rows into one matrix over the union of their (sorted) n-grams."""
    import scipy.sparse as sp

    if len(pieces) == 1:
        return pieces[0]
    terms = np.unique(np.concatenate([t for t, _ in pieces]))
    return terms, sp.vstack([_onto(terms, t, m) for t, m in pieces], format="csr")


def _onto(terms: np.ndarray, own: np.ndarray, matrix):
    """Re-indexes counts over `own` n-grams onto `terms` (both sorted), dropping n-grams `terms` lacks."""
    import scipy.sparse as sp

    if not len(terms):
        return sp.csr_matrix((matrix.shape[0], 0), dtype=matrix.dtype)
    at = np.searchsorted(terms, own)
    found = np.flatnonzero((at < len(terms)) & (terms[np.minimum(at, len(terms) - 1)] == own))
    kept = matrix[:, found].tocsr()
    return sp.csr_matrix((kept.data, at[found][kept.indices], kept.indptr), shape=(matrix.shape[0], len(terms)))


def fold_blocks(counts: TextCounts, fit_rows: np.ndarray):
    """TF-IDF of every training (and validation) row as a vectorizer fitted on `fit_rows` alone would give it.

    Returns (train matrix, validation matrix or None, the fitted TfidfVectorizer). Follows CountVectorizer's
    fit_transform: document-frequency bounds, then the max_features most frequent n-grams of the fitting rows
    (ties broken as scikit-learn breaks them, on the same sorted term order), then TfidfTransformer's fit.
    """
    from sklearn.feature_extraction.text import TfidfTransformer

    vectorizer = text_vectorizer(counts.part)
    fit = counts.train[np.asarray(fit_rows)]
    n_doc = fit.shape[0]
    high = vectorizer.max_df if isinstance(vectorizer.max_df, Integral) else vectorizer.max_df * n_doc
    low = vectorizer.min_df if isinstance(vectorizer.min_df, Integral) else vectorizer.min_df * n_doc
    dfs = np.bincount(fit.indices, minlength=fit.shape[1])
    mask = (dfs <= high) & (dfs >= low)
    limit = vectorizer.max_features
    if limit is not None and mask.sum() > limit:
        tfs = np.asarray(fit.sum(axis=0)).ravel()
        picked = np.zeros(len(dfs), dtype=bool)
        picked[np.where(mask)[0][(-tfs[mask]).argsort()[:limit]]] = True
        mask = picked
    kept = np.flatnonzero(mask)
    if not len(kept):
        raise ValueError("After pruning, no terms remain. Try a lower min_df or a higher max_df.")
    tfidf = TfidfTransformer(norm=vectorizer.norm, use_idf=vectorizer.use_idf, smooth_idf=vectorizer.smooth_idf,
                             sublinear_tf=vectorizer.sublinear_tf).fit(fit[:, kept])
    train = tfidf.transform(counts.train[:, kept]).tocsr()
    validation = None if counts.validation is None else tfidf.transform(counts.validation[:, kept]).tocsr()
    vectorizer._validate_vocabulary()  # sets fixed_vocabulary_ = False, as fit does
    vectorizer.build_analyzer()  # and the word analyzer's stop-word check, which fit leaves behind
    # Plain ints, where a real fit leaves numpy ints: skops saves each numpy scalar as its own typed node, which made
    # a saved text model about twice the size and its save over ten times slower; transform reads either alike.
    vectorizer.vocabulary_ = {str(t): j for j, t in enumerate(counts.terms[kept].tolist())}
    vectorizer._tfidf = tfidf
    return train, validation, vectorizer


class SharedText:
    """Stands in for one text step while a pipeline is fitted and scored: rows of precomputed TF-IDF, by index label.

    Cloning returns the stand-in itself (ColumnTransformer clones its steps when it fits), and fitting does nothing:
    the vectorizer was fitted by `fold_blocks`, on the fitting rows only.
    """

    def __init__(self, train, validation):
        self.train = train
        self.validation = validation
        self.rows = "train"

    def __sklearn_clone__(self):
        return self

    def get_params(self, deep: bool = True) -> dict:
        return {}

    def set_params(self, **params):
        return self

    def fit(self, X, y=None):
        return self

    def fit_transform(self, X, y=None):
        return self.transform(X)

    def transform(self, X):
        block = self.validation if self.rows == "validation" else self.train
        return block[np.asarray(X.index, dtype=np.int64)]


class Shared:
    """The stand-ins installed in one pipeline; `finish()` puts the real fitted text steps in their place."""

    def __init__(self, pipe, steps: dict, original: list):
        self.pipe = pipe
        self.steps = steps  # name -> (SharedText, unfitted text Pipeline, fitted TfidfVectorizer, column)
        self.original = original

    @contextmanager
    def validation_rows(self):
        """While open, the stand-ins read validation rows (the shared validation frame, also indexed 0..m-1)."""
        for stand_in, *_ in self.steps.values():
            stand_in.rows = "validation"
        try:
            yield
        finally:
            for stand_in, *_ in self.steps.values():
                stand_in.rows = "train"

    def finish(self, X_fit: pd.DataFrame):
        """Swaps each stand-in for its fitted step (as_documents, then the vectorizer); returns the pipeline."""
        from sklearn.base import clone

        ct = self.pipe.named_steps["prep"]
        ct.transformers = self.original
        fitted = []
        for name, trans, columns in ct.transformers_:
            if name in self.steps:
                _, unfitted, vectorizer, column = self.steps[name]
                docs = clone(unfitted.named_steps["docs"]).fit(X_fit[[column]])
                trans = type(unfitted)([("docs", docs), ("tfidf", vectorizer)])
            fitted.append((name, trans, columns))
        ct.transformers_ = fitted
        return self.pipe


def share(pipe, counts: dict, fit_rows: np.ndarray) -> Shared | None:
    """Installs stand-ins for the text steps of an unfitted pipeline that has them; None when it reads no text."""
    ct = pipe.named_steps["prep"]
    original = list(ct.transformers)
    steps, installed = {}, []
    for name, trans, columns in original:
        match = _STEP.fullmatch(str(name))
        key = (match.group(1), columns[0]) if match and len(columns) == 1 else None
        if key in counts:
            train, validation, vectorizer = fold_blocks(counts[key], fit_rows)
            stand_in = SharedText(train, validation)
            steps[name] = (stand_in, trans, vectorizer, columns[0])
            trans = stand_in
        installed.append((name, trans, columns))
    if not steps:
        return None
    ct.transformers = installed
    return Shared(pipe, steps, original)
