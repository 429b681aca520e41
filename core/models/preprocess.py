"""Preprocessing that travels inside every saved model: imputation, scaling, category encoding, dates and free text.

Categories are encoded by cardinality, measured on the rows each fit sees: a column with at most MAX_CATEGORIES
values is one-hot encoded; one with more goes through scikit-learn's TargetEncoder, whose fit_transform is
cross-fitted (each training row is encoded by a model of the other folds, so no row sees its own target). Free-text
columns become TF-IDF word (1-2) and within-word character (3-4) n-grams with a capped vocabulary, for models that
read sparse input (`reads_text`); other models leave text out. Character 3-4-grams (not 3-5) keep the typo and
word-stem signal for about three quarters of the counting work (issue 14).

Everything a fitted pipeline refers to is a scikit-learn class or a module-level function or class of this module,
so `core.store.artifacts` can list each type it trusts by name and load a model without unpickling anything.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.errors import SpecInvalid

USED_KINDS = ("number", "category", "boolean", "datetime")  # "id" columns never feed a model; "text" only some
TEXT_KIND = "text"
RARE_SHARE = 0.01  # (models saved before 0.3) categories under 1% of training rows were grouped as "(other)"
MAX_CATEGORIES = 30  # a category column with more values than this is target-encoded instead of one-hot encoded
MAX_TEXT_CHARS = 20_000  # a longer text cell is cut to its first characters before n-grams are counted
WORD_VOCABULARY = 20_000  # most frequent word 1-2-grams kept per text column
CHAR_VOCABULARY = 20_000  # ... and character 3-4-grams (within words)
CHAR_NGRAMS = (3, 4)  # 3-5 cost a third more per pass over the documents for no measured gain (issue 14)
MISSING = "(missing)"
OTHER = "(other)"
DATE_PARTS = ("year", "month", "dayofweek")
_TRUE_WORDS = frozenset({"true", "yes", "y", "1", "t"})
_FALSE_WORDS = frozenset({"false", "no", "n", "0", "f"})


TEXT_STEPS = ("words", "chars")  # the two vectorizers of each text column, in pipeline order (steps words<i>, chars<i>)


def text_vectorizer(part: str):
    """The unfitted TfidfVectorizer of a text step: "words" (word 1-2-grams) or "chars" (within-word 3-4-grams).

    Vocabulary capped at the most frequent n-grams, float32 values, sublinear term frequency. The one definition
    both the saved pipelines and the counts shared across a comparison (core.models.sharedtext) use.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    if part == "words":
        return TfidfVectorizer(analyzer="word", ngram_range=(1, 2), max_features=WORD_VOCABULARY, min_df=1,
                               sublinear_tf=True, dtype=np.float32)
    return TfidfVectorizer(analyzer="char_wb", ngram_range=CHAR_NGRAMS, max_features=CHAR_VOCABULARY, min_df=1,
                           sublinear_tf=True, dtype=np.float32)


def feature_columns(columns: dict[str, str], target: str | None, text: bool = False) -> list[str]:
    """Returns the columns a model reads: every number, category, boolean or date column (and with `text`, every
    free-text column) except the target."""
    kinds = USED_KINDS + ((TEXT_KIND,) if text else ())
    return [str(c) for c, kind in columns.items() if kind in kinds and c != target]


def few_levels(X) -> list[str]:
    """The category columns of X with at most MAX_CATEGORIES values (missing counted as one): one-hot encoded."""
    return [c for c in X.columns if _levels(X[c]) <= MAX_CATEGORIES]


def many_levels(X) -> list[str]:
    """The category columns of X with more than MAX_CATEGORIES values: target-encoded."""
    return [c for c in X.columns if _levels(X[c]) > MAX_CATEGORIES]


def _levels(col) -> int:
    return int(col.astype(str).nunique(dropna=False))


def as_documents(X):
    """Turns one text column into a list of strings for TF-IDF: missing as '', each cut to MAX_TEXT_CHARS."""
    values = X.iloc[:, 0] if isinstance(X, pd.DataFrame) else pd.Series(np.asarray(X, dtype=object).ravel())
    text = values.astype(str).where(values.notna(), "")
    return text.str.slice(0, MAX_TEXT_CHARS).tolist()


# -- module-level functions used by FunctionTransformer (saved by name, so they must stay importable) ------------------
def as_text(X):
    """Turns category values into text, with missing values as '(missing)', so mixed types encode consistently."""
    frame = pd.DataFrame(X)
    out = np.empty(frame.shape, dtype=object)
    for j, name in enumerate(frame.columns):
        col = frame[name]
        text = col.astype(str).to_numpy(dtype=object)  # C-level conversion; str() of every value
        text[col.isna().to_numpy()] = MISSING
        out[:, j] = text
    return out


