"""Trains and compares catalog models: cross-validation on the train set, then one fit scored on validation.

- The CV folds follow the split (`core.models.folds`: shuffled, group-aware or time-ordered) and tuning uses the
  same folds; the features are a `core.models.features.FeatureChoice` (default: usable columns minus the target).
- Latency is timed on a fixed batch of LATENCY_ROWS rows resampled from validation; a near-perfect score is
  checked against single-column evidence (`single_column_evidence`) before the leaderboard calls it a leak.

- Every model is assembled by `core.models.pipeline.build_pipeline` (preprocessing plus the catalog estimator).
- `compare(train_df, val_df, target, task, specs, columns, ...) -> ComparisonResult` (see core.models.leaderboard).
  A model that can read none of the features (every feature free text, a model that reads no text) is not trained
  and has no row: `ComparisonResult.left_out` names it with why, and so does each saved run.
- `tune(train_df, target, task, spec, columns, ...) -> dict`: random or grid search within a budget (the
  trials, the best settings and their gain over the defaults; stored as a run's `tuning`).
The test set is never read here. Work runs in two worker processes (one core each, so nothing oversubscribes) when
the data is large enough to pay for starting them; see core.models.workers.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.catalog import (
    MODELS,
    ModelSpec,
    metric_entry,
    model_entry,
    models_for,
    param_candidates,
    resolve_params,
)
from core.errors import (
    NotFound,
    SpecInvalid,
    TargetNotUsable,
    WorkbenchError,
    did_you_mean,
)
from core.models import workers
from core.models.features import FeatureChoice, choose_features
from core.models.folds import NO_CV, CvPlan, CvScheme, make_folds
from core.models.leaderboard import (
    EVIDENCE_LEVEL,
    PERFECT,
    READS_NO_TEXT,
    ComparisonResult,
    RunResult,
    annotate_warnings,
)
from core.models.pipeline import build_pipeline, library_versions
from core.models.preprocess import TEXT_KIND
from core.store.workspace import new_id

log = logging.getLogger(__name__)

MAX_FOLDS = 10
LATENCY_ROWS = 1_000  # prediction time is measured on this many rows resampled from validation
DEFAULT_METRIC = {"binary": "roc_auc", "multiclass": "f1", "regression": "r2"}
Progress = Callable[[float | None, str], None]  # (fraction done or None to keep it, what is happening)


class TrainingCancelled(WorkbenchError):
    """The user cancelled a comparison or a tuning search; nothing was saved."""


# -- preparing the data ------------------------------------------------------------------------------------------------
@dataclass
class _Context:
    task: str
    target: str
    columns: dict
    features: list[str]
    y: np.ndarray
    classes: list
    positive_class: Any
    folds: list[tuple[np.ndarray, np.ndarray]]
    seed: int
    source: str  # the data token workers read the frames by
    has_validation: bool
    notes: list[str] = field(default_factory=list)
    class_counts: dict = field(default_factory=dict)
    cv_scheme: CvScheme = NO_CV
    feature_choice: FeatureChoice | None = None


def _choose(columns: dict, target: str, features, train: pd.DataFrame) -> FeatureChoice:
    """The feature choice, checked against the training rows: chosen columns must be there, and text not empty."""
    choice = features if isinstance(features, FeatureChoice) else choose_features(
        columns, target, None if features is None else list(features))
    kinds = {str(c): k for c, k in columns.items()}
    missing = [c for c in choice.used if c not in train.columns]
    if missing and choice.chosen != "default":
        raise SpecInvalid(f"The training rows have no column {missing[0]!r}. Choose features of this dataset.")
    used, left = [], list(choice.left_out)
    for c in choice.used:
        if c in missing:
            continue
        if kinds.get(c) == TEXT_KIND and not train[c].astype(str).str.strip().where(train[c].notna(), "").any():
            if choice.chosen != "default":
                raise SpecInvalid(f"Text column {c!r} is empty in every training row, so it carries no words for a "
                                  "model. Leave it out of the features, or fill it in.")
            left.append({"column": c, "reason": "free text that is empty in every training row"})
            continue
        used.append(c)
    if not used:
        raise SpecInvalid("No chosen column is usable in the training rows. Choose other features.")
    return FeatureChoice(tuple(used), tuple(left), choice.sensitive_used, choice.sensitive_reason, choice.chosen)


def _prepare(train_df: pd.DataFrame, val_df: pd.DataFrame | None, target: str, task: str, columns: dict,
             cv: int, seed: int, positive_class: Any, features=None, cv_plan: CvPlan | None = None,
             ) -> tuple[_Context, pd.DataFrame, np.ndarray, pd.DataFrame | None]:
    if task not in ("binary", "multiclass", "regression"):
        raise SpecInvalid(f"Training compares models that predict a target; a {task} project uses clustering instead.")
    if target not in train_df.columns:
        raise SpecInvalid(f"The training rows have no column {target!r}. Check the project's target.")
    cv = int(cv)
    if cv != 0 and not 2 <= cv <= MAX_FOLDS:
        raise SpecInvalid(f"Cross-validation needs 2 to {MAX_FOLDS} folds (or 0 for none), not {cv}.")
    notes = []
    keep = train_df[target].notna().to_numpy()
    if not keep.all():
        notes.append(f"{int((~keep).sum()):,} training rows with no {target!r} were left out.")
    train = train_df.loc[keep].reset_index(drop=True)
    choice = _choose(columns, target, features, train)
    features = list(choice.used)
    y = train[target].to_numpy()
    classes, counts = [], {}
    if task == "regression":
        y = pd.to_numeric(train[target], errors="coerce").to_numpy(dtype=float)
    else:
        values, n = np.unique(y, return_counts=True)
        classes, counts = values.tolist(), dict(zip(values.tolist(), n.tolist()))
        if len(classes) < 2:
            raise TargetNotUsable(f"The training rows hold only one value of {target!r}, so there is nothing to "
                                  "learn. Create a split whose train set holds every outcome.")
        if task == "binary" and len(classes) != 2:
            raise TargetNotUsable(f"A two-outcome project needs two values of {target!r} in training; found "
                                  f"{len(classes)}. Check the project's task.")
        positive_class = positive_class if positive_class in classes else (classes[1] if task == "binary" else None)
    if len(train) < max(cv, 2) * 2:
        raise SpecInvalid(f"Only {len(train)} training rows: too few for {cv}-fold cross-validation. Upload more rows "
                          "or lower the number of folds.")
    folds, scheme = make_folds(train, y, task, cv, seed, cv_plan, counts)
    val = None
    if val_df is not None and len(val_df):
        vkeep = val_df[target].notna().to_numpy()
        if not vkeep.all():
            notes.append(f"{int((~vkeep).sum()):,} validation rows with no {target!r} were left out.")
        val = val_df.loc[vkeep].reset_index(drop=True)
    if val is None or not len(val):
        notes.append("There is no validation set, so models are compared on cross-validation only.")
        val = None
    kinds = {str(c): k for c, k in columns.items()}
    used_kinds = {c: kinds[c] for c in features} | ({target: kinds[target]} if target in kinds else {})
    ctx = _Context(task, target, used_kinds, features, y, classes, positive_class, folds,
                   int(seed), "",
                   val is not None, notes, counts, scheme, choice)
    return ctx, train, y, val


def _normalise_specs(specs: Sequence[ModelSpec | str], task: str) -> list[ModelSpec]:
    out = [s if isinstance(s, ModelSpec) else ModelSpec(str(s)) for s in specs]
    known = {m.key for m in MODELS}
    for s in out:
        if s.key not in known:
            raise NotFound(f"No model {s.key!r} in the catalog.{did_you_mean(s.key, known)} Models for {task}: "
                           f"{', '.join(m.key for m in models_for(task))}.")
    if not any(model_entry(s.key).is_baseline for s in out):
        out.insert(0, ModelSpec("dummy"))  # the baseline row is always there to beat
    for s in out:
        entry = model_entry(s.key)
        if task not in entry.tasks:
            raise SpecInvalid(f"{entry.label} does not do {task}. Choose one of: "
                              f"{', '.join(m.label for m in models_for(task))}.")
        resolve_params(entry, s.params, task)
    return out


# -- comparing ---------------------------------------------------------------------------------------------------------
def compare(train_df: pd.DataFrame, val_df: pd.DataFrame | None, target: str, task: str,
            specs: Sequence[ModelSpec | str], columns: dict[str, str], *, cv: int = 5, seed: int = 42,
            positive_class: Any = None, primary_metric: str | None = None, tune_trials: int = 0,
            tune_seconds: float | None = None, tune_method: str = "random", n_jobs: int | None = None,
            progress: Progress | None = None, cancel=None, features: FeatureChoice | Sequence[str] | None = None,
            cv_plan: CvPlan | None = None) -> ComparisonResult:
    """Cross-validates each model on the train rows, fits it on all of them and scores it on validation.

    `features`: a FeatureChoice, a list of columns, or None (every usable column but the target); `cv_plan`: how
    the split was cut (core.models.folds), None for shuffled folds. A model that fails is reported on its row; the
    others go on. Raises: SpecInvalid, TargetNotUsable, NotFound, TrainingCancelled.
    """
    if task not in DEFAULT_METRIC:
        raise SpecInvalid(f"Training compares models that predict a target; a {task} project uses clustering instead.")
    specs = _normalise_specs(specs, task)
    metric = _primary(primary_metric, task)
    ctx, train, y, val = _prepare(train_df, val_df, target, task, columns, cv, seed, positive_class, features, cv_plan)
    started, cpu = time.perf_counter(), time.process_time()
    n_workers = workers.worker_count(len(train), n_jobs)
    skipped = _unreadable(ctx, specs)
    if skipped and all(i in skipped or model_entry(s.key).is_baseline for i, s in enumerate(specs)):
        names = [model_entry(specs[i].key).label for i in skipped]
        raise SpecInvalid(f"Nothing to train: every feature of this table is free text, which {_names(names)} "
                          f"{'does' if len(names) == 1 else 'do'} not read. Choose a model that reads text (linear "
                          "models, naive Bayes), or add a column that is not free text.")
    text = _text_counts(ctx, train, val, [s for i, s in enumerate(specs) if i not in skipped], n_workers)
    with workers.shared_frames(train[ctx.features], y, val, target, n_workers, text) as source:
        ctx.source = source
        tuned: dict[int, dict] = {}
        if tune_trials or tune_seconds:
            for i, spec in enumerate(specs):
                if i in skipped or model_entry(spec.key).is_baseline or not model_entry(spec.key).params_for(task):
                    continue
                label = model_entry(spec.key).label
                tuned[i] = _search(ctx, spec, metric, tune_trials or 10_000, tune_seconds, tune_method, n_workers,
                                   _scaled(progress, i, len(specs), f"Tuning {label}"), cancel)
                specs[i] = ModelSpec(spec.key, tuned[i]["best_params"])
        tasks = []
        # Costliest models first, so the two workers finish together instead of one idling at the end.
        order = sorted(range(len(specs)), key=lambda i: -model_entry(specs[i].key).cost if n_workers > 1 else i)
        for i in (i for i in order if i not in skipped):
            for j in range(len(ctx.folds)):
                tasks.append(workers.task(ctx, specs[i], i, fold=j, n_jobs=1 if n_workers > 1 else None))
            tasks.append(workers.task(ctx, specs[i], i, fold=None, n_jobs=1 if n_workers > 1 else None))
        results: dict[int, dict] = {}
        done = 0
        for index, out in workers.run_tasks(tasks, n_workers, cancel):
            results[index] = out
            done += 1
            t = tasks[index]
            label = model_entry(t["spec"].key).label
            where = f"fold {t['fold'] + 1} of {len(ctx.folds)}" if t["fold"] is not None else "final fit"
            if progress:
                progress(done / len(tasks), f"Model {t['model'] + 1} of {len(specs)} ({label}): {where} done")
        if cancel is not None and cancel.is_set():
            raise TrainingCancelled("Training was cancelled; nothing was saved. Start it again when ready.")
    left_out = [{"key": specs[i].key, "label": model_entry(specs[i].key).label, "code": READS_NO_TEXT, "reason": why}
                for i, why in sorted(skipped.items())]
    runs = [_assemble(ctx, spec, i, [(tasks[k], results[k]) for k in range(len(tasks)) if tasks[k]["model"] == i],
                      tuned.get(i), left_out) for i, spec in enumerate(specs) if i not in skipped]
    result = ComparisonResult(id=new_id("cmp"), task=task, target=target, primary_metric=metric,
                              positive_class=ctx.positive_class, classes=ctx.classes, cv=len(ctx.folds), seed=ctx.seed,
                              runs=runs, notes=ctx.notes, class_counts=ctx.class_counts, train_rows=len(train),
                              validation_rows=0 if val is None else len(val),
                              seconds=time.perf_counter() - started, workers=n_workers,
                              cpu_seconds=time.process_time() - cpu + (sum(o.get("cpu_seconds", 0.0)
                                                                           for o in results.values())
                                                                       if n_workers > 1 else 0.0),
                              cv_scheme=ctx.cv_scheme.to_dict(), feature_choice=ctx.feature_choice.to_dict(),
                              left_out=left_out)
    _time_predictions(result.runs, val if val is not None else train, ctx)
    if any(_looks_perfect(r) for r in runs if not r.is_baseline and not r.error) and val is not None:
        result.evidence = single_column_evidence(train, y, val, ctx)
    annotate_warnings(result)
    workers.record_backend(result)
    return result


def _unreadable(ctx: _Context, specs: list[ModelSpec]) -> dict[int, str]:
    """The models that can read none of the features (only free text, for a model that reads no text): {index: why}.

    They get no tasks and no row, so a text-only table costs them nothing; the comparison's `left_out` (and each
    saved run's `extras["left_out_models"]`) names them and says why.
    """
    out = {}
    for i, spec in enumerate(specs):
        entry = model_entry(spec.key)
        if entry.is_baseline or entry.reads_text:
            continue
        if all(ctx.columns.get(c) == TEXT_KIND for c in ctx.features):
            out[i] = (f"every feature is free text, which {entry.label} does not read (linear models and naive "
                      "Bayes read it as word and character n-grams)")
    return out


def _text_counts(ctx: _Context, train: pd.DataFrame, val: pd.DataFrame | None, specs: list[ModelSpec],
                 n_workers: int) -> dict | None:
    """Counts the free-text columns' n-grams once for every text-reading model and fold (core.models.sharedtext),
    spread over the comparison's worker processes when it has them."""
    text = [c for c in ctx.features if ctx.columns.get(c) == TEXT_KIND]
    if not text or not any(model_entry(s.key).reads_text for s in specs):
        return None
    from core.models.sharedtext import count_text

    return count_text(train[text].reset_index(drop=True), None if val is None else val[text].reset_index(drop=True),
                      text, run=lambda fn, items: workers.map_calls(fn, items, n_workers), pieces=n_workers)


