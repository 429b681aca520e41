"""Registry: frozen versions, promote / rollback / archive with a complete ledger, concurrency, safe artifacts, cards."""

from __future__ import annotations

import io
import json
import pickle
import threading
import zipfile
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.metrics import precision_score, recall_score

from core.release import actions
from core.registry import versions as registry
from core.errors import ArtifactRejected, NameInvalid, PermissionDenied, SpecInvalid
from core.registry.versions import RegistryConflict, get_version, ledger, list_versions, load_version_model, registry_state
from core.release.actions import archive_version, promote, register_run, rollback, set_challenger
from core.store.workspace import close_workspace
from core.data.samples import open_workspace


@pytest.fixture
def trained(trained_workspace, tmp_path):
    """The demo project with a baseline, a logistic regression and a tree (2-fold CV), in a private copy."""
    from core.models.runs import list_runs

    t = trained_workspace(["logreg", "tree"], cv=2, home=tmp_path / "ws")
    ws = open_workspace(t.home, seed_samples=False)
    yield SimpleNamespace(ws=ws, home=t.home, project_id=t.project_id,
                          runs={r.model_key: r for r in list_runs(ws, t.project_id)})
    close_workspace(t.home)


def _three(t):
    return [register_run(t.ws, t.runs[k].id, note=f"{k} model", by="Ana") for k in ("dummy", "tree", "logreg")]


# -- registering -------------------------------------------------------------------------------------------------------
def test_a_registered_version_is_frozen_with_its_hashes_schema_and_metrics(trained):
    from core.models.runs import run_predictions

    run = trained.runs["logreg"]
    v = register_run(trained.ws, run.id, note="first try", by="Ana")
    assert (v.number, v.run_id, v.note, v.registered_by, v.threshold) == (1, run.id, "first try", "Ana", 0.5)
    assert v.is_intact and len(v.content_hash) == 64
    assert v.artifact.sha256 == run.artifact.sha256 and v.artifact.path != run.artifact.path  # a copy of the file
    assert v.dataset_hash == trained.ws.dataset(run.dataset_id).content_hash and v.split_hash == run.split_hash
    schema = {c["name"]: c for c in v.schema["columns"]}
    assert schema["plan"]["kind"] == "category" and set(schema["plan"]["categories"]) == {"basic", "premium", "standard"}
    assert schema["tenure_months"]["kind"] == "number" and v.schema["id_columns"] == ["customer_id"]
    preds = run_predictions(trained.ws, run.id)  # independent: sklearn on the saved validation predictions
    y_true, y_pred = preds["y_true"].to_numpy(bool), preds["score"].to_numpy() >= 0.5
    assert v.metrics["recall"] == pytest.approx(recall_score(y_true, y_pred), abs=1e-12)
    assert v.metrics["precision"] == pytest.approx(precision_score(y_true, y_pred), abs=1e-12)
    assert v.metrics == run.validation_metrics  # at the run's threshold 0.5 the numbers are the run's own
    second = register_run(trained.ws, trained.runs["tree"].id, by="Bo")
    assert second.number == 2 and [x.number for x in list_versions(trained.ws, trained.project_id)] == [2, 1]


def test_the_version_threshold_is_the_runs_and_metrics_follow_it(trained):
    from core.models.runs import run_predictions, set_run_threshold

    run = set_run_threshold(trained.ws, trained.runs["logreg"].id, 0.3)
    v = register_run(trained.ws, run.id, by="Ana")
    preds = run_predictions(trained.ws, run.id)
    y_pred = preds["score"].to_numpy() >= 0.3
    assert v.threshold == 0.3
    assert v.metrics["recall"] == pytest.approx(recall_score(preds["y_true"].to_numpy(bool), y_pred), abs=1e-12)
    assert v.metrics["recall"] > run.validation_metrics["recall"]


