"""Blobs for the pull-through cache's unit tests: an upstream blob held in memory, and reading back what a fill
or the store serves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from pullcache.pullthrough.fills import Filling
from pullcache.registry.ports import LocalBlob

CHUNK = 64 * 1024


class MemoryBlob:
    """An UpstreamBlob of `content`, handed over CHUNK bytes at a time, `pause` seconds apart; with a `gate`, the
    second half waits until the test sets it."""

    def __init__(self, content: bytes, gate: asyncio.Event | None = None, pause: float = 0.0) -> None:
        self._content = content
        self._gate = gate
        self._pause = pause

    @property
    def size(self) -> int:
        return len(self._content)

    async def chunks(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self._content), CHUNK):
            if self._gate is not None and start >= len(self._content) // 2:
                await self._gate.wait()
            await asyncio.sleep(self._pause)
            yield self._content[start : start + CHUNK]


async def read_all(blob: LocalBlob | Filling, start: int = 0, length: int | None = None) -> bytes:
    """The bytes `start` to `start + length` (to the end by default) of a committed blob or a fill."""
    if isinstance(blob, LocalBlob):
        data = blob.path.read_bytes()
        return data[start : None if length is None else start + length]
    return b"".join([chunk async for chunk in blob.chunks(start, blob.size - start if length is None else length)])
