"""A project's retrain settings: the training window, the fresh holdout, and what the gate's verdict does.

They are what the YAML spec exports and replays (core.share.spec), what `workbench retrain` uses when no window is
given, and what the Retrain page starts from. Public API:
- `RetrainPolicy(window, latest_n, rolling_days, on_pass, on_fail)`; `.spec()` is the `RetrainSpec` to retrain
  with; `.to_spec()` / `RetrainPolicy.from_spec(section)` are the spec's `retrain:` section, checked (SpecInvalid
  names the setting and the values it takes). The holdout is always the newest labelled batch neither model saw.
- `get_retrain_policy(ws, project_id)`: the saved settings, else the newest retrain's window, else the defaults;
  `save_retrain_policy(ws, project_id, policy)`.
- `apply_gate(ws, retrain, policy, by)`: records the decision the settings ask for: promote only when the launch
  gate passed AND the challenger beat the champion on the holdout and `on_pass` is "promote" (never past a failed
  gate: an override is a person's written call); otherwise keep testing or, with `on_fail: discard`, discard.

Record "retrain_policy" (id "rpol_<project id>", project_id): schema, policy.
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass

from core.errors import SpecInvalid
from core.release.retrain import WINDOWS, Retrain, RetrainSpec, decide_retrain, list_retrains
from core.store.workspace import Workspace

KIND = "retrain_policy"
SCHEMA = 1
HOLDOUT = "newest labelled batch"
ON_PASS = ("promote", "keep")
ON_FAIL = ("keep", "discard")
_KEYS = ("window", "latest_n", "rolling_days", "holdout", "gate")
_GATE_KEYS = ("on_pass", "on_fail", "criteria")


@dataclass(frozen=True)
class RetrainPolicy:
    window: str = "all"
    latest_n: int = 1
    rolling_days: int = 60
    on_pass: str = "keep"     # a passed gate still waits for a person unless the team says "promote"
    on_fail: str = "keep"

    def spec(self) -> RetrainSpec:
        return RetrainSpec(window=self.window, latest_n=self.latest_n, rolling_days=self.rolling_days)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_spec(self) -> dict:
        """The spec's `retrain:` section."""
        return {"window": self.window, "latest_n": self.latest_n, "rolling_days": self.rolling_days,
                "holdout": HOLDOUT,
                "gate": {"on_pass": self.on_pass, "on_fail": self.on_fail,
                         "criteria": "the project's success criteria (launch gate)"}}

    @classmethod
    def from_spec(cls, section) -> "RetrainPolicy":
        """Reads and checks a spec's `retrain:` section. Raises: SpecInvalid naming the setting at fault."""
        if section is None:
            return cls()
        if not isinstance(section, dict):
            raise SpecInvalid("The spec's retrain section must be a mapping with window, latest_n, rolling_days, "
                              "holdout and gate. Export it again with `workbench export PROJECT`.")
        _known(section, _KEYS, "retrain")
        window = section.get("window", "all")
        if window not in WINDOWS:
            raise SpecInvalid(f"retrain.window {window!r} is not a training window; choose "
                              + ", ".join(f"{k!r} ({v.lower()})" for k, v in WINDOWS.items()) + ".")
        latest_n = _whole(section.get("latest_n", 1), "retrain.latest_n", "batches")
        rolling_days = _whole(section.get("rolling_days", 60), "retrain.rolling_days", "days")
        holdout = section.get("holdout", HOLDOUT)
        if str(holdout).strip().lower().replace("_", " ") not in (HOLDOUT, "newest", "newest labelled"):
            raise SpecInvalid(f"retrain.holdout {holdout!r} is not supported: both models are always judged on the "
                              f"newest labelled batch, which neither trained on. Write {HOLDOUT!r} or leave it out.")
        gate = section.get("gate") or {}
        if not isinstance(gate, dict):
            raise SpecInvalid("retrain.gate must be a mapping with on_pass (promote | keep) and on_fail "
                              "(keep | discard).")
        _known(gate, _GATE_KEYS, "retrain.gate")
        on_pass, on_fail = gate.get("on_pass", "keep"), gate.get("on_fail", "keep")
        if on_pass not in ON_PASS:
            raise SpecInvalid(f"retrain.gate.on_pass {on_pass!r} is not a choice; write 'promote' (promote a "
                              "challenger that passes the gate and wins on the holdout) or 'keep' (a person decides).")
        if on_fail not in ON_FAIL:
            raise SpecInvalid(f"retrain.gate.on_fail {on_fail!r} is not a choice; write 'keep' (keep testing) or "
                              "'discard'. A failed gate is never promoted by a spec.")
        return cls(window, latest_n, rolling_days, on_pass, on_fail)


def _known(section: dict, keys: tuple, where: str) -> None:
    for key in section:
        if key not in keys:
            near = difflib.get_close_matches(str(key), keys, n=1)
            raise SpecInvalid(f"{where} has no setting {key!r}."
                              + (f" Did you mean {near[0]!r}?" if near else f" It takes {', '.join(keys)}."))


def _whole(value, name: str, unit: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value < 1:
        raise SpecInvalid(f"{name} must be a whole number of {unit}, at least 1, not {value!r}.")
    return int(value)


def get_retrain_policy(ws: Workspace, project_id: str) -> RetrainPolicy:
    """The project's retrain settings: saved ones, else the newest retrain's window, else the defaults."""
    rec = ws.get_record(KIND, f"rpol_{project_id}")
    if rec:
        return RetrainPolicy(**{k: v for k, v in (rec.get("policy") or {}).items()
                                if k in RetrainPolicy.__dataclass_fields__})
    done = list_retrains(ws, project_id)
    if done:
        s = done[0].spec
        return RetrainPolicy(window=s.window, latest_n=s.latest_n, rolling_days=s.rolling_days)
    return RetrainPolicy()


def save_retrain_policy(ws: Workspace, project_id: str, policy: RetrainPolicy) -> RetrainPolicy:
    """Checks and saves the project's retrain settings. Raises: SpecInvalid, PermissionDenied."""
    clean = RetrainPolicy.from_spec(policy.to_spec())
    ws.put_record(KIND, f"rpol_{project_id}", {"schema": SCHEMA, "policy": clean.to_dict()}, project_id=project_id)
    return clean


def apply_gate(ws: Workspace, retrain: Retrain, policy: RetrainPolicy, by: str) -> Retrain:
    """Records the decision the retrain settings ask for (never promotes past a failed gate)."""
    h = retrain.holdout
    verdict = (f"launch gate {'passed' if retrain.gate_passed else 'failed'}; challenger "
               f"{'beat' if retrain.challenger_wins else 'did not beat'} the champion on {h.get('batch', 'the holdout')}")
    if retrain.gate_passed and retrain.challenger_wins:
        if policy.on_pass == "promote":
            return decide_retrain(ws, retrain.id, "promote", by, reason=f"Retrain settings (on_pass: promote): {verdict}.")
        return decide_retrain(ws, retrain.id, "keep", by,
                              reason=f"Retrain settings (on_pass: keep): {verdict}; a person decides the promotion.")
    action = "discard" if policy.on_fail == "discard" else "keep"
    return decide_retrain(ws, retrain.id, action, by, reason=f"Retrain settings (on_fail: {action}): {verdict}.")
