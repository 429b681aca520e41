"""Keyed checksums for artifacts: an HMAC beside each file, keyed by a secret that lives outside the workspace.

A plain SHA-256 in the same folder proves nothing to whoever can write that folder: they swap a model file and
its checksum together. So each artifact also gets `<file>.mac` = HMAC-SHA256(key, "<relative path>\\n<sha256>"),
with the key in `$WORKBENCH_SECRET_DIR/artifact.key` (default `~/.config/workbench/`, created 0600 on first use).
Every read checks it (`Workspace.read_artifact`), so a swapped or re-checksummed file is refused on any load.

Artifacts written before keyed checksums (no `.mac`) are keyed once, when the workspace is first opened with a key;
the secret folder remembers which workspaces were keyed, so afterwards a missing `.mac` is refused, not re-keyed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
from pathlib import Path

MAC_SUFFIX = ".mac"
_KEYS: dict[Path, bytes] = {}
_LOCK = threading.Lock()


def secret_dir() -> Path:
    """The folder holding the artifact key: $WORKBENCH_SECRET_DIR, else ~/.config/workbench."""
    env = os.environ.get("WORKBENCH_SECRET_DIR")
    return Path(env).expanduser().resolve() if env else Path.home() / ".config" / "workbench"


def artifact_key() -> bytes:
    """Returns the artifact key, creating it (32 random bytes, readable by this user only) on first use."""
    folder = secret_dir()
    with _LOCK:
        key = _KEYS.get(folder)
        if key is not None:
            return key
        path = folder / "artifact.key"
        if not path.is_file():
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(secrets.token_bytes(32))
            except FileExistsError:
                pass  # another process made it first: use theirs
        key = path.read_bytes()
        _KEYS[folder] = key
        return key


def mac_of(rel_path: str, sha256: str) -> str:
    """The keyed checksum binding an artifact's place and content."""
    return hmac.new(artifact_key(), f"{Path(rel_path).as_posix()}\n{sha256}".encode(), hashlib.sha256).hexdigest()


def write_mac(artifacts: Path, rel_path: str, sha256: str) -> None:
    path = artifacts / (rel_path + MAC_SUFFIX)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(mac_of(rel_path, sha256))
    os.replace(tmp, path)


def mac_matches(artifacts: Path, rel_path: str, sha256: str) -> bool | None:
    """True / False when the artifact's .mac matches or not; None when it has none."""
    path = artifacts / (rel_path + MAC_SUFFIX)
    if not path.is_file():
        return None
    return hmac.compare_digest(path.read_text().strip(), mac_of(rel_path, sha256))


def _ledger() -> Path:
    return secret_dir() / "keyed-workspaces.txt"


def _workspace_mark(home: Path) -> str:
    return hashlib.sha256(str(Path(home).resolve()).encode()).hexdigest()[:32]


def is_keyed(home: Path) -> bool:
    """Whether this workspace's artifacts were keyed already (then a missing .mac means tampering)."""
    try:
        return _workspace_mark(home) in _ledger().read_text().split()
    except OSError:
        return False


def key_legacy_artifacts(home: Path, artifacts: Path) -> int:
    """Keys, once per workspace, every artifact that has no .mac yet (written before keyed checksums); returns how
    many. Their plain SHA-256 is all there was to check them by, and the file must still match it when read."""
    if is_keyed(home):
        return 0
    count = 0
    if artifacts.is_dir():
        for path in sorted(artifacts.rglob("*")):
            if not path.is_file() or path.name.endswith((MAC_SUFFIX, ".part")):
                continue
            rel = path.relative_to(artifacts).as_posix()
            if mac_matches(artifacts, rel, "") is None:
                write_mac(artifacts, rel, hashlib.sha256(path.read_bytes()).hexdigest())
                count += 1
    ledger = _ledger()
    ledger.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(ledger, "a") as fh:
        fh.write(_workspace_mark(home) + "\n")
    return count
