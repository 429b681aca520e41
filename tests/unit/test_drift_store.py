"""Drift reports in the workspace: both sides chosen from it, cached reference summaries, saving, listing, CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.monitor.checks import DriftOptions, check_drift
from core.monitor.model import check_over_time, model_choices, run_whatif
from core.monitor.reports import KIND, SourceSpec, check_summary, date_columns, default_current, default_reference, describe_source, get_drift_report, histogram_frame, latest_drift_status, list_drift_reports, load_source, report_html, run_check, save_drift_report, time_windows
from core.monitor.summaries import REFERENCE_KIND, reference_summary
from core.errors import NotFound, PermissionDenied, SchemaMismatch, SpecInvalid
from core.data.ingest import add_frame


def _frame(n: int, seed: int, shift: float = 0.0, start: str = "2025-01-01", days: int = 90) -> pd.DataFrame:
    """x shifts by `shift` standard deviations; z and segment never shift; y depends on x."""
    rng = np.random.default_rng(seed)
    x = rng.normal(10 + 2 * shift, 2, n)
    return pd.DataFrame({
        "day": pd.Timestamp(start) + pd.to_timedelta(rng.integers(0, days, n), unit="D"),
        "x": x,
        "z": rng.normal(5, 1, n),
        "segment": rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2]),
        "y": np.where(x + rng.normal(0, 1.5, n) > 11, "yes", "no"),
    })


@pytest.fixture
def pair(workspace):
    ref = add_frame(workspace, "ref", _frame(600, 1))
    cur = add_frame(workspace, "cur", _frame(400, 4, shift=1.0, start="2025-04-01"))
    return workspace, SourceSpec("dataset", ref.id), SourceSpec("dataset", cur.id)


def test_check_flags_the_shifted_column_and_equals_a_direct_check(pair):
    ws, ref, cur = pair
    check = run_check(ws, ref, cur)
    flags = {c.column: c.drift for c in check.result.compared}
    assert flags == {"x": True, "z": False, "segment": False, "y": True}
    kinds = ws.dataset(ref.dataset_id).kinds()
    direct = check_drift(ws.frame("ref"), ws.frame("cur"), kinds)
    assert check.result.to_dict() == direct.to_dict()
    assert "day" in {c.column for c in check.result.columns if c.excluded}


def test_reference_summary_cache_hit_gives_the_same_result(pair):
    ws, ref, cur = pair
    options = DriftOptions(calibrated=True, bh=True)
    first = run_check(ws, ref, cur, options)
    second = run_check(ws, ref, cur, options)
    assert not first.reference_cached and second.reference_cached
    assert first.result.to_dict() == second.result.to_dict()
    assert len(ws.list_records(REFERENCE_KIND)) == 1
    # Another column selection, or another reference, is summarized anew.
    third = run_check(ws, ref, cur, options, columns=["x", "z"])
    assert not third.reference_cached and [c.column for c in third.result.columns] == ["x", "z"]
    other = add_frame(ws, "ref2", _frame(600, 7))
    assert not run_check(ws, SourceSpec("dataset", other.id), cur, options).reference_cached


def test_cached_summary_of_numbers_only_round_trips(workspace):
    rng = np.random.default_rng(3)
    ref = add_frame(workspace, "nums", pd.DataFrame({"a": rng.normal(0, 1, 300), "b": rng.normal(1, 1, 300)}))
    spec, kinds = SourceSpec("dataset", ref.id), {"a": "numeric", "b": "numeric"}
    built, cached = reference_summary(workspace, spec, kinds, DriftOptions())
    again, cached_again = reference_summary(workspace, spec, kinds, DriftOptions())
    assert not cached and cached_again
    for name in kinds:
        assert np.array_equal(built.columns[name].counts.keys, again.columns[name].counts.keys)
        assert np.array_equal(built.columns[name].counts.counts, again.columns[name].counts.counts)
        assert built.columns[name].std == again.columns[name].std


def test_missing_column_is_reported_not_dropped(pair):
    ws, ref, _ = pair
    lacking = add_frame(ws, "lacking", _frame(300, 4).drop(columns=["z"]))
    with pytest.raises(SchemaMismatch, match=r"current set has no column 'z'"):
        run_check(ws, ref, SourceSpec("dataset", lacking.id))


def test_extra_current_columns_are_named_in_a_note(pair):
    ws, ref, _ = pair
    wider = add_frame(ws, "wider", _frame(300, 5).assign(extra=1.0))
    check = run_check(ws, ref, SourceSpec("dataset", wider.id))
    assert any("'extra'" in n for n in check.notes)


def test_saving_listing_and_latest_status(pair):
    ws, ref, cur = pair
    assert latest_drift_status(ws, "prj_x") is None
    first = save_drift_report(ws, run_check(ws, ref, ref), "prj_x", by="ana")
    second = save_drift_report(ws, run_check(ws, ref, cur), "prj_x", by="ben")
    save_drift_report(ws, run_check(ws, cur, ref), "prj_other", by="cy")
    listed = list_drift_reports(ws, "prj_x")
    assert [r.id for r in listed] == [second.id, first.id]
    latest = latest_drift_status(ws, "prj_x")
    assert latest.id == second.id and latest.by == "ben" and latest.reference == "ref" and latest.current == "cur"
    assert not first.is_drifted and first.drifted_share == 0.0
    assert latest.drifted_share == pytest.approx(0.5) and latest.is_drifted
    rec = ws.get_record(KIND, second.id)  # the fields other modules read (docs/ARCHITECTURE.md)
    assert {"verdict", "is_drifted", "drifted_share", "reference", "current", "version_id"} <= set(rec)
    assert rec["verdict"].startswith("Drift detected")
    table = get_drift_report(ws, second.id).result().table()
    assert table.set_index("column").loc["x", "drift"] == "yes"
    assert report_html(ws, second) is None
    with pytest.raises(NotFound):
        get_drift_report(ws, "drf_missing")
    with pytest.raises(PermissionDenied):
        save_drift_report(ws.as_role("viewer"), run_check(ws, ref, cur), "prj_x")


def test_evidently_report_is_saved_as_a_checked_artifact(pair):
    ws, ref, cur = pair
    check = run_check(ws, ref, cur, with_report=True, report_rows=300)
    assert check.report is not None and check.report_error is None
    assert any("random sample: 300 of 600 reference rows" in n for n in check.report.notes)
    saved = save_drift_report(ws, check, "prj_x")
    html = report_html(ws, saved)
    assert html == check.report.html and "<html" in html.lower()
    assert saved.payload["report_notes"] == check.report.notes


def test_time_windows_and_loading_one(workspace):
    df = _frame(500, 8, days=75)
    info = add_frame(workspace, "daily", df)
    windows = time_windows(workspace, info.id, "day", "M")
    expected = df.groupby(df["day"].dt.to_period("M")).size()
    assert [w.label for w in windows] == [str(p) for p in expected.index]
    assert [w.rows for w in windows] == expected.tolist()
    w = windows[1]
    spec = SourceSpec("window", info.id, time_column="day", start=w.start.isoformat(), end=w.end.isoformat())
    rows = load_source(workspace, spec)
    inside = df[(df["day"] >= w.start) & (df["day"] < w.end)].reset_index(drop=True)
    pd.testing.assert_frame_equal(rows, inside, check_dtype=False)
    assert describe_source(workspace, spec) == f"daily · day from {w.start:%Y-%m-%d} to before {w.end:%Y-%m-%d}"
    weeks = time_windows(workspace, info.id, "day", "W")
    assert sum(x.rows for x in weeks) == 500 and all(x.start.dayofweek == 0 for x in weeks)
    with pytest.raises(SpecInvalid, match="Unknown window"):
        time_windows(workspace, info.id, "day", "Q")
    months = add_frame(workspace, "two_dates", df.assign(month=df["day"].dt.to_period("M").dt.start_time))
    assert date_columns(months) == ["day", "month"] and date_columns(months, workspace) == ["month", "day"]
    with pytest.raises(SpecInvalid, match="needs a date column"):
        load_source(workspace, SourceSpec("window", info.id, time_column="day"))


def test_histograms_hold_shares_of_both_sides(pair):
    ws, ref, cur = pair
    kinds = ws.dataset(ref.dataset_id).kinds()
    summary, _ = reference_summary(ws, ref, kinds, DriftOptions())
    current = ws.frame("cur")
    hist = histogram_frame(summary, current, "x", bins=10)
    totals = hist.groupby("side")["share"].sum()
    assert totals["reference"] == pytest.approx(1) and totals["current"] == pytest.approx(1)
    lo, hi = min(ws.frame("ref")["x"].min(), current["x"].min()), max(ws.frame("ref")["x"].max(), current["x"].max())
    counts = np.histogram(current["x"], np.linspace(lo, hi, 11))[0]
    assert hist[hist.side == "current"]["share"].to_numpy() == pytest.approx(counts / counts.sum())
    seg = histogram_frame(summary, current, "segment").set_index(["side", "bin"])["share"]
    assert seg["current", "a"] == pytest.approx((current["segment"] == "a").mean())


def test_defaults_follow_the_champion_then_the_latest_split(workspace):
    from core.project.projects import create_project
    from core.split.splitting import list_splits, split_project
    from core.split.spec import SplitSpec

    info = add_frame(workspace, "history", _frame(400, 9))
    add_frame(workspace, "newer", _frame(200, 10, shift=0.5))
    project = create_project(workspace, "P", info.id, "y")
    first = split_project(workspace, project, SplitSpec("random", seed=1), name="first")
    split_project(workspace, project, SplitSpec("random", seed=2), name="second")
    spec, why = default_reference(workspace, project)
    assert spec.split_id == list_splits(workspace, project.id)[0].id and "latest split" in why
    # a version record as core.release.actions writes it (only the fields this choice reads are real)
    workspace.put_record("version", "ver_1", {"number": 1, "run_id": "run_champ", "split_id": first.id,
                                              "model_key": "logreg", "model_label": "Logistic regression",
                                              "task": "binary", "target": "y", "content_hash": "",
                                              "artifact": {"path": "artifacts/ver_1/model.wbm", "sha256": "0"},
                                              "aliases": ["champion"]}, project_id=project.id)
    spec, why = default_reference(workspace, project)
    assert (spec.kind, spec.split_id, spec.part) == ("split", first.id, "train") and "champion" in why
    assert describe_source(workspace, spec) == "history · train part of split 'first'"
    current = default_current(workspace, project, spec)
    assert current == SourceSpec("dataset", workspace.dataset("newer").id)
    workspace.delete_dataset("newer")
    window = default_current(workspace, project, spec)
    assert window.kind == "window" and window.time_column == "day" and window.start.startswith("2025-03-01")


def test_model_results_match_scikit_learn_and_feed_over_time_and_what_if(workspace):
    from sklearn.metrics import f1_score, recall_score, roc_auc_score

    from core.project.projects import create_project
    from core.models.runs import get_run, load_run_model, save_comparison
    from core.split.splitting import split_frames, split_project
    from core.split.spec import SplitSpec
    from core.models.training import compare

    info = add_frame(workspace, "labelled", _frame(500, 11))
    cur_info = add_frame(workspace, "later", _frame(300, 12, shift=1.0, start="2025-04-01", days=60))
    project = create_project(workspace, "Buyers", info.id, "y", positive_class="yes")
    split = split_project(workspace, project, SplitSpec("stratified"))
    parts = split_frames(workspace, split, ["train", "validation"])
    result = compare(parts["train"], parts["validation"], "y", "binary", ["logreg"], info.kinds(), cv=0,
                     positive_class="yes", primary_metric=project.criteria.primary_metric)
    save_comparison(workspace, project, split, result)
    [model] = model_choices(workspace, project)
    ref = SourceSpec("split", info.id, split.id, "train")
    check = run_check(workspace, ref, SourceSpec("dataset", cur_info.id), project=project, model=model)
    assert check.result.prediction is not None and check.result.prediction.drift  # x drives the score
    metric = project.criteria.primary_metric
    pipe = load_run_model(workspace, model.run_id)
    later = workspace.frame("later")
    run = get_run(workspace, model.run_id)
    scores = pipe.predict_proba(later[list(run.features)])[:, list(pipe.classes_).index("yes")]
    pred = np.where(scores >= 0.5, "yes", "no")
    independent = {"roc_auc": roc_auc_score(later["y"] == "yes", scores),
                   "recall": recall_score(later["y"], pred, pos_label="yes"),
                   "f1": f1_score(later["y"], pred, pos_label="yes")}
    assert check.model_quality["current"] == pytest.approx(independent[metric])
    assert check.model_quality["metric"] == metric and check.model_quality["n_labelled"] == 300
    summary = check_summary(check)
    json.dumps(summary)  # JSON-safe
    assert summary["columns"][0]["column"] == "model prediction"

    over = check_over_time(workspace, project, ref, cur_info.id, "day", "M", model=model)
    assert len(over.windows) == 2 and all(w.metric is not None for w in over.windows)
    whatif = run_whatif(workspace, project, ref, [{"kind": "mean", "column": "z", "delta": 3.0}], model=model)
    assert whatif.steps["drift_share"].iloc[0] == 0 and "z" in whatif.steps["drifted"].iloc[-1]
    with pytest.raises(SpecInvalid, match="No shift"):
        run_whatif(workspace, project, ref, [])

    from core.release.actions import register_run

    version = register_run(workspace, model.run_id, by="test")
    first = model_choices(workspace, project)[0]
    assert first.version_id == version.id and first.label.startswith("Version 1")
    by_version = run_check(workspace, ref, SourceSpec("dataset", cur_info.id), project=project, model=first)
    assert by_version.version_id == version.id
    assert by_version.result.prediction.statistic == pytest.approx(check.result.prediction.statistic)
    saved = save_drift_report(workspace, by_version, project.id)
    assert workspace.get_record(KIND, saved.id)["version_id"] == version.id


def test_cli_prints_json_and_saves_the_report(tmp_path, capsys):
    from core.cli import main
    from core.store.workspace import close_workspace
    from core.data.samples import open_workspace

    home = tmp_path / "ws"
    ws = open_workspace(home, seed_samples=False)
    add_frame(ws, "ref", _frame(300, 1))
    add_frame(ws, "cur", _frame(300, 2, shift=1.0))
    close_workspace(home)
    assert main(["--home", str(home), "drift", "ref", "cur", "--bh", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["options"]["bh"] and out["report_id"].startswith("drf_")
    assert {r["column"]: r["drift"] for r in out["columns"]}["x"] == "yes"
    assert main(["--home", str(home), "drift", "ref", "nope"]) == 2
    assert "No dataset 'nope'" in capsys.readouterr().err
    ws = open_workspace(home, seed_samples=False)
    assert [r.id for r in list_drift_reports(ws, None)] == [out["report_id"]]
    close_workspace(home)
