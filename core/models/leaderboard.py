"""What a comparison returns: one RunResult per model, the leaderboard with its warnings, and paired comparisons."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.catalog import metric_entry, metrics_for
from core.errors import SpecInvalid, unknown
from core.project.criteria import evaluate_criteria, format_class, meets_criteria


@dataclass
class RunResult:
    """One model trained in a comparison: its settings, fold and validation metrics, costs and fitted pipeline."""

    key: str
    label: str
    task: str
    params: dict
    seed: int
    cv_folds: int = 0
    fold_metrics: list[dict] = field(default_factory=list)  # one dict of metric -> value per CV fold, in fold order
    validation_metrics: dict = field(default_factory=dict)
    train_metrics: dict = field(default_factory=dict)  # on the rows it was fitted on, for the train/validation gap
    fit_seconds: float | None = None  # the final fit on all training rows
    predict_ms_per_1k: float | None = None  # milliseconds to score a fixed batch of 1,000 rows (resampled validation)
    predict_ms_per_row: float | None = None  # milliseconds to score one row
    size_bytes: int | None = None
    predictions: pd.DataFrame | None = None  # _row, y_true, y_pred, score | proba_<class>
    versions: dict = field(default_factory=dict)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    pipeline: Any = None
    model_bytes: bytes | None = None  # the saved form of `pipeline` (core.store.artifacts), made once
    train_rows: int = 0  # rows the final model was fitted on (after any sample)
    train_rows_total: int = 0
    features: list[str] = field(default_factory=list)
    classes: list = field(default_factory=list)
    positive_class: Any = None
    score_kind: str | None = None  # "probability" | "margin" (a squashed decision score) | None (regression)
    tuning: dict | None = None
    is_baseline: bool = False
    total_seconds: float | None = None  # all of this model's work: CV folds plus the final fit, summed over workers
    extras: dict = field(default_factory=dict)  # clustering: k_table, profiles, descriptions, explained variance;
    # a comparison that left models out: "left_out_models" [{key, label, code, reason}] (see left_out_models)
    cv_scheme: dict = field(default_factory=dict)  # core.models.folds.CvScheme.to_dict(): which CV was used
    feature_choice: dict = field(default_factory=dict)  # core.models.features.FeatureChoice.to_dict()
    evidence: list[dict] = field(default_factory=list)  # the comparison's single-column leak evidence (see below)

    @property
    def is_ok(self) -> bool:
        return self.error is None

    @property
    def cv_summary(self) -> dict[str, dict[str, float]]:
        """Mean and sample SD over folds of every metric measured in each fold."""
        return summarize_folds(self.fold_metrics)


def summarize_folds(fold_metrics: list[dict]) -> dict[str, dict[str, float]]:
    """Returns {metric: {"mean", "sd"}} over folds (SD with ddof=1; NaN values left out)."""
    out: dict[str, dict[str, float]] = {}
    names = [k for k in (fold_metrics[0] if fold_metrics else {}) if k != "fold"]
    for name in names:
        values = np.array([f.get(name, np.nan) for f in fold_metrics], dtype=float)
        values = values[np.isfinite(values)]
        if len(values):
            out[name] = {"mean": float(values.mean()), "sd": float(values.std(ddof=1)) if len(values) > 1 else 0.0}
    return out


@dataclass
class ComparisonResult:
    """Every model of one comparison, trained on the same folds, with the data facts the warnings need."""

    id: str
    task: str
    target: str
    primary_metric: str
    runs: list[RunResult]
    positive_class: Any = None
    classes: list = field(default_factory=list)
    cv: int = 0
    seed: int = 42
    notes: list[str] = field(default_factory=list)
    class_counts: dict = field(default_factory=dict)
    train_rows: int = 0
    validation_rows: int = 0
    seconds: float = 0.0
    workers: int = 1
    cpu_seconds: float = 0.0  # processor time of every task (all workers) plus the coordinating process
    cv_scheme: dict = field(default_factory=dict)  # which cross-validation the folds followed (core.models.folds)
    feature_choice: dict = field(default_factory=dict)  # features used and left out, with why
    evidence: list[dict] = field(default_factory=list)  # single columns that alone reach EVIDENCE_LEVEL on validation
    left_out: list[dict] = field(default_factory=list)  # models not trained: [{key, label, code, reason}]

    def leaderboard(self, primary_metric: str | None = None, criteria=None) -> pd.DataFrame:
        """The runs as a table sorted by the primary metric, with warnings and the meets-criteria badge."""
        return leaderboard_frame(self.runs, self.task, primary_metric or self.primary_metric, criteria)

    def best(self, primary_metric: str | None = None) -> RunResult | None:
        """The best working run that is not the baseline (None when every model failed)."""
        return best_run(self.runs, primary_metric or self.primary_metric)

    def run(self, key: str) -> RunResult:
        for r in self.runs:
            if r.key == key:
                return r

        raise unknown("model", key, [r.key for r in self.runs], where="this comparison")


# -- reading a run's numbers (works for a fresh RunResult and a saved core.models.runs.Run alike) ------------------------------
GAP_LIMIT = 0.10  # train minus validation, for scores between 0 and 1
ERROR_GAP_RATIO = 1.5  # validation error this many times the training error
SD_LIMIT = 0.05  # fold-to-fold standard deviation, for scores between 0 and 1
SD_RATIO = 0.20  # fold SD relative to the mean, for error metrics
PERFECT = 0.98  # ROC-AUC or R² at or above this is checked for a leak
EVIDENCE_LEVEL = 0.98  # one column alone reaching this ROC-AUC or R² on validation is the evidence of a leak
DUMMY_MARGIN = 0.005
TINY_CLASS = 20


def _higher(metric: str) -> bool:
    return metric_entry(metric).higher_is_better


def _label(metric: str) -> str:
    return metric_entry(metric).label


def _finite(value: Any) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def headline(run, metric: str) -> float | None:
    """The value a run is ranked by: validation when measured, else the CV mean."""
    value = (run.validation_metrics or {}).get(metric)
    if not _finite(value):
        value = (run.cv_summary or {}).get(metric, {}).get("mean")
    return float(value) if _finite(value) else None


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def run_warnings(run, metric: str, baseline=None, class_counts: dict | None = None,
                 evidence: list[dict] | None = None) -> list[str]:
    """Plain warnings a careful reviewer would raise about one run: overfitting, unstable folds, leakage, no lift.

    A near-perfect score is called a leak only with `evidence` (single columns that alone reach EVIDENCE_LEVEL on
    validation, from core.models.training.single_column_evidence); without it the note is a calm one.
    """
    if run.error:
        return []
    out = []
    name, higher = _label(metric), _higher(metric)
    val, train = (run.validation_metrics or {}).get(metric), (run.train_metrics or {}).get(metric)
    if _finite(val) and _finite(train) and not run.is_baseline:
        if higher and train - val > GAP_LIMIT:
            out.append(f"Large train/validation gap: {name} {train:.3f} on training rows but {val:.3f} on validation, "
                       "so it may be memorising the training data (overfitting). Try simpler settings.")
        if not higher and val > ERROR_GAP_RATIO * train and val - train > 1e-9:
            out.append(f"Large train/validation gap: {name} {train:.4g} on training rows but {val:.4g} on "
                       "validation, so it may be memorising the training data (overfitting).")
    cv = (run.cv_summary or {}).get(metric)
    if cv and len(run.fold_metrics or ()) > 1:
        unstable = cv["sd"] > SD_LIMIT if metric not in ("mae", "rmse", "mape", "log_loss") else \
            abs(cv["mean"]) > 0 and cv["sd"] / abs(cv["mean"]) > SD_RATIO
        if unstable:
            out.append(f"High fold-to-fold variance: {name} {cv['mean']:.3f} ± {cv['sd']:.3f} across folds, so a "
                       "single score is not reliable. More rows, or fewer folds, steady it.")
    for key in ("roc_auc", "r2"):
        values = [v for v in ((run.validation_metrics or {}).get(key), (run.cv_summary or {}).get(key, {}).get("mean"))
                  if _finite(v)]
        if values and max(values) >= PERFECT and not run.is_baseline:
            out.append(_perfect_sentence(key, max(values), [e for e in evidence or () if e.get("metric") == key]))
    if baseline is not None and baseline is not run and not run.is_baseline and not baseline.error:
        mine, base = headline(run, metric), headline(baseline, metric)
        if mine is not None and base is not None:
            lift = mine - base if higher else base - mine
            if lift <= DUMMY_MARGIN:
                out.append(f"No better than the baseline: {name} {mine:.3f} vs {base:.3f} for a guess that ignores "
                           "every column. It has learnt nothing useful.")
    if class_counts:
        small = {c: n for c, n in class_counts.items() if n < TINY_CLASS}
        if small:
            listed = ", ".join(f"{format_class(c)!r} ({n})" for c, n in sorted(small.items(), key=lambda kv: kv[1]))
            out.append(f"Tiny classes: {listed} training rows, so scores on those outcomes rest on a handful of "
                       "cases. Collect more rows of them.")
    return out


def _perfect_sentence(key: str, value: float, evidence: list[dict]) -> str:
    if evidence:
        named = ", ".join(f"{e['column']!r} ({_label(key)} {e['value']:.3f})" for e in evidence[:3])
        first = evidence[0]["column"]
        return (f"Suspiciously perfect: {_label(key)} {value:.3f}, and a single column alone reaches almost the same on "
                f"validation: {named}. It likely leaks the answer (a copy of the target, or something recorded after "
                f"the outcome). Exclude it (Train page: Features; CLI: --exclude {first}) unless it is known before "
                "the prediction is made.")
    if key == "r2":
        return (f"The target is predicted almost exactly (R² {value:.3f}), and no single column explains it alone; "
                "check on the test set before relying on it.")
    return (f"Classes separate cleanly (ROC-AUC {value:.3f}), and no single column explains it alone; check on the "
            "test set before relying on it.")


def annotate_warnings(result: ComparisonResult) -> None:
    """Fills each run's warnings from the comparison (baseline, class counts, single-column evidence)."""
    baseline = next((r for r in result.runs if r.is_baseline and not r.error), None)
    for run in result.runs:
        run.warnings = run_warnings(run, result.primary_metric, baseline, result.class_counts, result.evidence)
        run.evidence = [dict(e) for e in result.evidence] if any("Suspiciously" in w for w in run.warnings) else []


