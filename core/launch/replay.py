"""Builds the launch simulator's replay set from two saved models: their decisions, outcomes, groups and latency.

Each row of the replay set is one real row with a known outcome (the test split, a later time window, or another
dataset with the target). Both models score it; each decision, cut at the model's saved threshold, earns the value the
project's cost matrix gives it (classification) or loses cost_per_unit_error x |error| (regression). Rows either model
was trained or tuned on are left out, so neither is replayed on data it has seen. Latency is measured, not assumed:
both models answer the same single-row requests in turn, each timed a few times, and the fastest of the repeats is
kept (as `timeit` advises, the slower ones measure the machine's other work, not the model).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields

import numpy as np
import pandas as pd

from core.errors import SchemaMismatch, SpecInvalid, did_you_mean
from core.launch.sim import ReplayData
from core.models.runs import get_run, load_run_model
from core.models.workers import predict_scores
from core.project.criteria import COST_KEYS, format_class
from core.registry.versions import load_version_model
from core.split.splitting import get_split, split_assignments, split_frames
from core.store.workspace import quote_ident

SOURCE_KINDS = {"test": "The test split (rows neither model saw)",
                "window": "A later time window of a dataset",
                "dataset": "Another dataset with known outcomes"}
LATENCY_REQUESTS = 24   # single-row requests timed per model
LATENCY_REPEATS = 3     # timings per request; the fastest is kept
EXAMPLE_COLUMNS = 12    # feature columns kept with each example row
RECALL_METRICS = ("recall", "tpr", "sensitivity")


@dataclass(frozen=True)
class Contender:
    """One side of a launch: a registered version or a saved run, with the threshold its decisions use."""

    ref: str                       # the version id ("ver_…") or run id ("run_…")
    run_id: str
    label: str
    model_label: str
    version_id: str | None = None
    aliases: tuple = ()
    threshold: float | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["aliases"] = list(self.aliases)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Contender":
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        d["aliases"] = tuple(d.get("aliases") or ())
        return cls(**d)


@dataclass(frozen=True)
class ReplaySource:
    """Which rows to replay; `build_replay` validates the choice."""

    kind: str = "test"               # "test" | "window" | "dataset"
    dataset: str | None = None       # window / dataset: id or name (a window defaults to the project's dataset)
    split_id: str | None = None      # test: the split whose test rows to use (default: the challenger's split)
    time_column: str | None = None   # window: the date column
    start: str | None = None         # window: first day included (ISO date)
    end: str | None = None           # window: first day no longer included (ISO date), or None for all later rows

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ReplaySource":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (d or {}).items() if k in known})


@dataclass
class LaunchReplay:
    """A replay set ready for the simulator, with what people need to read its results."""

    replay: ReplayData
    champion: Contender
    challenger: Contender
    source: ReplaySource
    source_label: str
    examples: pd.DataFrame        # one row per replay row: dataset row id, actual, both decisions and scores, features
    latency: dict                 # per model: single-request p50 / p95 ms and batch ms per request
    notes: list[str] = field(default_factory=list)

    def info(self) -> dict:
        """Returns what the saved simulation keeps about its replay set (JSON-ready)."""
        out = self.replay.outcome_champion
        return {"rows": self.replay.rows, "source_label": self.source_label, "outcome_label": self.replay.outcome_label,
                "primary_metric": self.replay.primary_metric, "is_binary": self.replay.is_binary,
                "baseline_mean": float(out.mean()), "baseline_sd": float(out.std(ddof=1)) if out.size > 1 else 0.0,
                "has_groups": self.replay.group is not None, "latency": self.latency, "notes": list(self.notes)}


def build_replay(ws, project, champion: Contender, challenger: Contender, source: ReplaySource,
                 measure_latency: bool = True) -> LaunchReplay:
    """Scores the replay rows with both models and turns every decision into its business outcome.

    Raises:
        SpecInvalid: a source choice that does not fit (no test set, no date column, a window with no rows).
        SchemaMismatch: the replay rows lack a column a model reads, or their outcomes do not match the project's.
        ArtifactRejected, NotFound: a model file failed its checks or is missing.
    """
    if project.task not in ("binary", "multiclass", "regression"):
        raise SpecInvalid(f"Project {project.name!r} is {project.task}: it has no outcome to replay, so a launch "
                          "cannot be simulated. Use a classification or regression project.")

    runs = [get_run(ws, c.run_id) for c in (champion, challenger)]
    models = [_load(ws, c) for c in (champion, challenger)]
    features = list(dict.fromkeys([*runs[0].features, *runs[1].features]))
    frame, dataset_id, label, notes = _source_rows(ws, project, runs, source, features)
    frame, dropped = _unseen(ws, frame, dataset_id, runs)
    if dropped:
        notes.append(f"Left out {dropped:,} rows that the champion or challenger was trained or tuned on, so neither "
                     "is replayed on data it has seen.")
    target = project.target
    missing = frame[target].isna().to_numpy()
    if missing.any():
        notes.append(f"Left out {int(missing.sum()):,} rows with no {target!r}: their outcome is unknown.")
        frame = frame.loc[~missing].reset_index(drop=True)
    if len(frame) < 2:
        raise SpecInvalid(f"Only {len(frame)} usable rows are left in {label}; a launch needs at least 2. Choose a "
                          "wider window, another dataset or a split with a test set.")
    scored = [_score(m, frame, r, c, project) for m, r, c in zip(models, runs, (champion, challenger))]
    replay, more = _replay_data(project, frame, scored)
    notes += more
    latency = {}
    if measure_latency:
        singles, latency = _latency(models, [frame[list(r.features)] for r in runs], [s["batch_ms"] for s in scored])
        idx = np.arange(len(frame)) % singles.shape[1]
        replay.latency_champion_ms, replay.latency_challenger_ms = singles[0][idx], singles[1][idx]
        notes.append(f"Latency is measured on this machine: {singles.shape[1]} single-row requests per model, "
                     "assigned to the replay rows in turn.")
    examples = _examples(frame, scored, features, project)
    return LaunchReplay(replay, champion, challenger, source, label, examples, latency, notes)


def time_range(ws, dataset: str, column: str) -> tuple:
    """Returns the first and last date of a date column (None, None when it is empty). Raises: NotFound."""
    info = ws.dataset(dataset)
    info.column(column)
    q = quote_ident(column)
    low, high = ws.read_rows(f"SELECT min({q}), max({q}) FROM {quote_ident(info.table)}")[0]
    return low, high


def _load(ws, contender: Contender):
    if contender.version_id:
        return load_version_model(ws, contender.version_id)

    return load_run_model(ws, contender.run_id)


def _source_rows(ws, project, runs, source: ReplaySource, features: list[str]):
    """Returns (rows with `_row`, dataset id, a label for people, notes) for the chosen source."""
    if source.kind not in SOURCE_KINDS:
        raise SpecInvalid(f"Unknown replay set {source.kind!r}; choose one of {', '.join(SOURCE_KINDS)}."
                          f"{did_you_mean(str(source.kind), SOURCE_KINDS)}")
    wanted = [*features, project.target]
    attr = project.criteria.sensitive_attributes[0] if project.criteria.sensitive_attributes else None
    if source.kind == "test":
        split = get_split(ws, source.split_id or runs[1].split_id)
        if not split.sizes.get("test"):
            raise SpecInvalid(f"Split {split.name!r} has no test set. Choose a later time window or another dataset "
                              "as the replay set, or create a split with a test set.")
        info = ws.dataset(split.dataset_id)
        columns = _columns(info, wanted, attr, "the test split")
        frame = split_frames(ws, split, parts=("test",), columns=columns, with_row_id=True)["test"]
        return frame, info.id, f"the test split of {split.name!r} ({len(frame):,} rows)", []
    info = ws.dataset(source.dataset or project.dataset_id)
    columns = _columns(info, wanted, attr, f"dataset {info.name!r}")
    if source.kind == "dataset":
        frame = ws.frame(info.id, columns, with_row_id=True)
        return frame, info.id, f"dataset {info.name!r} ({len(frame):,} rows)", []
    if not source.time_column:
        dates = [c.name for c in info.columns if c.kind == "datetime"]
        raise SpecInvalid(f"A time window needs a date column of {info.name!r}; "
                          + (f"choose one of {', '.join(dates)}." if dates else "it has none. Choose another source."))
    if info.column(source.time_column).kind != "datetime":
        raise SpecInvalid(f"Column {source.time_column!r} does not hold dates, so it cannot bound a time window. "
                          "Choose a date column.")
    if not source.start:
        raise SpecInvalid("A time window needs a first day. Choose the date the window starts.")
    frame = ws.frame(info.id, list(dict.fromkeys([*columns, source.time_column])), with_row_id=True)
    when = pd.to_datetime(frame[source.time_column], errors="coerce")
    keep = when >= pd.Timestamp(source.start)
    if source.end:
        keep &= when < pd.Timestamp(source.end)
    span = f"from {source.start}" + (f" to before {source.end}" if source.end else " on")
    if not keep.any():
        raise SpecInvalid(f"No rows of {info.name!r} have {source.time_column!r} {span}. "
                          f"Its dates run from {when.min():%Y-%m-%d} to {when.max():%Y-%m-%d}; choose a window inside.")
    frame = frame.loc[keep.to_numpy()].reset_index(drop=True)
    return frame, info.id, f"{info.name!r} {span} ({len(frame):,} rows)", []


def _columns(info, wanted: list[str], attr: str | None, where: str) -> list[str]:
    have = set(info.column_names)
    lacking = [c for c in wanted if c not in have]
    if lacking:
        raise SchemaMismatch(f"{where[0].upper() + where[1:]} has no column {', '.join(map(repr, lacking))}, which "
                             "the models read or predict. Choose a dataset with the same columns as the training data.")
    return wanted + ([attr] if attr and attr in have and attr not in wanted else [])


def _unseen(ws, frame: pd.DataFrame, dataset_id: str, runs) -> tuple[pd.DataFrame, int]:
    """Drops rows of the training dataset that either model was fitted or validated on."""
    seen: set[int] = set()
    for split_id in {r.split_id for r in runs if r.dataset_id == dataset_id and r.split_id}:
        parts = split_assignments(ws, get_split(ws, split_id))
        seen |= set(parts.loc[parts["part"].isin(["train", "validation"]), "_row"].astype(int))
    if not seen:
        return frame, 0
    keep = ~frame["_row"].astype(int).isin(seen).to_numpy()
    return frame.loc[keep].reset_index(drop=True), int((~keep).sum())


def _score(model, frame: pd.DataFrame, run, contender: Contender, project) -> dict:
    """Predicts every row in one batch; binary decisions are cut at the contender's saved threshold."""
    X = frame[list(run.features)]
    started = time.perf_counter()
    try:
        pred, scores, _ = predict_scores(model, X, project.task, project.positive_class)
    except (ValueError, TypeError, KeyError) as err:
        raise SchemaMismatch(f"Model {contender.label!r} could not score the replay rows ({err}). Check that their "
                             "columns hold the same kinds of values as the training data.") from err
    batch_ms = (time.perf_counter() - started) * 1000 / len(X)
    if project.task == "binary":
        threshold = 0.5 if contender.threshold is None else float(contender.threshold)
        return {"flag": np.asarray(scores) >= threshold, "score": np.asarray(scores), "batch_ms": batch_ms,
                "threshold": threshold}
    if project.task == "regression":
        return {"pred": np.asarray(pred, dtype=float), "batch_ms": batch_ms}
    return {"pred": np.asarray([format_class(p) for p in pred], dtype=object), "batch_ms": batch_ms}


