"""Drift checks: compare a current data set with a reference, column by column, in one of two modes.

"Sound statistics" (method "sound", the default verdict): two-sample tests that account for the noise in both sets,
effect sizes, Benjamini-Hochberg across columns, time-like columns left out with the reason shown. A/A simulations
(tests/unit/test_drift_aa.py, bench/bench_drift.py) hold it to its stated false-alarm rate.
"Evidently parity" (the three other methods): Evidently 0.7.23's column typing (`evidently_kind`, its
core/datasets.py `infer_column_type` on the current set), its automatic tests and thresholds (core/monitor/stats.py),
so verdicts agree with its report, column by column (tests/unit/test_drift_parity.py). Everything is computed on
value counts, so 500k rows take seconds. Two options go beyond Evidently and say so in the method label: thresholds
calibrated on the reference itself, and Benjamini-Hochberg.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd

from core.errors import SchemaMismatch, SpecInvalid
from core.monitor import stats
from core.monitor.reference import (
    SMALL_SAMPLE,
    ColumnSummary,
    ReferenceSummary,
    bucket,
    check_present,
    check_rows,
    check_same_family,
    column_counts,
    resolve_kinds,
    summarize_column,
)
from core.monitor.stats import TESTS, Counts

METHODS = {
    "sound": "Sound statistics: two-sample tests on both sets (K-S for numbers, chi-square or an exact test for "
             "categories), with effect sizes",
    "evidently-default": "Evidently's default: p-value tests up to 1,000 reference rows, distances above",
    "p-value": "Always a p-value test (K-S for numbers, chi-square or Z-test for categories)",
    "distance": "Always a distance (Wasserstein for numbers, Jensen-Shannon for categories)",
}

EVIDENTLY_METHODS = ("evidently-default", "p-value", "distance")
INTEGER_CARDINALITY_LIMIT = 10      # Evidently core/datasets.py: integer columns with at most this many values are
                                    # categorical

__all__ = ["METHODS", "EVIDENTLY_METHODS", "DriftOptions", "ColumnDrift", "DriftResult", "ReferenceSummary",
           "summarize_reference", "check_drift", "check_prediction_drift", "evidently_kind"]


@dataclass(frozen=True)
class DriftOptions:
    """How a drift check decides: the method family, thresholds, and the two options beyond Evidently."""

    method: str = "sound"               # a key of METHODS
    calibrated: bool = False            # threshold from the reference's own spread (bootstrap) instead of fixed
    bh: bool | None = None              # Benjamini-Hochberg across the columns' p-values; None: on for "sound"
    alpha: float = 0.05                 # p-value threshold, and the false-alarm rate of calibrated thresholds
    seed: int = 0
    max_categories: int = 50            # more categories: the most common kept by name, the rest bucketed
    max_columns: int = 200
    drift_share: float = 0.5            # dataset drift when at least this share of columns drifted
    distance_threshold: float = 0.1     # Evidently's threshold for Wasserstein (normed) and Jensen-Shannon
    n_boot: int = 199                   # resamples for calibrated thresholds

    @property
    def is_sound(self) -> bool:
        return self.method == stats.SOUND

    @property
    def uses_bh(self) -> bool:
        """Whether Benjamini-Hochberg applies: as chosen, or by default in the sound mode only."""
        return self.is_sound if self.bh is None else bool(self.bh)

    @property
    def mode_label(self) -> str:
        return "Sound statistics" if self.is_sound else "Evidently parity"

    def to_dict(self) -> dict:
        """Returns the options as a JSON-safe dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "DriftOptions":
        """Builds options from `to_dict` output, ignoring unknown keys."""
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass
class ColumnDrift:
    """One row of the drift table."""

    column: str
    kind: str
    method: str = ""
    test: str = ""                       # key of its entry in core.monitor.stats.DRIFT_TESTS
    statistic: float | None = None
    threshold: float | None = None
    p_value: float | None = None
    distance: float | None = None
    p_value_adjusted: float | None = None
    drift: bool | None = None            # None: the column was not compared
    effect: str = ""
    n_reference: int = 0
    n_current: int = 0
    notes: str = ""
    conclusive: bool = True
    excluded: bool = False
    calibrated: bool = False             # threshold applies to the statistic, p_value is the bootstrap p
    effect_measure: str = ""             # "Wasserstein / std" or "Cramer's V"
    effect_size: float | None = None

    @property
    def severity(self) -> float:
        """How far past its threshold the column is (above 1 means drift), to rank columns."""
        if self.excluded or not self.threshold or not math.isfinite(self.threshold):
            return 0.0
        if self.calibrated:
            return float(self.statistic) / self.threshold
        if self.distance is not None:
            return self.distance / self.threshold
        p = self.p_value_adjusted if self.p_value_adjusted is not None else self.p_value
        return -math.log10(max(p, 1e-300)) / -math.log10(self.threshold)


