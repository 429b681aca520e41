"""Launch simulator: rehearse a shadow, A/B or canary release of a challenger on replayed data and read the verdict."""

from __future__ import annotations

import json

import streamlit as st

from core.errors import WorkbenchError
from core.launch import rehearsal as launch
from core.launch.ab import simulate_peeking
from core.launch.rollout import STRATEGIES, validate_spec
from core.launch.sim import RolloutSpec
from core.launch.views import LaunchSetup
from core.project.projects import get_project
from pages._launch_views import (
    LaunchContext,
    history_picker,
    render,
    setup_form,
    spec_form,
)
from pages._cache import derived
from pages._projects import criteria_banner, require_project
from pages._widgets import (
    empty_state,
    get_workspace,
    is_viewer,
    page_header,
    show_error,
)

TRAIN_PAGE = "pages/07_train.py"


# -- cached work: the workspace passes unhashed; the project's stamp and every choice key each entry ------------------
@st.cache_data(show_spinner="Scoring the replay rows with both models and timing them…", max_entries=8)
def _replay(_ws, project_id: str, stamp: str, champion: str, challenger: str, source: str):
    return launch.build_replay(_ws, get_project(_ws, project_id), launch.Contender.from_dict(json.loads(champion)),
                               launch.Contender.from_dict(json.loads(challenger)),
                               launch.ReplaySource.from_dict(json.loads(source)))


@st.cache_data(show_spinner="Running A/A tests to show what looking every day does…", max_entries=16)
def _peeking(_ws, project_id: str, stamp: str, champion: str, challenger: str, source: str, days: int, split: float,
             alpha: float, seed: int):
    replay = _replay(_ws, project_id, stamp, champion, challenger, source)
    spec = RolloutSpec("ab", days=days, split=split, alpha=alpha, seed=seed)
    return simulate_peeking(replay.replay, spec, runs=launch.PEEKING_RUNS)


# What a strategy's results show beyond its own run: the A/B tab's A/A runs that show what daily peeking does.
_EXTRAS = {"ab": lambda args, spec: _peeking(*args, spec.days, spec.split, spec.alpha, spec.seed)}


def _simulate(ctx: LaunchContext, key: str, setup: LaunchSetup, spec: RolloutSpec) -> None:
    args = (ctx.ws, ctx.project.id, ctx.stamp, json.dumps(setup.champion.to_dict()),
            json.dumps(setup.challenger.to_dict()), json.dumps(setup.source.to_dict()))
    try:
        validate_spec(spec)  # a bad choice is refused before both models are loaded and scored
        with st.spinner("Simulating…"):
            replay = _replay(*args)
            peeking = _EXTRAS[key](args, spec) if key in _EXTRAS else None
            sim = launch.simulate_launch(ctx.ws, ctx.project, setup.champion, setup.challenger, setup.source, spec,
                                         replay=replay, peeking=peeking)
        st.session_state[f"launch.{key}.shown"] = sim.id
    except WorkbenchError as err:
        show_error(err)


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
ctx = LaunchContext(ws, project, viewer=is_viewer())


def _sims():
    """The saved simulations, newest first, read back (frames and all) once per server until the next write
    (pages/_cache.py), so a Simulate press shows its own at once. Shared: only read. A page run used to rebuild
    every one of them four times."""
    return derived(ws, project.id, "launch.simulations", launch.list_simulations)


def _shown(strategy: str, wanted: str | None):
    """The simulation a strategy's tab opens: the one this session ran or opened, else the strategy's newest (the
    choice of core.launch.views.shown_simulation, over the shared list)."""
    sims = _sims()
    return next((s for s in sims if s.id == wanted), None) or next((s for s in sims if s.strategy == strategy), None)


setup = None
if not ctx.viewer:
    contenders = launch.list_contenders(ws, project)
    if len(contenders) < 2:
        empty_state(f"Project {project.name} has {len(contenders)} saved model(s); a launch compares a champion with "
                    "a challenger. Train and compare models first.", TRAIN_PAGE, "Train & compare")
    setup = setup_form(ctx, contenders)

for tab, entry in zip(st.tabs([s.label for s in STRATEGIES]), STRATEGIES, strict=True):
    with tab:
        st.caption(entry.description)
        if setup is not None:
            spec = spec_form(entry, setup)
            if st.button("Simulate", key=f"launch.{entry.key}.run", type="primary", icon=":material/play_arrow:",
                         disabled=spec is None):
                _simulate(ctx, entry.key, setup, spec)
        shown = _shown(entry.key, st.session_state.get(f"launch.{entry.key}.shown"))
        if shown is None:
            st.info(f"No {entry.label} simulation saved yet." + ("" if ctx.viewer else " Press Simulate."),
                    icon=":material/info:")
        else:
            render(shown, entry.key)

st.subheader("History")
sims = _sims()
if not sims:
    st.caption("Saved simulations appear here; the registry's launch gate reads the newest verdict for a challenger.")
else:
    history_picker(sims)
