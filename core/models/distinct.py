"""Scoring many rows: the category encoders of a fitted pipeline transform each distinct value once per batch.

scikit-learn's OneHotEncoder and TargetEncoder encode text categories with Python sets and dicts, row by row; on a
column with many values (a customer id) that is most of a batch's scoring time. Their transform is a function of
each cell alone (as are `as_text` before them and the scalers after them), so transforming the distinct values of
each column and picking the rows' results by index gives the very same numbers. `for_scoring(pipe)` returns a
copy of the pipeline (the fitted steps are shared, never modified) whose category sub-pipelines do that; anything
it does not recognise stays as it is. Used by batch scoring (core.release.scoring), here and on Dask workers.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

MIN_ROWS = 2_000  # below this, the plain transform is as fast


class DistinctValues:
    """A fitted [as_text, encoder, scalers...] pipeline that encodes each column's distinct values once per call."""

    def __init__(self, pipe, widths: list[int]):
        self.pipe, self.widths = pipe, widths
        self.lookup = _lookup(pipe.steps[1][1])

    def transform(self, X, **params):
        rest = self.pipe[1:]
        n, k = np.shape(X)
        if n < MIN_ROWS or k != len(self.widths):
            return rest.transform(np.asarray(self.pipe[0].transform(X), dtype=object))
        codes, uniques = zip(*(self._distinct(X, j) for j in range(k)))
        size = max(len(u) for u in uniques)
        probe = np.empty((size, k), dtype=object)  # each column's distinct values, padded with its first one
        for j, u in enumerate(uniques):
            probe[:, j] = u[0]
            probe[:len(u), j] = u
        out = np.asarray(_transform(rest, probe, self.lookup))
        if out.ndim != 2 or out.shape[1] != sum(self.widths):  # not the layout expected: the plain way
            return rest.transform(np.asarray(self.pipe[0].transform(X), dtype=object))
        result = np.empty((n, out.shape[1]), dtype=out.dtype)
        start = 0
        for j, width in enumerate(self.widths):
            result[:, start:start + width] = out[codes[j], start:start + width]
            start += width
        return result

    def _distinct(self, X, j: int) -> tuple[np.ndarray, np.ndarray]:
        """Column j as (codes, text of each distinct value) under the pipeline's first step (as_text, cell by cell).
        A pandas Categorical (scoring reads text columns as Arrow dictionaries) already holds its distinct values:
        only they, and one missing cell, go through as_text, and its codes pick them; other columns are factorized."""
        column = X.iloc[:, j] if isinstance(X, pd.DataFrame) else None
        if column is not None and isinstance(column.dtype, pd.CategoricalDtype):
            values = np.append(np.asarray(column.cat.categories, dtype=object), None)  # the last: a missing cell
            text = np.asarray(self.pipe[0].transform(pd.DataFrame({column.name: values})), dtype=object)[:, 0]
            codes = column.cat.codes.to_numpy()
            return np.where(codes < 0, len(values) - 1, codes), text
        one = X.iloc[:, [j]] if column is not None else np.asarray(X)[:, [j]]
        return pd.factorize(np.asarray(self.pipe[0].transform(one), dtype=object)[:, 0])

    def get_feature_names_out(self, input_features=None):
        return self.pipe.get_feature_names_out(input_features)


def _lookup(encoder) -> list[pd.Index] | None:
    """A TargetEncoder's categories as pandas hash indexes, built once per loaded model (its table of 100,000
    customer ids took a third of each batch's encoding to rebuild), or None for any other encoder."""
    if type(encoder).__name__ != "TargetEncoder" or getattr(encoder, "_transform_X_ordinal", None) is None or \
            any(np.asarray(c).dtype != object for c in encoder.categories_):
        return None
    indexes = [pd.Index(categories) for categories in encoder.categories_]
    for index in indexes:
        index.get_indexer(index[:1])  # builds its hash table now, so concurrent batches only read it
    return indexes


def _transform(rest, X: np.ndarray, lookup: list[pd.Index] | None = None):
    """rest.transform(X) for [encoder, scalers...]; a TargetEncoder finds each value's category with a pandas hash
    index (`lookup`) instead of scikit-learn's Python sets, then fills in its encodings with its own
    `_transform_X_ordinal`."""
    encoder = rest.steps[0][1]
    if lookup is None:
        return rest.transform(X)
    fill = encoder._transform_X_ordinal
    ordinal = np.zeros(X.shape, dtype=np.int64)
    known = np.zeros(X.shape, dtype=bool)
    for j, index in enumerate(lookup):
        at = index.get_indexer(X[:, j])
        known[:, j] = at >= 0
        ordinal[:, j] = np.where(at >= 0, at, 0)
    per = len(encoder.classes_) if encoder.target_type_ == "multiclass" else 1
    out = np.empty((X.shape[0], X.shape[1] * per), dtype=np.float64)
    fill(out, ordinal, ~known, slice(None), encoder.encodings_, encoder.target_mean_)
    for _, step in rest.steps[1:]:
        out = step.transform(out)
    return out


def _widths(pipe) -> list[int] | None:
    """Output columns per input column of a sub-pipeline this module can speed up, else None."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, OneHotEncoder, StandardScaler, TargetEncoder

    from core.models.preprocess import as_text

    if not isinstance(pipe, Pipeline) or len(pipe.steps) < 2:
        return None
    first, encoder, after = pipe.steps[0][1], pipe.steps[1][1], [s for _, s in pipe.steps[2:]]
    if not hasattr(encoder, "categories_"):  # an unfitted step (sklearn skips steps given no columns)
        return None
    if not (isinstance(first, FunctionTransformer) and first.func is as_text):
        return None
    if not all(type(s) in (StandardScaler, MinMaxScaler) for s in after):  # elementwise, column by column
        return None
    if type(encoder) is OneHotEncoder:
        if encoder.drop is not None or encoder.min_frequency is not None or encoder.max_categories is not None \
                or encoder.sparse_output:
            return None
        return [len(c) for c in encoder.categories_]
    if type(encoder) is TargetEncoder:
        per = len(encoder.classes_) if encoder.target_type_ == "multiclass" else 1
        return [per] * len(encoder.categories_)
    return None


def _faster(ct):
    """A shallow copy of a fitted ColumnTransformer with its category sub-pipelines wrapped (recursively)."""
    from sklearn.compose import ColumnTransformer

    if not isinstance(ct, ColumnTransformer) or not hasattr(ct, "transformers_"):
        return ct
    changed, rows = False, []
    for name, trans, cols in ct.transformers_:
        new = _faster(trans) if isinstance(trans, ColumnTransformer) else trans
        widths = _widths(trans)
        if widths is not None and len(widths):
            new = DistinctValues(trans, widths)
        changed |= new is not trans
        rows.append((name, new, cols))
    if not changed:
        return ct
    out = copy.copy(ct)
    out.transformers_ = rows
    return out


def for_scoring(pipe):
    """Returns `pipe` with its category encoders transforming distinct values once (same outputs), or `pipe`."""
    from sklearn.pipeline import Pipeline

    if not isinstance(pipe, Pipeline) or "prep" not in pipe.named_steps:
        return pipe
    prep = _faster(pipe.named_steps["prep"])
    if prep is pipe.named_steps["prep"]:
        return pipe
    out = copy.copy(pipe)
    out.steps = [(name, prep if name == "prep" else step) for name, step in pipe.steps]
    return out
