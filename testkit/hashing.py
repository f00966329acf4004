"""A sha256 that hashes and counts the bytes passing through it, for bodies too large to hold whole.

A digest of bytes held whole is `pullcache.core.digests.Digest.of`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator


class Sha256Tap:
    """Hashes and counts the bytes that pass through it. Not thread-safe: one `update` at a time (which may run
    in a worker thread: hashlib releases the GIL while it hashes)."""

    def __init__(self) -> None:
        self._hasher = hashlib.sha256()
        self.size = 0

    def update(self, data: bytes) -> None:
        self._hasher.update(data)
        self.size += len(data)

    def through(self, pieces: Iterable[bytes]) -> Iterator[bytes]:
        for piece in pieces:
            self.update(piece)
            yield piece

    @property
    def digest(self) -> str:
        return f"sha256:{self._hasher.hexdigest()}"
