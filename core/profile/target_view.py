"""The target-aware part of a profile: the target's distribution, each feature's association with it, leakage suspects.

A leakage suspect is a column that would let a model "know" the answer in a way it cannot in production: a single
feature that predicts the target almost perfectly (or whose emptiness does), an identifier that lets a model
memorise rows, or a timestamp whose name says it is recorded when the outcome happens.
"""

from __future__ import annotations

import re

import numpy as np

from core.errors import TargetNotUsable, unknown
from core.profile.correlations import (
    MAX_LEVELS,
    auc,
    correlation_ratio,
    cramers_v,
    feature_data,
    pearson,
    spearman,
)
from core.profile.stats import Source, top_values
from core.store.workspace import ColumnInfo, Workspace

MAX_CLASSES = 20  # a whole-number target with at most this many values is treated as classes
NEAR_PERFECT_AUC = 0.98  # one feature alone separating two classes this well is too good to be true
NEAR_PERFECT_ASSOC = 0.95  # Cramér's V or correlation ratio
NEAR_PERFECT_R = 0.98  # |Pearson| or |Spearman| with a numeric target
MISSING_TELLS = 0.9  # association of "value is empty" with the target
ID_DISTINCT_PCT = 95.0
MINORITY_WARN_PCT = 10.0
_OUTCOME_NAME = re.compile(r"(cancel|churn|close|end(ed)?(_|$|date|time)|terminat|resolv|outcome|exit|left|leav|"
                           r"refund|default|payoff|paid_off|settle|discharg|death|died|convert|result|closed)",
                           re.IGNORECASE)


def target_task(stat: dict) -> str | None:
    """Returns 'classification', 'regression', or None when the column cannot be a target."""
    if stat["family"] == "categorical":
        return "classification" if stat["kind"] != "id" and (stat.get("distinct") or 0) <= MAX_LEVELS else None
    if stat["family"] == "numeric" and stat["kind"] != "id":
        few = stat.get("integral") and (stat.get("distinct") or 0) <= MAX_CLASSES
        return "classification" if few else "regression"
    return None


def target_view(ws: Workspace, src: Source, stats: list[dict], rows: int, target: str) -> dict:
    """Describes the target, ranks features by their association with it and flags leakage suspects.

    Raises: NotFound (no such column), TargetNotUsable (all empty, or a date, identifier or free text).
    """
    by_name = {s["name"]: s for s in stats}
    if target not in by_name:
        raise unknown("column", target, list(by_name))
    stat = by_name[target]
    if stat["count"] == 0:
        raise TargetNotUsable(f"Column {target!r} is empty in every row, so there is nothing to predict. "
                              "Choose another target.")
    task = target_task(stat)
    if task is None:
        if stat["family"] == "categorical" and stat["kind"] != "id" and (stat.get("distinct_pct") or 0) < 50:
            raise TargetNotUsable(f"Column {target!r} has {stat['distinct']:,} different values; a category to "
                                  f"predict may have at most {MAX_LEVELS}. Group rare values, or choose another "
                                  "target.")
        what = {"datetime": "dates", "text": "free text"}.get(stat["family"], "an identifier")
        raise TargetNotUsable(f"Column {target!r} holds {what}, which cannot be predicted as an outcome. "
                              "Choose a column with a category or a number to predict.")
    data, how, n = feature_data(ws, src, stats, rows, target)
    y = data[target]
    view: dict = {"target": target, "task": task, "sample_rows": n, "rows": rows}
    if task == "classification":
        col = ColumnInfo(target, stat["dtype"], stat["kind"])
        found = top_values(ws, src, [col], k=MAX_CLASSES + 1).get(target, {"top": []})
        count = stat["count"]
        view["classes"] = [{"value": v, "count": c, "pct": round(100.0 * c / count, 4)} for v, c in found["top"]]
        view["n_classes"] = int(found.get("groups", 0))
        y = _codes(y) if how[target] == "number" else y
    else:
        view["histogram"] = stat.get("histogram")
    view["associations"] = _associations(stats, data, how, y, task, target)
    view["suspects"] = _suspects(stats, view["associations"], target)
    return view


def _codes(x: np.ndarray) -> np.ndarray:
    out = np.full(x.shape, -1, dtype=np.int64)
    ok = ~np.isnan(x)
    out[ok] = np.unique(x[ok], return_inverse=True)[1]
    return out