@dataclass
class DriftResult:
    """A drift check: one row per column, the dataset verdict and a sentence for stakeholders."""

    columns: list[ColumnDrift]
    options: DriftOptions
    n_reference: int
    n_current: int
    prediction: ColumnDrift | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def compared(self) -> list[ColumnDrift]:
        return [c for c in self.columns if not c.excluded]

    @property
    def drifted(self) -> list[ColumnDrift]:
        """Drifted columns, most drifted first."""
        return sorted((c for c in self.compared if c.drift), key=lambda c: -c.severity)

    @property
    def drift_share(self) -> float:
        return len(self.drifted) / len(self.compared) if self.compared else 0.0

    @property
    def dataset_drift(self) -> bool:
        return bool(self.compared) and self.drift_share >= self.options.drift_share

    @property
    def inconclusive(self) -> list[ColumnDrift]:
        return [c for c in self.compared if not c.conclusive]

    @property
    def verdict(self) -> str:
        """One plain sentence for stakeholders."""
        n, k = len(self.compared), len(self.drifted)
        if n == 0:
            return "Nothing was compared: every chosen column was left out (see the notes)."
        top = self.drifted[:3]
        names = ", ".join(repr(c.column) for c in top) + (" and others" if k > 3 else "")
        line = f"{self.options.drift_share:.0%} line for dataset drift"
        if self.dataset_drift:
            text = (f"Drift detected: {k} of {n} columns ({self.drift_share:.0%}) changed, led by "
                    f"{top[0].column!r} ({top[0].effect}). Check the model before trusting its predictions.")
        elif k:
            text = f"Mostly stable: {k} of {n} columns ({self.drift_share:.0%}) changed ({names}), below the {line}."
        else:
            text = f"No drift: none of the {n} columns changed beyond its threshold."
        if self.prediction is not None and self.prediction.drift:
            text += f" The model's predictions shifted too ({self.prediction.effect})."
        if self.inconclusive:
            text += f" {len(self.inconclusive)} column(s) had too few values to conclude."
        return text

    @property
    def false_alarm_note(self) -> str:
        """States what the chosen mode really does, and how often it flags stable columns by chance."""
        o = self.options
        if o.calibrated:
            text = (f"{o.mode_label}, thresholds calibrated by reshuffling: each statistic is compared with its "
                    f"spread over {o.n_boot} reshuffles of both sets' rows into sets of their real sizes (a "
                    f"permutation test), so a stable column is flagged at most about {o.alpha:.0%} of the time (A/A "
                    f"simulations at 100 to 100,000 rows, 1:10 to 10:1: at most {o.alpha + 0.02:.0%}).")
        elif o.is_sound:
            text = (f"Sound statistics: two-sample tests that count the noise in both sets (K-S for numbers; "
                    f"chi-square on the table of both sides' counts for categories, or an exact test when counts "
                    f"are small). A stable column is flagged about {o.alpha:.0%} of the time (A/A simulations at "
                    f"100 to 100,000 rows, 1:10 to 10:1, 2 to 20 categories: at most {o.alpha + 0.02:.0%}).")
        else:
            text = (f"Evidently parity: Evidently 0.7.23's own tests and thresholds, so the verdicts match its "
                    f"report. Its K-S and Z tests flag about {o.alpha:.0%} of stable columns; its chi-square treats "
                    "the reference shares as exact, so it flags stable categorical columns far more often (more so "
                    f"when the current set is larger); the fixed {o.distance_threshold} distance threshold has no "
                    "stated false-alarm rate. Use Sound statistics for the verdict.")
        if o.uses_bh:
            text += (f" Benjamini-Hochberg across the columns: among flagged columns at most {o.alpha:.0%} are "
                     "expected to be false alarms, and a stable column is flagged less often than without it.")
        time_like = [c.column for c in self.columns if c.excluded and "moves on it by design" in c.notes]
        if time_like:
            text += (f" Left out as time-like (they move by design): {', '.join(repr(c) for c in time_like[:5])}"
                     + (" …" if len(time_like) > 5 else "") + ".")
        return text

    def table(self) -> pd.DataFrame:
        """Returns the drift table for display: one row per column, drifted first."""
        rows = sorted(self.columns, key=lambda c: (c.excluded, not c.drift, -c.severity))
        if self.prediction is not None:
            rows = [self.prediction] + rows
        data = [{
            "column": c.column, "kind": c.kind, "method": c.method or "not compared",
            "statistic": c.statistic, "threshold": c.threshold, "p_value": c.p_value, "distance": c.distance,
            **({"p_value_bh": c.p_value_adjusted} if self.options.uses_bh else {}),
            "drift": "—" if c.drift is None else ("yes" if c.drift else "no"),
            "effect": c.effect, "effect_size": c.effect_size, "effect_measure": c.effect_measure, "n_reference": c.n_reference, "n_current": c.n_current, "notes": c.notes,
        } for c in rows]
        return pd.DataFrame(data)

    def to_dict(self) -> dict:
        """Returns a JSON-safe record of the check, for saving in the workspace."""
        def clean(row: ColumnDrift) -> dict:
            d = asdict(row)
            return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}

        return {"schema": 1, "options": self.options.to_dict(), "n_reference": self.n_reference,
                "n_current": self.n_current, "n_compared": len(self.compared), "n_drifted": len(self.drifted),
                "drift_share": self.drift_share, "dataset_drift": self.dataset_drift, "verdict": self.verdict,
                "false_alarm_note": self.false_alarm_note, "notes": list(self.notes),
                "columns": [clean(c) for c in self.columns],
                "prediction": clean(self.prediction) if self.prediction is not None else None}


