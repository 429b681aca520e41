"""Launch simulator: rehearse a shadow, A/B or canary release of a challenger on replayed data and read the verdict."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from core.stats import abtests as abstats

from core.launch import rehearsal as launch
from core.launch import charts
from core.errors import WorkbenchError
from core.launch.rollout import STRATEGIES, shared_setting, validate_spec
from core.launch.sim import INJECTIONS, RolloutSpec, Setting
from pages._projects import criteria_banner, require_project
from pages._widgets import empty_state, get_workspace, is_viewer, md_escape, page_header, show_error

TRAIN_PAGE = "pages/07_train.py"
_CHART = {"config": {"displaylogo": False}}
_CARD = {"Ship": ("green", ":material/rocket_launch:"), "Roll back": ("red", ":material/undo:"),
         "Keep testing": ("orange", ":material/hourglass_top:")}


# -- cached work: the workspace passes unhashed; the project's stamp and every choice key each entry ------------------
@st.cache_data(show_spinner="Scoring the replay rows with both models and timing them…", max_entries=8)
def _replay(_ws, project_id: str, stamp: str, champion: str, challenger: str, source: str):
    from core.project.projects import get_project

    return launch.build_replay(_ws, get_project(_ws, project_id), launch.Contender.from_dict(json.loads(champion)),
                               launch.Contender.from_dict(json.loads(challenger)),
                               launch.ReplaySource.from_dict(json.loads(source)))


@st.cache_data(show_spinner="Running A/A tests to show what looking every day does…", max_entries=16)
def _peeking(_ws, project_id: str, stamp: str, champion: str, challenger: str, source: str, days: int, split: float,
             alpha: float, seed: int):
    from core.launch.ab import simulate_peeking

    replay = _replay(_ws, project_id, stamp, champion, challenger, source)
    spec = RolloutSpec("ab", days=days, split=split, alpha=alpha, seed=seed)
    return simulate_peeking(replay.replay, spec, runs=launch.PEEKING_RUNS)


# -- set-up ------------------------------------------------------------------------------------------------------------
def _setup(contenders) -> dict:
    """The shared choices: who, on which rows, how much traffic, for how long, and an optional problem."""
    by_ref = {c.ref: c for c in contenders}
    try:
        champion, challenger = launch.default_pair(ws, project)
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
        source = _source_inputs(by_ref[chall])
        cols = st.columns(3)
        traffic = _number(cols[0], shared_setting("traffic_per_day"), "launch.traffic")
        days = _number(cols[1], shared_setting("days"), "launch.days")
        seed = _number(cols[2], shared_setting("seed"), "launch.seed")
        inject = None
        if st.toggle("Rehearse a problem", key="launch.inject.on",
                     help="Inject a failure to see whether the strategy would catch it."):
            cols = st.columns(3)
            kind = cols[0].selectbox("Problem", list(INJECTIONS), key="launch.inject.kind",
                                     format_func=lambda k: {"degrade": "Challenger degrades", "drift": "Data drifts",
                                                            "imbalance": "Traffic split breaks"}[k])
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
                    sim = launch.demo_simulation(ws, project)
                st.session_state["launch.canary.shown"] = sim.id
                st.toast("Demo simulated: see the Canary tab.", icon=":material/check:")
            except WorkbenchError as err:
                show_error(err)
    return {"champion": by_ref[champ], "challenger": by_ref[chall], "source": source, "traffic": int(traffic),
            "days": int(days), "seed": int(seed), "inject": inject}


def _source_inputs(challenger) -> launch.ReplaySource:
    kind = st.radio("Replay set", list(launch.SOURCE_KINDS), key="launch.source", horizontal=True,
                    format_func=launch.SOURCE_KINDS.get,
                    help="Rows with known outcomes that both models score. Rows either model trained on are left out.")
    if kind == "test":
        from core.split.splitting import list_splits

        splits = [s for s in list_splits(ws, project.id) if s.sizes.get("test")]
        if not splits:
            st.warning("No split of this project has a test set. Choose a time window or another dataset.",
                       icon=":material/warning:")
            return launch.ReplaySource("test")
        ids = [s.id for s in splits]
        names = {s.id: f"{s.name} · {s.sizes['test']:,} test rows" for s in splits}
        run_split = getattr(_run(challenger), "split_id", None)
        chosen = st.selectbox("Split", ids, key="launch.split", format_func=names.get,
                              index=ids.index(run_split) if run_split in ids else 0)
        return launch.ReplaySource("test", split_id=chosen)
    datasets = ws.datasets()
    ids = [d.id for d in datasets]
    names = {d.id: f"{d.name} · {d.rows:,} rows" for d in datasets}
    default = project.dataset_id if kind == "window" else next((i for i in ids if i != project.dataset_id), ids[0])
    dataset = st.selectbox("Dataset", ids, key=f"launch.dataset.{kind}", format_func=names.get,
                           index=ids.index(default) if default in ids else 0)
    if kind == "dataset":
        return launch.ReplaySource("dataset", dataset=dataset)
    info = next(d for d in datasets if d.id == dataset)
    dates = [c.name for c in info.columns if c.kind == "datetime"]
    if not dates:
        st.warning(f"Dataset {md_escape(info.name)} has no date column, so it has no time window.",
                   icon=":material/warning:")
        return launch.ReplaySource("window", dataset=dataset)
    cols = st.columns(3)
    column = cols[0].selectbox("Date column", dates, key="launch.time_column")
    low, high = launch.time_range(ws, dataset, column)
    if low is None:
        st.warning(f"Column {md_escape(column)} is empty, so it has no time window.", icon=":material/warning:")
        return launch.ReplaySource("window", dataset=dataset, time_column=column)
    low, high = pd.Timestamp(low), pd.Timestamp(high)
    later = (low + (high - low) * 0.75).date()  # the last quarter of the data: "later" than most training rows
    start = cols[1].date_input("From", value=later, min_value=low.date(), max_value=high.date(),
                               key=f"launch.start.{dataset}.{column}")
    end = cols[2].date_input("Until (not included)", value=None, key=f"launch.end.{dataset}.{column}",
                             help="Leave empty for every later row.")
    return launch.ReplaySource("window", dataset=dataset, time_column=column,
                               start=start.isoformat() if start else None, end=end.isoformat() if end else None)


def _run(contender):
    from core.models.runs import get_run

    try:
        return get_run(ws, contender.run_id)
    except WorkbenchError:
        return None


def _spec(entry, setup: dict) -> RolloutSpec | None:
    """The strategy's own settings, drawn from its catalog entry, over the shared set-up."""
    common = {"days": setup["days"], "traffic_per_day": setup["traffic"], "seed": setup["seed"],
              "inject": setup["inject"]}
    for p in entry.params:
        if p.widget == "schedule":
            st.caption(p.help.format(days=setup["days"]))
    cols = st.columns([3 if p.widget == "schedule" else 1 for p in entry.params]) if entry.params else []
    values = [_INPUTS[p.widget](col, p, f"launch.{entry.key}.{p.name}") for col, p in zip(cols, entry.params)]
    if any(v is None for v in values):
        return None
    chosen: dict = {}
    for p, value in zip(entry.params, values):
        chosen.update(value if isinstance(value, dict) else {p.name: value})
    return RolloutSpec(entry.key, **chosen, **common)


