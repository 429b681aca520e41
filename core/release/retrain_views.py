"""What the Retrain page draws, as a stakeholder reads it: the retrain history and the pending challenger's numbers.

- `gain_header(holdouts)`: the gain column's name ("Recall gain (95 % CI)"); `gain_note(holdouts)`: the sentence
  under the table saying what it is (the metric on the holdout batch, its direction, the interval).
- `gain_text(holdout, with_metric=False)`: "+0.031 (−0.010 to +0.072)"; `gain_direction(holdout)`.
- `holdout_cards(holdout)`: the champion's and the challenger's primary metric on the holdout, and the gain.
- `history_table(retrains) -> DataFrame`: one row per retrain, newest first.
The gain is core.release.retrain's paired bootstrap on the holdout batch both models were judged on: the primary
metric's difference in its better direction (for an error metric, champion minus challenger), so + always means the
challenger did better.
"""

from __future__ import annotations

import math

import pandas as pd

from core.release.retrain import Retrain


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _metric_value(holdout: dict, side: str) -> str:
    value = (holdout.get(side) or {}).get(holdout.get("metric"))
    return f"{value:.3f}" if _finite(value) else "not measured"


def _direction(holdout: dict) -> str:
    return ("challenger − champion" if holdout.get("higher_is_better", True)
            else "champion − challenger, lower is better")


def gain_direction(holdout: dict) -> str:
    """How the gain was taken: "challenger − champion, + = challenger better"."""
    return f"{_direction(holdout)}, + = challenger better"


def gain_header(holdouts: list[dict]) -> str:
    """The gain column's short name: "Recall gain (95 % CI)" when every retrain judged the same metric."""
    labels = {h.get("metric_label", "") for h in holdouts}
    return f"{next(iter(labels))} gain (95 % CI)" if len(labels) == 1 else "Gain (95 % CI)"


def gain_note(holdouts: list[dict]) -> str:
    """The sentence under the table that says what the gain is."""
    labels = sorted({h.get("metric_label", "") for h in holdouts})
    directions = sorted({_direction(h) for h in holdouts})
    return (f"Gain: {' / '.join(labels)} on the holdout batch, which neither model trained on, taken as "
            f"{' or '.join(directions)}, so + means the challenger did better; 95 % paired bootstrap interval.")


def gain_text(holdout: dict, with_metric: bool = False) -> str:
    """The gain and its 95 % interval, e.g. "+0.031 (−0.010 to +0.072)"; "not measured" when there is none."""
    gain = holdout.get("gain")
    if not _finite(gain):
        return "not measured"
    low, high = (list(holdout.get("ci") or []) + [None, None])[:2]
    text = f"{gain:+.3f}" + (f" ({low:+.3f} to {high:+.3f})" if _finite(low) and _finite(high) else "")
    return f"{holdout.get('metric_label', '')} {text}".strip() if with_metric else text


def holdout_cards(holdout: dict) -> list[tuple[str, str, str | None]]:
    """(label, value, delta) for the champion's and the challenger's primary metric on the holdout batch."""
    label = holdout.get("metric_label", "")
    gain = holdout.get("gain")
    delta = f"{gain:+.3f} vs {holdout.get('champion_label', 'the champion')}" if _finite(gain) else None
    return [(f"{label} · champion {holdout.get('champion_label', '')}".strip(), _metric_value(holdout, "champion"),
             None),
            (f"{label} · challenger {holdout.get('challenger_label', '')}".strip(),
             _metric_value(holdout, "challenger"), delta)]


_DONE = {"promote": "promoted", "discard": "discarded", "keep": "kept testing"}


def history_table(retrains: list[Retrain]) -> pd.DataFrame:
    """One row per retrain, newest first: when, the two models, the window and the holdout, both models' primary
    metric on it, the gain with its interval (column named by `gain_header`, explained by `gain_note`), the gate and
    the decision."""
    holdouts = [r.holdout for r in retrains]
    labels = {h.get("metric_label", "") for h in holdouts}
    one_metric = len(labels) == 1
    metric = next(iter(labels)) if one_metric else "Primary metric"
    rows = []
    for r in retrains:
        h, decision = r.holdout, r.decision or {}
        action = decision.get("action")
        both = f"{_metric_value(h, 'champion')} → {_metric_value(h, 'challenger')}"
        rows.append({
            "At": r.at.replace("T", " ")[:16],
            "Models": f"{h.get('champion_label', '?')} → {h.get('challenger_label', '?')}",
            "Trained on": "batch " + ", ".join(str(b["seq"]) for b in r.train_batches),
            "Judged on": f"batch {r.holdout_batch.get('seq')} · {r.holdout_batch.get('label', '')}".strip(" ·"),
            f"{metric} (champion → challenger)": both if one_metric else f"{h.get('metric_label', '')} {both}",
            gain_header(holdouts): gain_text(h, with_metric=not one_metric),
            "Challenger wins": "yes" if r.challenger_wins else "no",
            "Launch gate": "passed" if r.gate_passed else "failed" if r.gate else "not run",
            "Decision": (f"{_DONE.get(action, action)} by {decision.get('by', '')}".strip() if action
                         else "waiting"),
            "Reason": decision.get("reason", ""),
        })
    return pd.DataFrame(rows)
