"""The editor key, the private-server rule, the share CLI, and a scoped viewer's view of the store."""

from __future__ import annotations

import json

import pytest

from core.cli import main
from core.errors import NotFound, PermissionDenied
from core.share.access import check_editor_key, editing_needs_key, ensure_editor_key, rotate_editor_key
from core.share.links import create_share_link, list_share_links, resolve_share_token


def test_the_editor_key_is_made_once_stored_hashed_and_rotated(workspace):
    key = ensure_editor_key(workspace)
    assert key and ensure_editor_key(workspace) is None  # printed once, at first start
    stored = json.dumps(workspace.list_records("editor_key"), default=str)
    assert key not in stored  # only a digest lies in the workspace file
    assert check_editor_key(workspace, key)
    new = rotate_editor_key(workspace)
    assert check_editor_key(workspace, new) and not check_editor_key(workspace, key)
    assert not check_editor_key(workspace, "") and not check_editor_key(workspace, None)
    assert not check_editor_key(workspace, new + "x") and not check_editor_key(workspace, "k" * 5000)
    with pytest.raises(PermissionDenied):
        rotate_editor_key(workspace.as_role("viewer"))


def test_editing_needs_the_key_beyond_loopback_or_once_shared(seeded_workspace):
    ws = seeded_workspace.ws
    assert not editing_needs_key(ws, "127.0.0.1")
    assert editing_needs_key(ws, "0.0.0.0") and editing_needs_key(ws, None)
    create_share_link(ws, seeded_workspace.demo_project_id)
    assert editing_needs_key(ws, "127.0.0.1")


def test_share_and_editor_key_commands(seeded_workspace, capsys):
    home = str(seeded_workspace.home)
    pid = seeded_workspace.demo_project_id
    assert main(["--home", home, "share", "create", pid, "--label", "Board", "--expires", "2099-01-31", "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    ws = seeded_workspace.ws
    assert resolve_share_token(ws, made["token"]) == pid and f"share={made['token']}" in made["url"]
    assert made["editor_key"] and check_editor_key(ws, made["editor_key"])  # sharing made the key needed: printed
    assert main(["--home", home, "share", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(l["label"], l["status"], l["project"]) for l in listed] == [("Board", "active", pid)]
    assert main(["--home", home, "share", "revoke", listed[0]["id"]]) == 0
    assert "Revoked" in capsys.readouterr().out
    with pytest.raises(PermissionDenied, match="revoked"):
        resolve_share_token(ws, made["token"])
    assert main(["--home", home, "editor-key", "rotate", "--json"]) == 0
    key = json.loads(capsys.readouterr().out)["editor_key"]
    assert check_editor_key(ws, key) and not check_editor_key(ws, made["editor_key"])
    assert main(["--home", home, "share", "create", pid, "--expires", "soon"]) == 2
    assert "is not a date" in capsys.readouterr().err
    assert main(["--home", home, "share", "revoke", "nope"]) == 2


# -- a scoped viewer reads one project ----------------------------------------------------------------------------------
@pytest.fixture
def two_projects(seeded_workspace):
    """The demo project plus a second project on another dataset, with a share token for the demo only."""
    from core.data.ingest import add_frame
    from core.project.projects import create_project
    import pandas as pd

    ws = seeded_workspace.ws
    other_ds = add_frame(ws, "secret_salaries", pd.DataFrame({"name": ["a", "b", "c", "d"] * 5,
                                                              "salary": [1.0, 2.0, 3.0, 4.0] * 5,
                                                              "left": [0, 1] * 10}))
    other = create_project(ws, "Secret project", other_ds.id, "left", problem="Who leaves?")
    return ws, seeded_workspace.demo_project_id, other, other_ds


def test_a_scoped_viewer_sees_only_its_project(two_projects):
    from core.project.projects import get_project, list_projects
    from core.split.splitting import list_splits

    ws, demo_id, other, other_ds = two_projects
    viewer = ws.as_role("viewer", scope=demo_id)
    assert [p.id for p in list_projects(viewer)] == [demo_id]
    demo = get_project(viewer, demo_id)
    assert [d.id for d in viewer.datasets()] == [demo.dataset_id]  # the other samples and the secret one are gone
    for ref in (other_ds.id, other_ds.name):
        with pytest.raises(NotFound):
            viewer.dataset(ref)
        with pytest.raises(NotFound):
            viewer.frame(ref)
    with pytest.raises(NotFound):
        get_project(viewer, other.id)  # a forged project id finds nothing
    assert viewer.get_record("project", other.id) is None
    assert viewer.list_records("project", other.id) == []
    assert viewer.list_records("share") == [] and viewer.get_record("editor_key", "editor") is None
    assert viewer.dataset_by_hash(other_ds.content_hash) is None
    assert all(d["project_id"] == demo_id for d in viewer.dependents(demo.dataset_id))
    split = list_splits(viewer, demo_id)[0]
    assert viewer.get_frame(split.frame_key) is not None
    assert ws.as_role("viewer", scope=other.id).get_frame(split.frame_key) is None  # a frame of another project
    assert list_splits(ws.as_role("viewer", scope=other.id), demo_id) == []
    nobody = ws.as_role("viewer", scope="")
    assert nobody.datasets() == [] and list_projects(nobody) == []
    with pytest.raises(PermissionDenied):
        ws.as_role("editor", scope=demo_id)


def test_the_editor_still_sees_everything(two_projects):
    ws, demo_id, other, other_ds = two_projects
    assert {demo_id, other.id} <= {r["id"] for r in ws.list_records("project")}
    assert ws.dataset(other_ds.name).id == other_ds.id
    assert len(list_share_links(ws, None)) == 0
