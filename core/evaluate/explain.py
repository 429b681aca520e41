"""Why a model predicts what it does: feature importance, partial dependence and what-if contributions."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.errors import (
    SchemaMismatch,
    SpecInvalid,
    WorkbenchError,
    did_you_mean,
    unknown,
)


class ModelCannotScore(WorkbenchError):
    """The model raised an error while scoring rows for an explanation."""


@dataclass(frozen=True)
class PartialDependenceResult:
    """Average prediction when one column is set to each grid value on every sampled row."""

    feature: str
    is_numeric: bool
    output: str  # what the prediction is, in words ("predicted probability of 'yes'")
    points: pd.DataFrame  # value, prediction (mean), low / high (10th / 90th percentile over rows), share
    sentence: str


@dataclass(frozen=True)
class WhatIfResult:
    """A record's prediction and how much each of its values moved it, by occlusion against background rows."""

    prediction: float  # the probability of the positive class, or the predicted number
    label: Any  # the predicted class (classification) or the prediction (regression)
    baseline: float  # mean prediction over the background rows
    output: str
    contributions: pd.DataFrame  # feature, value, contribution, direction; largest effect first
    method: str


def permutation_importance_table(model, X_val: pd.DataFrame, y_val, scoring=None, n_repeats: int = 5,
                                 seed: int = 0, max_rows: int = 2000, positive_class: Any = None,
                                 n_jobs: int = 1, target_name: str | None = None) -> pd.DataFrame:
    """Returns the score drop when each input column is shuffled (sklearn's permutation importance), largest first.

    Works for every model because it shuffles the raw input columns and scores the whole pipeline. Each feature
    gets a sentence about the direction of its effect (see `describe_effects`).

    Raises:
        SpecInvalid: unknown scoring name.
        SchemaMismatch: rows and outcomes of different lengths, or columns the model needs are missing.
    """
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import get_scorer_names

    if isinstance(scoring, str) and scoring not in get_scorer_names():
        raise SpecInvalid(f"Unknown score {scoring!r} for importance.{_near(scoring, get_scorer_names())}")
    y = np.asarray(y_val)
    if len(y) != len(X_val):
        raise SchemaMismatch(f"Got {len(y)} outcomes for {len(X_val)} rows. Pass the validation rows and outcomes.")
    _check_columns(model, X_val)
    rows = _sample_index(len(X_val), max_rows, seed)
    X, y = X_val.iloc[rows].reset_index(drop=True), y[rows]
    try:
        result = permutation_importance(model, X, y, scoring=scoring, n_repeats=n_repeats,
                                        random_state=seed, n_jobs=n_jobs)
    except ValueError as err:
        raise ModelCannotScore(f"The model could not be scored for importance ({err}). "
                               "Check the validation rows match the training columns.") from err
    table = pd.DataFrame({"feature": [str(c) for c in X.columns], "importance": result.importances_mean,
                          "std": result.importances_std})
    table = table.sort_values("importance", ascending=False, kind="mergesort").reset_index(drop=True)
    table["rank"] = np.arange(1, len(table) + 1)
    sentences = describe_effects(model, X, table["feature"], positive_class, target_name, seed=seed)
    table["sentence"] = table["feature"].map(sentences)
    return table


def native_importances(model, feature_names: Sequence[str] | None = None, X: pd.DataFrame | None = None,
                       positive_class: Any = None, target_name: str | None = None) -> pd.DataFrame | None:
    """Returns the estimator's own importances (feature_importances_ or |coef_|) summed back to input columns.

    Encoded parts (one-hot columns "plan_monthly", ColumnTransformer prefixes "cat__") are mapped to the input
    column named in `feature_names` (default: the columns the model was fitted on). Coefficients are only
    comparable when inputs were scaled. Returns None when the estimator has neither attribute. With `X`, each
    feature also gets a direction sentence.
    """
    estimator = model.steps[-1][1] if hasattr(model, "steps") else model
    if hasattr(estimator, "feature_importances_"):
        raw, kind = np.asarray(estimator.feature_importances_, dtype=float), "built-in importance"
    elif hasattr(estimator, "coef_"):
        raw, kind = np.abs(np.atleast_2d(np.asarray(estimator.coef_, dtype=float))).mean(axis=0), "|coefficient|"
    else:
        return None
    inputs = [str(c) for c in (feature_names if feature_names is not None else getattr(model, "feature_names_in_", []))]
    encoded = _encoded_names(model, estimator, len(raw), inputs)
    owners = [_input_column(name, inputs) for name in encoded]
    table = pd.DataFrame({"feature": owners, "importance": raw}).groupby("feature", sort=False)
    table = table.agg(importance=("importance", "sum"), parts=("importance", "size")).reset_index()
    total = table["importance"].sum()
    table["share"] = table["importance"] / total if total > 0 else 0.0
    table["kind"] = kind
    table = table.sort_values("importance", ascending=False, kind="mergesort").reset_index(drop=True)
    if X is not None:
        known = [f for f in table["feature"] if f in X.columns]
        table["sentence"] = table["feature"].map(describe_effects(model, X, known, positive_class, target_name))
    return table