def test_registering_twice_or_without_a_name_or_as_viewer_is_refused(trained):
    register_run(trained.ws, trained.runs["tree"].id, by="Ana")
    with pytest.raises(SpecInvalid, match="already registered as v1"):
        register_run(trained.ws, trained.runs["tree"].id, by="Ana")
    with pytest.raises(PermissionDenied):
        register_run(trained.ws.as_role("viewer"), trained.runs["logreg"].id)
    v = list_versions(trained.ws, trained.project_id)[0]
    with pytest.raises(NameInvalid, match="Type your name"):
        promote(trained.ws, v.id, by="  ", override_reason="x")


def test_a_changed_frozen_field_breaks_the_content_hash_and_blocks_promotion(trained):
    v = register_run(trained.ws, trained.runs["logreg"].id, by="Ana")
    rec = trained.ws.get_record("version", v.id)
    rec["metrics"]["recall"] = 0.99
    payload = {k: val for k, val in rec.items() if k not in ("id", "kind", "project_id", "created_at", "updated_at")}
    trained.ws.put_record("version", v.id, payload, project_id=v.project_id)
    tampered = get_version(trained.ws, v.id)
    assert not tampered.is_intact
    with pytest.raises(ArtifactRejected, match="content hash"):
        promote(trained.ws, v.id, by="Ana", override_reason="testing")


# -- promote, rollback, archive ----------------------------------------------------------------------------------------
def test_promote_promote_rollback_leaves_the_right_champion_and_a_complete_ledger(trained):
    v1, v2, v3 = _three(trained)
    promote(trained.ws, v1.id, by="Ana", override_reason="baseline goes first")
    promote(trained.ws, v2.id, by="Bo", why="trees", override_reason="better than nothing")
    assert registry.champion(trained.ws, trained.project_id).id == v2.id
    entry = rollback(trained.ws, trained.project_id, by="Cy", why="v2 misbehaves in production")
    assert entry.version_id == v1.id and registry.champion(trained.ws, trained.project_id).id == v1.id
    entries = ledger(trained.ws, trained.project_id)
    assert [(e.seq, e.action, e.version_number, e.by) for e in entries] == [
        (1, "register", 1, "Ana"), (2, "register", 2, "Ana"), (3, "register", 3, "Ana"),
        (4, "promote", 1, "Ana"), (5, "promote", 2, "Bo"), (6, "rollback", 1, "Cy")]
    assert entries[4].why == "trees — override: better than nothing" and entries[4].override
    assert entries[4].gate["checks"] and entries[5].why == "v2 misbehaves in production"
    assert [e.champion_after for e in entries[3:]] == [v1.id, v2.id, v1.id]
    aliases = {v.number: v.aliases for v in list_versions(trained.ws, trained.project_id)}
    assert aliases == {1: ("champion",), 2: (), 3: ()}  # the records mirror the ledger
    # a second rollback has nowhere to go: v2 was rolled back from, and v1 was the first champion
    with pytest.raises(SpecInvalid, match="only champion so far"):
        rollback(trained.ws, trained.project_id, by="Cy")
    from core.release.modelcard import champion_timeline

    reigns = champion_timeline(trained.ws, trained.project_id)
    assert list(reigns["version"]) == ["v1", "v2", "v1"] and list(reigns["how"]) == ["promote", "promote", "rollback"]
    assert (reigns["end"] >= reigns["start"]).all()


def test_rollback_unwinds_champions_in_order_or_jumps_to_an_earlier_one(trained):
    v1, v2, v3 = _three(trained)
    for v in (v1, v2, v3):
        promote(trained.ws, v.id, by="Ana", override_reason="demo")
    assert registry_state(trained.ws, trained.project_id).rollback_targets() == [v2.id, v1.id]
    with pytest.raises(SpecInvalid, match="not an earlier champion"):
        rollback(trained.ws, trained.project_id, by="Ana", to_version_id=v3.id)
    assert rollback(trained.ws, trained.project_id, by="Ana").version_id == v2.id
    assert rollback(trained.ws, trained.project_id, by="Ana").version_id == v1.id
    for v in (v2, v3):
        promote(trained.ws, v.id, by="Ana", override_reason="again")
    assert rollback(trained.ws, trained.project_id, by="Ana", to_version_id=v1.id).version_id == v1.id
    assert registry_state(trained.ws, trained.project_id).stack == [v1.id]


