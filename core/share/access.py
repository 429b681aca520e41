"""Who may edit: the local editor key (kind "editor_key") and the rule for when editing needs it.

A server private to one person (listening on loopback only, no share link active) lets its visitor edit, so that
`make run` stays friction-free. As soon as it listens beyond loopback or any share link is active, editing needs
OpenID Connect sign-in (when configured) or the editor key: a random secret made at first start, stored here only as
a SHA-256 digest, printed once in the server console with the editor URL (as Jupyter does with its token) and
replaced by `workbench editor-key rotate`.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets

from core.share.links import has_active_share_links
from core.store.workspace import Workspace, now_utc

KIND = "editor_key"
KEY_ID = "editor"
KEY_BYTES = 24  # 192 bits: far beyond guessing, so a plain digest is enough (no slow hash needed)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def has_editor_key(ws: Workspace) -> bool:
    return ws.get_record(KIND, KEY_ID) is not None


def ensure_editor_key(ws: Workspace) -> str | None:
    """Makes the editor key when the workspace has none; returns it then (to print once), else None."""
    if has_editor_key(ws):
        return None
    return rotate_editor_key(ws)


def rotate_editor_key(ws: Workspace) -> str:
    """Replaces the editor key with a new one and returns it (shown once, never stored in clear).

    Sessions that already opened the editor keep it until they close; new ones need the new key.
    Raises: PermissionDenied (viewer).
    """
    key = secrets.token_urlsafe(KEY_BYTES)
    ws.put_record(KIND, KEY_ID, {"digest": _digest(key), "rotated_at": now_utc().isoformat()})
    return key


def check_editor_key(ws: Workspace, key: str | None) -> bool:
    """True when `key` is the workspace's current editor key (compared in constant time)."""
    if not key or len(key) > 200:
        return False
    rec = ws.get_record(KIND, KEY_ID)
    return rec is not None and hmac.compare_digest(str(rec.get("digest", "")), _digest(key))


def is_loopback(address: str | None) -> bool:
    """True when a server bound to `address` is reachable from this machine only.

    Streamlit's default (no address) listens on every interface, so it is not private.
    """
    if not address:
        return False
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def editing_needs_key(ws: Workspace, address: str | None) -> bool:
    """True when an editor must prove who they are: the server is reachable beyond loopback, or something is shared."""
    return not is_loopback(address) or has_active_share_links(ws)
