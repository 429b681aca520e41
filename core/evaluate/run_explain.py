"""Why one saved run predicts what it does: importance, partial dependence and what-if on its validation rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.errors import WorkbenchError, unknown
from core.evaluate.explain import (
    native_importances,
    text_columns,
    word_effects,
    partial_dependence_curve,
    permutation_importance_table,
    prediction_function,
    what_if,
)
from core.evaluate.report import RunData, format_number
from core.project.criteria import format_class

# The score shuffled columns are judged by: one that every model of the task has and that ignores the threshold.
IMPORTANCE_SCORING = {"binary": ("roc_auc", "ROC-AUC"), "multiclass": ("balanced_accuracy", "balanced accuracy"),
                      "regression": ("r2", "R²")}
MAX_CHOICES = 50  # a text column with more values than this is typed, not picked


@dataclass(frozen=True)
class ImportanceView:
    """Permutation importance for every model, the model's own importances where it has them, and what they explain."""

    permutation: pd.DataFrame  # feature, importance, std, rank, sentence; largest first
    native: pd.DataFrame | None  # feature, importance, share, kind, sentence
    scoring_label: str  # "ROC-AUC": what drops when a column is shuffled
    output: str  # what the sentences talk about ("predicted probability that churned is 'yes'")


def explain_classes(data: RunData) -> list:
    """Returns the classes whose probability can be explained: the positive class, every class, or none (regression)."""
    if data.task == "binary":
        return [data.positive_class]
    return list(data.run.classes) if data.task == "multiclass" else []


def importance_view(model, data: RunData, explain_class: Any = None, seed: int = 0,
                    n_repeats: int = 5) -> ImportanceView:
    """Returns permutation importance on the validation rows (every model) and native importances (when present)."""
    scoring, label = IMPORTANCE_SCORING[data.task]
    positive = _class_to_explain(data, explain_class)
    target = data.project.target
    table = permutation_importance_table(model, data.features, data.predictions["y_true"].to_numpy(), scoring=scoring,
                                         n_repeats=n_repeats, seed=seed, positive_class=positive, n_jobs=1,
                                         target_name=target)
    native = native_importances(model, feature_names=list(data.features.columns))
    if native is not None:
        native["sentence"] = native["feature"].map(dict(zip(table["feature"], table["sentence"], strict=True)))
    return ImportanceView(table, native, label, prediction_function(model, positive, target)[1])


def pdp_view(model, data: RunData, feature: str, explain_class: Any = None):
    """Returns the partial dependence of the prediction on one input column (core.evaluate.explain.PartialDependenceResult).

    Raises:
        NotFound: the model does not read that column.
    """
    if feature not in data.features.columns:
        raise unknown("column", feature, data.features.columns, where="the model's inputs")
    return partial_dependence_curve(model, data.features, feature, target_name=data.project.target,
                                    positive_class=_class_to_explain(data, explain_class))


def row_choices(data: RunData) -> pd.DataFrame:
    """Returns the validation rows a what-if can start from: `_row` (the dataset row id) and a short label."""
    p = data.predictions
    labels = [f"Row {r:,} · actual {format_class(_plain(a))}" for r, a in zip(p["_row"], p["y_true"], strict=True)]
    if "score" in p.columns:
        labels = [f"{text} · score {s:.2f}" for text, s in zip(labels, p["score"], strict=True)]
    elif data.task == "regression":
        labels = [f"{text} · predicted {v:,.4g}" for text, v in zip(labels, p["y_pred"], strict=True)]
    return pd.DataFrame({"_row": p["_row"].to_numpy(), "label": labels})


