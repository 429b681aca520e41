"""The Retrain page's numbers say what they are: the gain names its metric, its direction and its interval."""

from __future__ import annotations

from core.release.retrain import Retrain, RetrainSpec
from core.release.retrain_views import (
    gain_direction,
    gain_header,
    gain_note,
    gain_text,
    history_table,
    holdout_cards,
)


def _holdout(metric="recall", label="Recall", higher=True, gain=0.0312, ci=(-0.0101, 0.0724), champion=0.7, new=0.73):
    return {"metric": metric, "metric_label": label, "higher_is_better": higher, "gain": gain, "ci": list(ci),
            "champion": {metric: champion}, "challenger": {metric: new}, "champion_label": "v1",
            "challenger_label": "v2", "batch": "Batch 3 · 2026-03", "rows": 3000, "challenger_wins": False}


def _retrain(holdout, decision=None, gate=None):
    return Retrain("rt_1", "p", RetrainSpec(), "ver_1", "ver_2", ({"seq": 2}, {"seq": 3}),
                   {"seq": 4, "label": "2026-04"}, holdout, gate if gate is not None else {"passed": True},
                   at="2026-04-02T09:15:30", decision=decision)


def test_the_gain_column_names_its_metric_direction_and_interval():
    h = _holdout()
    assert gain_header([h]) == "Recall gain (95 % CI)"
    assert gain_note([h]) == ("Gain: Recall on the holdout batch, which neither model trained on, taken as challenger "
                              "− champion, so + means the challenger did better; 95 % paired bootstrap interval.")
    assert gain_text(h) == "+0.031 (-0.010 to +0.072)" and gain_text(h, with_metric=True).startswith("Recall +0.031")
    mae = _holdout("mae", "MAE", higher=False, gain=1.5, ci=(0.5, 2.5))
    assert gain_header([mae]) == "MAE gain (95 % CI)" and gain_text(mae) == "+1.500 (+0.500 to +2.500)"
    assert "taken as champion − challenger, lower is better, so + means" in gain_note([mae])
    assert gain_direction(mae) == "champion − challenger, lower is better, + = challenger better"
    assert gain_text({**h, "gain": float("nan")}) == "not measured"


def test_the_history_reads_as_words_and_mixed_metrics_say_which():
    table = history_table([_retrain(_holdout(), {"action": "promote", "by": "Dana", "reason": "won"}),
                           _retrain(_holdout(), gate={})])
    gain = gain_header([_holdout()])
    assert table["At"].tolist() == ["2026-04-02 09:15"] * 2 and table["Models"].tolist() == ["v1 → v2"] * 2
    assert table["Trained on"].tolist() == ["batch 2, 3"] * 2 and table["Judged on"].iloc[0] == "batch 4 · 2026-04"
    assert table[gain].tolist() == ["+0.031 (-0.010 to +0.072)"] * 2
    assert table["Recall (champion → challenger)"].tolist() == ["0.700 → 0.730"] * 2
    assert table["Decision"].tolist() == ["promoted by Dana", "waiting"]
    assert table["Launch gate"].tolist() == ["passed", "not run"]
    mixed = history_table([_retrain(_holdout()), _retrain(_holdout("precision", "Precision"))])
    assert mixed["Primary metric (champion → challenger)"].tolist() == ["Recall 0.700 → 0.730",
                                                                       "Precision 0.700 → 0.730"]
    assert mixed["Gain (95 % CI)"].tolist() == ["Recall +0.031 (-0.010 to +0.072)", "Precision +0.031 (-0.010 to +0.072)"]


def test_the_cards_never_show_a_missing_metric_as_zero():
    h = _holdout(champion=None)
    (champ_label, champ, no_delta), (new_label, new, delta) = holdout_cards(h)
    assert champ == "not measured" and no_delta is None and new == "0.730"
    assert champ_label == "Recall · champion v1" and new_label == "Recall · challenger v2" and delta == "+0.031 vs v1"