def summarize_reference(reference: pd.DataFrame, columns: dict[str, str] | None = None,
                        options: DriftOptions | None = None) -> ReferenceSummary:
    """Summarizes the reference once (value counts per column), so many current sets can be compared with it.

    Raises:
        SchemaMismatch: a chosen column is missing or holds the wrong sort of values.
        SpecInvalid: too few rows, an empty column, an unknown kind or too many columns.
    """
    options = options or DriftOptions()
    _check_options(options)
    kinds = resolve_kinds(reference, columns, options.max_columns)
    check_present(reference, list(kinds), "reference")
    duplicated = sorted({str(c) for c in reference.columns[reference.columns.duplicated()]} & set(map(str, kinds)))
    if duplicated:
        raise SchemaMismatch(f"Column {duplicated[0]!r} appears twice in the reference. Rename one of them.")
    check_rows(len(reference), "reference")
    summary = ReferenceSummary(n_rows=len(reference), max_categories=options.max_categories)
    for name, kind in kinds.items():
        summary.columns[name] = summarize_column(reference[name], kind, options.max_categories)
    return summary


def check_drift(reference: pd.DataFrame | ReferenceSummary, current: pd.DataFrame,
                columns: dict[str, str] | None = None, options: DriftOptions | None = None,
                prediction_column: str | None = None) -> DriftResult:
    """Compares every chosen column of the current set with the reference and gives the dataset verdict.

    `reference` may be a saved `ReferenceSummary`. A `prediction_column` (model scores or labels, present on both
    sides) is reported as prediction drift and not counted in the share of drifted columns.

    Raises:
        SchemaMismatch: a column is missing on one side or holds another sort of values there.
        SpecInvalid: too few rows, an empty column, bad options or too many columns.
    """
    options = options or DriftOptions()
    if isinstance(reference, ReferenceSummary):
        _check_options(options)
        summary = reference
        if columns is not None:
            unknown = [c for c in columns if c not in summary.columns]
            if unknown:
                raise SchemaMismatch(f"The saved reference summary has no column {unknown[0]!r}. "
                                     "Summarize the reference again with that column included.")
            summary = ReferenceSummary(summary.n_rows, {c: summary.columns[c] for c in columns},
                                       summary.max_categories)
    else:
        if columns is not None and prediction_column is not None and prediction_column not in columns:
            kind = "numeric" if pd.api.types.is_float_dtype(reference.get(prediction_column)) else "categorical"
            columns = {**columns, prediction_column: kind}
        summary = summarize_reference(reference, columns, options)
    if prediction_column is not None and prediction_column not in summary.columns:
        raise SchemaMismatch(f"The reference has no prediction column {prediction_column!r}. "
                             "Score the reference with the model first, or leave prediction drift out.")
    check_present(current, list(summary.columns), "current")
    check_rows(len(current), "current")
    rows = []
    for index, (name, col) in enumerate(summary.columns.items()):
        if col.excluded:
            rows.append(ColumnDrift(name, col.kind, n_reference=col.n, notes=col.excluded, excluded=True))
            continue
        if options.is_sound and col.time_like and name != prediction_column:
            rows.append(ColumnDrift(name, col.kind, n_reference=col.n, notes=col.time_like, excluded=True))
            continue
        rng = np.random.default_rng(np.random.SeedSequence([options.seed, index]))
        if not options.is_sound:
            col, reason = _as_evidently_types(col, current[name])
            if reason:
                rows.append(ColumnDrift(name, col.kind, n_reference=col.n, notes=reason, excluded=True))
                continue
        rows.append(_compare(col, current[name], options, rng))
    prediction = next((r for r in rows if r.column == prediction_column), None)
    rows = [r for r in rows if r is not prediction]
    if options.uses_bh:
        _apply_bh(rows, options.alpha)
    notes = []
    if len(current) < SMALL_SAMPLE or summary.n_rows < SMALL_SAMPLE:
        notes.append(f"Only {min(len(current), summary.n_rows):,} rows on one side: too few to rule drift in or "
                     f"out; {SMALL_SAMPLE}+ rows per side are needed for a conclusion.")
    return DriftResult(rows, options, summary.n_rows, len(current), prediction, notes)


