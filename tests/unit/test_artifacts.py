"""Saved models load without running code: skops with a fixed allow-list, XGBoost in its own format, never pickle."""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile

import numpy as np
import pandas as pd
import pytest

from core.store.artifacts import TRUSTED_TYPES, dump_model, load_model
from core.catalog import MODELS, ModelSpec
from core.errors import ArtifactRejected
from core.models.pipeline import build_pipeline

COLUMNS = {"num": "number", "cat": "category", "flag": "boolean", "when": "datetime"}


def _frame(n: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame({"num": rng.normal(size=n), "cat": rng.choice(["a", "b", "c"], size=n),
                         "flag": rng.random(n) < 0.4, "when": pd.date_range("2024-01-01", periods=n, freq="12h")})


def _target(df: pd.DataFrame, task: str):
    signal = df["num"].to_numpy() + (df["cat"] == "a").to_numpy()
    return {"binary": np.where(signal > 0.2, "churn", "stay"), "multiclass": np.digitize(signal, [-0.4, 0.6]),
            "regression": 2.0 * signal, "clustering": None}[task]


@pytest.mark.parametrize("key,task", [(m.key, t) for m in MODELS for t in sorted(m.tasks)])
def test_every_catalog_entry_round_trips_and_predicts_identically(key, task):
    df = _frame()
    y = _target(df, task)
    pipe = build_pipeline(ModelSpec(key), COLUMNS, task, seed=3)
    pipe.fit(df) if y is None else pipe.fit(df, y)
    data = dump_model(pipe)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = set(zf.namelist())
        assert not any(n.endswith((".pkl", ".pickle", ".joblib")) for n in names)
        assert ("booster.ubj" in names) == (key == "xgb")
    loaded = load_model(data)
    fresh = _frame(40)
    if key == "pca":
        np.testing.assert_allclose(loaded.transform(fresh), pipe.transform(fresh))
        return
    if task == "regression":  # forests sum trees in thread order, so the last bit may differ
        np.testing.assert_allclose(loaded.predict(fresh), pipe.predict(fresh), rtol=1e-12)
    else:
        np.testing.assert_array_equal(loaded.predict(fresh), pipe.predict(fresh))
    if hasattr(pipe, "predict_proba"):
        np.testing.assert_allclose(loaded.predict_proba(fresh), pipe.predict_proba(fresh))
    if task in ("binary", "multiclass"):
        assert loaded.classes_.tolist() == pipe.classes_.tolist()
    assert list(loaded.feature_names_in_) == list(pipe.feature_names_in_)
    assert list(loaded[:-1].get_feature_names_out()) == list(pipe[:-1].get_feature_names_out())


class _Payload:
    """Writes a marker file when unpickled: what a malicious 'model' would do."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickle_disguised_as_a_model_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Payload(str(marker)))
    with pytest.raises(ArtifactRejected, match="not a model saved by the workbench"):
        load_model(payload)
    # The same pickle inside a zip that looks like ours: skops refuses it as a file format, nothing is unpickled.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("format.json", json.dumps({"format": "workbench-model", "version": 1, "xgboost": None}))
        zf.writestr("pipeline.skops", payload)
    with pytest.raises(ArtifactRejected):
        load_model(buf.getvalue())
    assert not marker.exists()


def test_untrusted_types_inside_a_skops_file_are_refused(tmp_path):
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    marker = tmp_path / "ran"
    evil = Pipeline([("step", FunctionTransformer(os.system))])  # a function outside the allow-list
    with pytest.raises(ArtifactRejected, match="does not trust.*system"):
        load_model(dump_model(evil))
    assert not marker.exists()
    assert not any("system" in t or "builtins.eval" in t or t.startswith("os.") for t in TRUSTED_TYPES)


def test_unexpected_members_and_damaged_files_are_refused():
    pipe = build_pipeline(ModelSpec("logreg"), COLUMNS, "binary").fit(_frame(), _target(_frame(), "binary"))
    data = dump_model(pipe)
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(buf, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, src.read(name))
        dst.writestr("extra.pkl", b"anything")
    with pytest.raises(ArtifactRejected, match="unexpected contents"):
        load_model(buf.getvalue())
    with pytest.raises(ArtifactRejected):
        load_model(data[: len(data) // 2])
    with pytest.raises(ArtifactRejected, match="not a model"):
        load_model(b"")


@pytest.mark.parametrize("key", ["xgb", "logreg"])
def test_a_model_saved_before_the_package_move_still_loads_and_predicts_the_same(key):
    """The fixtures were written by 0.1 (flat core/, `core.preprocess.*` in the file) on the churn sample."""
    from pathlib import Path

    fixtures = Path(__file__).resolve().parents[1] / "fixtures"
    data = (fixtures / f"legacy_model_{key}_v0_1.zip").read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as zf, zipfile.ZipFile(io.BytesIO(zf.read("pipeline.skops"))) as inner:
        assert "core.preprocess" in inner.read("schema.json").decode()  # really the old module path
    spec = json.loads((fixtures / "legacy_model_v0_1.json").read_text())
    df = pd.read_csv(Path(__file__).resolve().parents[2] / "sample_data" / "churn.csv")
    df["signup_date"] = pd.to_datetime(df["signup_date"])
    df["paperless_billing"] = df["paperless_billing"].eq("yes")
    lo, hi = spec["rows"]
    X = df[list(spec["columns"])].iloc[lo:hi]
    model = load_model(data)
    np.testing.assert_allclose(model.predict_proba(X)[:, 1], spec["expected"][key]["proba"], rtol=1e-9)
    assert model.predict(X).tolist() == spec["expected"][key]["pred"]


# -- keyed integrity: checksums an attacker with the workspace folder cannot redo ------------------------------------
@pytest.fixture
def keyed(tmp_path, monkeypatch):
    import core.store.integrity as integrity
    from core.store.workspace import Workspace

    monkeypatch.setenv("WORKBENCH_SECRET_DIR", str(tmp_path / "secrets"))
    monkeypatch.setattr(integrity, "_KEYS", {})
    ws = Workspace(tmp_path / "ws")
    yield ws
    ws.close()


def test_the_key_lives_outside_the_workspace_and_only_its_owner_reads_it(keyed, tmp_path):
    from core.store.integrity import secret_dir

    keyed.write_artifact("ver_a", "model.wbm", b"model A")
    key = secret_dir() / "artifact.key"
    assert key.is_file() and oct(key.stat().st_mode & 0o777) == "0o600"
    assert keyed.home.resolve() not in key.resolve().parents
    assert not any(p.name == "artifact.key" for p in keyed.home.rglob("*"))


def test_a_swapped_file_with_its_checksum_redone_is_refused_on_every_load(keyed):
    from core.store.workspace import ArtifactRef

    a = keyed.write_artifact("ver_a", "model.wbm", b"model A")
    b = keyed.write_artifact("ver_b", "model.wbm", b"model B")
    assert keyed.read_artifact(a) == b"model A" and keyed.read_artifact(b) == b"model B"
    # The attacker copies A's bytes over B and writes the matching SHA-256 into B's record.
    (keyed.artifacts / b.path).write_bytes(b"model A")
    forged = ArtifactRef(b.path, a.sha256)
    with pytest.raises(ArtifactRejected, match="keyed checksum"):
        keyed.read_artifact(forged)
    with pytest.raises(ArtifactRejected, match="keyed checksum"):
        keyed.read_artifact(forged)  # refused every time, not only at promote
    # Deleting the .mac does not help either: this workspace was keyed already.
    (keyed.artifacts / (b.path + ".mac")).unlink()
    with pytest.raises(ArtifactRejected, match="keyed checksum"):
        keyed.read_artifact(forged)


def test_a_mac_copied_from_another_artifact_does_not_fit(keyed):
    a = keyed.write_artifact("ver_a", "model.wbm", b"model A")
    b = keyed.write_artifact("ver_b", "model.wbm", b"model B")
    (keyed.artifacts / b.path).write_bytes(b"model A")
    (keyed.artifacts / (b.path + ".mac")).write_text((keyed.artifacts / (a.path + ".mac")).read_text())
    from core.store.workspace import ArtifactRef

    with pytest.raises(ArtifactRejected):
        keyed.read_artifact(ArtifactRef(b.path, a.sha256))


def test_artifacts_saved_before_keyed_checksums_still_load_and_are_keyed(tmp_path, monkeypatch):
    """The migration: a workspace whose artifacts have only the old plain SHA-256 opens, keys them, and loads them."""
    import hashlib

    import core.store.integrity as integrity
    from core.store.workspace import ArtifactRef, Workspace

    home = tmp_path / "old_ws"
    (home / "artifacts" / "ver_old").mkdir(parents=True)
    (home / "artifacts" / "ver_old" / "model.wbm").write_bytes(b"legacy model")
    legacy = ArtifactRef("ver_old/model.wbm", hashlib.sha256(b"legacy model").hexdigest())
    monkeypatch.setenv("WORKBENCH_SECRET_DIR", str(tmp_path / "secrets"))
    monkeypatch.setattr(integrity, "_KEYS", {})
    ws = Workspace(home)
    try:
        assert (home / "artifacts" / "ver_old" / "model.wbm.mac").is_file()
        assert ws.read_artifact(legacy) == b"legacy model"
        (home / "artifacts" / "ver_old" / "model.wbm").write_bytes(b"swapped")
        with pytest.raises(ArtifactRejected):
            ws.read_artifact(ArtifactRef(legacy.path, hashlib.sha256(b"swapped").hexdigest()))
    finally:
        ws.close()


def test_another_servers_key_does_not_verify(keyed, tmp_path, monkeypatch):
    import core.store.integrity as integrity

    a = keyed.write_artifact("ver_a", "model.wbm", b"model A")
    monkeypatch.setenv("WORKBENCH_SECRET_DIR", str(tmp_path / "other_secrets"))
    monkeypatch.setattr(integrity, "_KEYS", {})
    (tmp_path / "other_secrets").mkdir()
    (tmp_path / "other_secrets" / "keyed-workspaces.txt").write_text(integrity._workspace_mark(keyed.home) + "\n")
    with pytest.raises(ArtifactRejected, match="keyed checksum"):
        keyed.read_artifact(a)