def describe_effects(model, X: pd.DataFrame, features: Sequence[str] | None = None, positive_class: Any = None,
                     target_name: str | None = None, sample_rows: int = 300, grid: int = 8,
                     seed: int = 0) -> dict[str, str]:
    """Returns a one-line sentence per feature on how it moves the prediction, from a small partial-dependence scan."""
    features = list(X.columns if features is None else features)
    predict, output = prediction_function(model, positive_class, target_name)
    sample = X.iloc[_sample_index(len(X), sample_rows, seed)].reset_index(drop=True)
    scale = float(np.std(predict(sample))) if len(sample) > 1 else 0.0
    sentences = {}
    for feature in features:
        curve = _curve(predict, sample, X[feature], str(feature), grid)
        sentences[str(feature)] = _sentence(str(feature), curve, _is_numeric(X[feature]), output, scale)
    return sentences


def partial_dependence_curve(model, X: pd.DataFrame, feature: str, grid: int = 20, positive_class: Any = None,
                             sample_rows: int = 1000, seed: int = 0,
                             target_name: str | None = None) -> PartialDependenceResult:
    """Returns the average prediction with `feature` set to each grid value on a sample of at most 1,000 rows.

    Computed by hand (one batched predict over copies of the sample), so pipelines with text categories work.
    Numeric grids are data values at the 5th-95th percentiles; categories are the `grid` most frequent values.

    Raises:
        NotFound: no such column.
    """
    if feature not in X.columns:
        raise unknown("column", feature, X.columns)
    _check_columns(model, X)
    predict, output = prediction_function(model, positive_class, target_name)
    sample = X.iloc[_sample_index(len(X), sample_rows, seed)].reset_index(drop=True)
    scale = float(np.std(predict(sample))) if len(sample) > 1 else 0.0
    points = _curve(predict, sample, X[feature], feature, grid)
    is_numeric = _is_numeric(X[feature])
    return PartialDependenceResult(feature, is_numeric, output, points,
                                   _sentence(feature, points, is_numeric, output, scale))


def what_if(model, X_background: pd.DataFrame, record: Mapping[str, Any], positive_class: Any = None,
            max_background: int = 200, seed: int = 0, target_name: str | None = None) -> WhatIfResult:
    """Returns the record's prediction and each feature's contribution, largest first.

    Occlusion: a feature's contribution is the record's prediction minus the average prediction when only that
    feature is replaced by each background row's value. Positive means the record's value pushes the prediction up
    compared with typical values. Contributions need not add up to prediction - baseline (features interact).

    Raises:
        NotFound: the record names a column the model does not use.
        SchemaMismatch: the record leaves out columns, or has text where a number is expected.
    """
    _check_columns(model, X_background)
    row = _record_frame(record, X_background)
    predict, output = prediction_function(model, positive_class, target_name)
    background = X_background.iloc[_sample_index(len(X_background), max_background, seed)].reset_index(drop=True)
    m = len(background)
    features = list(X_background.columns)
    blocks = []
    for feature in features:
        block = row.iloc[np.zeros(m, dtype=int)].reset_index(drop=True)
        block[feature] = background[feature]
        blocks.append(block)
    stacked = pd.concat(blocks, ignore_index=True)
    prediction = float(predict(row)[0])
    occluded = predict(stacked).reshape(len(features), m).mean(axis=1)
    contribution = prediction - occluded
    table = pd.DataFrame({
        "feature": [str(f) for f in features],
        "value": [_text(row.iloc[0][f]) for f in features],  # text, so mixed types display and share as one column
        "contribution": contribution,
        "direction": np.where(contribution > 1e-9, "raises", np.where(contribution < -1e-9, "lowers", "no effect")),
    })
    order = np.argsort(-np.abs(contribution), kind="mergesort")
    label = _scored(model.predict, row)[0]
    label = label.item() if hasattr(label, "item") else label
    method = (f"Occlusion against {m} background rows: each value's contribution is how far the prediction moves "
              "when that value alone is replaced by typical values from the data.")
    return WhatIfResult(prediction, label, float(predict(background).mean()), output,
                        table.iloc[order].reset_index(drop=True), method)


