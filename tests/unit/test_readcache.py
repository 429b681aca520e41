"""The workspace's memo of catalogue reads: hits between writes, dropped by the writes that can change them (a
record kind, a frame key, any raw write), copies out, bounded."""

from __future__ import annotations

import threading

import pandas as pd

from core.store import readcache
from core.store.readcache import ReadCache


def test_reads_are_memoised_until_a_write(workspace):
    workspace.put_record("note", "n1", {"text": "a"}, project_id="p1")
    memo = workspace._memo
    workspace.list_records("note", "p1")
    hits = memo.hits
    assert workspace.list_records("note", "p1")[0]["text"] == "a"
    assert memo.hits == hits + 1
    workspace.put_record("note", "n1", {"text": "b"}, project_id="p1")  # a write drops the memo
    assert workspace.list_records("note", "p1")[0]["text"] == "b"
    assert workspace.get_record("note", "n1")["text"] == "b"
    workspace.delete_record("note", "n1")
    assert workspace.get_record("note", "n1") is None
    assert workspace.list_records("note", "p1") == []


def test_a_write_through_any_cursor_drops_the_memo(workspace):
    workspace.put_record("note", "n1", {"text": "a"})
    assert workspace.get_record("note", "n1")["text"] == "a"
    with workspace.cursor() as cur:  # core modules that write SQL of their own go through cursor() / transaction()
        cur.execute("UPDATE wb_records SET payload = ? WHERE id = 'n1'", ['{"text": "c"}'])
    assert workspace.get_record("note", "n1")["text"] == "c"


def test_callers_get_their_own_copies(workspace):
    workspace.put_record("note", "n1", {"items": [1, 2]})
    first = workspace.get_record("note", "n1")
    first["items"].append(3)
    assert workspace.get_record("note", "n1")["items"] == [1, 2]
    workspace.put_frame("k", pd.DataFrame({"a": [1, 2, 3]}))
    frame = workspace.get_frame("k")
    frame.loc[0, "a"] = 99
    assert workspace.get_frame("k")["a"].tolist() == [1, 2, 3]
    workspace.put_frame("k", pd.DataFrame({"a": [7]}))
    assert workspace.get_frame("k")["a"].tolist() == [7]


def test_role_views_share_one_memo_and_a_viewer_sees_an_editors_write(workspace):
    viewer = workspace.as_role("viewer")
    workspace.put_record("note", "n1", {"text": "a"})
    assert viewer.get_record("note", "n1")["text"] == "a"
    workspace.put_record("note", "n1", {"text": "b"})
    assert viewer.get_record("note", "n1")["text"] == "b"


def test_dataset_catalogue_follows_renames(workspace):
    from core.data.ingest import ingest_upload

    ds = ingest_upload(workspace, b"a\n1\n2\n", "prices.csv").dataset
    assert workspace.dataset(ds.id).name == "prices"
    workspace.rename_dataset(ds.id, "costs")
    assert workspace.dataset(ds.id).name == "costs"
    assert [d.name for d in workspace.datasets()] == ["costs"]


def test_a_value_read_across_a_write_is_not_kept():
    memo = ReadCache()
    started, release = threading.Event(), threading.Event()

    def slow_read():
        started.set()
        release.wait(5)
        return "old"

    out = []
    reader = threading.Thread(target=lambda: out.append(memo.get(("k",), slow_read)))
    reader.start()
    started.wait(5)
    memo.bump()  # a write lands while the read is in flight
    release.set()
    reader.join(5)
    assert out == ["old"]
    assert memo.get(("k",), lambda: "new") == "new"


def test_the_memo_is_bounded(monkeypatch):
    monkeypatch.setattr(readcache, "MAX_ENTRIES", 3)
    memo = ReadCache()
    for i in range(10):
        memo.get((i,), lambda i=i: i)
    assert len(memo._entries) <= 3