def best_run(runs, metric: str):
    """The best working run that is not the baseline, by the primary metric (None when none worked)."""
    scored = [(headline(r, metric), r) for r in runs if not r.error and not r.is_baseline]
    scored = [(v, r) for v, r in scored if v is not None]
    if not scored:
        return None
    return (max if _higher(metric) else min)(scored, key=lambda vr: vr[0])[1]


READS_NO_TEXT = "reads_no_text"  # why a model was left out: every feature is free text and it reads no text


def left_out_models(runs) -> list[dict]:
    """The models a comparison did not train, with why ({key, label, code, reason}), from its runs' records."""
    out: dict[str, dict] = {}
    for r in runs:
        for m in (getattr(r, "extras", None) or {}).get("left_out_models") or ():
            out.setdefault(str(m.get("key")), dict(m))
    return list(out.values())


def left_out_line(runs) -> str:
    """One sentence naming the models a comparison did not train and why; "" when it trained every one asked for."""
    left = left_out_models(runs)
    if not left:
        return ""
    no_text = [m["label"] for m in left if m.get("code") == READS_NO_TEXT]
    parts = []
    if no_text:
        many = len(no_text) > 1
        names = no_text[0] if not many else ", ".join(no_text[:-1]) + " and " + no_text[-1]
        parts.append(f"{names} {'were' if many else 'was'} not trained: every feature is free text, which "
                     f"{'they do' if many else 'it does'} not read (linear models and naive Bayes read it as word and "
                     "character n-grams).")
    parts += [f"{m['label']} was not trained: {m.get('reason', '')}." for m in left if m.get("code") != READS_NO_TEXT]
    return " ".join(parts)


