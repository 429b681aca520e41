"""Widgets of the Launch page: the set-up form, each strategy's own inputs, the verdict card, each strategy's results
and the history. Views only: what they offer and show comes from core.launch (views, charts, rehearsal)."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from core.errors import WorkbenchError
from core.launch import charts, views
from core.launch import rehearsal as launch
from core.launch.rollout import StrategyEntry, shared_setting
from core.launch.sim import INJECTIONS, RolloutSpec, Setting
from core.launch.views import LaunchSetup
from core.store.workspace import Workspace
from pages._cache import figure, shared
from pages._widgets import arrow_frame, md_escape, show_error

CHART = {"config": {"displaylogo": False}}


@dataclass(frozen=True)
class LaunchContext:
    """What the widgets read of the page: the workspace, the project, and whether the session only views it."""

    ws: Workspace
    project: object
    viewer: bool = False

    @property
    def stamp(self) -> str:
        """Changes whenever the project does: it keys the cached replay sets."""
        return str(self.project.updated_at)


# -- set-up ------------------------------------------------------------------------------------------------------------
def setup_form(ctx: LaunchContext, contenders) -> LaunchSetup:
    """The shared choices: who, on which rows, how much traffic, for how long, and an optional problem."""
    by_ref = {c.ref: c for c in contenders}
    try:
        champion, challenger = launch.default_pair(ctx.ws, ctx.project)
    except WorkbenchError:  # versions without aliases and no runs left: any two will do as a start
        champion, challenger = contenders[1], contenders[0]
    with st.container(border=True):
        st.markdown("**Set-up**")
        left, right = st.columns(2)
        champ = left.selectbox("Champion (serves users today)", list(by_ref), key="launch.champion",
                               index=list(by_ref).index(champion.ref), format_func=lambda r: by_ref[r].label)
        chall = right.selectbox("Challenger (the new model)", list(by_ref), key="launch.challenger",
                                index=list(by_ref).index(challenger.ref), format_func=lambda r: by_ref[r].label,
                                help="Decisions use each model's saved threshold (Evaluate page).")
        source = source_inputs(ctx, by_ref[chall])
        cols = st.columns(3)
        traffic = number(cols[0], shared_setting("traffic_per_day"), "launch.traffic")
        days = number(cols[1], shared_setting("days"), "launch.days")
        seed = number(cols[2], shared_setting("seed"), "launch.seed")
        inject = None
        if st.toggle("Rehearse a problem", key="launch.inject.on",
                     help="Inject a failure to see whether the strategy would catch it."):
            cols = st.columns(3)
            kind = cols[0].selectbox("Problem", list(INJECTIONS), key="launch.inject.kind",
                                     format_func=views.INJECTION_LABELS.get)
            day = cols[1].number_input("From day", 1, 365, min(8, int(days)), key="launch.inject.day")
            amount = cols[2].slider("Amount", 0.05, 1.0, float(INJECTIONS[kind][0]), 0.05,
                                    key=f"launch.inject.amount.{kind}",  # each problem keeps its own default
                                    help=f"The {INJECTIONS[kind][1]}.")
            inject = {"kind": kind, "day": int(day), "amount": float(amount)}
        if st.button("Rehearse the demo story", key="launch.demo", icon=":material/movie:",
                     help="The suggested champion and challenger in a canary whose challenger starts to degrade "
                          "on day 6, with enough traffic to measure every guardrail at 1 %. Opens in the Canary tab."):
            try:
                with st.spinner("Simulating the demo canary…"):
                    sim = launch.demo_simulation(ctx.ws, ctx.project)
                st.session_state["launch.canary.shown"] = sim.id
                st.toast("Demo simulated: see the Canary tab.", icon=":material/check:")
            except WorkbenchError as err:
                show_error(err)
    return LaunchSetup(by_ref[champ], by_ref[chall], source, int(traffic), int(days), int(seed), inject)


def source_inputs(ctx: LaunchContext, challenger) -> launch.ReplaySource:
    ws, project = ctx.ws, ctx.project
    kind = st.radio("Replay set", list(launch.SOURCE_KINDS), key="launch.source", horizontal=True,
                    format_func=launch.SOURCE_KINDS.get,
                    help="Rows with known outcomes that both models score. Rows either model trained on are left out.")
    if kind == "test":
        names = views.splits_with_test_rows(ws, project.id)
        if not names:
            st.warning("No split of this project has a test set. Choose a time window or another dataset.",
                       icon=":material/warning:")
            return launch.ReplaySource("test")
        ids = list(names)
        run_split = views.contender_split(ws, challenger)
        chosen = st.selectbox("Split", ids, key="launch.split", format_func=names.get,
                              index=ids.index(run_split) if run_split in ids else 0)
        return launch.ReplaySource("test", split_id=chosen)
    names = views.dataset_choices(ws)
    ids = list(names)
    default = views.default_dataset(project, kind, ids)
    dataset = st.selectbox("Dataset", ids, key=f"launch.dataset.{kind}", format_func=names.get,
                           index=ids.index(default) if default in ids else 0)
    if kind == "dataset":
        return launch.ReplaySource("dataset", dataset=dataset)
    dates = views.date_columns(ws, dataset)
    if not dates:
        st.warning(f"Dataset {md_escape(ws.dataset(dataset).name)} has no date column, so it has no time window.",
                   icon=":material/warning:")
        return launch.ReplaySource("window", dataset=dataset)
    cols = st.columns(3)
    column = cols[0].selectbox("Date column", dates, key="launch.time_column")
    low, high = launch.time_range(ws, dataset, column)
    if low is None:
        st.warning(f"Column {md_escape(column)} is empty, so it has no time window.", icon=":material/warning:")
        return launch.ReplaySource("window", dataset=dataset, time_column=column)
    first, last, later = views.window_bounds(low, high)
    start = cols[1].date_input("From", value=later, min_value=first, max_value=last,
                               key=f"launch.start.{dataset}.{column}")
    end = cols[2].date_input("Until (not included)", value=None, key=f"launch.end.{dataset}.{column}",
                             help="Leave empty for every later row.")
    return launch.ReplaySource("window", dataset=dataset, time_column=column,
                               start=start.isoformat() if start else None, end=end.isoformat() if end else None)


def spec_form(entry: StrategyEntry, setup: LaunchSetup) -> RolloutSpec | None:
    """The strategy's own settings, drawn from its catalog entry, over the shared set-up."""
    for p in entry.params:
        if p.widget == "schedule":
            st.caption(p.help.format(days=setup.days))
    cols = st.columns([3 if p.widget == "schedule" else 1 for p in entry.params]) if entry.params else []
    values = [INPUTS[p.widget](col, p, f"launch.{entry.key}.{p.name}") for col, p in zip(cols, entry.params)]
    return views.build_spec(entry, setup, values)


