"""Group commit: writes asked for while one transaction runs are made together in the next.

A cold pull of an image with hundreds of layers links each into its repository as it lands; one transaction a
link queues them all behind the database's single write lock. Here the first caller's write starts at once,
and whoever asks meanwhile waits for the next transaction, which carries every one of them: no added latency
alone, a fraction of the transactions in a burst. Each caller still returns only once its write is committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
MAX_BATCH = 500


class GroupCommit(Generic[T]):
    def __init__(self, write: Callable[[Sequence[T]], Awaitable[None]], max_batch: int = MAX_BATCH) -> None:
        """`write` makes a batch of items in one transaction."""
        self._write = write
        self._max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[None]]] = []
        self._writing: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> None:
        """Return once `item` is committed; raise what its transaction raised. A caller cancelled meanwhile still
        returns only once the item's transaction has ended, then raises CancelledError: what the caller holds
        while it writes (the content guard, registry/collection.py) must cover the write until it is done."""
        done = asyncio.get_running_loop().create_future()
        self._pending.append((item, done))
        if self._writing is None or self._writing.done():
            self._writing = asyncio.ensure_future(self._drain())
        try:
            await asyncio.shield(done)
        except asyncio.CancelledError:
            if not done.done():
                await asyncio.wait([done])
            if not done.cancelled():
                done.exception()  # retrieved: the caller is gone, its error with it
            raise

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
            try:
                await self._write([item for item, _ in batch])
            except Exception as error:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(error)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