def leaderboard_frame(runs, task: str, metric: str, criteria=None) -> pd.DataFrame:
    """One row per run, best first: primary metric CV mean / SD / validation / gap, other validation metrics, costs,
    warnings and `meets_criteria` (None without criteria or for a failed run)."""
    others = [m.key for m in metrics_for(task) if m.key != metric]
    rows = []
    for r in runs:
        cv = (r.cv_summary or {}).get(metric, {})
        val, train = (r.validation_metrics or {}).get(metric), (r.train_metrics or {}).get(metric)
        gap = float(train - val) if _finite(val) and _finite(train) else None
        meets = None
        if criteria is not None and not r.error:
            basis = r.validation_metrics or {k: v["mean"] for k, v in (r.cv_summary or {}).items()}
            meets = bool(meets_criteria(criteria, basis))
        row = {"model": r.label, "key": r.key, "run_id": getattr(r, "id", None), "is_baseline": r.is_baseline,
               "cv_mean": cv.get("mean"), "cv_sd": cv.get("sd"), "validation": val, "gap": gap,
               **{f"val_{k}": (r.validation_metrics or {}).get(k) for k in others},
               "fit_seconds": r.fit_seconds, "predict_ms_per_1k": r.predict_ms_per_1k,
               "predict_ms_per_row": getattr(r, "predict_ms_per_row", None), "size_bytes": r.size_bytes,
               "meets_criteria": meets, "warnings": " ".join(r.warnings or ()), "n_warnings": len(r.warnings or ()),
               "error": r.error or "", "_sort": headline(r, metric)}
        rows.append(row)
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    higher = _higher(metric)
    df["_failed"] = df["error"] != ""
    df["_key"] = df["_sort"].astype(float) * (-1 if higher else 1)
    df = df.sort_values(["_failed", "_key"], na_position="last", kind="mergesort").drop(columns=["_failed", "_key",
                                                                                                 "_sort"])
    df.insert(0, "rank", range(1, len(df) + 1))
    schemes = list(dict.fromkeys((getattr(r, "cv_scheme", None) or {}).get("description", "") for r in runs))
    df.attrs.update(metric=metric, metric_label=_label(metric), higher_is_better=higher,
                    cv_scheme=" / ".join(s for s in schemes if s), left_out=left_out_line(runs))
    return df.reset_index(drop=True)


