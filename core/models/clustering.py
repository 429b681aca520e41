"""Groups rows of a project without a target: k-means with elbow and silhouette to pick k, profiles, and a PCA map.

- `cluster(df, columns, k_range=range(2, 9), seed=42) -> ClusterResult`: one k-means per k on the same
  preprocessing as every model (`core.models.pipeline.build_pipeline`); inertia per k (the elbow), silhouette per k on a
  seeded sample of at most 5,000 rows (stated in the notes), the k with the best silhouette, and each group's profile
  in the data's own units and categories.
- `cluster_run(result) -> RunResult` makes the chosen k-means saveable with `core.models.runs.save_run`.
- `project_pca(df, columns, seed=42) -> PcaResult`: explained variance per component and a 2-D map of at most
  5,000 rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.catalog import ModelSpec
from core.errors import SpecInvalid
from core.models.leaderboard import RunResult
from core.models.pipeline import build_pipeline, library_versions
from core.models.preprocess import feature_columns
from core.models.training import TrainingCancelled
from core.store.artifacts import dump_model

SAMPLE_ROWS = 5_000  # silhouette is quadratic in rows; the 2-D map stays readable
FIT_ROWS = 50_000  # k-means is fitted on at most this many rows, then every row is assigned
TOP_TRAITS = 3


@dataclass
class ClusterResult:
    """k-means for every k tried, the chosen k, and what sets each group apart."""

    k_table: pd.DataFrame  # k, inertia, silhouette
    best_k: int
    labels: np.ndarray  # the group (1-based) of every input row, for the chosen k
    profiles: pd.DataFrame  # one row per group: rows, share, then each column's mean or most common value
    descriptions: list[str]
    notes: list[str] = field(default_factory=list)
    pipeline: Any = None
    seed: int = 42
    features: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class PcaResult:
    explained: pd.DataFrame  # component, variance_ratio, cumulative
    points: pd.DataFrame  # x, y (first two components) for at most SAMPLE_ROWS rows
    loadings: pd.DataFrame  # feature, pc1, pc2 (encoded feature names)
    notes: list[str] = field(default_factory=list)


def _features(df: pd.DataFrame, columns: dict[str, str]) -> list[str]:
    features = [c for c in feature_columns(columns, None) if c in df.columns]
    if not features:
        raise SpecInvalid("No column can be used for grouping: every column is an identifier or free text. "
                          "Upload data with number, category, yes/no or date columns.")
    return features


def _sample(n: int, limit: int, seed: int) -> np.ndarray:
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def cluster(df: pd.DataFrame, columns: dict[str, str], k_range=range(2, 9), seed: int = 42, progress=None,
            cancel=None) -> ClusterResult:
    """Fits k-means for each k, scores inertia and silhouette, and profiles the groups of the best k.

    Raises: SpecInvalid.
    """
    from sklearn.metrics import silhouette_score



    started = time.perf_counter()
    features = _features(df, columns)
    ks = sorted({int(k) for k in k_range if int(k) >= 2})
    if len(df) < 3 or not ks:
        raise SpecInvalid(f"Grouping needs at least 3 rows and a k of 2 or more; got {len(df)} rows.")
    ks = [k for k in ks if k < len(df)]
    notes = []
    fit_rows = _sample(len(df), FIT_ROWS, seed)
    if len(fit_rows) < len(df):
        notes.append(f"k-means was fitted on a seeded sample of {FIT_ROWS:,} of {len(df):,} rows; every row was then "
                     "assigned to its nearest group.")
    X = df[features]
    sil_rows = _sample(len(fit_rows), SAMPLE_ROWS, seed + 1)
    if len(sil_rows) < len(fit_rows):
        notes.append(f"Silhouette was measured on a seeded sample of {SAMPLE_ROWS:,} rows (it compares every pair).")
    table, fitted = [], {}
    for i, k in enumerate(ks):
        if cancel is not None and cancel.is_set():
            raise TrainingCancelled("Grouping was cancelled; nothing was saved.")
        pipe = build_pipeline(ModelSpec("kmeans", {"n_clusters": k}), columns, "clustering", seed)
        pipe.fit(X.iloc[fit_rows])
        encoded = pipe[:-1].transform(X.iloc[fit_rows[sil_rows]])
        labels = pipe[-1].labels_[sil_rows]
        sil = float(silhouette_score(encoded, labels)) if len(set(labels)) > 1 else float("nan")
        table.append({"k": k, "inertia": float(pipe[-1].inertia_), "silhouette": sil})
        fitted[k] = pipe
        if progress:
            progress((i + 1) / len(ks), f"k = {k} ({i + 1} of {len(ks)})")
    k_table = pd.DataFrame(table)
    best_k = int(k_table.loc[k_table["silhouette"].fillna(-2).idxmax(), "k"])
    pipe = fitted[best_k]
    labels = np.asarray(pipe.predict(X)) + 1
    profiles, descriptions = profile_groups(df, columns, features, labels)
    return ClusterResult(k_table, best_k, labels, profiles, descriptions, notes, pipe, seed, features,
                         time.perf_counter() - started)


def profile_groups(df: pd.DataFrame, columns: dict[str, str], features: list[str],
                   labels: np.ndarray) -> tuple[pd.DataFrame, list[str]]:
    """Describes each group by its size, its columns' means (numbers) or most common values, and its top traits."""
    rows, sentences = [], []
    numeric = [c for c in features if columns.get(c) in ("number", "boolean")]
    categorical = [c for c in features if columns.get(c) == "category"]
    values = {c: pd.to_numeric(df[c].map(lambda v: float(v) if isinstance(v, bool) else v), errors="coerce")
              for c in numeric}
    overall = {c: (float(v.mean()), float(v.std()) or 1.0) for c, v in values.items()}
    for g in sorted(set(labels.tolist())):
        mask = labels == g
        row: dict[str, Any] = {"group": g, "rows": int(mask.sum()), "share": float(mask.mean())}
        traits = []
        for c in numeric:
            mean = float(values[c][mask].mean())
            row[c] = mean
            base, sd = overall[c]
            if np.isfinite(mean):
                word = "higher" if mean > base else "lower"
                traits.append((abs(mean - base) / sd, f"{word} {c} (avg {mean:,.4g} vs {base:,.4g} overall)"))
        for c in categorical:
            counts = df.loc[mask, c].value_counts(normalize=True)
            if counts.empty:
                continue
            top, share = counts.index[0], float(counts.iloc[0])
            base = float((df[c] == top).mean())
            row[c] = f"{top} ({share:.0%})"
            traits.append(((share - base) * 3, f"mostly {c} = '{top}' ({share:.0%} vs {base:.0%} overall)"))
        rows.append(row)
        traits.sort(key=lambda t: -t[0])
        listed = ", ".join(text for _, text in traits[:TOP_TRAITS]) or "no column stands out"
        sentences.append(f"Group {g} · {int(mask.sum()):,} rows ({mask.mean():.0%}): {listed}.")
    return pd.DataFrame(rows), sentences


