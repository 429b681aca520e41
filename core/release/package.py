"""Model packages: one zip per version with the model file, its input schema, receipt, model card and a predict.py."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

from core.models.receipts import receipt_json
from core.release.modelcard import build_card, render_html, render_markdown
from core.registry.versions import get_version
from core.store.workspace import Workspace

PREDICT_PY = '''"""Scores a CSV with this model package:  python predict.py INPUT.csv OUTPUT.csv

The model file is a workbench model (a zip of a skops pipeline plus, for XGBoost, the booster in XGBoost's own
format): it is loaded with the workbench's safe loader, which never unpickles and trusts only a fixed list of types.
Run it with the AI Product Workbench code on PYTHONPATH (the same library versions as in receipt.json).
"""

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from core.store.artifacts import load_model
from core.data.exporting import safe_csv_bytes
from core.models.workers import predict_scores

HERE = Path(__file__).resolve().parent


def main(source: str, target: str) -> None:
    manifest = json.loads((HERE / "manifest.json").read_text())
    data = (HERE / "model.wbm").read_bytes()
    if hashlib.sha256(data).hexdigest() != manifest["files"]["model.wbm"]:
        sys.exit("model.wbm changed since it was packaged (its SHA-256 differs), so it was not loaded.")
    model = load_model(data)
    schema = json.loads((HERE / "schema.json").read_text())
    rows = pd.read_csv(source)
    missing = [c for c in schema["features"] if c not in rows.columns]
    if missing:
        sys.exit(f"The input lacks the column(s) {', '.join(missing)}; the model needs them.")
    X = rows[schema["features"]].copy()
    for col in schema["columns"]:
        if col["kind"] == "number":
            X[col["name"]] = pd.to_numeric(X[col["name"]], errors="coerce").astype(float)
    pred, scores, _ = predict_scores(model, X, manifest["task"], manifest["positive_class"])
    out = pd.DataFrame({"row": np.arange(1, len(rows) + 1)})
    if manifest["task"] == "regression":
        out["prediction"] = pred
    elif manifest["task"] == "binary":
        classes = list(model.classes_)
        positive = classes.index(manifest["positive_class"])
        out["predicted_class"] = pred
        out["score"] = scores
        out["decision"] = np.where(scores >= manifest["threshold"], classes[positive], classes[1 - positive])
    else:
        out["predicted_class"] = pred
        out["score"] = scores.max(axis=1)
    Path(target).write_bytes(safe_csv_bytes(out))
    print(f"Scored {len(out):,} rows into {target}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python predict.py INPUT.csv OUTPUT.csv")
    main(sys.argv[1], sys.argv[2])
'''


def model_package(ws: Workspace, version) -> bytes:
    """Returns a zip with model.wbm, schema.json, receipt.json, model_card.md/.html, predict.py and manifest.json.

    The model file is read through its SHA-256 check. Raises: ArtifactRejected, NotFound.
    """
    version = get_version(ws, version) if isinstance(version, str) else version
    title, sections = build_card(ws, version)
    files = {
        "model.wbm": ws.read_artifact(version.artifact),
        "schema.json": json.dumps(version.schema, indent=2, default=str).encode(),
        "receipt.json": receipt_json(version.receipt).encode(),
        "model_card.md": render_markdown(title, sections).encode(),
        "model_card.html": render_html(title, sections).encode(),
        "predict.py": PREDICT_PY.encode(),
    }
    manifest = {"package": 1, "version_id": version.id, "version": version.number, "task": version.task,
                "positive_class": version.positive_class, "threshold": version.threshold,
                "content_hash": version.content_hash,
                "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        zf.writestr("manifest.json", json.dumps(manifest, indent=2, default=str))
    return buf.getvalue()