def test_rollback_without_a_champion_is_refused(trained):
    _three(trained)
    with pytest.raises(SpecInvalid, match="no champion yet"):
        rollback(trained.ws, trained.project_id, by="Ana")


def test_challenger_and_archive_rules(trained):
    v1, v2, v3 = _three(trained)
    promote(trained.ws, v1.id, by="Ana", override_reason="demo")
    set_challenger(trained.ws, v2.id, by="Ana")
    assert registry_state(trained.ws, trained.project_id).challenger == v2.id
    with pytest.raises(SpecInvalid, match="is the champion, so it cannot"):
        set_challenger(trained.ws, v1.id, by="Ana")
    with pytest.raises(SpecInvalid, match="Promote or roll back to another version first"):
        archive_version(trained.ws, v1.id, by="Ana")
    archive_version(trained.ws, v3.id, by="Ana", why="superseded")
    with pytest.raises(SpecInvalid, match="archived. Restore it first"):
        promote(trained.ws, v3.id, by="Ana", override_reason="x")
    promote(trained.ws, v2.id, by="Ana", override_reason="challenger wins")
    state = registry_state(trained.ws, trained.project_id)
    assert (state.champion, state.challenger, state.archived) == (v2.id, None, {v3.id})
    archive_version(trained.ws, v1.id, by="Ana")
    with pytest.raises(SpecInvalid, match="only champion so far"):
        rollback(trained.ws, trained.project_id, by="Ana")  # the only earlier champion is archived
    archive_version(trained.ws, v1.id, by="Ana", archived=False)
    assert rollback(trained.ws, trained.project_id, by="Ana").version_id == v1.id
    assert {v.number: v.aliases for v in list_versions(trained.ws, trained.project_id)} == {
        1: ("champion",), 2: (), 3: ("archived",)}


def test_a_viewer_cannot_change_aliases(trained):
    v1, *_ = _three(trained)
    viewer = trained.ws.as_role("viewer")
    with pytest.raises(PermissionDenied):
        promote(viewer, v1.id, by="Eve", override_reason="x")
    with pytest.raises(PermissionDenied):
        rollback(viewer, trained.project_id, by="Eve")


# -- concurrency -------------------------------------------------------------------------------------------------------
def _in_threads(*calls):
    results = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(i, call):
        barrier.wait()
        try:
            results[i] = call()
        except Exception as err:  # noqa: BLE001 — collected and asserted on below
            results[i] = err

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    return results


def test_concurrent_promotions_from_two_sessions_keep_the_ledger_whole(trained):
    v1, v2, _ = _three(trained)
    a, b = trained.ws.as_role("editor"), trained.ws.as_role("editor")
    results = _in_threads(lambda: promote(a, v1.id, by="Ana", override_reason="race"),
                          lambda: promote(b, v2.id, by="Bo", override_reason="race"))
    assert not [r for r in results if isinstance(r, Exception)], results
    entries = ledger(trained.ws, trained.project_id)
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    promotions = [e for e in entries if e.action == "promote"]
    assert {e.version_id for e in promotions} == {v1.id, v2.id}
    last = promotions[-1].version_id
    assert promotions[-1].gate["champion_version_id"] == promotions[0].version_id  # the second saw the first
    champions = [v for v in list_versions(trained.ws, trained.project_id) if "champion" in v.aliases]
    assert [v.id for v in champions] == [last]