def cluster_run(result: ClusterResult) -> RunResult:
    """Turns the chosen k-means into a RunResult that core.models.runs.save_run can store."""
    best = result.k_table.set_index("k").loc[result.best_k]
    data = dump_model(result.pipeline)
    return RunResult(key="kmeans", label="k-means clustering", task="clustering",
                     params={"n_clusters": result.best_k}, seed=result.seed,
                     validation_metrics={"silhouette": float(best["silhouette"])},
                     fit_seconds=result.seconds, size_bytes=len(data), model_bytes=data, pipeline=result.pipeline,
                     versions=library_versions(), notes=list(result.notes) + list(result.descriptions),
                     train_rows=len(result.labels), train_rows_total=len(result.labels), features=result.features)


def project_pca(df: pd.DataFrame, columns: dict[str, str], seed: int = 42, max_points: int = SAMPLE_ROWS) -> PcaResult:
    """Returns explained variance per component and a 2-D map of at most max_points rows. Raises: SpecInvalid."""
    features = _features(df, columns)
    rows = _sample(len(df), max(FIT_ROWS, max_points), seed)
    pipe = build_pipeline(ModelSpec("pca", {"n_components": 2}), columns, "clustering", seed)
    encoded = pipe[:-1].fit(df[features].iloc[rows]).transform(df[features].iloc[rows])
    if encoded.shape[1] < 2:
        raise SpecInvalid("A 2-D map needs at least two usable columns. Upload data with more columns.")
    from sklearn.decomposition import PCA

    full = PCA(n_components=min(encoded.shape[1], 10), random_state=seed).fit(encoded)
    ratio = full.explained_variance_ratio_
    explained = pd.DataFrame({"component": np.arange(1, len(ratio) + 1), "variance_ratio": ratio,
                              "cumulative": np.cumsum(ratio)})
    shown = _sample(len(rows), max_points, seed + 1)
    xy = full.transform(encoded[shown])[:, :2]
    points = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1]})
    points.attrs["rows"] = rows[shown]  # positions in df of the mapped rows
    names = [str(n) for n in pipe[:-1].get_feature_names_out()]
    loadings = pd.DataFrame({"feature": names, "pc1": full.components_[0], "pc2": full.components_[1]})
    loadings = loadings.reindex(loadings[["pc1", "pc2"]].abs().max(axis=1).sort_values(ascending=False).index)
    notes = [f"The map shows a seeded sample of {max_points:,} of {len(df):,} rows."] if len(df) > max_points else []
    return PcaResult(explained, points, loadings.reset_index(drop=True), notes)