def _shown_value(p: Setting, value):
    """A spec value as people read it (a share as a percentage), whole numbers as ints."""
    shown = round(value * p.scale, 9)
    return int(shown) if float(shown).is_integer() else shown


def _number(col, p: Setting, key: str):
    value = col.number_input(p.label, _shown_value(p, p.low), _shown_value(p, p.high), _shown_value(p, p.default),
                             step=_shown_value(p, p.step), key=key, help=p.help or None)
    return int(value) if p.scale == 1 else value / p.scale


def _slider(col, p: Setting, key: str):
    value = col.slider(p.label, _shown_value(p, p.low), _shown_value(p, p.high), _shown_value(p, p.default),
                       _shown_value(p, p.step), key=key, help=p.help or None)
    return value / p.scale


def _choice(col, p: Setting, key: str):
    labels = dict(zip(p.choices, p.choice_labels or map(str, p.choices)))
    return col.selectbox(p.label, list(p.choices), index=list(p.choices).index(p.default), key=key,
                         format_func=labels.get, help=p.help or None)


def _schedule(col, p: Setting, key: str) -> dict | None:
    """The canary's steps: traffic shares and, optionally, the days each lasts, as one editable table."""
    steps = pd.DataFrame({"share": [float(x) for x in p.default], "days": [None] * len(p.default)}, dtype=float)
    table = col.data_editor(steps, num_rows="dynamic", hide_index=True, key=key,
                            column_config={"share": st.column_config.NumberColumn("Traffic share (%)", min_value=0.1,
                                                                                  max_value=100),
                                           "days": st.column_config.NumberColumn("Days", min_value=1, step=1)})
    try:
        steps, step_days = launch.steps_from_table(table.to_dict("records"))
    except WorkbenchError as err:
        show_error(err)
        return None
    return {"steps": steps, "step_days": step_days}


