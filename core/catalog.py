"""Everything a user can pick, declared as data: models with their hyperparameters, and metrics with their meaning.

A metric entry carries its numpy `compute` function (core/stats/metrics.py) and the scikit-learn function that gives
the same number (`reference`, imported only when used: tests/unit/test_metrics.py checks every entry against it).
Drift tests, rollout and split strategies are declared the same way in the packages that run them, because their
functions sit above this module: `core.monitor.stats.DRIFT_TESTS`, `core.launch.rollout.STRATEGIES` and
`core.split.splitting.STRATEGIES`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from core.errors import SpecInvalid, unknown
from core.stats import metrics as sm

CLASSIFICATION = frozenset({"binary", "multiclass"})
REGRESSION = frozenset({"regression"})
CLUSTERING = frozenset({"clustering"})
TASKS = ("binary", "multiclass", "regression", "clustering")


@dataclass(frozen=True)
class Param:
    name: str
    default: Any
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None
    log: bool = False  # sample on a log scale when tuning
    help: str = ""

    @property
    def is_int(self) -> bool:
        return isinstance(self.default, int) and not isinstance(self.default, bool) and self.choices is None


@dataclass(frozen=True)
class ModelEntry:
    key: str  # stable id: saved in runs and the registry, used by tests
    label: str  # for people; free to change
    tasks: frozenset[str]
    builder: str  # "module:Class"; per task when it differs, see builder_for
    params: tuple[Param, ...] = ()
    needs_scaling: bool = False
    max_rows: int | None = None  # above this many training rows the model trains on a stated sample
    notes: str = ""
    regression_builder: str | None = None
    fixed: dict = field(default_factory=dict, hash=False)  # constructor arguments the user does not choose
    is_baseline: bool = False
    regression_params: tuple[Param, ...] | None = None  # when regression takes other settings than classification
    cost: int = 1  # rough relative training time on large data; the costliest models are scheduled first
    reads_text: bool = False  # reads free-text columns as TF-IDF n-grams (sparse input); other models leave text out
    nonnegative: bool = False  # needs inputs >= 0 (numbers scaled to 0-1 instead of standardised)
    on_cluster: str = ""  # how its final fit spreads over a Dask cluster ("trees", "xgboost.dask"); no row cap there

    def builder_for(self, task: str) -> str:
        return self.regression_builder if task == "regression" and self.regression_builder else self.builder

    def params_for(self, task: str | None = None) -> tuple[Param, ...]:
        """The settings a user can choose for this task."""
        return self.regression_params if task == "regression" and self.regression_params is not None else self.params

    def param(self, name: str, task: str | None = None) -> Param:
        for p in self.params_for(task):
            if p.name == name:
                return p
        raise unknown("setting", name, [p.name for p in self.params_for(task)], where=self.label)


@dataclass(frozen=True)
class ModelSpec:
    """A model choice: catalog key plus hyperparameters. Holds choices only; training validates them."""

    key: str
    params: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"key": self.key, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, d: dict) -> "ModelSpec":
        return cls(key=d["key"], params=dict(d.get("params") or {}))


POSITIVE = "<positive class>"  # in `MetricEntry.reference_kwargs`: stands for the positive class of the predictions
CLASSES = "<classes>"  # ... and for the list of classes
UNIT = (0.0, 1.0)
NON_NEGATIVE = (0.0, math.inf)


@dataclass(frozen=True)
class MetricEntry:
    key: str
    label: str
    tasks: frozenset[str]
    higher_is_better: bool
    meaning: str  # one line in business words
    compute: Callable[[sm.Predictions], float | None]  # None when it cannot be measured (no scores, no probabilities)
    reference: str  # "sklearn.metrics:f1_score": the same number from scikit-learn, imported only when used
    reference_kwargs: dict = field(default_factory=dict, hash=False)  # per task ("binary"...): keywords it needs
    bounds: tuple[float, float] = UNIT  # the values it can take; a launch threshold outside them can never be met
    needs_scores: bool = False


MODELS: tuple[ModelEntry, ...] = (
    ModelEntry("dummy", "Baseline (no model)", CLASSIFICATION | REGRESSION, "sklearn.dummy:DummyClassifier", (),
               regression_builder="sklearn.dummy:DummyRegressor", is_baseline=True,
               regression_params=(Param("strategy", "mean", choices=("mean", "median"),
                                        help="Whether the baseline always predicts the average or the middle value."),),
               notes="Predicts without looking at the features (the class shares, or the average). Any real model "
                     "must beat it."),
    ModelEntry("logreg", "Logistic regression", CLASSIFICATION, "sklearn.linear_model:LogisticRegression",
               (Param("C", 1.0, 0.001, 100.0, log=True, help="Lower values keep the model simpler (more regularised)."),
                Param("class_weight", "none", choices=("none", "balanced"),
                      help="'balanced' gives rare classes more weight, which usually raises their recall.")),
               needs_scaling=True, fixed={"max_iter": 2000}, reads_text=True,
               notes="Fast, interpretable, a strong first choice; each feature's effect is one number."),
    ModelEntry("linreg", "Linear regression (OLS)", REGRESSION, "sklearn.linear_model:LinearRegression", (),
               needs_scaling=True, reads_text=True, notes="Ordinary least squares: the simplest interpretable regression."),
    ModelEntry("ridge", "Ridge regression", REGRESSION, "sklearn.linear_model:Ridge",
               (Param("alpha", 1.0, 0.001, 1000.0, log=True, help="Higher values shrink effects more (simpler model)."),),
               needs_scaling=True, reads_text=True,
               notes="Linear regression that stays stable when features are correlated."),
    ModelEntry("lasso", "Lasso regression", REGRESSION, "sklearn.linear_model:Lasso",
               (Param("alpha", 0.01, 0.0001, 10.0, log=True, help="Higher values drop more features entirely."),),
               needs_scaling=True, fixed={"max_iter": 5000}, reads_text=True,
               notes="Linear regression that switches off unhelpful features."),
    ModelEntry("gnb", "Gaussian naive Bayes", CLASSIFICATION, "sklearn.naive_bayes:GaussianNB",
               (Param("var_smoothing", 1e-9, 1e-12, 1e-3, log=True, help="Adds stability for near-constant features."),),
               needs_scaling=True, notes="Very fast; assumes features are independent, so scores are often overconfident."),
    ModelEntry("nb", "Naive Bayes (word counts)", CLASSIFICATION, "sklearn.naive_bayes:ComplementNB",
               (Param("alpha", 1.0, 0.001, 10.0, log=True, help="Smoothing: higher values trust rare words less."),),
               needs_scaling=True, nonnegative=True, reads_text=True,
               notes="The classic text classifier (complement naive Bayes on TF-IDF word and character counts); "
                     "numbers are scaled to 0-1. Very fast; scores are often overconfident."),
    ModelEntry("linear_svm", "Linear SVM", CLASSIFICATION | REGRESSION, "sklearn.svm:LinearSVC",
               (Param("C", 1.0, 0.001, 100.0, log=True, help="Lower values keep the boundary simpler."),),
               needs_scaling=True, regression_builder="sklearn.svm:LinearSVR", fixed={"max_iter": 5000}, reads_text=True,
               notes="A linear boundary with a margin; scores are not probabilities."),
    ModelEntry("rbf_svm", "SVM (RBF kernel)", CLASSIFICATION | REGRESSION, "sklearn.svm:SVC",
               (Param("C", 1.0, 0.01, 100.0, log=True, help="Higher values fit the training data more closely."),
                Param("gamma", "scale", choices=("scale", "auto"), help="How far one training row's influence reaches.")),
               needs_scaling=True, max_rows=5_000, regression_builder="sklearn.svm:SVR", cost=5,
               notes="Flexible boundaries, but training time grows with the square of the rows: trains on at most "
                     "5,000 rows."),
    ModelEntry("tree", "Decision tree", CLASSIFICATION | REGRESSION, "sklearn.tree:DecisionTreeClassifier",
               (Param("max_depth", 6, 1, 30, help="How many questions deep the tree may go; deeper overfits more."),
                Param("min_samples_leaf", 20, 1, 200, log=True, help="Fewest rows a final group may hold.")),
               regression_builder="sklearn.tree:DecisionTreeRegressor",
               notes="A flowchart of yes/no questions anyone can read; unstable on its own."),
    ModelEntry("rf", "Random forest", CLASSIFICATION | REGRESSION, "sklearn.ensemble:RandomForestClassifier",
               (Param("n_estimators", 100, 20, 500, help="Number of trees; more is steadier but slower."),
                Param("max_depth", 10, 2, 40, help="Depth limit of each tree; deeper fits more detail (and noise)."),
                Param("min_samples_leaf", 5, 1, 50, log=True, help="Fewest rows a final group may hold.")),
               regression_builder="sklearn.ensemble:RandomForestRegressor", fixed={"n_jobs": 2},
               max_rows=50_000, cost=10, on_cluster="trees",
               notes="Many trees voting: robust with little tuning; trains on at most 50,000 rows."),
    ModelEntry("knn", "k-nearest neighbours", CLASSIFICATION | REGRESSION, "sklearn.neighbors:KNeighborsClassifier",
               (Param("n_neighbors", 25, 1, 200, log=True, help="How many similar rows vote on each prediction."),
                Param("weights", "distance", choices=("uniform", "distance"), help="Whether nearer rows count more.")),
               needs_scaling=True, max_rows=20_000, regression_builder="sklearn.neighbors:KNeighborsRegressor", cost=5,
               notes="Predicts from the most similar past rows; slow to predict on big data: uses at most 20,000 rows."),
    ModelEntry("xgb", "XGBoost", CLASSIFICATION | REGRESSION, "xgboost:XGBClassifier",
               (Param("n_estimators", 200, 50, 1000, help="Number of boosting rounds."),
                Param("max_depth", 3, 2, 10, help="Depth of each tree; deeper captures more interactions."),
                Param("learning_rate", 0.05, 0.01, 0.3, log=True, help="Smaller steps generalise better but need more "
                                                                      "rounds."),
                Param("subsample", 0.8, 0.5, 1.0, help="Share of rows each round sees.")),
               regression_builder="xgboost:XGBRegressor", fixed={"n_jobs": 2, "tree_method": "hist"}, cost=3,
               on_cluster="xgboost.dask",
               notes="Gradient-boosted trees: usually the most accurate on tables."),
    ModelEntry("kmeans", "k-means clustering", CLUSTERING, "sklearn.cluster:KMeans",
               (Param("n_clusters", 4, 2, 12, help="How many groups to find."),),
               needs_scaling=True, fixed={"n_init": 10}, notes="Splits rows into k groups of similar customers."),
    ModelEntry("pca", "PCA (2-D map)", CLUSTERING, "sklearn.decomposition:PCA",
               (Param("n_components", 2, 2, 10, help="How many summary directions to keep."),),
               needs_scaling=True, notes="Summarises many columns in a few directions, for a 2-D map of the data."),
)

_MACRO = {"binary": {"pos_label": POSITIVE}, "multiclass": {"average": "macro", "zero_division": 0}}

METRICS: tuple[MetricEntry, ...] = (
    MetricEntry("accuracy", "Accuracy", CLASSIFICATION, True,
                "Share of all predictions that are right; misleading when one class is rare.",
                sm.accuracy, "sklearn.metrics:accuracy_score"),
    MetricEntry("balanced_accuracy", "Balanced accuracy", CLASSIFICATION, True,
                "Average of the recall of each class, so a rare class counts as much as a common one.",
                sm.balanced_accuracy, "sklearn.metrics:balanced_accuracy_score"),
    MetricEntry("precision", "Precision", CLASSIFICATION, True,
                "Of the cases the model flags, the share that really are positive: how few false alarms.",
                sm.precision, "sklearn.metrics:precision_score", _MACRO),
    MetricEntry("recall", "Recall", CLASSIFICATION, True,
                "Of the real positive cases, the share the model catches: how few are missed.",
                sm.recall, "sklearn.metrics:recall_score", _MACRO),
    MetricEntry("f1", "F1 score", CLASSIFICATION, True,
                "Balance of precision and recall in one number.",
                sm.f1, "sklearn.metrics:f1_score", _MACRO),
    MetricEntry("roc_auc", "ROC-AUC", CLASSIFICATION, True,
                "How well the model ranks positives above negatives, whatever the threshold (0.5 = guessing).",
                sm.roc_auc, "sklearn.metrics:roc_auc_score",
                {"multiclass": {"multi_class": "ovr", "average": "macro", "labels": CLASSES}}, needs_scores=True),
    MetricEntry("pr_auc", "PR-AUC", CLASSIFICATION, True,
                "Precision across all recall levels; the honest ranking score when positives are rare.",
                sm.pr_auc, "sklearn.metrics:average_precision_score", {"multiclass": {"average": "macro"}},
                needs_scores=True),
    MetricEntry("log_loss", "Log loss", CLASSIFICATION, False,
                "How far predicted probabilities are from what happened; punishes confident mistakes.",
                sm.log_loss, "sklearn.metrics:log_loss", {"multiclass": {"labels": CLASSES}}, NON_NEGATIVE,
                needs_scores=True),
    MetricEntry("mae", "MAE", REGRESSION, False, "Average size of an error, in the target's own units.",
                sm.mae, "sklearn.metrics:mean_absolute_error", bounds=NON_NEGATIVE),
    MetricEntry("rmse", "RMSE", REGRESSION, False,
                "Typical error size in the target's units, punishing big misses more than MAE.",
                sm.rmse, "sklearn.metrics:root_mean_squared_error", bounds=NON_NEGATIVE),
    MetricEntry("r2", "R²", REGRESSION, True,
                "Share of the target's variation the model explains (1 = perfect, 0 = no better than the average).",
                sm.r2, "sklearn.metrics:r2_score", bounds=(-math.inf, 1.0)),
    MetricEntry("mape", "MAPE", REGRESSION, False,
                "Average error as a percentage of the true value; unstable when true values are near zero.",
                sm.mape, "sklearn.metrics:mean_absolute_percentage_error", bounds=NON_NEGATIVE),
    MetricEntry("silhouette", "Silhouette", CLUSTERING, True,
                "How clearly separated the groups are (−1 to 1; higher is clearer).",
                sm.silhouette, "sklearn.metrics:silhouette_score", bounds=(-1.0, 1.0)),
)


def resolve(path: str) -> Any:
    """Imports the object a "module:name" path names (a model class, a reference metric) when it is first used."""
    import importlib

    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def models_for(task: str) -> list[ModelEntry]:
    """Lists the catalog models that serve a task, baseline first."""
    return [m for m in MODELS if task in m.tasks]


def model_entry(key: str) -> ModelEntry:
    """Returns a model entry by key. Raises: NotFound."""
    for m in MODELS:
        if m.key == key:
            return m
    raise unknown("model", key, [m.key for m in MODELS])


def metrics_for(task: str) -> list[MetricEntry]:
    return [m for m in METRICS if task in m.tasks]


def metric_entry(key: str) -> MetricEntry:
    for m in METRICS:
        if m.key == key:
            return m
    raise unknown("metric", key, [m.key for m in METRICS])


def resolve_params(entry: ModelEntry, params: dict | None, task: str | None = None) -> dict:
    """Merges user params over the defaults, checking names, ranges and choices. Raises: SpecInvalid, NotFound."""
    out = {p.name: p.default for p in entry.params_for(task)}
    for name, value in (params or {}).items():
        p = entry.param(name, task)
        if p.choices is not None:
            if value not in p.choices:
                raise SpecInvalid(f"{entry.label}: {name} must be one of {', '.join(map(str, p.choices))}, "
                                  f"not {value!r}.")
        else:
            try:
                value = int(value) if p.is_int else float(value)
            except (TypeError, ValueError):
                raise SpecInvalid(f"{entry.label}: {name} must be a number, not {value!r}.") from None
            if (p.low is not None and value < p.low) or (p.high is not None and value > p.high):
                raise SpecInvalid(f"{entry.label}: {name} = {value} is outside its range {p.low} to {p.high}.")
        out[name] = value
    return out


def param_candidates(entry: ModelEntry, task: str, base: dict, method: str, trials: int, seed: int = 42) -> list[dict]:
    """Returns settings to try when tuning: `base` first, then random draws or a shuffled grid over the ranges."""
    import itertools

    import numpy as np

    rng = np.random.default_rng(seed)
    params = entry.params_for(task)
    out, seen = [dict(base)], {_frozen(base)}
    if method == "grid":
        axes = [list(p.choices) if p.choices is not None else _grid(p) for p in params]
        combos = [dict(zip([p.name for p in params], values)) for values in itertools.product(*axes)]
        rng.shuffle(combos)
        draws = iter(combos)
    else:
        draws = ({p.name: _draw(p, rng) for p in params} for _ in range(trials * 20))
    for params_ in draws:
        if len(out) >= trials:
            break
        key = _frozen(params_)
        if key not in seen:
            seen.add(key)
            out.append(params_)
    return out


def _frozen(params: dict) -> tuple:
    return tuple(sorted((k, str(v)) for k, v in params.items()))


def _grid(p: Param, n: int = 4) -> list:
    import numpy as np

    if p.low is None or p.high is None:
        return [p.default]
    values = np.geomspace(p.low, p.high, n) if p.log and p.low > 0 else np.linspace(p.low, p.high, n)
    return sorted({int(round(v)) for v in values}) if p.is_int else [float(f"{v:.4g}") for v in values]


def _draw(p: Param, rng):
    import numpy as np

    if p.choices is not None:
        return p.choices[int(rng.integers(len(p.choices)))]
    if p.low is None or p.high is None:
        return p.default
    if p.log and p.low > 0:
        value = float(np.exp(rng.uniform(np.log(p.low), np.log(p.high))))
    else:
        value = float(rng.uniform(p.low, p.high))
    return int(min(max(round(value), p.low), p.high)) if p.is_int else float(f"{value:.4g}")