def check_prediction_drift(reference_scores: pd.Series, current_scores: pd.Series, kind: str | None = None,
                           options: DriftOptions | None = None) -> ColumnDrift:
    """Compares a model's scores (or predicted labels) on the reference with those on the current set.

    Raises:
        SpecInvalid: too few or no scores.
    """
    name = str(reference_scores.name or "prediction")
    if kind is None:
        kind = "numeric" if pd.api.types.is_float_dtype(reference_scores) else "categorical"
    ref = pd.DataFrame({name: np.asarray(reference_scores)})
    cur = pd.DataFrame({name: np.asarray(current_scores)})
    return check_drift(ref, cur, {name: kind}, options).columns[0]


def _check_options(o: DriftOptions) -> None:
    if o.method not in METHODS:
        raise SpecInvalid(f"Unknown drift method {o.method!r}. Choose one of: {', '.join(METHODS)}.")
    if not 0 < o.alpha < 0.5:
        raise SpecInvalid(f"The significance level must be between 0 and 0.5; got {o.alpha}. 0.05 is usual.")
    if not 0 < o.drift_share <= 1:
        raise SpecInvalid(f"The dataset drift share must be between 0 and 1; got {o.drift_share}.")
    if not 2 <= o.max_categories <= 1000:
        raise SpecInvalid(f"Categories kept by name must be between 2 and 1000; got {o.max_categories}.")
    if o.distance_threshold <= 0:
        raise SpecInvalid(f"The distance threshold must be above 0; got {o.distance_threshold}.")
    if o.bh is not None and not isinstance(o.bh, bool):
        raise SpecInvalid(f"The Benjamini-Hochberg option must be on, off or left to the mode; got {o.bh!r}.")
    if o.calibrated and o.n_boot * o.alpha < 5:
        raise SpecInvalid(f"{o.n_boot} resamples are too few for a {o.alpha} level; use at least "
                          f"{math.ceil(5 / o.alpha)}.")