def prediction_function(model, positive_class: Any = None,
                        target_name: str | None = None) -> tuple[Callable[[pd.DataFrame], np.ndarray], str]:
    """Returns (rows -> one number per row, what that number is): positive-class probability or the prediction.

    Raises:
        SpecInvalid: a classifier with more than two classes and no class chosen.
        NotFound: the chosen class is not one the model predicts.
    """
    classes = list(getattr(model, "classes_", []))
    if hasattr(model, "predict_proba") and classes:
        if positive_class is None:
            if len(classes) != 2:
                raise SpecInvalid(f"The model predicts {len(classes)} classes. Choose the class to explain.")
            positive_class = classes[1]
        index = _class_index(classes, positive_class)
        name = _plain(classes[index])
        output = f"predicted probability that {target_name} is '{name}'" if target_name else \
            f"predicted probability of '{name}'"
        return lambda X: _scored(model.predict_proba, X)[:, index].astype(float), output
    if classes and positive_class is not None:
        wanted = classes[_class_index(classes, positive_class)]
        return lambda X: (_scored(model.predict, X) == wanted).astype(float), f"chance of predicting '{_plain(wanted)}'"
    return (lambda X: _scored(model.predict, X).astype(float),
            f"predicted {target_name}" if target_name else "prediction")


def _curve(predict, sample: pd.DataFrame, column: pd.Series, feature: str, grid: int) -> pd.DataFrame:
    values = column.dropna()
    if values.empty:
        raise SchemaMismatch(f"Column {feature!r} has no values, so its effect cannot be shown. Pick another column.")
    if _is_numeric(column):
        distinct = np.unique(values.to_numpy())
        if len(distinct) > grid:
            distinct = np.unique(np.quantile(values.to_numpy(), np.linspace(0.05, 0.95, grid), method="nearest"))
        grid_values = list(distinct)
        share = [float((values <= v).mean()) for v in grid_values]
    else:
        counts = values.value_counts().iloc[:grid]
        grid_values, share = list(counts.index), list(counts.to_numpy() / len(values))
    m = len(sample)
    stacked = pd.concat([sample] * len(grid_values), ignore_index=True)
    repeated = np.repeat(np.array(grid_values, dtype=object), m)
    if isinstance(column.dtype, pd.CategoricalDtype):
        stacked[feature] = pd.Categorical(repeated, categories=column.dtype.categories)
    else:
        stacked[feature] = pd.Series(repeated).astype(column.dtype) if _is_numeric(column) else repeated
    predictions = predict(stacked).reshape(len(grid_values), m)
    return pd.DataFrame({
        "value": grid_values, "prediction": predictions.mean(axis=1),
        "low": np.quantile(predictions, 0.1, axis=1), "high": np.quantile(predictions, 0.9, axis=1), "share": share,
    })


