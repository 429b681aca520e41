"""Share links: unguessable, revocable, expiring, and only ever read-only."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.errors import PermissionDenied
from core.share.links import create_share_link, list_share_links, resolve_share_token, revoke_share_link
from core.store.workspace import now_utc


@pytest.fixture
def project(workspace):
    workspace.put_record("project", "p1", {"name": "Churn"})
    return "p1"


def test_token_opens_its_project_and_is_not_stored_in_clear(workspace, project):
    token = create_share_link(workspace, project, label="board")
    assert len(token) >= 32  # 24 random bytes, URL-safe
    assert resolve_share_token(workspace, token) == project
    stored = str(workspace.list_records("share"))
    assert token not in stored


def test_unknown_revoked_and_expired_links_are_refused(workspace, project):
    with pytest.raises(PermissionDenied, match="not valid"):
        resolve_share_token(workspace, "guess")
    token = create_share_link(workspace, project)
    link = list_share_links(workspace, project)[0]
    revoke_share_link(workspace, link.id)
    with pytest.raises(PermissionDenied, match="revoked"):
        resolve_share_token(workspace, token)
    soon = create_share_link(workspace, project, expires_at=now_utc() + timedelta(seconds=1))
    rec = [r for r in workspace.list_records("share") if r["id"] != link.id][0]
    workspace.put_record("share", rec["id"], {**{k: rec[k] for k in ("digest", "label", "revoked")},
                                              "expires_at": (now_utc() - timedelta(days=1)).isoformat()}, project)
    with pytest.raises(PermissionDenied, match="expired"):
        resolve_share_token(workspace, soon)


def test_tokens_differ_every_time(workspace, project):
    tokens = {create_share_link(workspace, project) for _ in range(20)}
    assert len(tokens) == 20


def test_a_viewer_cannot_create_links(workspace, project):
    with pytest.raises(PermissionDenied):
        create_share_link(workspace.as_role("viewer"), project)