def test_two_sessions_acting_on_the_same_view_one_is_refused_clearly(trained):
    v1, v2, _ = _three(trained)
    seen = registry_state(trained.ws, trained.project_id).seq
    results = _in_threads(lambda: promote(trained.ws, v1.id, by="Ana", override_reason="x", expected_seq=seen),
                          lambda: promote(trained.ws, v2.id, by="Bo", override_reason="x", expected_seq=seen))
    refused = [r for r in results if isinstance(r, RegistryConflict)]
    assert len(refused) == 1 and "changed since you opened it" in str(refused[0])
    assert len([e for e in ledger(trained.ws, trained.project_id) if e.action == "promote"]) == 1


def test_a_lost_race_at_the_storage_level_is_refused_not_overwritten(trained, monkeypatch):
    v1, v2, _ = _three(trained)
    promote(trained.ws, v1.id, by="Ana", override_reason="x")
    stale = ledger(trained.ws, trained.project_id)[:-1]  # another process wrote entry 4 after this one read
    monkeypatch.setattr(actions, "ledger", lambda ws, pid: list(stale))
    with pytest.raises(RegistryConflict, match="at the same moment"):
        promote(trained.ws, v2.id, by="Bo", override_reason="x")
    monkeypatch.undo()
    entries = ledger(trained.ws, trained.project_id)
    assert [e.seq for e in entries] == [1, 2, 3, 4] and entries[-1].version_id == v1.id


# -- safe artifacts ----------------------------------------------------------------------------------------------------
class _Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('ran')",)


def _point_at(ws, version, data: bytes) -> None:
    """Replaces the version's model file and updates its recorded hash, as someone with disk access could."""
    ref = ws.write_artifact(version.id, "model.wbm", data)
    rec = ws.get_record("version", version.id)
    rec["artifact"] = ref.to_dict()
    payload = {k: val for k, val in rec.items() if k not in ("id", "kind", "project_id", "created_at", "updated_at")}
    ws.put_record("version", version.id, payload, project_id=version.project_id)


def test_a_pickle_payload_where_the_model_should_be_is_refused_and_never_runs(trained, tmp_path):
    v = register_run(trained.ws, trained.runs["logreg"].id, by="Ana")
    marker = tmp_path / "pwned.txt"
    payload = pickle.dumps(_Payload(marker))
    path = trained.ws.artifacts / v.artifact.path
    path.write_bytes(payload)  # swapped file: its checksum no longer matches
    with pytest.raises(ArtifactRejected, match="checksum differs"):
        load_version_model(trained.ws, v.id)
    _point_at(trained.ws, v, payload)  # the hash updated too: the format check still refuses it
    with pytest.raises(ArtifactRejected, match="not a model saved by the workbench"):
        load_version_model(trained.ws, v.id)
    buf = io.BytesIO()  # a workbench-shaped zip whose pipeline is a pickle
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("format.json", json.dumps({"format": "workbench-model", "version": 1, "xgboost": None}))
        zf.writestr("pipeline.skops", payload)
    _point_at(trained.ws, v, buf.getvalue())
    with pytest.raises(ArtifactRejected):
        load_version_model(trained.ws, v.id)
    from core.release.scoring import score

    with pytest.raises(ArtifactRejected):
        score(trained.ws, get_version(trained.ws, v.id), "churn_next_month")
    assert not marker.exists()


def test_a_skops_file_with_untrusted_types_is_refused(trained, tmp_path):
    import skops.io as sio

    v = register_run(trained.ws, trained.runs["tree"].id, by="Ana")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("format.json", json.dumps({"format": "workbench-model", "version": 1, "xgboost": None}))
        zf.writestr("pipeline.skops", sio.dumps(_Payload(tmp_path / "pwned.txt")))
    _point_at(trained.ws, v, buf.getvalue())
    with pytest.raises(ArtifactRejected, match="does not trust"):
        load_version_model(trained.ws, v.id)
    assert not (tmp_path / "pwned.txt").exists()