def _sentence(feature: str, points: pd.DataFrame, is_numeric: bool, output: str, scale: float) -> str:
    prediction = points["prediction"].to_numpy()
    span = float(prediction.max() - prediction.min()) if len(prediction) else 0.0
    if len(prediction) < 2 or span <= max(0.05 * scale, 1e-6):
        return f"Changing {feature} barely moves the {output}."
    best, worst = points.iloc[int(np.argmax(prediction))], points.iloc[int(np.argmin(prediction))]
    if not is_numeric:
        return (f"{feature} = '{_plain(best['value'])}' gives the highest {output} ({_fmt(best['prediction'])}); "
                f"'{_plain(worst['value'])}' gives the lowest ({_fmt(worst['prediction'])}).")
    trend = pd.Series(points["value"].astype(float)).corr(pd.Series(prediction), method="spearman")
    low_end, high_end = _fmt(prediction[0]), _fmt(prediction[-1])
    if trend >= 0.6:
        return f"Higher {feature} raises the {output} (from {low_end} to {high_end} across its usual range)."
    if trend <= -0.6:
        return f"Higher {feature} lowers the {output} (from {low_end} to {high_end} across its usual range)."
    return f"{feature} moves the {output} up and down; it is highest near {feature} = {_fmt(best['value'])}."


def _encoded_names(model, estimator, n: int, inputs: list[str]) -> list[str]:
    names = None
    if hasattr(model, "steps") and len(model.steps) > 1:
        try:
            names = list(model[:-1].get_feature_names_out())
        except (AttributeError, ValueError, TypeError):
            names = None
    if names is None:
        names = list(getattr(estimator, "feature_names_in_", [])) or (inputs if len(inputs) == n else [])
    if len(names) != n:
        names = [f"feature {i}" for i in range(n)]
    return [str(name) for name in names]


def _input_column(name: str, inputs: list[str]) -> str:
    if name in inputs:
        return name
    rest = name.split("__", 1)[1] if "__" in name else name  # ColumnTransformer prefixes "<step>__"
    rest = rest.removeprefix("missingindicator_")
    if rest in inputs:
        return rest
    # One-hot parts are "<column>_<category>"; the longest matching column wins ("plan" vs "plan_type").
    owners = [c for c in inputs if rest.startswith(f"{c}_")]
    return max(owners, key=len) if owners else rest


def _record_frame(record: Mapping[str, Any], background: pd.DataFrame) -> pd.DataFrame:
    columns = [str(c) for c in background.columns]
    for key in record:
        if str(key) not in columns:
            raise unknown("column", key, columns, where="the model's inputs")
    missing = [c for c in columns if c not in {str(k) for k in record}]
    if missing:
        raise SchemaMismatch(f"The record leaves out {', '.join(missing[:10])}. Give a value for every column.")
    values = {str(k): v for k, v in record.items()}
    row = {}
    for column in background.columns:
        value, dtype = values[str(column)], background[column].dtype
        if _is_numeric(background[column]):
            try:
                number = pd.to_numeric(pd.Series([None if value == "" else value]), errors="raise")
            except (TypeError, ValueError) as err:
                raise SchemaMismatch(f"{column!r} needs a number, got {value!r}. Type a number.") from err
            as_float = number.astype(float)
            is_whole = as_float.notna().all() and bool((as_float % 1 == 0).all())
            row[column] = number.astype(dtype) if is_whole else as_float  # never truncate 2.5 into an int column
        elif pd.api.types.is_bool_dtype(dtype) and isinstance(value, str):
            row[column] = pd.Series([value.strip().lower() in ("true", "1", "yes")])
        elif isinstance(dtype, pd.CategoricalDtype):
            row[column] = pd.Series(pd.Categorical([value], categories=dtype.categories))
        else:
            row[column] = pd.Series([value], dtype=object if dtype == object else None)
    return pd.DataFrame(row)


def _check_columns(model, X: pd.DataFrame) -> None:
    needed = [str(c) for c in getattr(model, "feature_names_in_", [])]
    missing = [c for c in needed if c not in {str(x) for x in X.columns}]
    if missing:
        raise SchemaMismatch(f"The rows lack {', '.join(missing[:10])}, which the model was trained on. "
                             "Use rows from the same dataset as the training split.")


def _scored(method, X: pd.DataFrame) -> np.ndarray:
    try:
        return np.asarray(method(X))
    except (ValueError, KeyError, TypeError) as err:
        raise ModelCannotScore(f"The model could not score these rows ({err}). "
                               "Check the values match the types the model was trained on.") from err


def _class_index(classes: list, wanted: Any) -> int:
    for matches in (lambda a: a == wanted, lambda a: str(a) == str(wanted)):
        for i, label in enumerate(classes):
            if matches(label):
                return i
    raise unknown("class", wanted, [str(c) for c in classes], where="the model's classes")