_INPUTS = {"number": _number, "slider": _slider, "choice": _choice, "schedule": _schedule}


def _simulate(key: str, setup: dict, spec: RolloutSpec) -> None:
    args = (ws, project.id, stamp, json.dumps(setup["champion"].to_dict()), json.dumps(setup["challenger"].to_dict()),
            json.dumps(setup["source"].to_dict()))
    try:
        validate_spec(spec)  # a bad choice is refused before both models are loaded and scored
        with st.spinner("Simulating…"):
            replay = _replay(*args)
            peeking = _EXTRAS[key](args, spec) if key in _EXTRAS else None
            sim = launch.simulate_launch(ws, project, setup["champion"], setup["challenger"], setup["source"], spec,
                                         replay=replay, peeking=peeking)
        st.session_state[f"launch.{key}.shown"] = sim.id
    except WorkbenchError as err:
        show_error(err)


# -- results -----------------------------------------------------------------------------------------------------------
def _shown(key: str):
    wanted = st.session_state.get(f"launch.{key}.shown")
    if wanted:
        try:
            sim = launch.get_simulation(ws, wanted)
            if sim.project_id == project.id:
                return sim
        except WorkbenchError:
            pass
    return launch.latest_simulation(ws, project.id, key)


def _verdict_card(sim) -> None:
    color, icon = _CARD.get(sim.decision, ("gray", ":material/help:"))
    with st.container(border=True):
        st.markdown(f"### :{color}[{icon} {md_escape(sim.decision)}]")
        st.markdown(md_escape(sim.sentence))
        when = f"{sim.created_at:%d %b %Y %H:%M}" if hasattr(sim.created_at, "strftime") else ""
        st.caption(md_escape(f"Simulated, not live traffic · {launch.STRATEGY_LABELS.get(sim.strategy, sim.strategy)}"
                             f" · challenger {sim.challenger.label} against champion {sim.champion.label} · "
                             f"replayed {sim.replay.get('source_label', '')} · seed {sim.spec.seed} · {when}"))


def _render(sim, where: str) -> None:
    _verdict_card(sim)
    with st.expander("How this was simulated"):
        st.markdown("\n".join(f"- {md_escape(n)}" for n in sim.result.notes) or "No notes.")
    _RENDERERS[sim.strategy](sim, f"launch.{where}")


def _scale(sim) -> tuple[float, str]:
    label = sim.replay.get("outcome_label", "outcome")
    return (100.0, "points") if sim.replay.get("is_binary") else (1.0, f"{label} per request")


def _shadow(sim, k: str) -> None:
    s, f, label = sim.result.summary, sim.result.frames, sim.replay.get("outcome_label", "outcome")
    scale, unit = _scale(sim)
    cols = st.columns(4)
    cols[0].metric("Agreement", f"{s['agreement']:.1%}" if s.get("agreement") is not None else "n/a")
    cols[1].metric("Would-have difference", f"{s['outcome_diff'] * scale:+,.3g}",
                   help=f"Challenger − champion, {unit}.")
    cols[2].metric("Users at risk", "0", help="In shadow only the champion's decisions reach users.")
    cols[3].metric("Requests (simulated)", f"{s['requests']:,}")
    left, right = st.columns(2)
    if "agreement" in f["daily"]:
        left.plotly_chart(charts.agreement_chart(f["daily"]), key=f"{k}.agreement", **_CHART)
    right.plotly_chart(charts.shadow_outcome_chart(f["daily"], label), key=f"{k}.outcome", **_CHART)
    if "disagreements" in f and not f["disagreements"].empty:
        left, right = st.columns([2, 3])
        left.plotly_chart(charts.disagreement_chart(f["disagreements"]), key=f"{k}.matrix", **_CHART)
        right.caption("Example replay rows where the models decided differently")
        right.dataframe(sim.examples, hide_index=True, key=f"{k}.examples", height=280,
                        column_config={"row": None, "dataset_row": st.column_config.NumberColumn("row in the data")})
    if "latency" in f:
        left, right = st.columns(2)
        left.plotly_chart(charts.latency_chart(f["latency"]), key=f"{k}.latency", **_CHART)
        right.dataframe(f["latency"], hide_index=True, key=f"{k}.latency_table",
                        column_config={c: st.column_config.NumberColumn(format="%.2f ms")
                                       for c in ("mean_ms", "p50_ms", "p95_ms", "p99_ms")})


