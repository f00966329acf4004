"""Jobs that run in one process at a time: garbage collection, lifecycle expiry, eviction.

Each job holds an exclusive flock on `<lock directory>/<name>.lock` while it runs, so across `--workers N` (and an
admin command run beside the server) one runs and the others skip their turn. A process that dies releases its
lock with it; nothing is left to clean up.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

log = logging.getLogger(__name__)


class ExclusiveJob:
    def __init__(self, name: str, lock_directory: Path, job: Callable[[], Awaitable[None]]) -> None:
        self.name = name
        self._lock_path = lock_directory / f"{name}.lock"
        self._job = job

    async def run_once(self) -> bool:
        """Run the job unless another process is running it; True when it ran (its errors are raised)."""
        async with self.held() as held:
            if not held:
                return False
            await self._job()
            return True

    async def run_every(self, interval: float) -> None:
        """Run the job every `interval` seconds until cancelled; a failure is logged and the job tried again at
        its next turn."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s failed; trying again in %s s", self.name, interval)

    @contextlib.asynccontextmanager
    async def held(self) -> AsyncIterator[bool]:
        """The job's lock while the block runs: True if taken, False if another process holds it."""
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)