def _sample_index(n: int, limit: int, seed: int) -> np.ndarray:
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def _is_numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _text(value: Any) -> str:
    return "(missing)" if pd.isna(value) else str(_plain(value))


def _fmt(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float | np.floating) else str(value)


def _near(word: str, choices) -> str:
    return did_you_mean(word, choices) or " Use a name such as 'accuracy', 'roc_auc' or 'r2'."


# -- free text: which words push a prediction ----------------------------------------------------------------------
TEXT_STEPS = ("words", "chars")  # core.models.preprocess names each text column's TF-IDF steps words<i> / chars<i>


def text_columns(model) -> list[str]:
    """The free-text input columns a fitted pipeline turns into TF-IDF n-grams (empty when it reads no text)."""
    prep = model[:-1][-1] if hasattr(model, "steps") and len(model.steps) > 1 else None
    out = []
    for name, _, cols in getattr(prep, "transformers_", ()):
        if re.fullmatch(r"(words|chars)\d+", str(name)):
            out += [str(c) for c in ([cols] if isinstance(cols, str) else cols) if str(c) not in out]
    return out


def _term_weights(model, positive_class: Any = None) -> np.ndarray | None:
    """One weight per encoded input, in the direction of the explained class (or of a higher prediction)."""
    estimator = model.steps[-1][1]
    classes = list(getattr(model, "classes_", []))
    if hasattr(estimator, "coef_"):
        coef = np.atleast_2d(np.asarray(estimator.coef_, dtype=float))
        if coef.shape[0] == 1:
            sign = -1.0 if classes and positive_class is not None and len(classes) == 2 and \
                _class_index(classes, positive_class) == 0 else 1.0
            return sign * coef[0]
        return coef[_class_index(classes, positive_class)]
    if hasattr(estimator, "feature_log_prob_") and len(classes) >= 2:  # naive Bayes: log-probability contrast
        flp = np.asarray(estimator.feature_log_prob_, dtype=float)
        k = _class_index(classes, positive_class) if positive_class is not None else len(classes) - 1
        return flp[k] - np.delete(flp, k, axis=0).mean(axis=0)
    return None


def word_effects(model, column: str, text: str | None = None, positive_class: Any = None,
                 top: int = 10) -> pd.DataFrame:
    """The words (and character n-grams) of a text column that push a prediction up or down, strongest first.

    With `text`: the terms in that text, each weighted by its TF-IDF value times the model's weight (their push on
    this prediction's decision score). Without: the model's strongest terms overall. Columns: term, kind ("word" or
    "characters"), push, direction ("raises" / "lowers"). Plain strings: render them as text, never as HTML.

    Raises: SpecInvalid when the model does not read `column` as text or has no per-term weights.
    """
    if column not in text_columns(model):
        raise SpecInvalid(f"This model does not read {column!r} as text; linear models and naive Bayes do.")
    weights = _term_weights(model, positive_class)
    prep = model[:-1]
    names = [str(n) for n in prep.get_feature_names_out()]
    if weights is None or len(weights) != len(names):
        raise SpecInvalid("This model has no weight per word, so the words that push a prediction cannot be shown.")
    ct = prep[-1]
    owned = [name for name, _, cols in ct.transformers_ if column in ([cols] if isinstance(cols, str) else list(cols))
             and str(name).startswith(TEXT_STEPS)]
    index = [i for i, n in enumerate(names) if n.split("__", 1)[0] in owned]
    push = weights[index]
    if text is not None:
        row = pd.DataFrame({column: [text]})
        parts = [ct.named_transformers_[name].transform(row) for name in owned]  # in the order of the names
        push = push * np.concatenate([p.toarray()[0] if hasattr(p, "toarray") else np.asarray(p)[0] for p in parts])
    table = pd.DataFrame({"term": [names[i].split("__", 1)[1] for i in index],
                          "kind": ["word" if names[i].startswith("words") else "characters" for i in index],
                          "push": push})
    table = table[table["push"] != 0]
    table = table.reindex(table["push"].abs().sort_values(ascending=False, kind="mergesort").index).head(top)
    table["direction"] = np.where(table["push"] > 0, "raises", "lowers")
    return table.reset_index(drop=True)
