"""Reads served from memory until anything is written, by any process: the hot path of pulls without a database
round trip.

Every committed write transaction on the SQLite database appends a byte to `<database>-epoch` (engine.py), so
the file's size and modification time - one `stat` - change whenever the data may have. A cache remembers the
epoch its entries were read under and forgets them all when it moves on. An entry is kept only if the epoch did
not move while it was read, so a value read before a write is never kept past it: a writer commits, then bumps,
and a reader that saw the old data either stores it under the old epoch (dropped at the bump) or sees the bump.

Callers that miss the same key under the same epoch share one read (a burst of requests after a write would
otherwise all go to the database for the same row).

Writes are rare next to pulls (pushes, settings, a flush that moves an image's pull time, at most once a minute
per image; a flush of pull counts alone touches no cache), so forgetting everything at each one is cheap. Only a
database file on this machine has an epoch file; other databases are read each time.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

from pullcache.caching.single_flight import SingleFlight

V = TypeVar("V")

EPOCH_SUFFIX = "-epoch"
DEFAULT_ENTRIES = 8192
_EPOCH_FILE_LIMIT = 1 << 20  # bytes before the epoch file starts over (its modification time still moves)


def bump_epoch(path: Path) -> None:
    """Record that a write was committed. On a full disk, where even one more byte may not fit, the file's
    modification time moves instead: the epoch must move whatever happens, or other processes keep serving what
    the write replaced."""
    try:
        with open(path, "ab") as epoch:
            epoch.write(b".")
            epoch.flush()
            if epoch.tell() > _EPOCH_FILE_LIMIT:
                epoch.truncate(0)
    except OSError:
        os.utime(path)


def read_epoch(path: Path) -> tuple[int, int, int]:
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return (0, 0, 0)
    return (found.st_ino, found.st_size, found.st_mtime_ns)


class ReadCache:
    def __init__(self, epoch_path: Path, entries: int = DEFAULT_ENTRIES) -> None:
        self._path = epoch_path
        self._entries = entries
        self._epoch = read_epoch(epoch_path)
        self._values: dict[Hashable, Any] = {}
        self._loads: SingleFlight[tuple[tuple[int, int, int], Hashable], Any] = SingleFlight()

    async def get(self, key: Hashable, load: Callable[[], Awaitable[V]]) -> V:
        """The value under `key` read under the current epoch, else `load()`'s (kept if no write intervened), or
        that of the same load another caller began under this epoch."""
        epoch = read_epoch(self._path)
        if epoch != self._epoch:
            self._values.clear()
            self._epoch = epoch
        elif key in self._values:
            found: V = self._values[key]
            return found
        value: V = await self._loads.run((epoch, key), load)
        if read_epoch(self._path) == epoch and epoch == self._epoch:
            if len(self._values) >= self._entries:
                self._values.clear()
            self._values[key] = value
        return value


async def cached(cache: ReadCache | None, key: Hashable, load: Callable[[], Awaitable[V]]) -> V:
    """`load()` through `cache`, or straight when there is none."""
    return await load() if cache is None else await cache.get(key, load)