def _ab(sim, k: str) -> None:
    s, f, spec = sim.result.summary, sim.result.frames, sim.spec
    scale, unit = _scale(sim)
    label = sim.replay.get("outcome_label", "outcome")
    cols = st.columns(4)
    cols[0].metric("Requests to the challenger", f"{s['users_exposed']:,}")
    p = s["fixed"]["p_value"]
    cols[1].metric(f"{s['test']} p-value on day {spec.days}", "n/a" if p is None else "< 0.001" if p < 0.001
                   else f"{p:.3f}",
                   help="The fixed-horizon test, valid only if you look once, at the end.")
    stop = s["sequential"]["stopped_day"]
    cols[2].metric("Sequential test stopped", f"day {stop}" if stop else "not yet",
                   help="mSPRT: stays valid however often you look.")
    alarm = s["srm_first_alarm_day"]
    cols[3].metric("Traffic split", f"broken from day {alarm}" if alarm else "as planned",
                   help="Chi-square sample-ratio check every day; alarm at p < 0.001.")
    left, right = st.columns(2)
    left.plotly_chart(charts.arms_chart(f["daily"], label if scale == 1 else "rate", scale), key=f"{k}.arms",
                      **_CHART)
    right.plotly_chart(charts.difference_chart(f["daily"], scale, unit), key=f"{k}.diff", **_CHART)
    left, right = st.columns(2)
    left.plotly_chart(charts.srm_chart(f["daily"]), key=f"{k}.srm", **_CHART)
    if "peeking" in f:
        right.plotly_chart(charts.peeking_chart(f["peeking"], spec.alpha), key=f"{k}.peeking", **_CHART)
        right.caption("Both arms serve the champion here, so every 'significant' day is a false alarm.")
    _power(sim, k)


def _power(sim, k: str) -> None:
    """How many days this traffic needs to detect a chosen effect (fixed-horizon test, 80 % power by default)."""
    spec, binary = sim.spec, bool(sim.replay.get("is_binary"))
    base, sd = float(sim.replay.get("baseline_mean") or 0.0), sim.replay.get("baseline_sd")
    with st.container(border=True):
        st.markdown("**How long must the test run?**")
        cols = st.columns(4)
        if binary:
            mde = cols[0].number_input("Smallest change worth detecting (points)", 0.1, 50.0, 2.0, 0.1,
                                       key=f"{k}.power.mde") / 100
        else:
            mde = cols[0].number_input(f"Smallest change worth detecting ({sim.replay.get('outcome_label')} per "
                                       "request)", 0.0001, None, max(abs(sd or 1.0) / 10, 0.01), key=f"{k}.power.mde")
        traffic = cols[1].number_input("Requests per day", 1, 10_000_000, spec.traffic_per_day,
                                       key=f"{k}.power.traffic")
        power = cols[2].slider("Power", 0.5, 0.99, 0.8, 0.01, key=f"{k}.power.power")
        split = cols[3].slider("Challenger's share", 0.05, 0.95, float(spec.split), 0.05, key=f"{k}.power.split")
        try:
            need = abstats.days_needed(base, None if binary else sd, mde, int(traffic), split, spec.alpha, power)
        except WorkbenchError as err:
            show_error(err)
            return
        st.markdown(md_escape(f"At {int(traffic):,} requests a day the test needs {need.n_total:,} requests "
                              f"({need.n_control:,} champion, {need.n_treatment:,} challenger): {need.days} day"
                              f"{'s' if need.days != 1 else ''}, against {spec.days} planned."))


