"""What the Evaluate page shows around the charts: key-figure tiles per task, which criteria checks to list, the
error-segment measure, the per-class report and the fairness pickers. Pure reshaping of core.evaluate's views.

`Kpi` is the one key-figure tile of the app (core.monitor.views uses it too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from core.evaluate.report import format_number
from core.project.criteria import format_class


@dataclass(frozen=True)
class Kpi:
    """One key figure (the arguments of a metric tile)."""

    label: str
    value: str
    delta: str | None = None
    delta_color: str = "normal"   # "inverse" when lower is better
    help: str | None = None


def binary_kpis(point: dict) -> list[Kpi]:
    """Precision, recall, F1 and value per 1,000 decisions at the chosen threshold (`report.operating_point`)."""
    value = point["value_per_1000"]
    return [
        Kpi("Precision", f"{point['precision']:.3f}", help="Of the flagged rows, the share that are real cases."),
        Kpi("Recall", f"{point['recall']:.3f}", help="Of the real cases, the share that are flagged."),
        Kpi("F1", f"{point['f1']:.3f}", help="Balance of precision and recall."),
        Kpi("Value per 1,000 decisions", "no costs set" if value is None else f"{value:+,.0f}",
            help="From the project's value of each decision (Define page): caught case, false alarm, missed case, "
                 "correct all-clear."),
    ]


def multiclass_kpis(summary: dict) -> list[Kpi]:
    """Accuracy (against always answering the commonest class), balanced accuracy, macro F1 and kappa."""
    return [
        Kpi("Accuracy", f"{summary['accuracy']:.3f}",
            help=f"Always answering the commonest class: {summary['majority_accuracy']:.3f}."),
        Kpi("Balanced accuracy", f"{summary['balanced_accuracy']:.3f}"),
        Kpi("Macro F1", f"{summary['macro_f1']:.3f}"),
        Kpi("Kappa", f"{summary['kappa']:.3f}", help="How far above chance agreement the model is (0 = chance)."),
    ]


def regression_kpis(summary: dict) -> list[Kpi]:
    """MAE, RMSE, R², bias (signed) and the cost of errors per 1,000 predictions, in the target's units."""
    cost = summary["cost_per_1000"]
    return [
        Kpi("MAE", format_number(summary["mae"]), help="Average size of an error, in the target's units."),
        Kpi("RMSE", format_number(summary["rmse"])),
        Kpi("R²", f"{summary['r2']:.3f}"),
        Kpi("Bias", ("+" if summary["bias"] > 0 else "") + format_number(summary["bias"]),
            help="Average of actual − predicted: above 0 means it predicts too low."),
        Kpi("Cost per 1,000 predictions", "no cost set" if cost is None else format_number(cost),
            help="MAE × the project's cost per unit of error × 1,000."),
    ]


def shown_checks(checks: list) -> list:
    """The criteria checks listed under the tiles: the launch rule and guardrails, not the key results."""
    return [c for c in checks if c.kind != "key_result"]


def segment_measure(task: str) -> tuple[str, str]:
    """The column and words the error segments are ranked by: mean absolute error, or the share predicted wrongly."""
    return ("mae", "mean absolute error") if task == "regression" else ("error_rate", "share predicted wrongly")


def class_report(report: pd.DataFrame) -> pd.DataFrame:
    """The per-class report with each class written as people read it."""
    return report.assign(**{"class": [format_class(c) for c in report["class"]]})


@dataclass(frozen=True)
class FairnessChoices:
    """What the fairness tab lets you pick: the sensitive attribute, the outcome, and the measures charted."""

    attributes: list[str]
    outcomes: list[Any]
    measures: tuple[str, ...]


def fairness_choices(result) -> FairnessChoices:
    """Attributes and outcomes in the order the fairness result lists them; error measures for regression,
    selection rate, recall and false-positive rate otherwise."""
    groups = result.groups
    return FairnessChoices(
        attributes=list(dict.fromkeys(groups["attribute"])),
        outcomes=[o for o in dict.fromkeys(groups["outcome"]) if o is not None],
        measures=("mae", "rmse") if result.mode == "regression" else ("selection_rate", "recall", "fpr"))