def _replay_data(project, frame: pd.DataFrame, scored: list[dict]) -> tuple[ReplayData, list[str]]:
    """Turns both models' predictions into per-row outcomes, correctness, the positive flag and groups."""
    crit, notes = project.criteria, []
    y = frame[project.target]
    attr = crit.sensitive_attributes[0] if crit.sensitive_attributes else None
    group = frame[attr].map(format_class).to_numpy(dtype=object) if attr in frame.columns else None
    if project.task == "regression":
        truth = pd.to_numeric(y, errors="coerce").to_numpy(dtype=float)
        cost = crit.cost_per_unit_error or 0.0
        label = "value"
        if not cost:
            cost, label = 1.0, "minus absolute error"
            notes.append("No cost per unit of error is set (Define page), so the outcome is minus the absolute error.")
        outs = [-cost * np.abs(s["pred"] - truth) for s in scored]
        return ReplayData(outs[0], outs[1], group=group, outcome_label=label), notes
    truth = y.map(format_class).to_numpy(dtype=object)
    if project.task == "binary":
        pos, classes = format_class(project.positive_class), [format_class(c) for c in project.classes]
        neg = next((c for c in classes if c != pos), "other")
        strange = sorted(set(truth) - set(classes))
        if strange:
            raise SchemaMismatch(f"The replay rows' {project.target!r} holds {', '.join(map(repr, strange[:5]))}, "
                                 f"which is not one of the project's outcomes ({', '.join(classes)}). Choose rows "
                                 "with the same outcomes, or fix those values.")
        actual = truth == pos
        decisions = [np.where(s["flag"], pos, neg).astype(object) for s in scored]
        correct = [s["flag"] == actual for s in scored]
        costs = {k: float(crit.costs.get(k, 0.0) or 0.0) for k in COST_KEYS}
        if any(costs.values()):
            outs = [np.select([s["flag"] & actual, s["flag"] & ~actual, ~s["flag"] & actual],
                              [costs["tp"], costs["fp"], costs["fn"]], costs["tn"]) for s in scored]
            label = "value"
        else:
            outs, label = [c.astype(float) for c in correct], "right decisions"
            notes.append("No value per decision is set (Define page), so the outcome is 1 for a right decision and 0 "
                         "for a wrong one.")
        by_recall = crit.primary_metric in RECALL_METRICS
        if not by_recall:
            notes.append(f"The simulator follows a per-request metric: accuracy stands in for "
                         f"{crit.primary_metric!r}, which is not measured one request at a time.")
        return ReplayData(outs[0], outs[1], decisions[0], decisions[1], correct[0], correct[1],
                          actual if by_recall else None, group, outcome_label=label), notes
    correct = [s["pred"] == truth for s in scored]
    notes.append("With more than two outcomes the cost matrix does not apply, so the outcome is 1 for a right "
                 "decision and 0 for a wrong one; accuracy stands in for the primary metric.")
    return ReplayData(correct[0].astype(float), correct[1].astype(float), scored[0]["pred"], scored[1]["pred"],
                      correct[0], correct[1], None, group, outcome_label="right decisions"), notes


