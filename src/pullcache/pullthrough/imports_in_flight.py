"""The imports in flight, as the rule store records them for every process to see (they keep the service-linked
role in use), with one record per registry scope however many imports overlap in this process.

A cold pull of an image with 200 layers would otherwise write 400 records; now the first import of a scope
writes one and the last one to end removes it. A record older than ROTATE is replaced while imports go on, so
a long run of overlapping imports never looks like the leftover of a dead process (the rule store counts only
recent records).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pullcache.core.scopes import RegistryScope
from pullcache.pullthrough.ports import ImportLedger

log = logging.getLogger(__name__)

ROTATE = timedelta(minutes=5)
LINGER = 0.5  # seconds a record outlives the last import of a burst


@dataclass(slots=True)
class _Record:
    begun: asyncio.Future[str]  # the store's write, under way: an import never waits for it
    started_at: datetime
    running: int = 0


class ImportsInFlight:
    def __init__(self, store: ImportLedger, linger: float = LINGER, rotate: timedelta = ROTATE) -> None:
        self._store = store
        self._linger = linger
        self._rotate = rotate
        self._records: dict[RegistryScope, _Record] = {}
        self._ending: set[asyncio.Task[None]] = set()

    @contextlib.asynccontextmanager
    async def importing(self, scope: RegistryScope, repository: str, *, recorded: bool = False) -> AsyncIterator[None]:
        """Recorded as in flight while the block runs. The record is written beside the import, so a blob's first
        byte does not wait for the database; `recorded` waits for it first (an image's manifest: once an image)."""
        record = self._enter(scope, repository)
        try:
            if recorded:
                await asyncio.shield(record.begun)
            yield
        finally:
            self._leave(scope)

    async def close(self) -> None:
        """End every record now (the server is stopping)."""
        for task in list(self._ending):
            task.cancel()
        records = list(self._records.values())
        self._records.clear()
        for record in records:
            await self._end(record)

    def _enter(self, scope: RegistryScope, repository: str) -> _Record:
        # No await from here to the end: the check and the update are one step for the event loop.
        now = datetime.now(UTC)
        record = self._records.get(scope)
        if record is None or now - record.started_at > self._rotate:
            fresh = _Record(asyncio.ensure_future(self._store.begin_import(scope, repository, now)), now)
            if record is not None:
                fresh.running = record.running
                self._spawn(self._end(record))
            self._records[scope] = record = fresh
        record.running += 1
        return record

    def _leave(self, scope: RegistryScope) -> None:
        record = self._records.get(scope)
        if record is None:  # closed meanwhile
            return
        record.running -= 1
        if record.running == 0:
            # Kept a moment: imports come in bursts, and a record per burst is enough.
            self._spawn(self._retire(scope, record))

    async def _retire(self, scope: RegistryScope, record: _Record) -> None:
        await asyncio.sleep(self._linger)
        if self._records.get(scope) is record and record.running == 0:
            del self._records[scope]
            await self._end(record)

    async def _end(self, record: _Record) -> None:
        try:
            await self._store.end_import(await record.begun)
        except Exception as error:  # the record outlives its import; the store counts only recent ones
            log.warning("ending the record of an import failed: %s", error)

    def _spawn(self, work: Coroutine[None, None, None]) -> None:
        task = asyncio.ensure_future(work)
        self._ending.add(task)
        task.add_done_callback(self._ending.discard)
