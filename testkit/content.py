"""Deterministic blob content of any size, and the streams that carry it, so no test holds a large blob whole.

Byte `i` of a `PatternedContent` depends only on its seed and `i`: any range can be produced again (to resume
an upload after a crash, or to check a ranged read) without remembering what was sent before. Every block
starts with its own index, so no two blocks are alike and a server that mixed them up would change the digest.
"""

from __future__ import annotations

import asyncio
import functools
import random
import struct
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass

from testkit.hashing import Sha256Tap

MIB = 1 << 20
BLOCK = MIB  # the unit of generation: each piece handed to a body lies within one block


@dataclass(frozen=True, slots=True)
class PatternedContent:
    size: int
    seed: int = 0

    def pieces(self, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        """The bytes [start, stop) in pieces of at most one block, generated as they are asked for."""
        stop = self.size if stop is None else stop
        assert 0 <= start <= stop <= self.size, f"[{start}, {stop}) is not within {self.size} bytes"
        offset = start
        while offset < stop:
            index, within = divmod(offset, BLOCK)
            length = min(BLOCK - within, stop - offset)
            yield _block(self.seed, index)[within : within + length]
            offset += length

    def digest(self, start: int = 0, stop: int | None = None) -> str:
        """The sha256 digest of the bytes [start, stop), computed by generating them."""
        tap = Sha256Tap()
        for _ in tap.through(self.pieces(start, stop)):
            pass
        return tap.digest


@functools.lru_cache(maxsize=4)
def _random_block(seed: int) -> bytes:
    return random.Random(seed).randbytes(BLOCK)


def _block(seed: int, index: int) -> bytes:
    return struct.pack(">QQ", seed, index) + _random_block(seed)[16:]


async def streamed(pieces: Iterable[bytes]) -> AsyncIterator[bytes]:
    """`pieces` as an async stream, as an HTTP client sends a request body."""
    for piece in pieces:
        yield piece


class PausingBody:
    """A request body that stops after `pause_after` bytes until it is released, to catch a request mid-body.

    `paused` is set once that many bytes have been handed to the client. A body never released gives up after
    `timeout` seconds, so a test that forgets it cannot hang.
    """

    def __init__(self, pieces: Iterable[bytes], pause_after: int, timeout: float = 60.0) -> None:
        self._pieces = pieces
        self._pause_after = pause_after
        self._timeout = timeout
        self._released = asyncio.Event()
        self.paused = asyncio.Event()
        self.sent = 0

    def release(self) -> None:
        self._released.set()

    async def stream(self) -> AsyncIterator[bytes]:
        for piece in self._pieces:
            if self.sent >= self._pause_after and not self.paused.is_set():
                self.paused.set()
                await asyncio.wait_for(self._released.wait(), self._timeout)
            self.sent += len(piece)
            yield piece