def number(col, p: Setting, key: str):
    shown = views.shown_value
    value = col.number_input(p.label, shown(p, p.low), shown(p, p.high), shown(p, p.default),
                             step=shown(p, p.step), key=key, help=p.help or None)
    return views.from_shown(p, value, whole=True)


def slider(col, p: Setting, key: str):
    shown = views.shown_value
    value = col.slider(p.label, shown(p, p.low), shown(p, p.high), shown(p, p.default), shown(p, p.step), key=key,
                       help=p.help or None)
    return views.from_shown(p, value)


def choice(col, p: Setting, key: str):
    labels = dict(zip(p.choices, p.choice_labels or map(str, p.choices)))
    return col.selectbox(p.label, list(p.choices), index=list(p.choices).index(p.default), key=key,
                         format_func=labels.get, help=p.help or None)


def schedule(col, p: Setting, key: str) -> dict | None:
    """The canary's steps: traffic shares and, optionally, the days each lasts, as one editable table."""
    table = col.data_editor(views.schedule_table(p), num_rows="dynamic", hide_index=True, key=key,
                            column_config={"share": st.column_config.NumberColumn("Traffic share (%)", min_value=0.1,
                                                                                  max_value=100),
                                           "days": st.column_config.NumberColumn("Days", min_value=1, step=1)})
    try:
        steps, step_days = launch.steps_from_table(table.to_dict("records"))
    except WorkbenchError as err:
        show_error(err)
        return None
    return {"steps": steps, "step_days": step_days}


