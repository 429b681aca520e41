"""Read-only share links: unguessable tokens that open one project's results in viewer mode."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from core.errors import NotFound, PermissionDenied
from core.project.projects import project_exists
from core.store.workspace import Workspace, now_utc

KIND = "share"
TOKEN_BYTES = 24  # 192 bits of randomness, above the 128 the threat model asks for


@dataclass(frozen=True)
class ShareLink:
    id: str
    project_id: str
    label: str
    created_at: datetime
    expires_at: datetime | None
    revoked: bool

    @property
    def is_active(self) -> bool:
        return not self.revoked and (self.expires_at is None or self.expires_at > now_utc())


def _digest(token: str) -> str:
    # Only a hash is stored: a copy of the workspace file does not hand out working links.
    return hashlib.sha256(token.encode()).hexdigest()


def create_share_link(ws: Workspace, project_id: str, *, label: str = "", expires_at: datetime | None = None) -> str:
    """Creates a viewer link for a project and returns its token (shown once, never stored in clear)."""
    if not project_exists(ws, project_id):
        raise NotFound(f"No project {project_id!r}. Pick a project before sharing it.")
    if expires_at is not None and expires_at <= now_utc():
        raise PermissionDenied("The expiry date is in the past. Choose a date in the future, or no expiry.")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    link_id = _digest(token)[:16]
    ws.put_record(KIND, link_id, {"digest": _digest(token), "label": label.strip()[:80], "revoked": False,
                                  "expires_at": expires_at.isoformat() if expires_at else None}, project_id=project_id)
    return token


def list_share_links(ws: Workspace, project_id: str | None) -> list[ShareLink]:
    """Lists a project's share links (None: every project's), newest first."""
    return [_link(r) for r in ws.list_records(KIND, project_id)]


def has_active_share_links(ws: Workspace) -> bool:
    """True when any project has a link that still opens (not revoked, not expired)."""
    return any(link.is_active for link in list_share_links(ws, None))


def revoke_share_link(ws: Workspace, link_id: str) -> None:
    """Revokes a link at once: sessions that open it afterwards are refused. Raises: NotFound, PermissionDenied."""
    ws.require_editor()
    rec = ws.get_record(KIND, link_id)
    if rec is None:
        raise NotFound(f"No share link {link_id!r}.")
    payload = {k: v for k, v in rec.items() if k not in ("kind", "id", "project_id", "created_at", "updated_at")}
    ws.put_record(KIND, link_id, payload | {"revoked": True}, project_id=rec["project_id"])


def resolve_share_token(ws: Workspace, token: str) -> str:
    """Returns the project a token opens. Raises: PermissionDenied for an unknown, revoked or expired link."""
    if not token or len(token) > 200:
        raise PermissionDenied("This share link is not valid. Ask the analyst for a new one.")
    digest = _digest(token)
    rec = ws.get_record(KIND, digest[:16])
    if rec is None or not hmac.compare_digest(rec.get("digest", ""), digest):
        raise PermissionDenied("This share link is not valid. Ask the analyst for a new one.")
    link = _link(rec)
    if link.revoked:
        raise PermissionDenied("This share link was revoked. Ask the analyst for a new one.")
    if not link.is_active:
        raise PermissionDenied("This share link has expired. Ask the analyst for a new one.")
    return link.project_id


def _link(rec: dict) -> ShareLink:
    expires = rec.get("expires_at")
    return ShareLink(id=rec["id"], project_id=rec["project_id"], label=rec.get("label", ""), created_at=rec["created_at"],
                     expires_at=datetime.fromisoformat(expires) if expires else None, revoked=bool(rec.get("revoked")))
