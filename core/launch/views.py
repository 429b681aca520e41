"""What the Launch page says about its set-up and a simulation: the choices each input offers, the spec the form
builds, the verdict card, the key figures per strategy, which panels to show and the power calculation.

Pure functions of core.launch's results, except the set-up helpers that list a workspace's splits and datasets; the
page formats and draws what they return. Key figures are `core.evaluate.views.Kpi` tiles, the one tile type of the app.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from core.errors import WorkbenchError
from core.evaluate.views import Kpi
from core.launch.canary import GUARDRAILS
from core.launch.charts import guardrail_scale
from core.launch.rehearsal import (
    STRATEGY_LABELS,
    Contender,
    ReplaySource,
    Simulation,
    get_simulation,
    latest_simulation,
)
from core.launch.rollout import StrategyEntry
from core.launch.sim import RolloutSpec, Setting
from core.models.runs import get_run
from core.split.splitting import list_splits
from core.stats import abtests as abstats

INJECTION_LABELS = {"degrade": "Challenger degrades", "drift": "Data drifts", "imbalance": "Traffic split breaks"}
_CARDS = {"Ship": ("green", ":material/rocket_launch:"), "Roll back": ("red", ":material/undo:"),
          "Keep testing": ("orange", ":material/hourglass_top:")}


# -- set-up ------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LaunchSetup:
    """The choices every strategy shares: who, on which rows, how much traffic, for how long, an optional problem."""

    champion: Contender
    challenger: Contender
    source: ReplaySource
    traffic: int
    days: int
    seed: int
    inject: dict | None = None


def shown_value(p: Setting, value):
    """A spec value as people read it (a share as a percentage), whole numbers as ints."""
    shown = round(value * p.scale, 9)
    return int(shown) if float(shown).is_integer() else shown


def from_shown(p: Setting, shown, *, whole: bool = False):
    """The spec value of what a form shows: divided by the setting's scale; an int for an unscaled `whole` number."""
    return int(shown) if whole and p.scale == 1 else shown / p.scale


def schedule_table(p: Setting) -> pd.DataFrame:
    """The canary's steps as the editable table starts: one row per traffic share, its days left empty."""
    return pd.DataFrame({"share": [float(x) for x in p.default], "days": [None] * len(p.default)}, dtype=float)


def build_spec(entry: StrategyEntry, setup: LaunchSetup, values: list) -> RolloutSpec | None:
    """The strategy's spec from its form's values (one per `entry.params`; a dict sets several fields) over the shared
    set-up; None when an input had no valid value."""
    if any(v is None for v in values):
        return None
    chosen: dict = {}
    for p, value in zip(entry.params, values):
        chosen.update(value if isinstance(value, dict) else {p.name: value})
    return RolloutSpec(entry.key, **chosen, days=setup.days, traffic_per_day=setup.traffic, seed=setup.seed,
                       inject=setup.inject)


def splits_with_test_rows(ws, project_id: str) -> dict[str, str]:
    """The project's splits that have a test set, by id, each with its label."""
    splits = [s for s in list_splits(ws, project_id) if s.sizes.get("test")]
    return {s.id: f"{s.name} · {s.sizes['test']:,} test rows" for s in splits}


def contender_split(ws, contender: Contender) -> str | None:
    """The split the contender's run was trained on, or None (no run left)."""
    try:
        return getattr(get_run(ws, contender.run_id), "split_id", None)
    except WorkbenchError:
        return None


def dataset_choices(ws) -> dict[str, str]:
    """Every dataset by id, each with its label."""
    return {d.id: f"{d.name} · {d.rows:,} rows" for d in ws.datasets()}


def default_dataset(project, kind: str, ids: list[str]) -> str:
    """A window starts on the project's own data; another dataset on the first one that is not."""
    return project.dataset_id if kind == "window" else next((i for i in ids if i != project.dataset_id), ids[0])