def _looks_perfect(run) -> bool:
    values = [(run.validation_metrics or {}).get(k) for k in ("roc_auc", "r2")]
    values += [(run.cv_summary or {}).get(k, {}).get("mean") for k in ("roc_auc", "r2")]
    return any(v is not None and np.isfinite(v) and v >= PERFECT for v in values)


def _time_predictions(runs: list[RunResult], rows: pd.DataFrame, ctx: _Context) -> None:
    """Times each fitted model on a fixed batch of LATENCY_ROWS rows resampled from validation, and on one row."""
    if rows is None or not len(rows):
        return
    pick = np.random.default_rng(ctx.seed).integers(0, len(rows), LATENCY_ROWS)
    batch = rows[ctx.features].iloc[pick].reset_index(drop=True)
    one = batch.iloc[:1]
    for run in runs:
        if run.error or run.pipeline is None:
            continue
        try:
            run.predict_ms_per_1k = _best_ms(run.pipeline, batch, ctx, 3)
            run.predict_ms_per_row = _best_ms(run.pipeline, one, ctx, 5)
        except Exception as err:  # noqa: BLE001 — a timing that fails leaves the figure empty, never the run
            log.info("latency of %s not measured: %s", run.key, err)
            run.predict_ms_per_1k = run.predict_ms_per_row = None


