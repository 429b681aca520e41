"""Retrain settings in the YAML spec: exported, replayed, checked with clear messages, and applied headless."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import SpecInvalid

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("policy", [dict(), dict(window="latest", latest_n=2, on_pass="promote"),
                                    dict(window="rolling", rolling_days=45, on_fail="discard")])
def test_settings_round_trip_through_the_spec_section(policy):
    import yaml

    from core.release.retrain_policy import RetrainPolicy

    p = RetrainPolicy(**policy)
    section = yaml.safe_load(yaml.safe_dump(p.to_spec()))
    assert RetrainPolicy.from_spec(section) == p
    assert section["holdout"] == "newest labelled batch" and set(section["gate"]) >= {"on_pass", "on_fail"}
    assert p.spec().window == p.window and p.spec().latest_n == p.latest_n


@pytest.mark.parametrize("section, message", [
    ({"window": "weekly"}, r"retrain.window 'weekly' is not a training window; choose 'all'"),
    ({"window": "latest", "latest_n": 0}, r"retrain.latest_n must be a whole number of batches, at least 1, not 0"),
    ({"latest_n": 1.5}, r"latest_n must be a whole number"),
    ({"latest_n": True}, r"latest_n must be a whole number"),
    ({"rolling_days": "sixty"}, r"retrain.rolling_days must be a whole number of days"),
    ({"holdout": "batch 2"}, r"retrain.holdout 'batch 2' is not supported.*newest labelled batch"),
    ({"windw": "all"}, r"retrain has no setting 'windw'. Did you mean 'window'\?"),
    ({"gate": {"on_pass": "always"}}, r"retrain.gate.on_pass 'always' is not a choice"),
    ({"gate": {"on_fail": "promote"}}, r"on_fail 'promote' is not a choice.*never promoted by a spec"),
    ({"gate": {"onpass": "keep"}}, r"retrain.gate has no setting 'onpass'. Did you mean 'on_pass'\?"),
    ({"gate": "promote"}, r"retrain.gate must be a mapping"),
    (["all"], r"retrain section must be a mapping")])
def test_bad_retrain_settings_say_which_setting_and_what_it_takes(section, message):
    from core.release.retrain_policy import RetrainPolicy

    with pytest.raises(SpecInvalid, match=message):
        RetrainPolicy.from_spec(section)


def test_the_spec_exports_and_replays_the_retrain_settings(trained_workspace):
    from core.project.projects import list_projects
    from core.release.retrain_policy import RetrainPolicy, get_retrain_policy, save_retrain_policy
    from core.share.spec import export_project, export_yaml, load_spec, run_spec

    tw = trained_workspace(models=("logreg",), register=("logreg",))
    try:
        ws, project = tw.ws, tw.project
        assert export_project(ws, project.id)["retrain"] == RetrainPolicy().to_spec()  # defaults before any choice
        mine = RetrainPolicy(window="latest", latest_n=2, on_pass="promote", on_fail="discard")
        save_retrain_policy(ws, project.id, mine)
        spec = load_spec(export_yaml(ws, project.id))
        assert spec["retrain"] == mine.to_spec()

        before = len(list_projects(ws))
        bad = {**spec, "retrain": {**spec["retrain"], "window": "monthly"}}
        with pytest.raises(SpecInvalid, match="retrain.window 'monthly'"):
            run_spec(ws, bad, n_jobs=1)
        assert len(list_projects(ws)) == before  # refused before anything was saved
        with pytest.raises(SpecInvalid, match="retrain.window 'monthly'"):
            load_spec(export_yaml(ws, project.id).replace("window: latest", "window: monthly"))

        spec["models"], spec["training"] = [{"key": "logreg", "params": {}}], {"cv": 2, "seed": 7}
        out = run_spec(ws, spec, n_jobs=1)
        assert out["retrain"] == mine.to_spec()
        assert get_retrain_policy(ws, out["project_id"]) == mine
        assert export_project(ws, out["project_id"])["retrain"] == mine.to_spec()  # and round again
    finally:
        tw.close()


@pytest.fixture(scope="module")
def loop_home(trained_workspace):
    from core.data.batches import append_batch
    from core.release.actions import promote

    tw = trained_workspace(models=("logreg",), thresholds={"logreg": 0.3}, register=("logreg",))
    promote(tw.ws, tw.versions["logreg"], by="test", override_reason="test champion")
    for month in ("02", "03"):
        append_batch(tw.ws, tw.project, ROOT / "sample_data" / f"churn_2026_{month}.csv", label=f"2026-{month}",
                     as_of=f"2026-{month}-01")
    tw.close()
    return tw


def test_cli_retrains_with_the_specs_settings_and_applies_its_gate(loop_home, tmp_path, capsys):
    import json

    import yaml

    from core.cli import main
    from core.registry.versions import registry_state
    from core.release.retrain import list_retrains
    from core.release.retrain_policy import RetrainPolicy, get_retrain_policy

    tw = loop_home.copy_to(tmp_path / "ws")
    home = str(tw.home)
    tw.close()
    spec_file = tmp_path / "churn.yaml"
    assert main(["--home", home, "export", "Customer churn"]) == 0
    spec = yaml.safe_load(capsys.readouterr().out)
    spec["retrain"] = RetrainPolicy(window="latest", latest_n=1, on_pass="promote", on_fail="discard").to_spec()
    spec_file.write_text(yaml.safe_dump(spec))
    assert main(["--home", home, "retrain", "Customer churn", "--spec", str(spec_file), "--save", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["train_batches"] == [2] and out["holdout_batch"] == 3
    passed = out["gate_passed"] and out["challenger_wins"]
    assert out["decision"]["action"] == ("promote" if passed else "discard")
    assert out["decision"]["reason"].startswith("Retrain settings (on_")
    ws = tw.ws
    try:
        (r,) = list_retrains(ws, tw.project_id)
        state = registry_state(ws, tw.project_id)
        assert (state.champion == r.challenger_version_id) == passed
        assert (r.challenger_version_id in state.archived) == (not passed)
        assert get_retrain_policy(ws, tw.project_id).on_fail == "discard"  # --save kept them
    finally:
        tw.close()
    spec_file.write_text(yaml.safe_dump({**spec, "retrain": {"window": "latest", "latest_n": -1}}))
    assert main(["--home", home, "retrain", "Customer churn", "--spec", str(spec_file)]) == 2
    assert "retrain.latest_n must be a whole number of batches, at least 1, not -1" in capsys.readouterr().err
