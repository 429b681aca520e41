"""Staging is bounded: abandoned uploads leave with their session or within an hour, refused ones at once, and all
staged uploads together have a cap; a forged upload name is refused plainly."""

from __future__ import annotations

import gc
import os
import time

import pytest

import core.data.staging as staging
from core.data.staging import UploadLease, stage_upload, staged_bytes, sweep_staging, upload_name
from core.errors import FileRefused, WorkbenchError

CSV = b"id,score\n" + b"".join(f"{i},{i * 3}\n".encode() for i in range(2000))


def _files(ws) -> list[str]:
    return sorted(p.name for p in ws.staging.iterdir())


def test_an_upload_whose_session_ends_is_deleted(workspace):
    staged = stage_upload(workspace, CSV, "scores.csv")
    session_state = {"data.lease": UploadLease(staged)}
    assert staged.path.is_file()
    del session_state  # Streamlit drops a session's state when the session ends
    gc.collect()
    assert not staged.path.exists() and _files(workspace) == []


def test_a_replaced_upload_is_deleted_and_a_loaded_one_is_not_touched_twice(workspace):
    first = stage_upload(workspace, CSV, "a.csv")
    lease = UploadLease(first)
    lease.discard()
    assert not first.path.exists() and not lease.is_alive
    lease.discard()  # idempotent


def test_uploads_older_than_an_hour_are_swept_at_the_next_upload(workspace):
    old = stage_upload(workspace, CSV, "old.csv")
    hour_ago = time.time() - staging.STAGING_MAX_AGE_S - 60
    os.utime(old.path, (hour_ago, hour_ago))
    fresh = stage_upload(workspace, CSV.replace(b"score", b"points"), "new.csv")
    assert not old.path.exists() and fresh.path.exists()
    assert sweep_staging(workspace.staging) == 0


def test_refused_uploads_leave_nothing_behind(workspace, monkeypatch):
    import gzip

    monkeypatch.setattr(staging, "MAX_INFLATED_BYTES", 2 * 2**20)
    bomb = gzip.compress(b"a,b\n" + b"0,0\n" * 1_000_000)
    for data, name in [(b"", "empty.csv"), (bomb, "bomb.csv.gz"), (b"\x00\x01\x02" * 5000, "binary.csv"),
                       (gzip.compress(b"a,b\n1,2\n")[:-8], "cut.csv.gz")]:
        with pytest.raises(WorkbenchError):
            stage_upload(workspace, data, name)
        assert _files(workspace) == [], name


def test_the_staging_area_has_a_cap_with_a_clear_message(workspace, monkeypatch):
    monkeypatch.setattr(staging, "MAX_STAGING_BYTES", 3 * len(CSV) + 10)
    kept = [stage_upload(workspace, CSV.replace(b"score", f"s{i}".encode()), f"{i}.csv") for i in range(3)]
    before = staged_bytes(workspace.staging)
    with pytest.raises(FileRefused, match="fill the staging area"):
        stage_upload(workspace, CSV.replace(b"score", b"s9"), "one too many.csv")
    assert staged_bytes(workspace.staging) == before  # the refused one was not kept
    kept[0].discard()
    stage_upload(workspace, CSV.replace(b"score", b"s8"), "fits again.csv")


@pytest.mark.parametrize("name, shown", [("sales.CSV", "sales.CSV"), ("a\x00b.csv", "ab.csv"),
                                         ("../../etc/x.csv", "x.csv"), ("C:\\\\temp\\\\y.parquet", "y.parquet"),
                                         ("report.csv\x00.exe", "report.csv.exe")])
def test_upload_names_are_cleaned(name, shown):
    if shown.endswith(".exe"):
        with pytest.raises(FileRefused, match="not a file the workbench reads"):
            upload_name(name)
    else:
        assert upload_name(name) == shown


@pytest.mark.parametrize("name", ["evil.exe", "noext", "", "\x00\x00", "x.csv.py"])
def test_forged_upload_names_are_refused_plainly(name):
    with pytest.raises(FileRefused):
        upload_name(name)


def test_a_line_missing_several_fields_counts_once(workspace):
    from core.data.ingest import confirm_ingest, preview_upload

    data = b"a,b,c,d\n1,2,3,4\n5\n6,7,8,9\n10,11\n"
    preview = preview_upload(workspace, stage_upload(workspace, data, "gaps.csv"))
    assert preview.bad_lines == 2 and [ln for ln, _, _ in preview.bad_examples] == [3, 5]
    result = confirm_ingest(workspace, preview, name="gaps", skip_bad_lines=True)
    assert result.dataset.rows == 2
    assert any("2" in n for n in result.notes)