INPUTS = {"number": number, "slider": slider, "choice": choice, "schedule": schedule}  # one per Setting.widget


# -- results -----------------------------------------------------------------------------------------------------------
def verdict_card(sim) -> None:
    card = views.verdict_card(sim)
    with st.container(border=True):
        st.markdown(f"### :{card.colour}[{card.icon} {md_escape(card.decision)}]")
        st.markdown(md_escape(card.sentence))
        st.caption(md_escape(card.caption))


def render(sim, where: str) -> None:
    verdict_card(sim)
    with st.expander("How this was simulated"):
        st.markdown("\n".join(f"- {md_escape(n)}" for n in sim.result.notes) or "No notes.")
    RENDERERS[sim.strategy](sim, f"launch.{where}")


def _shared(sim, name: str, build, *args):
    """A figure of a saved simulation (which never changes), built once per server (pages/_cache.py)."""
    return figure(sim.project_id, ("launch", sim.id, name), build, *args)


def _table(sim, name: str, frame):
    """A table of a saved simulation as st.dataframe sends it (an Arrow table), made once per server."""
    return shared(sim.project_id, ("launch.table", sim.id, name), arrow_frame, frame)


def _tiles(kpis) -> None:
    for col, k in zip(st.columns(4), kpis):
        col.metric(k.label, k.value, k.delta, delta_color=k.delta_color, help=k.help)


def shadow(sim, k: str) -> None:
    f = sim.result.frames
    _tiles(views.shadow_kpis(sim))
    left, right = st.columns(2)
    if views.shows_agreement(sim):
        left.plotly_chart(_shared(sim, "agreement", charts.agreement_chart, f["daily"]), key=f"{k}.agreement", **CHART)
    right.plotly_chart(_shared(sim, "outcome", charts.shadow_outcome_chart, f["daily"], views.outcome_label(sim)),
                       key=f"{k}.outcome", **CHART)
    if (cells := views.frame(sim, "disagreements")) is not None:
        left, right = st.columns([2, 3])
        left.plotly_chart(_shared(sim, "matrix", charts.disagreement_chart, cells), key=f"{k}.matrix", **CHART)
        right.caption("Example replay rows where the models decided differently")
        right.dataframe(_table(sim, "examples", sim.examples), hide_index=True, key=f"{k}.examples", height=280,
                        column_config={"row": None, "dataset_row": st.column_config.NumberColumn("row in the data")})
    if "latency" in f:
        left, right = st.columns(2)
        left.plotly_chart(_shared(sim, "latency", charts.latency_chart, f["latency"]), key=f"{k}.latency", **CHART)
        right.dataframe(_table(sim, "latency", f["latency"]), hide_index=True, key=f"{k}.latency_table",
                        column_config={c: st.column_config.NumberColumn(format="%.2f ms")
                                       for c in ("mean_ms", "p50_ms", "p95_ms", "p99_ms")})


def ab(sim, k: str) -> None:
    f, spec = sim.result.frames, sim.spec
    scale, unit = views.outcome_scale(sim)
    _tiles(views.ab_kpis(sim))
    left, right = st.columns(2)
    left.plotly_chart(_shared(sim, "arms", charts.arms_chart, f["daily"], views.arms_label(sim), scale),
                      key=f"{k}.arms", **CHART)
    right.plotly_chart(_shared(sim, "diff", charts.difference_chart, f["daily"], scale, unit), key=f"{k}.diff", **CHART)
    left, right = st.columns(2)
    left.plotly_chart(_shared(sim, "srm", charts.srm_chart, f["daily"]), key=f"{k}.srm", **CHART)
    if "peeking" in f:
        right.plotly_chart(_shared(sim, "peeking", charts.peeking_chart, f["peeking"], spec.alpha),
                           key=f"{k}.peeking", **CHART)
        right.caption("Both arms serve the champion here, so every 'significant' day is a false alarm.")
    power(sim, k)