# -- paired comparison ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PairedComparison:
    """B minus A over the same CV folds (positive = B better), with a Nadeau-Bengio corrected t interval."""

    metric: str
    label_a: str
    label_b: str
    folds: int
    difference: float
    ci_low: float
    ci_high: float
    t: float
    p_value: float
    sentence: str


@dataclass(frozen=True)
class ComparisonChoice:
    """One comparison (one press of Train) among a split's runs: its id, when its newest run finished, how many runs."""

    id: str | None
    started: Any
    runs: int


def comparison_choices(runs) -> list[ComparisonChoice]:
    """The comparisons of `runs` (newest first, as `list_runs` returns them), newest first."""
    order = list(dict.fromkeys(r.comparison_id for r in runs))
    return [ComparisonChoice(c, next(r.created_at for r in runs if r.comparison_id == c),
                             sum(r.comparison_id == c for r in runs)) for c in order]


def comparison_runs(runs, comparison_id: str) -> list:
    """The runs of one comparison in training order (oldest first), from newest-first `runs`."""
    return [r for r in reversed(runs) if r.comparison_id == comparison_id]


def comparable_runs(runs) -> list:
    """Runs a paired comparison can use: trained without error and scored on cross-validation folds."""
    return [r for r in runs if not r.error and r.fold_metrics]


def default_pair(runs, metric: str) -> tuple[int, int] | None:
    """Positions (A, B) in `runs` (already `comparable_runs`) that the paired comparison opens on; None below two.

    A is the first run; B the best run that is not the baseline by its CV mean, in the metric's direction (a run
    without a CV mean ranks last), or the second run when the first is that best one.
    """
    if len(runs) < 2:
        return None
    sign = 1.0 if _higher(metric) else -1.0

    def rank(i: int) -> tuple[bool, float]:
        mean = (runs[i].cv_summary.get(metric) or {}).get("mean")
        return not runs[i].is_baseline, sign * float(mean) if _finite(mean) else -math.inf

    best = max(range(len(runs)), key=rank)
    return 0, best if best != 0 else 1


