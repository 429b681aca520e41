"""A bounded memo of the workspace's small catalogue reads (records, datasets, frames), dropped on any write.

Every page run reads the same few rows: the project, its runs, versions, ledger, reports, the dataset catalogue. In
DuckDB each such query costs 2-4 ms of parsing and planning, and a page makes 15-30 of them, so with a team on the
app they dominate. The server process is the only writer of its workspace file (DuckDB locks the file), so a write
counter is a complete invalidation signal: every cursor handed out for writing bumps the generation when it closes,
and a memo entry is used only under the generation it was read in.

Rows are cached as DuckDB returned them (tuples of str / numbers / datetimes, immutable), frames are copied on the
way out, so no caller can change what another caller reads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

MAX_ENTRIES = 512  # distinct catalogue queries of one generation; beyond that the memo starts again
MAX_FRAME_CELLS = 2_000_000  # stored frames larger than this are not kept in memory


class ReadCache:
    """Shared by a workspace and every role view of it (`Workspace.as_role` copies the reference, not the memo)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self._entries: dict[tuple, Any] = {}
        self.hits = 0
        self.misses = 0

    @property
    def generation(self) -> int:
        return self._generation

    def bump(self) -> None:
        """Called after anything that may have written: every memo entry is dropped."""
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def get(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """Returns the memo of `key` read in the current generation, or computes and keeps it."""
        with self._lock:
            generation = self._generation
            if key in self._entries:
                self.hits += 1
                return self._entries[key]
        value = compute()  # outside the lock: reads run side by side
        with self._lock:
            self.misses += 1
            # Kept only if no write happened meanwhile: the value may predate it.
            if self._generation == generation:
                if len(self._entries) >= MAX_ENTRIES:
                    self._entries.clear()
                self._entries[key] = value
        return value