def power(sim, k: str) -> None:
    """How many days this traffic needs to detect a chosen effect (fixed-horizon test, 80 % power by default)."""
    form = views.power_form(sim)
    with st.container(border=True):
        st.markdown("**How long must the test run?**")
        cols = st.columns(4)
        mde = cols[0].number_input(form.mde_label, form.mde_low, form.mde_high, form.mde_default, form.mde_step,
                                   key=f"{k}.power.mde")
        traffic = cols[1].number_input("Requests per day", 1, 10_000_000, form.traffic, key=f"{k}.power.traffic")
        chosen_power = cols[2].slider("Power", 0.5, 0.99, 0.8, 0.01, key=f"{k}.power.power")
        split = cols[3].slider("Challenger's share", 0.05, 0.95, form.split, 0.05, key=f"{k}.power.split")
        try:
            sentence = views.power_sentence(form, mde, int(traffic), chosen_power, split)
        except WorkbenchError as err:
            show_error(err)
            return
        st.markdown(md_escape(sentence))


def canary(sim, k: str) -> None:
    f = sim.result.frames
    _tiles(views.canary_kpis(sim))
    left, right = st.columns(2)
    left.plotly_chart(_shared(sim, "traffic", charts.traffic_chart, f["daily"]), key=f"{k}.traffic", **CHART)
    measures = f["measurements"]
    if not measures.empty:
        labels = views.guardrail_choices(measures)
        g = right.selectbox("Guardrail", list(labels), key=f"{k}.guardrail", format_func=labels.get)
        higher, g_scale = views.guardrail_view(sim, g)
        right.plotly_chart(_shared(sim, ("guardrail", g), charts.guardrail_chart, measures, g, higher, g_scale),
                           key=f"{k}.guardrail_chart", **CHART)
    st.markdown("**Analysis at each step** (Argo Rollouts semantics; the Kayenta-style judge is shown beside it)")
    st.dataframe(_table(sim, "steps", f["steps"]), hide_index=True, key=f"{k}.steps", column_config={
        "share": st.column_config.NumberColumn("share %", format="%g"),
        "judge_score": st.column_config.NumberColumn("judge score", format="%.0f"),
        "challenger_requests": st.column_config.NumberColumn("challenger requests", format="%d")})
    with st.expander("Every guardrail measurement and the judge's metrics"):
        st.dataframe(_table(sim, "measurements", measures), hide_index=True, key=f"{k}.measurements")
        st.dataframe(_table(sim, "judge", f["judge"]), hide_index=True, key=f"{k}.judge")


RENDERERS = {"shadow": shadow, "ab": ab, "canary": canary}  # one per core.launch.rollout.STRATEGIES entry


def history_picker(sims) -> None:
    """The saved simulations, and the one opened from them."""
    # Saved simulations never change: the table is made once per server for this list of them.
    history = shared(sims[0].project_id if sims else "", ("launch.history", tuple(s.id for s in sims)),
                     lambda: arrow_frame(launch.history_frame(sims)))
    st.dataframe(history, hide_index=True, key="launch.history.table",
                 column_config={"when": st.column_config.DatetimeColumn(format="D MMM YYYY, HH:mm"), "id": None})
    by_id = {s.id: s for s in sims}
    opened = st.selectbox("Open a saved simulation", [None, *by_id], key="launch.history.open",
                          format_func=lambda i: "—" if i is None else views.history_label(by_id[i]))
    if opened is not None:
        render(by_id[opened], "history")