def as_flag(X):
    """Turns yes/no values (booleans, 0/1, 'yes'/'no', 'true'/'false') into 1.0 / 0.0, missing as NaN."""
    frame = pd.DataFrame(X)
    out = np.full(frame.shape, np.nan)
    for j, name in enumerate(frame.columns):
        col = frame[name]
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            values = pd.to_numeric(col, errors="coerce").astype(float).to_numpy()
            out[:, j] = np.where(np.isnan(values), np.nan, (values != 0).astype(float))
        else:
            text = col.astype(str).str.strip().str.lower()
            out[:, j] = np.where(text.isin(_TRUE_WORDS), 1.0, np.where(text.isin(_FALSE_WORDS), 0.0, np.nan))
    return out


def date_parts(X):
    """Turns each date column into its year, month and day of week (missing or unreadable dates as NaN)."""
    frame = pd.DataFrame(X)
    parts = []
    for name in frame.columns:
        column = frame[name]
        # Dates already typed skip pandas' cache of parsed strings: its check alone walked 50,000 Timestamps.
        when = pd.to_datetime(column, errors="coerce", utc=True, format="mixed",
                              cache=not pd.api.types.is_datetime64_any_dtype(column))
        parts += [when.dt.year, when.dt.month, when.dt.dayofweek]
    if not parts:
        return np.empty((len(frame), 0))
    return np.column_stack([p.astype(float).to_numpy() for p in parts])


def date_part_names(transformer, input_features):
    """Names the outputs of date_parts: '<column>_year', '<column>_month', '<column>_dayofweek'."""
    return np.array([f"{c}_{p}" for c in input_features for p in DATE_PARTS], dtype=object)


class RareCategoryGrouper:
    """Keeps each category column's frequent values and turns the rest into '(other)', as text.

    A value is kept when it fills at least `min_share` of the training rows, up to the `max_kept` most common ones.
    Grouping before one-hot encoding keeps a customer-id-like column (thousands of values) from bloating the saved
    model and slowing every fold, while unseen values at prediction time land in '(other)' too.
    """

    def __init__(self, min_share: float = RARE_SHARE, max_kept: int = MAX_CATEGORIES - 1):
        self.min_share = min_share
        self.max_kept = max_kept

    def get_params(self, deep: bool = True) -> dict:
        return {"min_share": self.min_share, "max_kept": self.max_kept}

    def set_params(self, **params):
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def __sklearn_tags__(self):
        from sklearn.utils import Tags, TargetTags, TransformerTags

        return Tags(estimator_type=None, target_tags=TargetTags(required=False),
                    transformer_tags=TransformerTags())

    def fit(self, X, y=None):
        text = as_text(X)
        self.feature_names_in_ = [str(c) for c in getattr(X, "columns", range(text.shape[1]))]
        self.n_features_in_ = text.shape[1]
        self.kept_ = []
        for j in range(text.shape[1]):
            counts = pd.Series(text[:, j]).value_counts()
            frequent = counts[counts >= self.min_share * max(len(text), 1)].index[: self.max_kept]
            self.kept_.append(sorted(str(v) for v in frequent))
        return self

    def transform(self, X):
        text = as_text(X)
        for j, kept in enumerate(self.kept_):
            text[~np.isin(text[:, j], kept), j] = OTHER
        return text

    def fit_transform(self, X, y=None):
        return self.fit(X).transform(X)

    def get_feature_names_out(self, input_features=None):
        return np.asarray(self.feature_names_in_ if input_features is None else input_features, dtype=object)