def test_a_tampered_run_file_is_refused_at_registration(trained, tmp_path):
    run = trained.runs["logreg"]
    payload = pickle.dumps(_Payload(tmp_path / "pwned.txt"))
    ref = trained.ws.write_artifact(run.id, "model.wbm", payload)
    rec = trained.ws.get_record("run", run.id)
    rec["artifact"] = ref.to_dict()
    trained.ws.put_record("run", run.id, {k: val for k, val in rec.items()
                                          if k not in ("id", "kind", "project_id", "created_at", "updated_at")},
                          project_id=rec["project_id"])
    with pytest.raises(ArtifactRejected):
        register_run(trained.ws, run.id, by="Ana")
    assert not list_versions(trained.ws, trained.project_id) and not (tmp_path / "pwned.txt").exists()


def test_the_loaded_model_predicts_what_the_run_saved(trained):
    from core.models.runs import run_predictions
    from core.split.splitting import get_split, split_frames

    v = register_run(trained.ws, trained.runs["logreg"].id, by="Ana")
    model = load_version_model(trained.ws, v)
    val = split_frames(trained.ws, get_split(trained.ws, v.split_id), parts=("validation",), with_row_id=True)
    proba = model.predict_proba(val["validation"][list(v.features)])[:, list(model.classes_).index(True)]
    assert np.allclose(proba, run_predictions(trained.ws, v.run_id)["score"].to_numpy(), atol=1e-12)


# -- model card and the CLI --------------------------------------------------------------------------------------------
def test_the_model_card_escapes_user_text_in_html(trained):
    from core.release.modelcard import model_card_html, model_card_markdown
    from core.project.projects import update_project

    update_project(trained.ws, trained.project_id, problem="<script>alert('x')</script> & churn")
    v = register_run(trained.ws, trained.runs["logreg"].id, note="<img src=x onerror=alert(1)>", by="<b>Ana</b>")
    promote(trained.ws, v.id, by="Ana", override_reason="card test")
    page = model_card_html(trained.ws, v.id)
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; churn" in page
    assert "<img" not in page and "<b>Ana" not in page
    text = model_card_markdown(trained.ws, v.id)
    for heading in ("Intended use", "Data", "Metrics at threshold 0.5", "Fairness", "Limitations", "Launch gate",
                    "Time as champion"):
        assert f"## {heading}" in text
    assert "\\<script\\>" in text and f"{v.metrics['recall']:.4f}" in text


def test_cli_register_promote_rollback_and_ledger(trained, capsys):
    from core.cli import main

    home = str(trained.home)
    close_workspace(trained.home)  # the CLI opens the workspace itself
    for key in ("tree", "logreg"):
        assert main(["--home", home, "register", trained.runs[key].id, "--by", "Ana", "--json"]) == 0
    capsys.readouterr()
    assert main(["--home", home, "promote", "Customer churn:1", "--by", "Ana"]) == 2
    assert "failed the launch gate" in capsys.readouterr().err
    assert main(["--home", home, "promote", "Customer churn:1", "--override-reason", "pilot", "--by", "Ana"]) == 0
    assert main(["--home", home, "promote", "Customer churn:v2", "--override-reason", "better", "--by", "Bo"]) == 0
    assert "[fail]" in capsys.readouterr().out
    assert main(["--home", home, "rollback", "Customer churn", "--by", "Cy"]) == 0
    assert "v1 is champion again" in capsys.readouterr().out
    assert main(["--home", home, "ledger", "Customer churn", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert [(e["action"], e["version_number"], e["by"]) for e in entries] == [
        ("register", 1, "Ana"), ("register", 2, "Ana"), ("promote", 1, "Ana"), ("promote", 2, "Bo"),
        ("rollback", 1, "Cy")]
    assert main(["--home", home, "promote", "Customer churn:9", "--by", "Ana"]) == 2
    assert "has no version 9" in capsys.readouterr().err