def record_fields(data: RunData, row_id: int) -> list[dict]:
    """Returns one editable field per input column for a validation row: name, kind, value, choices, is_integer.

    Kinds: "number", "choice" (booleans and text with at most 50 values; `None` stands for missing), "date", "text".

    Raises:
        NotFound: the row is not a validation row of this run.
    """
    rows = data.predictions["_row"].to_numpy()
    hits = np.flatnonzero(rows == int(row_id))
    if not len(hits):
        raise unknown("validation row", str(row_id), [str(r) for r in rows[:200]])
    row = data.features.iloc[int(hits[0])]
    fields = []
    for name in data.features.columns:
        column, value = data.features[name], _plain(row[name])
        missing = value is None or (not isinstance(value, str | dt.date) and pd.isna(value))
        field = {"name": str(name), "value": None if missing else value, "choices": None, "is_integer": False}
        present = column.dropna()
        if pd.api.types.is_bool_dtype(column) or (len(present) and isinstance(present.iloc[0], bool | np.bool_)):
            field.update(kind="choice", choices=[False, True] + ([None] if column.isna().any() else []))
        elif pd.api.types.is_numeric_dtype(column):
            field.update(kind="number", is_integer=pd.api.types.is_integer_dtype(column))
        elif pd.api.types.is_datetime64_any_dtype(column) or (len(present) and isinstance(present.iloc[0], dt.date)):
            field.update(kind="date", value=None if missing else pd.Timestamp(value).date())
        elif present.nunique() <= MAX_CHOICES:
            choices = sorted(present.astype(str).unique().tolist())
            field.update(kind="choice", choices=choices + ([None] if column.isna().any() else []),
                         value=None if missing else str(value))
        else:
            field.update(kind="text", value="" if missing else str(value))
        fields.append(field)
    return fields


def what_if_view(model, data: RunData, record: dict, explain_class: Any = None,
                 threshold: float | None = None) -> dict:
    """Returns a record's prediction, each value's push up or down (core.evaluate.explain.what_if) and the decision in words.

    Raises:
        SchemaMismatch: a value of the wrong type (text where a number is expected).
        NotFound: the record names a column the model does not read.
    """
    positive = _class_to_explain(data, explain_class)
    result = what_if(model, data.features, _typed(record, data.features), positive_class=positive,
                     target_name=data.project.target)
    label = format_class(_plain(result.label))
    if data.task == "binary" and data.run.score_kind == "probability":
        t = float(threshold if threshold is not None else (data.run.threshold or 0.5))
        flagged = result.prediction >= t
        decision = (f"Score {result.prediction:.2f} is {'at or above' if flagged else 'below'} the threshold {t:.2f}, "
                    f"so this row is {'flagged' if flagged else 'not flagged'} as "
                    f"{format_class(data.positive_class)!r}.")
    elif data.task == "regression":
        decision = f"Predicted {data.project.target}: {format_number(result.prediction)}."
    else:
        decision = f"The model predicts {label!r}; {result.output}: {result.prediction:.2f}."
    return {"result": result, "decision": decision}


def _class_to_explain(data: RunData, explain_class: Any) -> Any:
    classes = explain_classes(data)
    if not classes:
        return None
    for c in classes:
        if explain_class is not None and (c == explain_class or str(c) == str(explain_class)):
            return c
    return classes[0]


def _typed(record: dict, features: pd.DataFrame) -> dict:
    """Returns the record with date fields as timestamps and missing choices as None, as the model's inputs expect."""
    out = {}
    for name, value in record.items():
        column = features[name] if name in features.columns else None
        if column is not None and value is not None and pd.api.types.is_datetime64_any_dtype(column):
            value = pd.Timestamp(value)
        out[name] = value
    return out


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def text_words_view(model, data: RunData, record: dict | None = None, explain_class: Any = None,
                    top: int = 10) -> list[tuple[str, pd.DataFrame]]:
    """For each free-text input the model reads: the words that push this record's prediction (or, without a record,
    the model's strongest words). Empty when the model reads no text or has no per-word weights."""
    positive = _class_to_explain(data, explain_class)
    out = []
    for column in text_columns(model):
        text = None if record is None else ("" if record.get(column) is None else str(record.get(column)))
        try:
            out.append((column, word_effects(model, column, text, positive, top)))
        except WorkbenchError:
            continue
    return out
