"""Which threshold a model's metrics are shown at: one rule for every page, the report and the CLI.

A two-outcome model's precision, recall, F1, accuracy and value depend on the decision threshold. Training measures
them at 0.5 (`Run.validation_metrics`); the analyst saves the threshold the model is used at (Evaluate page), and the
registry freezes it with the version. Every place that shows such a metric for a run or version calls
`shown_threshold(model)` and prints `.label` beside it, so two numbers for one model never silently disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_THRESHOLD = 0.5  # what training measures at, and what a model without a saved threshold is judged at
THRESHOLD_METRICS = frozenset({"precision", "recall", "f1", "accuracy", "fpr", "selection_rate", "balanced_accuracy"})


@dataclass(frozen=True)
class ShownThreshold:
    """The threshold metrics are shown at (None: the task has none), and where it comes from."""

    value: float | None
    source: str  # "saved" (the model's saved threshold), "default" (none saved: 0.5), "none" (not two-outcome)

    @property
    def label(self) -> str:
        """'at the saved threshold 0.42', 'at the default threshold 0.50', or '' when no threshold applies."""
        if self.value is None:
            return ""
        return f"at the {'saved' if self.source == 'saved' else 'default'} threshold {self.value:.2f}"


def shown_threshold(model) -> ShownThreshold:
    """The one rule: a two-outcome run or version is shown at its saved threshold, else at 0.5.

    `model` is anything with `task` and `threshold` (core.models.runs.Run, core.registry.versions.Version).
    """
    if getattr(model, "task", None) != "binary":
        return ShownThreshold(None, "none")
    saved = getattr(model, "threshold", None)
    if saved is None:
        return ShownThreshold(DEFAULT_THRESHOLD, "default")
    return ShownThreshold(float(saved), "saved")


def depends_on_threshold(metric: str) -> bool:
    """Whether a metric of a two-outcome model moves with the threshold (ROC-AUC, PR-AUC, log loss do not)."""
    return metric in THRESHOLD_METRICS
