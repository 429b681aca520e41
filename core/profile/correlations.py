"""Associations between columns on a fixed sample: Pearson, Spearman, Cramér's V and the correlation ratio.

Numbers against numbers use Pearson and Spearman (both over the rows where both values are present and finite);
categories against categories use Cramér's V; a number against a category uses the correlation ratio (eta), as
ydata-profiling does. Everything runs in numpy on at most `profile_stats.SAMPLE_ROWS` rows fetched once through Arrow.
"""

from __future__ import annotations

import math

import numpy as np

from core.profile.stats import Source
from core.store.workspace import Workspace, quote_ident

MAX_LEVELS = 50  # categories with more levels are left out: their associations are inflated by sparse cells
MAX_MATRIX_COLUMNS = 40  # a heatmap wider than this is unreadable; the first 40 eligible columns are kept
HIGH_CORRELATION = 0.9  # ydata-profiling's default threshold
MIN_PAIR_ROWS = 10


# -- the sample --------------------------------------------------------------------------------------------------------
def fetch_sample(ws: Workspace, src: Source, rows: int, numeric: list[str], categorical: list[str],
                 dates: list[str] = (), wanted: int | None = None) -> tuple[dict[str, np.ndarray], int]:
    """Fetches a deterministic sample: numbers (and dates, as epoch seconds) as floats, categories as codes (-1 = none)."""
    import pyarrow.compute as pc

    sample = src.sampled(rows, wanted)
    parts = ([f"CAST({quote_ident(c)} AS DOUBLE)" for c in numeric]
             + [f"CAST(epoch({quote_ident(c)}) AS DOUBLE)" for c in dates]
             + [f"CAST({quote_ident(c)} AS VARCHAR)" for c in categorical])
    if not parts:
        return {}, 0
    aliased = ", ".join(f"{p} AS c{i}" for i, p in enumerate(parts))
    table = ws.read_arrow(f"SELECT {aliased} FROM {sample.from_sql()}", sample.params)
    out: dict[str, np.ndarray] = {}
    names = list(numeric) + list(dates) + list(categorical)
    for i, name in enumerate(names):
        col = table.column(i)
        if i < len(numeric) + len(dates):
            x = col.to_numpy(zero_copy_only=False).astype(np.float64)
            x[~np.isfinite(x)] = np.nan  # infinities carry no rank or moment information
            out[name] = x
        else:
            encoded = pc.dictionary_encode(col).combine_chunks()
            out[name] = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    return out, table.num_rows


# -- measures ----------------------------------------------------------------------------------------------------------
class Ranker:
    """Sorts a column once, then gives average ranks (ties shared) within any subset of its rows in O(n)."""

    def __init__(self, x: np.ndarray):
        idx = np.flatnonzero(~np.isnan(x))
        self.order = idx[np.argsort(x[idx])]  # ties share one average rank, so their order does not matter
        sx = x[self.order]
        self.group = np.concatenate(([0], np.cumsum(sx[1:] != sx[:-1]))) if sx.size else np.zeros(0, np.int64)
        self.n = x.size

    def ranks(self, mask: np.ndarray) -> np.ndarray:
        """Ranks (1-based) of the rows in `mask` (all present in x) among themselves, in row order."""
        inside = mask[self.order]
        size = np.bincount(self.group, weights=inside, minlength=int(self.group[-1]) + 1 if self.group.size else 0)
        avg = np.cumsum(size) - size + (size + 1) / 2
        out = np.empty(self.n)
        out[self.order] = avg[self.group]
        return out[mask]