def date_columns(ws, dataset_id: str) -> list[str]:
    """The dataset's date columns."""
    return [c.name for c in ws.dataset(dataset_id).columns if c.kind == "datetime"]


def window_bounds(low, high) -> tuple[date, date, date]:
    """(first day, last day, default start) of a date column's range: the start opens the last quarter of the data,
    "later" than most training rows."""
    low, high = pd.Timestamp(low), pd.Timestamp(high)
    return low.date(), high.date(), (low + (high - low) * 0.75).date()


# -- results -----------------------------------------------------------------------------------------------------------
def shown_simulation(ws, project_id: str, strategy: str, wanted: str | None) -> Simulation | None:
    """The simulation a strategy's tab shows: the one just run (`wanted`) when it is this project's, else the newest."""
    if wanted:
        try:
            sim = get_simulation(ws, wanted)
            if sim.project_id == project_id:
                return sim
        except WorkbenchError:
            pass
    return latest_simulation(ws, project_id, strategy)


@dataclass(frozen=True)
class Card:
    """The verdict card: the decision in its colour (a Streamlit colour name) with an icon, the evidence, provenance."""

    decision: str
    colour: str
    icon: str
    sentence: str
    caption: str


def verdict_card(sim: Simulation) -> Card:
    colour, icon = _CARDS.get(sim.decision, ("gray", ":material/help:"))
    when = f"{sim.created_at:%d %b %Y %H:%M}" if hasattr(sim.created_at, "strftime") else ""
    caption = (f"Simulated, not live traffic · {STRATEGY_LABELS.get(sim.strategy, sim.strategy)} · challenger "
               f"{sim.challenger.label} against champion {sim.champion.label} · replayed "
               f"{sim.replay.get('source_label', '')} · seed {sim.spec.seed} · {when}")
    return Card(sim.decision, colour, icon, sim.sentence, caption)


def history_label(sim: Simulation) -> str:
    """One saved simulation in the History picker."""
    return f"{sim.created_at:%d %b %H:%M} · {STRATEGY_LABELS.get(sim.strategy)} · {sim.decision}"


def outcome_label(sim: Simulation) -> str:
    return sim.replay.get("outcome_label", "outcome")


def outcome_scale(sim: Simulation) -> tuple[float, str]:
    """How outcome differences are shown: (multiplier, unit): points for a yes/no outcome, else per request."""
    return (100.0, "points") if sim.replay.get("is_binary") else (1.0, f"{outcome_label(sim)} per request")


def frame(sim: Simulation, name: str) -> pd.DataFrame | None:
    """One of the result's frames, or None when it is missing or empty (its panel is then left out)."""
    f = sim.result.frames.get(name)
    return None if f is None or f.empty else f


def shadow_kpis(sim: Simulation) -> list[Kpi]:
    s = sim.result.summary
    scale, unit = outcome_scale(sim)
    return [Kpi("Agreement", f"{s['agreement']:.1%}" if s.get("agreement") is not None else "n/a"),
            Kpi("Would-have difference", f"{s['outcome_diff'] * scale:+,.3g}",
                help=f"Challenger − champion, {unit}."),
            Kpi("Users at risk", "0", help="In shadow only the champion's decisions reach users."),
            Kpi("Requests (simulated)", f"{s['requests']:,}")]


def shows_agreement(sim: Simulation) -> bool:
    return "agreement" in sim.result.frames["daily"]


def ab_kpis(sim: Simulation) -> list[Kpi]:
    s, spec = sim.result.summary, sim.spec
    p, stop, alarm = s["fixed"]["p_value"], s["sequential"]["stopped_day"], s["srm_first_alarm_day"]
    return [Kpi("Requests to the challenger", f"{s['users_exposed']:,}"),
            Kpi(f"{s['test']} p-value on day {spec.days}", "n/a" if p is None else "< 0.001" if p < 0.001
                else f"{p:.3f}", help="The fixed-horizon test, valid only if you look once, at the end."),
            Kpi("Sequential test stopped", f"day {stop}" if stop else "not yet",
                help="mSPRT: stays valid however often you look."),
            Kpi("Traffic split", f"broken from day {alarm}" if alarm else "as planned",
                help="Chi-square sample-ratio check every day; alarm at p < 0.001.")]


