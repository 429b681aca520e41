"""Workspace: persistence, records, artifacts, roles, locking and thread safety."""

from __future__ import annotations

import subprocess
import sys
import threading

import pandas as pd
import pytest

from core.errors import ArtifactRejected, InUse, NameInvalid, NotFound, PermissionDenied, WorkspaceLocked
from core.data.ingest import ingest_upload
from core.store.workspace import close_workspace, quote_ident
from core.data.samples import open_workspace


def test_quote_ident_doubles_quotes():
    assert quote_ident('a"b') == '"a""b"'


def test_samples_are_loaded_once_and_persist(tmp_path):
    ws = open_workspace(tmp_path, seed_samples=True)
    names = sorted(d.name for d in ws.datasets())
    assert names == ["churn", "churn_next_month", "house_prices", "support_tickets"]
    close_workspace(tmp_path)
    again = open_workspace(tmp_path, seed_samples=True)
    assert sorted(d.name for d in again.datasets()) == names
    assert again.dataset("churn").rows > 1000
    close_workspace(tmp_path)


def test_unknown_dataset_suggests_a_near_name(workspace):
    ingest_upload(workspace, b"a\n1\n", "prices.csv")
    with pytest.raises(NotFound, match="Did you mean 'prices'"):
        workspace.dataset("prise")


def test_frame_by_row_ids_keeps_file_order(workspace):
    ds = ingest_upload(workspace, b"v\n" + b"".join(f"{i}\n".encode() for i in range(100)), "nums.csv").dataset
    out = workspace.frame(ds.id, row_ids=[50, 3, 99], with_row_id=True)
    assert out["_row"].tolist() == [3, 50, 99] and out["v"].tolist() == [3, 50, 99]


def test_records_round_trip_and_list_by_project(workspace):
    workspace.put_record("thing", "a", {"name": "first", "n": 1}, project_id="p1")
    workspace.put_record("thing", "b", {"name": "second"}, project_id="p2")
    workspace.put_record("thing", "a", {"name": "first", "n": 2}, project_id="p1")
    assert workspace.get_record("thing", "a")["n"] == 2
    assert [r["id"] for r in workspace.list_records("thing", "p1")] == ["a"]
    assert len(workspace.list_records("thing")) == 2
    workspace.append_record("ledger", "e1", {"what": "promote"})
    with pytest.raises(NameInvalid, match="cannot be overwritten"):
        workspace.append_record("ledger", "e1", {"what": "forged"})
    assert workspace.get_record("ledger", "e1")["what"] == "promote"


def test_frames_round_trip(workspace):
    df = pd.DataFrame({"_row": [1, 2], "part": ["train", "test"]})
    workspace.put_frame("split:x", df)
    workspace.put_frame("split:x", df.iloc[:1])
    assert workspace.get_frame("split:x").to_dict("list") == {"_row": [1], "part": ["train"]}
    assert workspace.get_frame("nope") is None


def test_artifacts_are_checked_before_loading(workspace):
    ref = workspace.write_artifact("run_1", "model.skops", b"model bytes")
    assert workspace.read_artifact(ref) == b"model bytes"
    (workspace.artifacts / ref.path).write_bytes(b"tampered")
    with pytest.raises(ArtifactRejected, match="changed since it was saved"):
        workspace.read_artifact(ref)
    outside = type(ref)(path="../../etc/passwd", sha256=ref.sha256)
    with pytest.raises(ArtifactRejected, match="outside the workspace"):
        workspace.read_artifact(outside)


def test_rename_and_delete_with_dependents(workspace):
    ds = ingest_upload(workspace, b"a\n1\n", "one.csv").dataset
    ingest_upload(workspace, b"b\n2\n", "two.csv")
    with pytest.raises(NameInvalid, match="already exists"):
        workspace.rename_dataset(ds.id, "two")
    assert workspace.rename_dataset(ds.id, "uno").name == "uno"
    workspace.put_record("project", "p1", {"name": "Churn", "dataset_id": ds.id})
    with pytest.raises(InUse, match="project 'Churn'"):
        workspace.delete_dataset(ds.id)
    workspace.delete_record("project", "p1")
    workspace.delete_dataset(ds.id)
    assert [d.name for d in workspace.datasets()] == ["two"]


def test_viewer_cannot_write(workspace):
    viewer = workspace.as_role("viewer")
    with pytest.raises(PermissionDenied, match="read-only"):
        viewer.put_record("project", "p", {"name": "x"})
    with pytest.raises(PermissionDenied):
        ingest_upload(viewer, b"a\n1\n", "x.csv")
    with pytest.raises(PermissionDenied):
        viewer.write_artifact("k", "f.bin", b"x")
    assert workspace.datasets() == [] and workspace.list_records("project") == []


def test_another_process_holding_the_file_gets_a_plain_message(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ok', flush=True); "
         "time.sleep(30)", str(tmp_path / "workspace.duckdb")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ok"
        with pytest.raises(WorkspaceLocked) as caught:
            open_workspace(tmp_path, seed_samples=False)
        message = str(caught.value)
        assert "open in another program" in message
        assert str(holder.pid) not in message and str(tmp_path) not in message
    finally:
        holder.kill()
        holder.wait()


def test_many_threads_read_and_write_correctly(workspace):
    for i in range(4):
        ingest_upload(workspace, f"k,v\n{i},{i * 10}\n".encode(), f"t{i}.csv")
    errors: list[BaseException] = []

    def session(n: int) -> None:
        try:
            for j in range(10):
                name = f"t{(n + j) % 4}"
                assert workspace.frame(name)["v"].tolist() == [((n + j) % 4) * 10]
                workspace.put_record("visit", f"{n}-{j}", {"n": n, "j": j})
        except BaseException as err:  # noqa: BLE001 — collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=session, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert len(workspace.list_records("visit")) == 200