def _compare(col: ColumnSummary, series: pd.Series, options: DriftOptions, rng: np.random.Generator) -> ColumnDrift:
    check_same_family(col.name, col.family, series)
    cur, cur_missing = column_counts(series, col.kind, "current")
    if col.kept is not None:
        cur = bucket(cur, col.kept)
    ref = col.counts
    key = stats.choose_test(col.kind, ref.n, _n_values(col.kind, ref, cur), options.method)
    spec = TESTS[key]
    statistic, score = spec.run(ref, cur, col.std)
    row = ColumnDrift(col.name, col.kind, spec.label, key, statistic, n_reference=ref.n, n_current=cur.n)
    if options.calibrated:
        null = spec.null_statistic(ref, ref.n, cur.n, col.std, options.n_boot, rng, cur)
        row.p_value, row.threshold = stats.calibrate(statistic, null, options.alpha)
        row.drift = row.p_value <= options.alpha
        row.calibrated = True
        row.method = f"{spec.statistic}, threshold calibrated by reshuffling both sets"
        row.distance = score if spec.score_kind == "distance" else None
    elif spec.score_kind == "p-value":
        row.threshold, row.p_value = options.alpha, score
        row.drift = spec.is_drift(score, options.alpha)
    else:
        row.threshold, row.distance = options.distance_threshold, score
        row.drift = spec.is_drift(score, options.distance_threshold)
    row.effect = _effect(col, ref, cur, cur_missing)
    row.effect_measure, row.effect_size = stats.effect_size(col.kind, ref, cur, col.std)
    notes = [col.note] if col.note else []
    if min(ref.n, cur.n) < SMALL_SAMPLE:
        row.conclusive = False
        side = "reference" if ref.n <= cur.n else "current set"
        notes.append(f"only {min(ref.n, cur.n):,} values in the {side}: too few to rule drift in or out")
    row.notes = "; ".join(notes)
    return row


def evidently_kind(series: pd.Series) -> str:
    """Evidently 0.7.23's type for a column it infers (core/datasets.py `infer_column_type`, applied by its Report to
    the current set): "numeric", "categorical", "text", "datetime" or "unknown"."""
    name = series.dtype.name
    if name.startswith("float"):
        return "numeric"
    if name.startswith("int"):
        return "categorical" if series.nunique() <= INTEGER_CARDINALITY_LIMIT else "numeric"
    if name in ("string", "str"):
        return "text" if series.nunique() > series.count() * 0.5 else "categorical"
    if name == "object":
        values = series.dropna()
        if values.count() == 0:
            return "unknown"
        if isinstance(values.iloc[0], str) and isinstance(values.iloc[-1], str):
            return "text" if series.nunique() > series.count() * 0.5 else "categorical"
        return "unknown"
    if name in ("bool", "category"):
        return "categorical"
    if name.startswith("datetime"):
        return "datetime"
    return "unknown"


_EVIDENTLY_LEFT_OUT = {
    "text": "Evidently types it as free text (more distinct values than half the rows) and tests text with a "
            "classifier this table does not reproduce, so it is left out in Evidently parity",
    "datetime": "Evidently types it as a date, which its drift preset does not test",
}


def _as_evidently_types(col: ColumnSummary, current: pd.Series) -> tuple[ColumnSummary, str]:
    """Re-types a reference summary the way Evidently types the current column: e.g. whole numbers with at most 10
    values become categories. Returns the summary to compare and, for a column Evidently would not test, why."""
    kind = evidently_kind(current)
    if kind == "unknown":   # e.g. pandas' nullable Int64: Evidently needs it declared; it is, as the workspace types it
        note = f"Evidently does not infer a type for dtype {current.dtype}; compared as {col.kind}, as declared"
        return replace(col, note="; ".join(filter(None, [col.note, note]))), ""
    if kind in _EVIDENTLY_LEFT_OUT:
        return col, _EVIDENTLY_LEFT_OUT[kind].format(dtype=current.dtype)
    if kind == col.kind or col.counts is None:
        return col, ""
    note = f"typed {kind} as Evidently types it (dtype {current.dtype}, {current.nunique():,} values)"
    if kind == "categorical":
        keys = col.counts.keys
        labels = np.asarray([str(int(k)) if float(k).is_integer() else str(k) for k in keys], dtype=object)
        order = np.argsort(labels)
        counts = Counts(labels[order], col.counts.counts[order])
        return replace(col, kind="categorical", counts=counts, note="; ".join(filter(None, [col.note, note]))), ""
    try:
        keys = col.counts.keys.astype(np.float64)
    except ValueError:
        return col, f"Evidently types it as numbers but the reference holds text ({col.counts.keys[0]!r})"
    order = np.argsort(keys, kind="stable")
    counts = Counts(keys[order], col.counts.counts[order])
    values = np.repeat(counts.keys, counts.counts)
    return replace(col, kind="numeric", counts=counts, std=float(np.std(values)), kept=None,
                   note="; ".join(filter(None, [col.note, note]))), ""