def arms_label(sim: Simulation) -> str:
    """The arms chart's measure: the outcome itself, or "rate" for a yes/no outcome shown in points."""
    return outcome_label(sim) if outcome_scale(sim)[0] == 1 else "rate"


def canary_kpis(sim: Simulation) -> list[Kpi]:
    s = sim.result.summary
    total = s["outcome_delta_total"]
    return [Kpi("Final state", str(s["final_state"]).capitalize(), help="Promoted, rolled back or paused."),
            Kpi("Final traffic share", f"{s['final_share']:g} %"),
            Kpi("Blast radius (requests)", f"{s['blast_radius']:,}", help="Requests the challenger answered."),
            Kpi("Outcome of the rollout", f"{total:+,.0f}" if abs(total) >= 1000 else f"{total:+,.3g}",
                help=f"Challenger − champion {outcome_label(sim)}, summed over the requests the challenger answered "
                     "(below 0: the rollout cost this much).")]


def guardrail_choices(measurements: pd.DataFrame) -> dict[str, str]:
    """The guardrails measured, in order, each with its label."""
    labels = dict(zip(measurements["guardrail"], measurements["label"]))
    return {g: str(labels.get(g, g)) for g in dict.fromkeys(measurements["guardrail"])}


def guardrail_view(sim: Simulation, guardrail: str) -> tuple[bool, float]:
    """(higher is better, multiplier) to chart one guardrail's measurements."""
    higher = next((g.higher_is_better for g in GUARDRAILS if g.key == guardrail), True)
    return higher, guardrail_scale(guardrail, bool(sim.replay.get("is_binary")))[0]


# -- how long must an A/B test run -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PowerForm:
    """The power calculator's inputs for one simulation: the smallest change worth detecting as shown (in points for
    a yes/no outcome), and the traffic and split it starts from."""

    mde_label: str
    mde_low: float
    mde_high: float | None
    mde_default: float
    mde_step: float | None
    mde_scale: float
    traffic: int
    split: float
    baseline: float
    sd: float | None
    alpha: float
    planned_days: int


def power_form(sim: Simulation) -> PowerForm:
    spec, binary = sim.spec, bool(sim.replay.get("is_binary"))
    base, sd = float(sim.replay.get("baseline_mean") or 0.0), sim.replay.get("baseline_sd")
    if binary:
        return PowerForm("Smallest change worth detecting (points)", 0.1, 50.0, 2.0, 0.1, 100.0, spec.traffic_per_day,
                         float(spec.split), base, None, spec.alpha, spec.days)
    return PowerForm(f"Smallest change worth detecting ({sim.replay.get('outcome_label')} per request)", 0.0001, None,
                     max(abs(sd or 1.0) / 10, 0.01), None, 1.0, spec.traffic_per_day, float(spec.split), base, sd,
                     spec.alpha, spec.days)


def power_sentence(form: PowerForm, mde_shown: float, traffic: int, power: float, split: float) -> str:
    """How many requests and days the fixed-horizon test needs, against the days planned.

    Raises:
        SpecInvalid: traffic below one request a day, or an effect the sample size cannot be computed for.
    """
    need = abstats.days_needed(form.baseline, form.sd, mde_shown / form.mde_scale, int(traffic), split, form.alpha,
                               power)
    return (f"At {int(traffic):,} requests a day the test needs {need.n_total:,} requests ({need.n_control:,} "
            f"champion, {need.n_treatment:,} challenger): {need.days} day{'s' if need.days != 1 else ''}, against "
            f"{form.planned_days} planned.")