def test_a_write_of_one_kind_keeps_the_reads_of_the_others(workspace):
    workspace.put_record("run", "r1", {"v": 1}, project_id="p1")
    workspace.put_record("split", "s1", {"v": 1}, project_id="p1")
    workspace.put_frame("run:r1:preds", pd.DataFrame({"a": [1]}))
    memo = workspace._memo
    for _ in range(2):
        workspace.list_records("run", "p1"), workspace.get_record("run", "r1"), workspace.get_frame("run:r1:preds")
    generation = workspace.generation
    workspace.put_record("split", "s2", {"v": 2}, project_id="p1")  # a new split
    workspace.put_frame("split:s2", pd.DataFrame({"b": [2]}))
    misses = memo.misses
    assert workspace.generation == generation + 2  # views derived from many reads still see every write
    assert workspace.list_records("run", "p1")[0]["v"] == 1
    assert workspace.get_record("run", "r1")["v"] == 1
    assert workspace.get_frame("run:r1:preds")["a"].tolist() == [1]
    assert memo.misses == misses  # all three answered from the memo
    assert [r["id"] for r in workspace.list_records("split", "p1")] == ["s2", "s1"]  # the split reads were dropped
    assert workspace.get_frame("split:s2")["b"].tolist() == [2]
    workspace.put_record("run", "r1", {"v": 3}, project_id="p1")
    assert workspace.get_record("run", "r1")["v"] == 3 and workspace.list_records("run", "p1")[0]["v"] == 3
    workspace.put_frame("run:r1:preds", pd.DataFrame({"a": [4]}))
    assert workspace.get_frame("run:r1:preds")["a"].tolist() == [4]
    workspace.delete_record("split", "s1")
    assert [r["id"] for r in workspace.list_records("split", "p1")] == ["s2"]


def test_appended_records_show_at_once(workspace):
    workspace.append_record("ledger", "e1", {"n": 1}, project_id="p1")
    assert len(workspace.list_records("ledger", "p1")) == 1
    workspace.append_record("ledger", "e2", {"n": 2}, project_id="p1")
    assert [r["id"] for r in workspace.list_records("ledger", "p1")] == ["e2", "e1"]


def test_a_raw_write_drops_every_kind(workspace):
    workspace.put_record("run", "r1", {"v": 1})
    workspace.put_frame("k", pd.DataFrame({"a": [1]}))
    assert workspace.get_record("run", "r1")["v"] == 1 and workspace.get_frame("k")["a"].tolist() == [1]
    with workspace.transaction() as cur:
        cur.execute("UPDATE wb_records SET payload = ? WHERE id = 'r1'", ['{"v": 5}'])
        table = cur.execute("SELECT table_name FROM wb_frames WHERE key = 'k'").fetchall()[0][0]
        cur.execute(f'UPDATE "{table}" SET a = 6')
    assert workspace.get_record("run", "r1")["v"] == 5
    assert workspace.get_frame("k")["a"].tolist() == [6]


def test_a_scoped_viewer_sees_a_dataset_once_a_record_names_it(workspace):
    from core.data.ingest import ingest_upload

    ds = ingest_upload(workspace, b"a\n1\n2\n", "prices.csv").dataset
    viewer = workspace.as_role("viewer", scope="p1")
    assert viewer.datasets() == []  # no record of p1 names it yet
    workspace.put_record("project", "p1", {"dataset_id": ds.id}, project_id="p1")  # a record write, not a dataset one
    assert [d.id for d in viewer.datasets()] == [ds.id]
    assert viewer.dataset(ds.id).id == ds.id


def test_a_value_read_across_a_write_of_another_kind_is_kept():
    memo = ReadCache()
    started, release = threading.Event(), threading.Event()

    def slow_read():
        started.set()
        release.wait(5)
        return "runs"

    out = []
    reader = threading.Thread(target=lambda: out.append(memo.get(("runs",), slow_read, "record:run")))
    reader.start()
    started.wait(5)
    memo.bump("record:split")  # another kind lands while the read is in flight
    release.set()
    reader.join(5)
    assert out == ["runs"]
    assert memo.get(("runs",), lambda: "recomputed", "record:run") == "runs"
    memo.bump("record:run")
    assert memo.get(("runs",), lambda: "recomputed", "record:run") == "recomputed"
    assert memo.get(("untagged",), lambda: 1) == 1
    memo.bump("record:split")  # an untagged entry goes with any write
    assert memo.get(("untagged",), lambda: 2) == 2
