"""Which columns a model reads, and why each other column is left out.

`choose_features(columns, target, features=None, exclude=(), sensitive=(), sensitive_reason=None, suspects=None)
-> FeatureChoice`. The default is every usable column (number, category, yes/no, date, free text) minus the target,
identifiers, the columns the profile flags as target leaks (`suspects`: {column: evidence}) and the project's
sensitive attributes. A sensitive attribute becomes an input only when named in `features` together with a stated
reason; the choice (features used, left out with why, any sensitive opt-in and its reason) is saved on every run,
its receipt and the model card.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.errors import SpecInvalid, unknown

MODEL_KINDS = ("number", "category", "boolean", "datetime", "text")
LEAK_CODES = ("near_perfect", "missing_tells", "after_outcome")  # profile suspects left out by default
ID_CODE = "id_like"  # ... and identifiers the profile spots among text and category columns


@dataclass(frozen=True)
class FeatureChoice:
    """The columns a model reads (in order), those left out with why, and any sensitive attribute used on purpose."""

    used: tuple[str, ...]
    left_out: tuple[dict, ...] = ()  # {"column", "reason"}
    sensitive_used: tuple[str, ...] = ()
    sensitive_reason: str | None = None
    chosen: str = "default"  # "default" | "chosen" (a feature list was given)

    def to_dict(self) -> dict:
        return {"used": list(self.used), "left_out": [dict(d) for d in self.left_out],
                "sensitive_used": list(self.sensitive_used), "sensitive_reason": self.sensitive_reason,
                "chosen": self.chosen}

    @classmethod
    def from_dict(cls, d: dict | None) -> "FeatureChoice | None":
        if not d:
            return None
        return cls(tuple(d.get("used") or ()), tuple(dict(x) for x in d.get("left_out") or ()),
                   tuple(d.get("sensitive_used") or ()), d.get("sensitive_reason"), d.get("chosen", "default"))


def leak_suspects(profile: dict | None) -> dict[str, str]:
    """The columns a profile with a target view flags as leaks or identifiers: {column: evidence}."""
    view = (profile or {}).get("target_view") or {}
    out: dict[str, str] = {}
    for s in view.get("suspects") or ():
        if s.get("code") in LEAK_CODES + (ID_CODE,):
            out.setdefault(str(s["column"]), str(s.get("evidence") or s["code"]))
    return out


def _kind_reason(kind: str) -> str:
    if kind == "id":
        return "an identifier: a model would memorise rows instead of learning patterns"
    return f"a {kind} column, which no model reads"


def choose_features(columns: dict[str, str], target: str | None, features: Sequence[str] | None = None,
                    exclude: Sequence[str] = (), sensitive: Sequence[str] = (), sensitive_reason: str | None = None,
                    suspects: dict[str, str] | None = None) -> FeatureChoice:
    """Returns the feature choice for columns {name: kind}. Raises: SpecInvalid, NotFound."""
    kinds = {str(c): k for c, k in columns.items()}
    names = [c for c in kinds if c != target]
    sensitive = [str(s) for s in sensitive or () if str(s) in kinds]
    suspects = {str(k): v for k, v in (suspects or {}).items() if k in kinds}
    reason_text = (sensitive_reason or "").strip() or None
    for col in list(exclude or ()) + list(features or ()):
        if str(col) not in kinds:
            err = unknown("column", str(col), list(kinds))
            raise type(err)(f"{err} The columns are: {', '.join(list(kinds)[:30])}"
                            f"{' …' if len(kinds) > 30 else ''}.")
    excluded = {str(c) for c in exclude or ()}
    left: dict[str, str] = {}
    if features is not None:
        wanted = list(dict.fromkeys(str(c) for c in features))
        if not wanted:
            raise SpecInvalid("The feature list is empty, so a model would have nothing to read. Name at least one "
                              "column, or leave the list out to use the default choice.")
        if target is not None and target in wanted:
            if len(wanted) == 1:
                raise SpecInvalid(f"Only the target {target!r} was chosen as a feature; a model cannot learn from "
                                  "its own answer. Choose the columns known before the outcome.")
            raise SpecInvalid(f"{target!r} is the target, so it cannot also be a feature. Remove it from the list.")
        for c in wanted:
            if kinds[c] not in MODEL_KINDS:
                raise SpecInvalid(f"Column {c!r} is {_kind_reason(kinds[c])}. Remove it from the feature list.")
        chosen_sensitive = [c for c in wanted if c in sensitive and c not in excluded]
        if chosen_sensitive and not reason_text:
            raise SpecInvalid(f"{', '.join(repr(c) for c in chosen_sensitive)} "
                              f"{'is a sensitive attribute' if len(chosen_sensitive) == 1 else 'are sensitive attributes'}"
                              " of this project: checked for fairness, not used to decide. To use it as an input "
                              "anyway, state why (the reason is recorded on the run and the model card).")
        used = [c for c in wanted if c not in excluded]
        for c in names:
            if c in excluded:
                left[c] = "left out by you"
            elif c not in wanted:
                left[c] = "not in the chosen feature list"
        chosen = "chosen"
    else:
        chosen_sensitive, used = [], []
        for c in names:
            if c in excluded:
                left[c] = "left out by you"
            elif kinds[c] not in MODEL_KINDS:
                left[c] = _kind_reason(kinds[c])
            elif c in sensitive:
                left[c] = ("a sensitive attribute of the project: checked for fairness, not used to decide (name it "
                           "as a feature with a reason to opt in)")
            elif c in suspects:
                left[c] = f"flagged by the profile as a possible leak: {suspects[c]}"
            else:
                used.append(c)
        chosen = "default"
    if not used:
        raise SpecInvalid("No column is left for a model to read after the exclusions. Keep at least one number, "
                          "category, yes/no, date or text column.")
    return FeatureChoice(tuple(used), tuple({"column": c, "reason": r} for c, r in left.items()),
                         tuple(chosen_sensitive), reason_text if chosen_sensitive else None, chosen)
