"""Data-quality alerts, declared as data: each rule has a code, a label, a severity, a threshold and a suggestion.

The set follows ydata-profiling's alerts (constant, unique, high cardinality, missing, zeros, skewed, infinite,
duplicates, high correlation, imbalance) plus type problems its users hit often: numbers or dates stored as text
and columns mixing both. Thresholds are ydata-profiling's defaults unless a comment says why not.
"""

from __future__ import annotations

from dataclasses import dataclass

SEVERITIES = ("problem", "warning", "info")
SEVERITY_ORDER = {s: i for i, s in enumerate(SEVERITIES)}


@dataclass(frozen=True)
class AlertRule:
    code: str
    label: str
    severity: str
    suggestion: str


RULES: dict[str, AlertRule] = {r.code: r for r in (
    AlertRule("all_missing", "Empty column", "warning",
              "It carries no information: drop it, or check the export that produced it."),
    AlertRule("constant", "Constant", "warning",
              "A column with one value cannot help a model or explain anything; drop it."),
    AlertRule("almost_constant", "Almost constant", "info",
              "It barely varies: check whether the rare values matter, otherwise drop the column."),
    AlertRule("id_like", "Unique / ID-like", "info",
              "Every row has its own value, like an identifier. Keep it to join or look up rows, but do not train "
              "a model on it."),
    AlertRule("high_cardinality", "High cardinality", "info",
              "Many distinct values make categories sparse: group rare values into 'other', or use the column "
              "only for look-ups."),
    AlertRule("high_missing", "Many missing values", "warning",
              "Find out why values are missing; fill them (median or 'unknown') or add a 'was missing' flag "
              "before training."),
    AlertRule("many_zeros", "Many zeros", "info",
              "Check whether zero means 'none' or 'not recorded'; if it means missing, mark it as missing."),
    AlertRule("skewed", "Heavily skewed", "info",
              "A few very large (or small) values dominate: consider a log transform, or look at the median "
              "rather than the mean."),
    AlertRule("infinite", "Infinite values", "warning",
              "Infinities usually come from dividing by zero upstream; replace them with missing values."),
    AlertRule("duplicates", "Duplicate rows", "warning",
              "Remove repeated rows unless they are real repeats; duplicates can leak between train and test."),
    AlertRule("high_correlation", "Highly correlated columns", "warning",
              "The two columns carry nearly the same information: keep one of them, or expect unstable "
              "model coefficients."),
    AlertRule("imbalance", "Imbalanced categories", "info",
              "Most rows share a few values; rare values may be too few to learn from, so group them or "
              "collect more."),
    AlertRule("numbers_as_text", "Numbers stored as text", "warning",
              "Re-load the file with this column set to number (the Data page), or clean the few text values."),
    AlertRule("dates_as_text", "Dates stored as text", "warning",
              "Re-load the file with this column set to date and time, so ranges and time splits work."),
    AlertRule("mixed_types", "Mixed types", "warning",
              "Numbers and words share this column: clean the odd values at the source, or treat the column "
              "as a category."),
)}

MISSING_WARN_PCT = 20.0
MISSING_INFO_PCT = 5.0
ALMOST_CONSTANT_PCT = 95.0
HIGH_CARDINALITY = 50
ZEROS_PCT = 10.0
SKEW_LIMIT = 3.0  # ydata's default is 20, which only fires on pathological columns; 3 flags a lognormal-like tail
IMBALANCE = 0.5  # 1 - normalised entropy
HIGH_CORRELATION = 0.9
TEXT_TYPE_SHARE = 0.95  # share of values that parse as numbers (or dates) for "stored as text"
MIXED_SHARE = 0.05  # below this share a few odd values are just text


def make_alert(code: str, columns: list[str], evidence: str, severity: str | None = None) -> dict:
    rule = RULES[code]
    return {"code": code, "label": rule.label, "severity": severity or rule.severity, "columns": list(columns),
            "evidence": evidence, "suggestion": rule.suggestion}


def find_alerts(stats: list[dict], summary: dict, correlations: dict | None) -> list[dict]:
    """Checks every rule against the column statistics, the table summary and the correlations."""
    alerts: list[dict] = []
    for s in stats:
        alerts.extend(column_alerts(s))
    dup = summary.get("duplicate_rows", 0)
    if dup:
        alerts.append(make_alert("duplicates", [], f"{dup:,} rows ({summary['duplicate_pct']:.2f}%) repeat an "
                                                   "earlier row exactly."))
    alerts.extend(correlation_alerts(correlations or {}))
    return sort_alerts(alerts)


def sort_alerts(alerts: list[dict]) -> list[dict]:
    order = list(RULES)
    return sorted(alerts, key=lambda a: (SEVERITY_ORDER[a["severity"]],
                                         order.index(a["code"]) if a["code"] in order else len(order)))