def paired_comparison(run_a, run_b, metric: str) -> PairedComparison:
    """Compares two runs fold by fold with the corrected resampled t-test (Nadeau & Bengio 2003). Raises: SpecInvalid."""
    from scipy import stats

    a = [f.get(metric) for f in run_a.fold_metrics or ()]
    b = [f.get(metric) for f in run_b.fold_metrics or ()]
    name = _label(metric)
    if run_a.error or run_b.error:
        raise SpecInvalid("A failed run has no fold scores to compare. Choose two runs that trained.")
    if len(a) < 2 or len(a) != len(b) or not all(_finite(v) for v in a + b):
        raise SpecInvalid(f"These runs do not share at least two cross-validation folds with {name} measured, so "
                          "they cannot be compared fold by fold. Train them together in one comparison.")
    same = run_a.seed == run_b.seed and getattr(run_a, "split_hash", "") == getattr(run_b, "split_hash", "")
    if not same:
        raise SpecInvalid("These runs used different folds (another split or seed), so a paired comparison would "
                          "mislead. Train them together in one comparison.")
    sign = 1.0 if _higher(metric) else -1.0
    d = sign * (np.array(b, dtype=float) - np.array(a, dtype=float))
    k = len(d)
    # Nadeau-Bengio: folds overlap in training rows, so the variance of the mean grows by n_test / n_train = 1/(k-1).
    se = math.sqrt((1.0 / k + 1.0 / (k - 1)) * float(np.var(d, ddof=1)))
    mean = float(d.mean())
    if se == 0.0:
        t, p, half = (0.0, 1.0, 0.0) if mean == 0 else (math.copysign(math.inf, mean), 0.0, 0.0)
    else:
        t = mean / se
        p = float(2 * stats.t.sf(abs(t), k - 1))
        half = float(stats.t.ppf(0.975, k - 1)) * se
    lo, hi = mean - half, mean + half
    how = f"(95% CI {lo:+.3f} to {hi:+.3f}; corrected paired t-test over {k} folds, p = {p:.3g})"
    if lo > 0:
        sentence = f"{run_b.label} beats {run_a.label} by {mean:.3f} {name} {how}."
    elif hi < 0:
        sentence = f"{run_a.label} beats {run_b.label} by {-mean:.3f} {name} {how}."
    else:
        sentence = (f"No clear difference: {run_b.label} minus {run_a.label} is {mean:+.3f} {name} {how}, within "
                    "what fold-to-fold noise produces.")
    return PairedComparison(metric, run_a.label, run_b.label, k, mean, lo, hi, float(t), float(p), sentence)


def verdict(runs, metric: str, criteria=None) -> str:
    """One sentence naming the best model against the primary metric and, when given, the success criteria; then,
    when the comparison left models out, the sentence that names them (`left_out_line`)."""
    left = left_out_line(runs)
    text = _verdict(runs, metric, criteria)
    return f"{text} {left}" if left else text


def _verdict(runs, metric: str, criteria=None) -> str:
    best = best_run(runs, metric)
    if best is None:
        return "No model trained successfully, so there is no best model yet. Read the errors on each row."
    value = headline(best, metric)
    where = "on validation" if _finite((best.validation_metrics or {}).get(metric)) else "in cross-validation"
    text = f"{best.label} is the best model by {_label(metric)} ({value:.3f} {where})"
    if criteria is None:
        return text + "."

    basis = best.validation_metrics or {k: v["mean"] for k, v in (best.cv_summary or {}).items()}
    checks = [c for c in evaluate_criteria(criteria, basis) if c.kind in ("primary", "guardrail")]
    failed = [c.text for c in checks if c.passed is not True]
    if not failed:
        return text + " and meets the success criteria."
    return text + " but does not meet the success criteria: " + "; ".join(failed) + "."