# -- the preprocessor ---------------------------------------------------------------------------------------------------
def build_preprocessor(columns: dict[str, str], features: list[str], needs_scaling: bool, reads_text: bool = False,
                       nonnegative: bool = False, reads_nothing: bool = False):
    """Returns a ColumnTransformer with named steps num / cat / flag / date (and words<i> / chars<i> per text column
    when the model `reads_text`). `nonnegative` scales numbers to 0-1 instead of standardising (naive Bayes on counts);
    `reads_nothing` (the baseline) drops every input unread.

    Raises: SpecInvalid when no column can feed the model.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.model_selection import KFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, OneHotEncoder, StandardScaler, TargetEncoder

    kinds = {str(c): k for c, k in columns.items()}
    by_kind = {kind: [str(c) for c in features if kinds.get(str(c)) == kind] for kind in USED_KINDS + (TEXT_KIND,)}
    if not reads_text:
        by_kind[TEXT_KIND] = []
    if reads_nothing and features:  # the baseline ignores every column, so it pays for no encoding
        return ColumnTransformer([("none", "drop", [str(c) for c in features])])
    if not any(by_kind.values()):
        text = " (this model does not read free text; linear models and naive Bayes do)" if \
            any(kinds.get(str(c)) == TEXT_KIND for c in features) else ""
        raise SpecInvalid(f"No column can feed this model{text}: every column is an identifier, free text or the "
                          "target. Use data with number, category, yes/no or date columns.")

    def scaled(*steps):
        tail = [("scale", MinMaxScaler(clip=True) if nonnegative else StandardScaler())] if needs_scaling else []
        return Pipeline(list(steps) + tail)

    parts = []
    if by_kind["number"]:
        parts.append(("num", scaled(("impute", SimpleImputer(strategy="median", keep_empty_features=True))),
                      by_kind["number"]))
    if by_kind["category"]:
        # Cardinality is measured on the rows each fit sees (few_levels / many_levels run at fit time).
        parts.append(("cat", ColumnTransformer([
            ("onehot", Pipeline([("text", FunctionTransformer(as_text, feature_names_out="one-to-one")),
                                 ("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False))]),
             few_levels),
            ("target", scaled(("text", FunctionTransformer(as_text, feature_names_out="one-to-one")),
                              ("encode", TargetEncoder(target_type="auto", cv=KFold(5, shuffle=True, random_state=0)))),
             many_levels),
        ], remainder="drop", sparse_threshold=0.0, verbose_feature_names_out=False), by_kind["category"]))
    if by_kind["boolean"]:
        parts.append(("flag", Pipeline([
            ("flag", FunctionTransformer(as_flag, feature_names_out="one-to-one")),
            ("impute", SimpleImputer(strategy="most_frequent", keep_empty_features=True)),
        ]), by_kind["boolean"]))
    if by_kind["datetime"]:
        parts.append(("date", scaled(("parts", FunctionTransformer(date_parts, feature_names_out=date_part_names)),
                                     ("impute", SimpleImputer(strategy="median", keep_empty_features=True))),
                      by_kind["datetime"]))
    for i, column in enumerate(by_kind[TEXT_KIND]):
        for part in TEXT_STEPS:
            parts.append((f"{part}{i}", Pipeline([("docs", FunctionTransformer(as_documents,
                                                                              feature_names_out="one-to-one")),
                                                  ("tfidf", text_vectorizer(part))]), [column]))
    # Text gives sparse n-gram counts: keep the whole matrix sparse then (models that read text accept it).
    return ColumnTransformer(parts, remainder="drop", sparse_threshold=1.0 if by_kind[TEXT_KIND] else 0.0)


class EncodedLabelClassifier:
    """Fits a classifier that needs labels 0..k-1 (XGBoost) while exposing the original labels as `classes_`."""

    _estimator_type = "classifier"

    def __init__(self, estimator=None):
        self.estimator = estimator

    def get_params(self, deep: bool = True) -> dict:
        out = {"estimator": self.estimator}
        if deep and hasattr(self.estimator, "get_params"):
            out.update({f"estimator__{k}": v for k, v in self.estimator.get_params(deep=True).items()})
        return out

    def set_params(self, **params):
        inner = {k.split("__", 1)[1]: v for k, v in params.items() if k.startswith("estimator__")}
        if "estimator" in params:
            self.estimator = params["estimator"]
        if inner:
            self.estimator.set_params(**inner)
        return self

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags, Tags, TargetTags

        return Tags(estimator_type="classifier", target_tags=TargetTags(required=True),
                    classifier_tags=ClassifierTags())

    def fit(self, X, y, **fit_params):
        from sklearn.base import clone

        self.classes_, codes = np.unique(np.asarray(y), return_inverse=True)
        self.estimator_ = clone(self.estimator).fit(X, codes, **fit_params)
        self.n_features_in_ = getattr(self.estimator_, "n_features_in_", np.shape(X)[1])
        return self

    def predict(self, X):
        return self.classes_[np.asarray(self.estimator_.predict(X)).astype(int)]

    def predict_proba(self, X):
        return self.estimator_.predict_proba(X)

    @property
    def feature_importances_(self):
        return self.estimator_.feature_importances_

    def score(self, X, y):
        return float(np.mean(self.predict(X) == np.asarray(y)))