def _best_ms(pipeline, rows: pd.DataFrame, ctx: _Context, repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        workers.predict_scores(pipeline, rows, ctx.task, ctx.positive_class)
        best = min(best, time.perf_counter() - started)
    return best * 1000.0


def single_column_evidence(train: pd.DataFrame, y: np.ndarray, val: pd.DataFrame, ctx: _Context) -> list[dict]:
    """For each feature alone: a shallow tree fitted on the train rows, scored on validation (ROC-AUC or R²).

    Returns [{"column", "metric", "value"}] for the columns reaching EVIDENCE_LEVEL, strongest first: the evidence
    a "suspiciously perfect" warning needs. Multiclass targets have no single ROC-AUC here and return [].
    """
    from core.models.metrics import compute_metrics

    if ctx.task == "multiclass":
        return []
    metric = "r2" if ctx.task == "regression" else "roc_auc"
    y_val = val[ctx.target].to_numpy() if ctx.task != "regression" else \
        pd.to_numeric(val[ctx.target], errors="coerce").to_numpy(dtype=float)
    out = []
    for column in ctx.features:
        kind = ctx.columns.get(column)
        if kind == TEXT_KIND:
            continue
        try:
            pipe = build_pipeline(ModelSpec("tree", {"max_depth": 4, "min_samples_leaf": 5}), {column: kind},
                                  ctx.task, ctx.seed, target=ctx.target)
            pipe.fit(train[[column]], y)
            pred, scores, kind_of = workers.predict_scores(pipe, val[[column]], ctx.task, ctx.positive_class)
            value = compute_metrics(ctx.task, y_val, pred, scores, ctx.classes, ctx.positive_class,
                                    has_probabilities=kind_of == "probability").get(metric)
        except Exception as err:  # noqa: BLE001 — a column that cannot be checked alone is simply not evidence
            log.debug("single-column check of %s failed: %s", column, err)
            continue
        if value is not None and np.isfinite(value) and value >= EVIDENCE_LEVEL:
            out.append({"column": column, "metric": metric, "value": float(value)})
    return sorted(out, key=lambda d: -d["value"])


def _primary(metric: str | None, task: str) -> str:
    if metric:
        entry = metric_entry(metric)
        if task in entry.tasks:
            return metric
    return DEFAULT_METRIC[task]


def _scaled(progress: Progress | None, i: int, n: int, text: str) -> Progress | None:
    if progress is None:
        return None
    return lambda frac, msg: progress(None, f"{text} (model {i + 1} of {n}): {msg}")


def _names(labels: list[str]) -> str:
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def _assemble(ctx: _Context, spec: ModelSpec, i: int, pairs: list[tuple[dict, dict]], tuning: dict | None,
              left_out: list[dict] | None = None) -> RunResult:
    entry = model_entry(spec.key)
    run = RunResult(key=spec.key, label=entry.label, task=ctx.task, params=resolve_params(entry, spec.params, ctx.task),
                    seed=ctx.seed, cv_folds=len(ctx.folds), versions=library_versions(), features=list(ctx.features),
                    classes=list(ctx.classes), positive_class=ctx.positive_class, tuning=tuning,
                    is_baseline=entry.is_baseline, train_rows_total=len(ctx.y), cv_scheme=ctx.cv_scheme.to_dict(),
                    feature_choice=ctx.feature_choice.to_dict() if ctx.feature_choice else {})
    if left_out:  # the comparison's record of the models it could not train, kept with every run it saved
        run.extras = {**run.extras, "left_out_models": [dict(m) for m in left_out]}
    errors = [out["error"] for _, out in pairs if out.get("error")]
    caught = sorted({w for _, out in pairs for w in out.get("warnings", ())})
    run.notes = [n for t, out in pairs if t["fold"] is None for n in out.get("notes", ())] + caught
    text = [c for c in ctx.features if ctx.columns.get(c) == TEXT_KIND]
    if text and not entry.reads_text and not entry.is_baseline:
        run.notes.append(f"{entry.label} does not read free text, so it left out {', '.join(map(repr, text))}; "
                         "linear models and naive Bayes read it as word and character n-grams.")
        if run.feature_choice:  # the receipt and model card then list what this model read, and why not the text
            run.feature_choice = {**run.feature_choice,
                                  "used": [c for c in run.feature_choice["used"] if c not in text],
                                  "left_out": list(run.feature_choice["left_out"]) + [
                                      {"column": c, "reason": f"free text, which {entry.label} does not read (linear "
                                                              "models and naive Bayes read it as n-grams)"}
                                      for c in text]}
    if errors:
        run.error = f"{entry.label} failed: {errors[0]}"
        trace = next((out["traceback"] for _, out in pairs if out.get("traceback")), "")
        log.warning("model %s failed in a comparison: %s\n%s", spec.key, errors[0], trace)
        return run
    folds = sorted((t["fold"], out) for t, out in pairs if t["fold"] is not None)
    run.fold_metrics = [{"fold": j + 1, **out["metrics"]} for j, out in folds]
    final = next(out for t, out in pairs if t["fold"] is None)
    run.validation_metrics = final.get("metrics", {})
    run.train_metrics = final.get("train_metrics", {})
    run.fit_seconds = final.get("fit_seconds")
    run.predict_ms_per_1k = final.get("predict_ms_per_1k")
    run.model_bytes = final.get("model_bytes")
    run.size_bytes = len(run.model_bytes) if run.model_bytes is not None else None
    run.pipeline = final.get("pipeline")
    run.predictions = final.get("predictions")
    run.train_rows = final.get("train_rows", len(ctx.y))
    run.score_kind = final.get("score_kind")
    run.total_seconds = sum(out.get("task_seconds", 0.0) for _, out in pairs)
    if tuning:
        run.notes.append(f"Tuned over {len(tuning['history'])} trials ({tuning['method']} search); the CV score of the "
                         "best trial is optimistic, the validation score is the honest one.")
    return run


# -- tuning ------------------------------------------------------------------------------------------------------------
def tune(train_df: pd.DataFrame, target: str, task: str, spec: ModelSpec | str, columns: dict[str, str], *,
         cv: int = 5, seed: int = 42, trials: int = 20, seconds: float | None = None, method: str = "random",
         metric: str | None = None, positive_class: Any = None, n_jobs: int | None = None,
         progress: Progress | None = None, cancel=None, features: FeatureChoice | Sequence[str] | None = None,
         cv_plan: CvPlan | None = None) -> dict:
    """Searches a model's settings by cross-validation within a budget; returns the trials and the best one's gain.

    Uses the same folds as `compare` for the same split plan and seed. Raises: SpecInvalid, TargetNotUsable,
    TrainingCancelled.
    """
    spec = _normalise_specs([spec], task)[-1]
    ctx, train, y, _ = _prepare(train_df, None, target, task, columns, cv or 5, seed, positive_class, features,
                                cv_plan)
    n_workers = workers.worker_count(len(train), n_jobs)
    text = _text_counts(ctx, train, None, [spec], n_workers)
    with workers.shared_frames(train[ctx.features], y, None, target, n_workers, text) as source:
        ctx.source = source
        return _search(ctx, spec, _primary(metric, task), trials, seconds, method, n_workers, progress, cancel)


def _search(ctx: _Context, spec: ModelSpec, metric: str, trials: int, seconds: float | None, method: str,
            n_workers: int, progress: Progress | None, cancel) -> dict:
    if method not in ("random", "grid"):
        raise SpecInvalid(f"The search method is 'random' or 'grid', not {method!r}.")
    if (trials is None or trials < 1) and not seconds:
        raise SpecInvalid("Give the search a budget: at least one trial, or some minutes.")
    entry = model_entry(spec.key)
    higher = metric_entry(metric).higher_is_better
    candidates = param_candidates(entry, ctx.task, resolve_params(entry, spec.params, ctx.task), method,
                                  int(trials or 10_000), ctx.seed)
    history, started = [], time.perf_counter()
    for n, params in enumerate(candidates):
        if n and seconds and time.perf_counter() - started >= seconds:
            break
        trial = ModelSpec(spec.key, params)
        inner = 1 if n_workers > 1 else None
        tasks = [workers.task(ctx, trial, 0, fold=j, n_jobs=inner) for j in range(len(ctx.folds))]
        outs = [out for _, out in workers.run_tasks(tasks, n_workers, cancel)]
        if cancel is not None and cancel.is_set():
            raise TrainingCancelled("Tuning was cancelled; nothing was saved. Start it again when ready.")
        scores = [o["metrics"].get(metric, math.nan) for o in outs if not o.get("error")]
        score = float(np.mean(scores)) if len(scores) == len(tasks) and np.all(np.isfinite(scores)) else None
        history.append({"trial": n + 1, "params": params, "score": score})
        if progress:
            progress((n + 1) / len(candidates), f"trial {n + 1} of {len(candidates)}")
    scored = [h for h in history if h["score"] is not None]
    if not scored:
        raise SpecInvalid(f"Every trial of {entry.label} failed, so nothing was tuned. Train it with its defaults "
                          "to see the error.")
    best = (max if higher else min)(scored, key=lambda h: h["score"])
    default = history[0]["score"]
    gain = None if default is None else (best["score"] - default if higher else default - best["score"])
    return {"method": method, "metric": metric, "trials": len(history), "seconds": time.perf_counter() - started,
            "cv_scheme": ctx.cv_scheme.to_dict(),
            "default_score": default, "best_score": best["score"], "gain": gain, "best_params": best["params"],
            "history": history}