def _associations(stats: list[dict], data: dict, how: dict, y: np.ndarray, task: str, target: str) -> list[dict]:
    out = []
    binary = task == "classification" and len(np.unique(y[y >= 0])) == 2
    positive = (y == np.unique(y[y >= 0]).max()) if binary else None
    for s in stats:
        name = s["name"]
        if name == target:
            continue
        row = {"feature": name, "kind": s["kind"], "measure": None, "value": None, "auc": None, "missing_value": None}
        x = data.get(name)
        if x is None:
            row["note"] = "not measured: too many distinct values"
            out.append(row)
            continue
        if task == "classification":
            keep = y >= 0
            if how[name] == "number":
                row.update(measure="correlation ratio", value=correlation_ratio(x[keep], y[keep]))
                if binary:
                    a = auc(x[keep], positive[keep])
                    row["auc"] = None if a is None else max(a, 1 - a)
            else:
                row.update(measure="Cramér's V", value=cramers_v(x[keep], y[keep]))
            empty = np.isnan(x) if how[name] == "number" else x < 0
            if 0.005 <= empty.mean() <= 0.995:
                row["missing_value"] = cramers_v(empty[keep].astype(np.int64), y[keep])
        else:
            if how[name] == "number":
                r, rho = pearson(x, y), spearman(x, y)
                row.update(measure="|Spearman|", value=None if rho is None else abs(rho), pearson=r)
            else:
                row.update(measure="correlation ratio", value=correlation_ratio(y, x))
            empty = np.isnan(x) if how[name] == "number" else x < 0
            if 0.005 <= empty.mean() <= 0.995:
                row["missing_value"] = correlation_ratio(y, empty.astype(np.int64))
        out.append(row)
    out.sort(key=lambda r: -(max(r["value"] or 0, r["auc"] or 0)))
    return out


def _suspects(stats: list[dict], associations: list[dict], target: str) -> list[dict]:
    by_name = {s["name"]: s for s in stats}
    out = []
    for a in associations:
        name, s = a["feature"], by_name[a["feature"]]
        perfect = ((a["auc"] or 0) >= NEAR_PERFECT_AUC
                   or (a["measure"] in ("Cramér's V", "correlation ratio") and (a["value"] or 0) >= NEAR_PERFECT_ASSOC)
                   or (a["measure"] == "|Spearman|" and max(a["value"] or 0, abs(a.get("pearson") or 0)) >= NEAR_PERFECT_R))
        if perfect and not _id_like(s):
            how = f"ROC AUC {a['auc']:.3f}" if (a["auc"] or 0) >= NEAR_PERFECT_AUC else f"{a['measure']} {a['value']:.3f}"
            out.append(_suspect(name, "near_perfect", "problem",
                                f"{name!r} alone predicts {target!r} almost perfectly ({how}).",
                                "Check that this value is known before the outcome; if it is recorded at or after "
                                "the outcome, leave it out of the model."))
        elif (a["missing_value"] or 0) >= MISSING_TELLS:
            out.append(_suspect(name, "missing_tells", "problem",
                                f"Whether {name!r} is empty predicts {target!r} almost perfectly "
                                f"(association {a['missing_value']:.3f}).",
                                "A value that is filled in only for one outcome is usually recorded after it. "
                                "Leave the column out, or check when it is filled in."))
        if _id_like(s):
            out.append(_suspect(name, "id_like", "warning",
                                f"{name!r} looks like an identifier ({s['distinct']:,} distinct values in "
                                f"{s['count']:,} rows).",
                                "A model can memorise identifiers instead of learning patterns; leave it out."))
        if s["family"] == "datetime" and _OUTCOME_NAME.search(name):
            out.append(_suspect(name, "after_outcome", "warning",
                                f"{name!r} is a date whose name suggests it is recorded when the outcome happens.",
                                "Use only dates known before the prediction is made, or leave it out."))
    return out


def _id_like(s: dict) -> bool:
    if s["kind"] == "id":
        return True
    unique_enough = (s.get("distinct_pct") or 0) >= ID_DISTINCT_PCT and s["count"] >= 20
    return unique_enough and (s["family"] in ("categorical", "text") or (s["family"] == "numeric" and s.get("integral")))


def _suspect(column: str, code: str, severity: str, evidence: str, suggestion: str) -> dict:
    return {"column": column, "code": code, "severity": severity, "evidence": evidence, "suggestion": suggestion}


def target_alerts(view: dict) -> list[dict]:
    """Turns the target view's findings into alerts for the profile's alert list."""
    alerts = [{"code": f"leakage_{s['code']}", "label": "Possible leakage", "severity": s["severity"],
               "columns": [s["column"]], "evidence": s["evidence"], "suggestion": s["suggestion"]}
              for s in view["suspects"]]
    classes = view.get("classes") or []
    if view["task"] == "classification" and view.get("n_classes", 0) >= 2 and classes:
        smallest = min(classes, key=lambda c: c["count"]) if view["n_classes"] == len(classes) else None
        if smallest and smallest["pct"] < MINORITY_WARN_PCT:
            alerts.append({"code": "target_imbalance", "label": "Imbalanced target", "severity": "warning",
                           "columns": [view["target"]],
                           "evidence": f"The rarest outcome, {smallest['value']!r}, is {smallest['pct']:.1f}% of rows "
                                       f"({smallest['count']:,}).",
                           "suggestion": "Judge models by ROC-AUC or recall on that outcome, not accuracy, and use "
                                         "a stratified split so every set has some of it."})
    if view["task"] == "classification" and view.get("n_classes", 0) == 1:
        alerts.append({"code": "target_constant", "label": "Target has one value", "severity": "problem",
                       "columns": [view["target"]],
                       "evidence": f"Every row of {view['target']!r} has the same outcome.",
                       "suggestion": "There is nothing to predict: choose another target or add rows with other "
                                     "outcomes."})
    return alerts