def ranks(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Average ranks (1-based, ties shared) of x[mask], in the order of x[mask]."""
    return Ranker(np.where(mask, x, np.nan)).ranks(mask)


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    # Plain multiply-and-sum: BLAS threads (a @ b) stall for tens of milliseconds on a busy two-core machine.
    return float(np.sum(a * b))


def pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    """Pearson's r over rows where both are present, or None when either side does not vary."""
    m = ~(np.isnan(x) | np.isnan(y))
    if m.sum() < MIN_PAIR_ROWS:
        return None
    return _pearson(x[m], y[m])


def _pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    a, b = x - x.mean(), y - y.mean()
    den = math.sqrt(_dot(a, a) * _dot(b, b))
    return max(-1.0, min(1.0, _dot(a, b) / den)) if den > 0 else None


def spearman(x: np.ndarray, y: np.ndarray, rx: Ranker | None = None, ry: Ranker | None = None) -> float | None:
    """Spearman's rho: Pearson's r of the average ranks, over rows where both are present."""
    m = ~(np.isnan(x) | np.isnan(y))
    if m.sum() < MIN_PAIR_ROWS:
        return None
    return _pearson((rx or Ranker(x)).ranks(m), (ry or Ranker(y)).ranks(m))


def cramers_v(a: np.ndarray, b: np.ndarray) -> float | None:
    """Cramér's V of two coded categories (no bias correction), over rows where both are present."""
    m = (a >= 0) & (b >= 0)
    if m.sum() < MIN_PAIR_ROWS:
        return None
    a, b = a[m], b[m]
    ka, kb = int(a.max()) + 1, int(b.max()) + 1
    table = np.bincount(a * kb + b, minlength=ka * kb).reshape(ka, kb).astype(np.float64)
    table = table[table.sum(1) > 0][:, table.sum(0) > 0]  # levels absent from these rows
    ka, kb = table.shape
    if ka < 2 or kb < 2:
        return None
    n = table.sum()
    expected = np.outer(table.sum(1), table.sum(0)) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    return float(math.sqrt(min(1.0, chi2 / (n * (min(ka, kb) - 1)))))


def correlation_ratio(x: np.ndarray, codes: np.ndarray) -> float | None:
    """The correlation ratio eta of a number by a category: sqrt(between-group over total sum of squares)."""
    m = ~np.isnan(x) & (codes >= 0)
    if m.sum() < MIN_PAIR_ROWS:
        return None
    x, g = x[m], codes[m]
    n = np.bincount(g).astype(np.float64)
    sums = np.bincount(g, weights=x)
    used = n > 0
    if used.sum() < 2:
        return None
    centred = x - x.mean()
    total = _dot(centred, centred)
    if total <= 0:
        return None
    between = float((n[used] * (sums[used] / n[used] - x.mean()) ** 2).sum())
    return float(math.sqrt(min(1.0, between / total)))


def auc(score: np.ndarray, positive: np.ndarray) -> float | None:
    """ROC AUC of a single score for a boolean outcome (ties count half), over rows with a score."""
    m = ~np.isnan(score)
    pos = positive[m]
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    r = ranks(score, m)
    return float((r[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


# -- the matrix ----------------------------------------------------------------------------------------------------------
def eligible_columns(stats: list[dict]) -> tuple[list[str], list[str]]:
    """Chooses the columns worth correlating: varying numbers, and categories with 2..MAX_LEVELS levels."""
    numeric, categorical = [], []
    for s in stats:
        if len(numeric) + len(categorical) >= MAX_MATRIX_COLUMNS:
            break
        if s["family"] == "numeric" and s["kind"] != "id" and (s.get("distinct") or 0) > 1 and s["min"] != s["max"]:
            numeric.append(s["name"])
        elif s["family"] == "categorical" and s["kind"] != "id" and 2 <= (s.get("distinct") or 0) <= MAX_LEVELS:
            categorical.append(s["name"])
    return numeric, categorical


def correlations(ws: Workspace, src: Source, stats: list[dict], rows: int,
                 sample: tuple[dict[str, np.ndarray], int] | None = None) -> dict:
    """Computes the association matrices and the list of strongly associated pairs (on `sample` when given)."""
    numeric, categorical = eligible_columns(stats)
    data, n = sample if sample is not None else fetch_sample(ws, src, rows, numeric, categorical)
    names = numeric + categorical
    k = len(names)
    pear = np.full((len(numeric), len(numeric)), np.nan)
    spear = np.full((len(numeric), len(numeric)), np.nan)
    assoc = np.full((k, k), np.nan)
    pairs = []
    fast = _NumericPairs(data, numeric)
    for i in range(k):
        assoc[i, i] = 1.0
        if i < len(numeric):
            pear[i, i] = spear[i, i] = 1.0
        for j in range(i + 1, k):
            a, b = names[i], names[j]
            if j < len(numeric):
                p, s = fast.pearson(a, b), fast.spearman(a, b)
                pear[i, j] = pear[j, i] = _nan(p)
                spear[i, j] = spear[j, i] = _nan(s)
                value = abs(s) if s is not None else None
                pairs += [{"a": a, "b": b, "method": "pearson", "value": p},
                          {"a": a, "b": b, "method": "spearman", "value": s}]
            elif i < len(numeric):
                value = correlation_ratio(data[a], data[b])
                pairs.append({"a": a, "b": b, "method": "correlation ratio", "value": value})
            else:
                value = cramers_v(data[a], data[b])
                pairs.append({"a": a, "b": b, "method": "Cramér's V", "value": value})
            assoc[i, j] = assoc[j, i] = _nan(value)
    pairs = [p for p in pairs if p["value"] is not None]
    pairs.sort(key=lambda p: -abs(p["value"]))
    return {"sample_rows": n, "rows": rows, "columns": names, "numeric": numeric, "categorical": categorical,
            "pearson": _matrix(pear), "spearman": _matrix(spear), "association": _matrix(assoc),
            "pairs": [dict(p, value=round(p["value"], 6)) for p in pairs if abs(p["value"]) >= 0.3][:200]}


class _NumericPairs:
    """Pearson and Spearman for many pairs: columns with no gaps are centred and scaled once, so a pair of them
    costs one dot product; pairs with gaps fall back to pairwise-complete rows and re-ranking."""

    def __init__(self, data: dict[str, np.ndarray], names: list[str]):
        self.data = data
        self.rankers = {name: Ranker(data[name]) for name in names}
        self.unit: dict[str, np.ndarray] = {}
        self.unit_rank: dict[str, np.ndarray] = {}
        for name in names:
            x = data[name]
            if x.size and not np.isnan(x).any():
                self.unit[name] = _unit(x)
                self.unit_rank[name] = _unit(self.rankers[name].ranks(np.ones(x.size, dtype=bool)))

    def pearson(self, a: str, b: str) -> float | None:
        if a in self.unit and b in self.unit and self.unit[a] is not None and self.unit[b] is not None \
                and self.data[a].size >= MIN_PAIR_ROWS:
            return max(-1.0, min(1.0, _dot(self.unit[a], self.unit[b])))
        return pearson(self.data[a], self.data[b])

    def spearman(self, a: str, b: str) -> float | None:
        if a in self.unit_rank and b in self.unit_rank and self.unit_rank[a] is not None \
                and self.unit_rank[b] is not None and self.data[a].size >= MIN_PAIR_ROWS:
            return max(-1.0, min(1.0, _dot(self.unit_rank[a], self.unit_rank[b])))
        return spearman(self.data[a], self.data[b], self.rankers[a], self.rankers[b])


def _unit(x: np.ndarray) -> np.ndarray | None:
    """x centred and scaled to length 1, or None when it does not vary."""
    centred = x - x.mean()
    norm = math.sqrt(_dot(centred, centred))
    return centred / norm if norm > 0 else None


def _nan(value: float | None) -> float:
    return np.nan if value is None else value


def _matrix(m: np.ndarray) -> list[list[float | None]]:
    return [[None if np.isnan(v) else round(float(v), 6) for v in row] for row in m]


def feature_data(ws: Workspace, src: Source, stats: list[dict], rows: int, target: str,
                 wanted: int | None = None) -> tuple[dict[str, np.ndarray], dict[str, str], int]:
    """Fetches the target and every usable feature for the target view; returns data, how each was encoded, n."""
    numeric, dates, categorical, how = [], [], [], {}
    for s in stats:
        name = s["name"]
        if s["family"] == "numeric":
            numeric.append(name)
            how[name] = "number"
        elif s["family"] == "datetime":
            dates.append(name)
            how[name] = "number"
        elif name == target or (s.get("distinct") or 0) <= MAX_LEVELS:
            categorical.append(name)
            how[name] = "category"
    if target not in how:
        categorical.append(target)
        how[target] = "category"
    data, n = fetch_sample(ws, src, rows, numeric, categorical, dates, wanted)
    return data, how, n