def _n_values(kind: str, ref: Counts, cur: Counts) -> int:
    """Distinct values of both sides together, exact up to FEW_VALUES + 1 (all the test choice needs)."""
    if kind == "numeric" and (len(ref.keys) > stats.FEW_VALUES or len(cur.keys) > stats.FEW_VALUES):
        return stats.FEW_VALUES + 1
    return len(np.union1d(ref.keys, cur.keys))


def _apply_bh(rows: list[ColumnDrift], alpha: float) -> None:
    tested = [r for r in rows if not r.excluded and r.p_value is not None]
    adjusted = stats.adjust_benjamini_hochberg(np.array([r.p_value for r in tested]))
    for row, adj in zip(tested, adjusted):
        row.p_value_adjusted = float(adj)
        row.drift = bool(adj <= alpha)
        row.method += ", Benjamini-Hochberg"


def _effect(col: ColumnSummary, ref: Counts, cur: Counts, cur_missing: int) -> str:
    """Describes the change in words a person can read."""
    if col.kind == "numeric":
        m0, m1 = np.average(ref.keys, weights=ref.counts), np.average(cur.keys, weights=cur.counts)
        s0 = col.std
        s1 = math.sqrt(np.average((cur.keys - m1) ** 2, weights=cur.counts))
        moved = abs(m1 - m0) / s0 if s0 > 0 else (math.inf if m1 != m0 else 0.0)
        spread = abs(math.log(s1 / s0)) if s0 > 0 and s1 > 0 else 0.0
        if spread > max(moved, math.log(1.1)):
            text = f"spread {'widened' if s1 > s0 else 'narrowed'} from {_num(s0)} to {_num(s1)} (std)"
        else:
            a, b = _num(m0), _num(m1)
            text = f"mean moved from {a} to {b}" if a != b else f"mean stayed near {a}"
    else:
        keys, a, b = stats.align(ref, cur)
        pa, pb = a / a.sum(), b / b.sum()
        change = np.round(np.abs(pb - pa), 12)
        relative = change / np.maximum(np.maximum(pa, pb), 1e-300)  # ties: the category that changed most for its size
        i = int(np.lexsort((relative, change))[-1])
        label = str(keys[i])[:40]
        if pa[i] == 0:
            text = f"new value {label!r} makes up {_pct(pb[i])} of the current set"
        elif pb[i] == 0:
            text = f"{label!r} ({_pct(pa[i])} of the reference) is absent from the current set"
        elif _pct(pa[i]) == _pct(pb[i]):
            text = f"shares stayed close ({label!r}: {_pct(pa[i])} on both sides)"
        else:
            text = f"share of {label!r} {'rose' if pb[i] > pa[i] else 'fell'} from {_pct(pa[i])} to {_pct(pb[i])}"
    e0 = col.n_missing / (col.n_missing + ref.n)
    e1 = cur_missing / (cur_missing + cur.n)
    if abs(e1 - e0) >= 0.05:
        text += f"; empty cells {'rose' if e1 > e0 else 'fell'} from {_pct(e0)} to {_pct(e1)}"
    return text


def _num(v: float) -> str:
    """Three significant digits without scientific notation: 42.0, 51.3, 0.0123, 12,345."""
    if v == 0 or not math.isfinite(v):
        return f"{v:g}"
    decimals = max(0, 2 - int(math.floor(math.log10(abs(v)))))
    return f"{v:,.{decimals}f}"


def _pct(share: float) -> str:
    return f"{share:.1%}" if 0 < share < 0.01 else f"{share:.0%}"