def column_alerts(s: dict) -> list[dict]:
    """The alerts one column's statistics raise."""
    name, count, rows = s["name"], s["count"], s["count"] + s["missing"]
    if count == 0:
        return [make_alert("all_missing", [name], f"{name!r} is empty in all {rows:,} rows.")]
    out = []
    distinct = s.get("distinct") or 0
    if distinct == 1:
        only = s["top"][0]["value"] if s.get("top") else s.get("min")
        out.append(make_alert("constant", [name], f"{name!r} has the same value ({only!r}) in every filled row."))
    else:
        top_pct = s["top"][0]["pct"] if s.get("top") else s.get("mode_pct")
        if top_pct is not None and top_pct >= ALMOST_CONSTANT_PCT:
            value = s["top"][0]["value"] if s.get("top") else s.get("q50")
            out.append(make_alert("almost_constant", [name],
                                  f"{top_pct:.1f}% of the filled rows of {name!r} hold the same value ({value!r})."))
        elif s.get("balance") is not None and distinct <= HIGH_CARDINALITY and 1 - s["balance"] >= IMBALANCE:
            top = s["top"][0]
            out.append(make_alert("imbalance", [name],
                                  f"{name!r} is dominated by {top['value']!r} ({top['pct']:.1f}% of filled rows); "
                                  f"balance {s['balance']:.2f} on a 0-1 scale."))
    if is_id_like(s):
        out.append(make_alert("id_like", [name], f"{name!r} has {distinct:,} distinct values in {count:,} filled rows"
                                                 f"{' (approximate count)' if not s.get('distinct_exact', True) else ''}."))
    elif s["family"] == "categorical" and distinct > HIGH_CARDINALITY:  # free text is expected to vary
        out.append(make_alert("high_cardinality", [name], f"{name!r} has {distinct:,} distinct values "
                                                          f"({s['distinct_pct']:.1f}% of filled rows)."))
    if s["missing_pct"] >= MISSING_INFO_PCT:
        severity = "warning" if s["missing_pct"] >= MISSING_WARN_PCT else "info"
        out.append(make_alert("high_missing", [name], f"{s['missing']:,} of {rows:,} values of {name!r} are missing "
                                                      f"({s['missing_pct']:.1f}%).", severity))
    if s["family"] == "numeric" and distinct > 1:
        if s.get("zeros_pct", 0) >= ZEROS_PCT and distinct > 2:  # in a 0/1 flag, zero is just one of two answers
            out.append(make_alert("many_zeros", [name], f"{s['zeros']:,} values of {name!r} are zero "
                                                        f"({s['zeros_pct']:.1f}%)."))
        if s.get("skewness") is not None and abs(s["skewness"]) > SKEW_LIMIT:
            side = "right (a long tail of large values)" if s["skewness"] > 0 else "left (a long tail of small values)"
            out.append(make_alert("skewed", [name], f"{name!r} has skewness {s['skewness']:.2f}: skewed to the {side}; "
                                                    f"mean {s['mean']:,.4g} vs median {_num(s.get('q50'))}."))
    if s.get("infinite"):
        out.append(make_alert("infinite", [name], f"{s['infinite']:,} values of {name!r} are infinite "
                                                  f"({s['infinite_pct']:.2f}%)."))
    out.extend(_type_alerts(s))
    return out


def is_id_like(s: dict) -> bool:
    """True for identifier columns: declared as IDs, or unique in every row (whole numbers or text only)."""
    if s["kind"] == "id":
        return True
    unique = s["count"] >= 20 and (s.get("distinct") or 0) >= s["count"]
    return unique and (s["family"] in ("categorical", "text") or (s["family"] == "numeric" and bool(s.get("integral"))))


def _type_alerts(s: dict) -> list[dict]:
    checked = s.get("type_check_values") or 0
    if not checked:
        return []
    name = s["name"]
    num, date = s["as_number"] / checked, s["as_date"] / checked
    examples = ", ".join(repr(v) for v in s.get("text_examples", [])[:3])
    odd = f" Values that are not: {examples}." if examples else ""
    rows = s["count"] + s["missing"]
    where = f" (in a sample of {s['type_check_rows']:,} rows)" if s.get("type_check_rows", rows) < rows else ""
    if num >= TEXT_TYPE_SHARE and s.get("leading_zero", 0) < 0.01 * checked:
        return [make_alert("numbers_as_text", [name], f"{num:.1%} of the values of {name!r} are numbers{where}, but "
                                                      f"the column is stored as text.{odd}")]
    if date >= TEXT_TYPE_SHARE:
        return [make_alert("dates_as_text", [name], f"{date:.1%} of the values of {name!r} are dates{where}, but the "
                                                    f"column is stored as text.{odd}")]
    mixed = max(num, date)
    if MIXED_SHARE <= mixed < TEXT_TYPE_SHARE:
        what = "numbers" if num >= date else "dates"
        return [make_alert("mixed_types", [name], f"{mixed:.1%} of the values of {name!r} are {what} and "
                                                  f"{1 - mixed:.1%} are text{where}.{odd}")]
    return []


def correlation_alerts(corr: dict) -> list[dict]:
    """One alert per pair of columns whose strongest association reaches HIGH_CORRELATION."""
    best: dict[tuple[str, str], dict] = {}
    for p in corr.get("pairs", []):
        key = (p["a"], p["b"])
        if abs(p["value"]) >= HIGH_CORRELATION and (key not in best or abs(p["value"]) > abs(best[key]["value"])):
            best[key] = p
    n = corr.get("sample_rows")
    where = f" (on a sample of {n:,} rows)" if n and n < corr.get("rows", n) else ""
    return [make_alert("high_correlation", [a, b], f"{a!r} and {b!r}: {p['method']} {p['value']:.3f}{where}.")
            for (a, b), p in best.items()]


def count_by_severity(alerts: list[dict]) -> dict[str, int]:
    """Counts alerts per severity, every severity present (0 when none)."""
    out = {s: 0 for s in SEVERITIES}
    for a in alerts:
        out[a["severity"]] = out.get(a["severity"], 0) + 1
    return out


def _num(value) -> str:
    return "n/a" if value is None else f"{value:,.4g}"