def _canary(sim, k: str) -> None:
    s, f = sim.result.summary, sim.result.frames
    cols = st.columns(4)
    cols[0].metric("Final state", str(s["final_state"]).capitalize(), help="Promoted, rolled back or paused.")
    cols[1].metric("Final traffic share", f"{s['final_share']:g} %")
    cols[2].metric("Blast radius (requests)", f"{s['blast_radius']:,}", help="Requests the challenger answered.")
    total = s["outcome_delta_total"]
    cols[3].metric("Outcome of the rollout", f"{total:+,.0f}" if abs(total) >= 1000 else f"{total:+,.3g}",
                   help=f"Challenger − champion {sim.replay.get('outcome_label', 'outcome')}, summed over the "
                        "requests the challenger answered (below 0: the rollout cost this much).")
    left, right = st.columns(2)
    left.plotly_chart(charts.traffic_chart(f["daily"]), key=f"{k}.traffic", **_CHART)
    measures = f["measurements"]
    if not measures.empty:
        keys = list(dict.fromkeys(measures["guardrail"]))
        labels = dict(zip(measures["guardrail"], measures["label"]))
        g = right.selectbox("Guardrail", keys, key=f"{k}.guardrail", format_func=lambda x: str(labels.get(x, x)))
        g_scale, _ = charts.guardrail_scale(g, bool(sim.replay.get("is_binary")))
        right.plotly_chart(charts.guardrail_chart(measures, g, g not in ("latency", "fairness_gap"), g_scale),
                           key=f"{k}.guardrail_chart", **_CHART)
    st.markdown("**Analysis at each step** (Argo Rollouts semantics; the Kayenta-style judge is shown beside it)")
    st.dataframe(f["steps"], hide_index=True, key=f"{k}.steps", column_config={
        "share": st.column_config.NumberColumn("share %", format="%g"),
        "judge_score": st.column_config.NumberColumn("judge score", format="%.0f"),
        "challenger_requests": st.column_config.NumberColumn("challenger requests", format="%d")})
    with st.expander("Every guardrail measurement and the judge's metrics"):
        st.dataframe(measures, hide_index=True, key=f"{k}.measurements")
        st.dataframe(f["judge"], hide_index=True, key=f"{k}.judge")


_RENDERERS = {"shadow": _shadow, "ab": _ab, "canary": _canary}  # one per core.launch.rollout.STRATEGIES entry
# What a strategy's results show beyond its own run: the A/B tab's A/A runs that show what daily peeking does.
_EXTRAS = {"ab": lambda args, spec: _peeking(*args, spec.days, spec.split, spec.alpha, spec.seed)}

# -- the page ----------------------------------------------------------------------------------------------------------
ws = get_workspace()
page_header("Launch simulator", "Rehearse a release offline, on your own data: what a shadow run, an A/B test or a "
                                "canary would have shown and decided. Every figure here is simulated from replayed "
                                "rows, not live traffic.")
project = require_project(ws)
criteria_banner(project)
if project.task not in ("binary", "multiclass", "regression"):
    empty_state("A clustering project has no outcome to replay, so a launch cannot be simulated.", TRAIN_PAGE,
                "Train & compare")
viewer = is_viewer()
stamp = str(project.updated_at)
setup = None
if not viewer:
    contenders = launch.list_contenders(ws, project)
    if len(contenders) < 2:
        empty_state(f"Project {project.name} has {len(contenders)} saved model(s); a launch compares a champion with "
                    "a challenger. Train and compare models first.", TRAIN_PAGE, "Train & compare")
    setup = _setup(contenders)

for tab, entry in zip(st.tabs([s.label for s in STRATEGIES]), STRATEGIES, strict=True):
    with tab:
        st.caption(entry.description)
        if setup is not None:
            spec = _spec(entry, setup)
            if st.button("Simulate", key=f"launch.{entry.key}.run", type="primary", icon=":material/play_arrow:",
                         disabled=spec is None):
                _simulate(entry.key, setup, spec)
        shown = _shown(entry.key)
        if shown is None:
            st.info(f"No {entry.label} simulation saved yet." + ("" if viewer else " Press Simulate."),
                    icon=":material/info:")
        else:
            _render(shown, entry.key)

st.subheader("History")
sims = launch.list_simulations(ws, project.id)
if not sims:
    st.caption("Saved simulations appear here; the registry's launch gate reads the newest verdict for a challenger.")
else:
    st.dataframe(launch.history_frame(sims), hide_index=True, key="launch.history.table",
                 column_config={"when": st.column_config.DatetimeColumn(format="D MMM YYYY, HH:mm"),
                                "id": None})
    by_id = {s.id: s for s in sims}
    opened = st.selectbox("Open a saved simulation", [None, *by_id], key="launch.history.open",
                          format_func=lambda i: "—" if i is None else
                          f"{by_id[i].created_at:%d %b %H:%M} · {launch.STRATEGY_LABELS.get(by_id[i].strategy)} · "
                          f"{by_id[i].decision}")
    if opened is not None:
        _render(by_id[opened], "history")
