"""A bounded memo of the workspace's small catalogue reads (records, datasets, frames), dropped by the writes that
can change them.

Every page run reads the same few rows: the project, its runs, versions, ledger, reports, the dataset catalogue. In
DuckDB each such query costs 2-4 ms of parsing and planning, and a page makes 15-30 of them, so with a team on the
app they dominate. The server process is the only writer of its workspace file (DuckDB locks the file), so its own
writes are a complete invalidation signal, and a memo entry is used only while no write that can change it happened.

Each entry is tagged with what it reads: `record:<kind>` (the records of one kind), `frame:<key>` (one stored
frame), `datasets` (the dataset catalogue). The store's own writes say what they change (`bump("record:split")`:
a new split drops the split reads and keeps the runs, versions and ledger); any other write (a cursor handed to
core code, a transaction) may change anything, so it drops every entry (`bump()`). An untagged entry is dropped by
every write.

`generation` still changes after every write of either sort. A view derived from many reads can instead be kept
while none of what it read changed: `track()` records the tags of every read made inside it on this thread (`"*"`
for a read the store cannot tag: raw SQL, a cursor), and `still_true(stamp)` says whether any write of those tags
(or any untagged write) happened since.

Rows are cached as DuckDB returned them (tuples of str / numbers / datetimes, immutable), frames are copied on the
way out, so no caller can change what another caller reads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

MAX_ENTRIES = 512  # distinct catalogue queries kept; beyond that the memo starts again
MAX_FRAME_CELLS = 2_000_000  # stored frames larger than this are not kept in memory


ANY = "*"  # a read that may depend on anything in the workspace


class Reads:
    """The tags read inside one `ReadCache.track()`, and the write counters when it began."""

    def __init__(self, started: tuple[int, int, dict[str, int]]):
        self.tags: set[str] = set()
        self._started = started

    @property
    def stamp(self) -> tuple:
        """What `ReadCache.still_true` compares: the counters of the tags read, as they were when tracking began (a
        write during the build makes the stamp old at once, so the next caller builds again)."""
        generation, everything, tags = self._started
        if ANY in self.tags:
            return (ANY, generation)
        return (everything, tuple(sorted((t, tags.get(t, 0)) for t in self.tags)))


class ReadCache:
    """Shared by a workspace and every role view of it (`Workspace.as_role` copies the reference, not the memo)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0  # every write
        self._everything = 0  # writes that may have changed anything
        self._tags: dict[str, int] = {}  # writes per tag
        self._entries: dict[tuple, tuple[str | None, Any]] = {}
        self._by_tag: dict[str | None, set[tuple]] = {}
        self.hits = 0
        self.misses = 0
        self._local = threading.local()  # this thread's open `track()`s

    @property
    def generation(self) -> int:
        """Changes after every write, tagged or not."""
        return self._generation

    def bump(self, *tags: str) -> None:
        """Called after a write: with tags, the entries of those tags (and untagged ones) are dropped; without any,
        the write may have changed anything, so every entry is."""
        with self._lock:
            self._generation += 1
            if not tags:
                self._everything += 1
                self._entries.clear()
                self._by_tag.clear()
                return
            for tag in tags:
                self._tags[tag] = self._tags.get(tag, 0) + 1
            for t in (*tags, None):
                for key in self._by_tag.pop(t, ()):
                    self._entries.pop(key, None)

    @contextmanager
    def track(self) -> Iterator[Reads]:
        """Records the tags of every read made inside, on this thread (nested tracks each get them all)."""
        with self._lock:
            reads = Reads((self._generation, self._everything, dict(self._tags)))
        stack = self._local.__dict__.setdefault("open", [])
        stack.append(reads)
        try:
            yield reads
        finally:
            stack.remove(reads)

    def note(self, tag: str | None) -> None:
        """Counts a read of `tag` (None: untagged, so anything) in this thread's open tracks."""
        for reads in getattr(self._local, "open", ()):
            reads.tags.add(tag if tag is not None else ANY)

    def still_true(self, stamp: tuple) -> bool:
        """Whether no write that can change what a tracked build read happened since its `Reads.stamp`."""
        with self._lock:
            if stamp[0] == ANY:
                return stamp[1] == self._generation
            everything, tags = stamp
            return everything == self._everything and all(self._tags.get(t, 0) == n for t, n in tags)

    def _stamp(self, tag: str | None) -> tuple:
        # What must stay unchanged for a value read under `tag` to stay true.
        return (self._everything, self._tags.get(tag, 0)) if tag is not None else (self._generation,)

    def get(self, key: tuple, compute: Callable[[], Any], tag: str | None = None) -> Any:
        """Returns the memo of `key`, or computes and keeps it; `tag` names the writes that can change it."""
        self.note(tag)
        with self._lock:
            stamp = self._stamp(tag)
            found = self._entries.get(key)
            if found is not None:
                self.hits += 1
                return found[1]
        value = compute()  # outside the lock: reads run side by side
        with self._lock:
            self.misses += 1
            # Kept only if no write that can change it happened meanwhile: the value may predate it.
            if self._stamp(tag) == stamp:
                if len(self._entries) >= MAX_ENTRIES:
                    self._entries.clear()
                    self._by_tag.clear()
                self._entries[key] = (tag, value)
                self._by_tag.setdefault(tag, set()).add(key)
        return value
