"""Batch scoring against a version's schema, formula-safe exports, receipts that re-run exactly, project specs."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from core.errors import SchemaMismatch
from core.data.exporting import safe_csv_bytes, safe_frame


@pytest.fixture(scope="module")
def registered(trained_workspace):
    """The sample workspace with a logistic regression registered as version 1 of the churn project."""
    from core.registry.versions import get_version

    t = trained_workspace(["dummy", "logreg"], register=("logreg",))
    ws = t.ws
    yield ws, t.project, get_version(ws, t.versions["logreg"])
    t.close()


def test_formula_cells_are_neutralised_and_numbers_kept():
    df = pd.DataFrame({"=HYPERLINK(\"x\")": ["=cmd|' /C calc'!A0", "+1", "-1", "@x", "\tx", "\rx", "ok"],
                       "n": [1, 2, 3, 4, 5, -6, 7]})
    out = safe_frame(df)
    assert out.iloc[:, 0].tolist() == ["'=cmd|' /C calc'!A0", "'+1", "'-1", "'@x", "'\tx", "'\rx", "ok"]
    assert out["n"].tolist() == [1, 2, 3, 4, 5, -6, 7]  # numbers, negative ones included, stay numbers
    back = pd.read_csv(io.BytesIO(safe_csv_bytes(df)), keep_default_na=False)
    assert back.columns[0].startswith("'=")
    assert not any(str(v).startswith(("=", "+", "-", "@")) for v in back.iloc[:, 0])


def test_scoring_next_month_gives_a_decision_per_row(registered):
    from core.release.scoring import check_input, score

    ws, project, version = registered
    batch = ws.frame("churn_next_month")
    report = check_input(ws, version, "churn_next_month")
    assert not report.is_blocking, [f.message for f in report.errors]
    result = score(ws, version, "churn_next_month")
    assert len(result.frame) == len(batch)
    assert {"score", "decision"} <= set(result.frame.columns)
    assert result.frame["score"].between(0, 1).all()
    decided = result.frame["score"] >= version.threshold
    assert (result.frame["decision"].astype(str) != "").all() and decided.any()


def test_schema_mismatches_are_explained(registered):
    from core.release.scoring import check_input, score

    ws, project, version = registered
    batch = ws.frame("churn_next_month").head(200)
    missing = batch.drop(columns=["tenure_months"])
    report = check_input(ws, version, missing)
    assert report.is_blocking and any(f.kind == "missing" and f.column == "tenure_months" for f in report.errors)
    with pytest.raises(SchemaMismatch, match="tenure_months"):
        score(ws, version, missing)
    extra = batch.assign(notes="free text")
    assert any(f.kind == "extra" for f in check_input(ws, version, extra).tolerated)
    unseen = batch.assign(plan="platinum")
    assert any(f.kind == "unseen" and f.column == "plan" for f in check_input(ws, version, unseen).findings)
    wrong = batch.assign(tenure_months="a long time")
    assert any(f.kind == "type" and f.column == "tenure_months" for f in check_input(ws, version, wrong).findings)


def test_receipt_reruns_to_identical_metrics(registered):
    from core.models.receipts import load_receipt, receipt_json, rerun

    ws, project, version = registered
    receipt = load_receipt(receipt_json(version.receipt))
    result = rerun(ws, receipt, n_jobs=1)
    assert result.is_exact, result.metrics
    assert result.metrics and all(m["matches"] for m in result.metrics)


def test_project_spec_exports_and_runs_headless(registered, tmp_path):
    from core.share.spec import export_yaml, load_spec, run_spec

    ws, project, version = registered
    spec = load_spec(export_yaml(ws, project.id))
    assert spec["project"]["target"] == "churned"
    spec["models"] = [{"key": "dummy", "params": {}}, {"key": "logreg", "params": {}}]
    spec["training"] = {"cv": 2, "seed": 7}
    out = run_spec(ws, spec, n_jobs=1)
    assert out["project"] != project.name and out["version"] == 1
    assert {r["model"] for r in out["runs"]} == {"Baseline (no model)", "Logistic regression"}


def test_a_tampered_version_file_is_refused(registered):
    from core.errors import ArtifactRejected
    from core.registry.versions import load_version_model

    ws, project, version = registered
    path = ws.artifacts / version.artifact.path
    original = path.read_bytes()
    try:
        path.write_bytes(original[:-10] + b"0123456789")
        with pytest.raises(ArtifactRejected):
            load_version_model(ws, version)
    finally:
        path.write_bytes(original)
    assert load_version_model(ws, version) is not None
