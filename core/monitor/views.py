"""What the Drift page says about a result: the verdict headline, the key figures, the retrain advice, the window table.

Pure functions of core.monitor's results (no workspace, no Streamlit); the page formats and draws them. Key figures
are `core.evaluate.views.Kpi` tiles, the one tile type of the app.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from core.evaluate.views import Kpi
from core.monitor.checks import DriftResult
from core.monitor.windows import OverTimeResult, WindowDrift


@dataclass(frozen=True)
class Headline:
    """The verdict card's headline and its colour (a Streamlit colour name: red, orange, green)."""

    text: str
    colour: str


def verdict_headline(result: DriftResult) -> Headline:
    """Drift detected (dataset drift), some columns changed (a column or the predictions drifted), or no drift."""
    if result.dataset_drift:
        return Headline("Drift detected", "red")
    if result.drifted or (result.prediction is not None and result.prediction.drift):
        return Headline("Some columns changed", "orange")
    return Headline("No drift", "green")


def retrain_window(result: OverTimeResult) -> WindowDrift | None:
    """The latest window with enough rows, when it crossed a threshold (retraining is advised); otherwise None."""
    if not result.retrain_recommended:
        return None
    return [w for w in result.windows if w.result is not None][-1]


def window_table(result: OverTimeResult) -> pd.DataFrame:
    """One row per window, for display: the metric column is left out when no window has a metric."""
    frame = result.frame()
    if frame[result.metric_name].isna().all():
        frame = frame.drop(columns=[result.metric_name])
    return frame


def kpis(result: DriftResult, quality: dict | None) -> list[Kpi]:
    """Four key figures: drifted columns, their share, prediction drift, and the model's quality on the current
    rows when labels allowed it (`DriftCheck.model_quality`), otherwise the rows compared on each side."""
    pred = result.prediction
    tiles = [
        Kpi("Drifted columns", f"{len(result.drifted)} of {len(result.compared)}"),
        Kpi("Share drifted", f"{result.drift_share:.0%}",
            help=f"Dataset drift when at least {result.options.drift_share:.0%} of the columns drifted."),
        Kpi("Prediction drift", "—" if pred is None else ("yes" if pred.drift else "no"),
            help="Whether the model's scores on the current rows differ from those on the reference."),
    ]
    if quality:
        expected = quality.get("expected")
        tiles.append(Kpi(
            f"{quality['label']} on current rows", f"{quality['current']:.3f}",
            None if expected is None else f"{quality['current'] - expected:+.3f} vs validation",
            delta_color="normal" if quality["op"] == ">=" else "inverse",
            help=f"Target {quality['op']} {quality['threshold']:g} ({'met' if quality['meets'] else 'missed'}), "
                 f"on {quality['n_labelled']:,} labelled rows."))
    else:
        tiles.append(Kpi("Rows compared", f"{result.n_reference:,} vs {result.n_current:,}"))
    return tiles
