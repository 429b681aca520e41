"""A model package really scores: its predict.py, run from the unzipped package, matches the version's predictions."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def packaged(trained_workspace, tmp_path_factory):
    """The demo project's logistic regression registered as version 1, its package unzipped in a folder of its own."""
    from core.registry.versions import get_version
    from core.release.package import model_package

    t = trained_workspace(["dummy", "logreg"], register=("logreg",))
    version = get_version(t.ws, t.versions["logreg"])
    folder = tmp_path_factory.mktemp("package")
    with zipfile.ZipFile(io.BytesIO(model_package(t.ws, version))) as zf:
        zf.extractall(folder)
    yield t, version, folder
    t.close()


def _run_predict(folder: Path, source: Path, target: Path) -> subprocess.CompletedProcess:
    # predict.py's docstring: "Run it with the AI Product Workbench code on PYTHONPATH". Nothing else: the cwd is
    # the package folder, outside the repository, and no workspace is given.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "WORKBENCH_HOME")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "predict.py", str(source), str(target)], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=120)


def test_predict_py_scores_the_validation_rows_as_the_version_did(packaged, tmp_path):
    from core.release.gate import version_predictions
    from core.split.splitting import split_frames

    t, version, folder = packaged
    assert {"model.wbm", "schema.json", "receipt.json", "manifest.json", "predict.py"} <= {p.name for p in
                                                                                         folder.iterdir()}
    rows = split_frames(t.ws, t.split, parts=("validation",), with_row_id=True)["validation"]
    rows = rows.sort_values("_row", kind="stable").reset_index(drop=True)
    source, target = tmp_path / "input.csv", tmp_path / "output.csv"
    rows.drop(columns=["_row"]).to_csv(source, index=False)  # the label stays in: predict.py uses only features

    done = _run_predict(folder, source, target)
    assert done.returncode == 0, done.stderr
    assert f"Scored {len(rows):,} rows" in done.stdout

    scored = pd.read_csv(target)
    expected = version_predictions(t.ws, version)  # the version's own validation predictions, by _row
    assert len(scored) == len(rows) == len(expected)
    assert scored.columns.tolist() == ["row", "predicted_class", "score", "decision"]
    assert scored["row"].tolist() == list(range(1, len(rows) + 1))
    assert expected["_row"].tolist() == rows["_row"].tolist()
    np.testing.assert_allclose(scored["score"].to_numpy(float), expected["score"].to_numpy(float), rtol=1e-9,
                               atol=1e-12)
    assert scored["decision"].astype(str).tolist() == expected["y_pred"].astype(str).tolist()


def test_predict_py_refuses_missing_columns_and_a_changed_model(packaged, tmp_path):
    import shutil

    t, version, folder = packaged
    schema = json.loads((folder / "schema.json").read_text())
    source, target = tmp_path / "input.csv", tmp_path / "output.csv"
    pd.DataFrame({"unrelated": [1, 2]}).to_csv(source, index=False)
    done = _run_predict(folder, source, target)
    assert done.returncode != 0 and "lacks the column(s)" in done.stderr and schema["features"][0] in done.stderr
    assert not target.exists()

    changed = tmp_path / "changed"
    shutil.copytree(folder, changed)
    (changed / "model.wbm").write_bytes((changed / "model.wbm").read_bytes() + b"\0")
    t.ws.frame(t.ws.dataset(t.project.dataset_id).name).head(5).to_csv(source, index=False)
    done = _run_predict(changed, source, target)
    assert done.returncode != 0 and "model.wbm changed since it was packaged" in done.stderr
    assert not target.exists()
