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
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from pullcache.core.scopes import RegistryScope

ROTATE = timedelta(minutes=5)
LINGER = 0.5  # seconds a record outlives the last import of a burst


@dataclass(slots=True)
class _Record:
    import_id: str
    started_at: datetime
    running: int = 0


class ImportLedger(Protocol):
    """The records of imports in flight (PullThroughRuleStore keeps them)."""

    async def begin_import(self, scope: RegistryScope, repository: str, started_at: datetime) -> str: ...

    async def end_import(self, import_id: str) -> None: ...


class ImportsInFlight:
    def __init__(self, store: ImportLedger, linger: float = LINGER, rotate: timedelta = ROTATE) -> None:
        self._store = store
        self._linger = linger
        self._rotate = rotate
        self._records: dict[RegistryScope, _Record] = {}
        self._changing = asyncio.Lock()  # held across the store's writes, so a scope never gets two records
        self._retiring: set[asyncio.Task[None]] = set()

    @contextlib.asynccontextmanager
    async def importing(self, scope: RegistryScope, repository: str) -> AsyncIterator[None]:
        """Recorded as in flight while the block runs."""
        await self._enter(scope, repository)
        try:
            yield
        finally:
            self._leave(scope)

    async def close(self) -> None:
        """End every record now (the server is stopping)."""
        for task in list(self._retiring):
            task.cancel()
        async with self._changing:
            for record in self._records.values():
                await self._store.end_import(record.import_id)
            self._records.clear()

    async def _enter(self, scope: RegistryScope, repository: str) -> None:
        record = self._records.get(scope)
        if record is not None and datetime.now(UTC) - record.started_at <= self._rotate:
            record.running += 1  # the common case: no write, no wait
            return
        async with self._changing:
            now = datetime.now(UTC)
            record = self._records.get(scope)
            if record is None or now - record.started_at > self._rotate:
                fresh = _Record(await self._store.begin_import(scope, repository, now), now)
                if record is not None:
                    fresh.running = record.running
                    await self._store.end_import(record.import_id)
                self._records[scope] = record = fresh
            record.running += 1

    def _leave(self, scope: RegistryScope) -> None:
        record = self._records[scope]
        record.running -= 1
        if record.running == 0:
            # Kept a moment: imports come in bursts, and a record per burst is enough.
            task = asyncio.ensure_future(self._retire(scope, record))
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

    async def _retire(self, scope: RegistryScope, record: _Record) -> None:
        await asyncio.sleep(self._linger)
        async with self._changing:
            if self._records.get(scope) is record and record.running == 0:
                del self._records[scope]
                await self._store.end_import(record.import_id)