def _latency(models, frames: list[pd.DataFrame], batch_ms: list[float]) -> tuple[np.ndarray, dict]:
    """Times both models on the same single-row requests, interleaved so load on the machine hits both alike."""
    n = len(frames[0])
    rows = np.unique(np.linspace(0, n - 1, min(LATENCY_REQUESTS, n)).astype(int))
    out = np.full((2, rows.size, LATENCY_REPEATS), np.inf)
    calls = [getattr(m, "predict_proba", m.predict) for m in models]
    for call, X in zip(calls, frames):
        call(X.iloc[:1])  # the first call pays one-off costs (imports, caches) no later request pays
    for j, i in enumerate(rows):
        for r in range(LATENCY_REPEATS):
            for k, (call, X) in enumerate(zip(calls, frames)):
                one = X.iloc[i:i + 1]
                started = time.perf_counter()
                call(one)
                out[k, j, r] = (time.perf_counter() - started) * 1000
    singles = out.min(axis=2)
    info = {who: {"p50_ms": float(np.median(s)), "p95_ms": float(np.percentile(s, 95)), "batch_ms": float(b),
                  "requests": int(rows.size)}
            for who, s, b in zip(("champion", "challenger"), singles, batch_ms)}
    return singles, info


def _examples(frame: pd.DataFrame, scored: list[dict], features: list[str], project) -> pd.DataFrame:
    """One row per replay row, for showing what the models disagreed on."""
    out = pd.DataFrame({"row": np.arange(len(frame)), "dataset_row": frame["_row"].astype(int).to_numpy()})
    out["actual"] = frame[project.target].map(format_class) if project.task != "regression" \
        else pd.to_numeric(frame[project.target], errors="coerce")
    pos = format_class(project.positive_class)
    neg = next((format_class(c) for c in project.classes if format_class(c) != pos), "other")
    for who, s in zip(("champion", "challenger"), scored):
        if "flag" in s:
            out[who] = np.where(s["flag"], pos, neg)
            out[f"{who}_score"] = np.round(s["score"], 4)
        else:
            out[who] = s["pred"]
    for c in features[:EXAMPLE_COLUMNS]:
        out[c] = frame[c].to_numpy()
    return out
