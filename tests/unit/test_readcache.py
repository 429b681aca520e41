"""The workspace's memo of catalogue reads: hits between writes, dropped by any write, copies out, bounded."""

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
