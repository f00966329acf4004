"""FileContentGuard: the lock that keeps garbage collection from deleting a blob a writer is about to link.

A writer that makes content reachable - commits a blob and links it, mounts one, stores a manifest that names
blobs - holds the guard *shared* from the moment it decides the content exists until its link is committed. The
collector holds it *exclusive* while it deletes, so it never sees a blob between "exists" and "linked"
(registry/collection.py states the whole invariant). Shared holders never wait for one another.

Across processes (`--workers N`, and `pullcache gc` beside the server) it is two flocks in the data dir:

    <directory>/content.lock   shared by every process with a writer inside; exclusive while the collector deletes
    <directory>/collect.lock   the collector's intent: held exclusive from before it waits for content.lock, so
                               new writers wait (briefly) instead of overlapping forever and starving it

Within a process, writers count in and out and the process holds content.lock shared while any is inside; a
writer nested in another (a replicated image whose manifest store is itself guarded) does not count twice, so
it cannot deadlock against a collector waiting for the outer one. Waiting is polling, never a blocked thread:
cancelling a waiter leaves no lock behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import fcntl
import os
from collections.abc import AsyncIterator
from pathlib import Path

POLL_SECONDS = 0.005  # how often a waiter tries again: holds last milliseconds

# The task holding the guard, in its context: a nested `writing` in that task is already covered. A task spawned
# inside inherits the value but is another task, so it takes the guard for itself.
_holder: contextvars.ContextVar[asyncio.Task[object] | None] = contextvars.ContextVar("guard_holder", default=None)


class FileContentGuard:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._content_path = directory / "content.lock"
        self._intent_path = directory / "collect.lock"
        self._writers = 0
        self._shared_fd: int | None = None
        self._entering = asyncio.Lock()
        self._intent_probe: int | None = None

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        """Hold the guard shared: no collection deletes while the block runs."""
        task = asyncio.current_task()
        if task is not None and _holder.get() is task:
            yield
            return
        await self._enter()
        token = _holder.set(task)
        try:
            yield
        finally:
            _holder.reset(token)
            self._leave()

    @contextlib.asynccontextmanager
    async def collecting(self) -> AsyncIterator[None]:
        """Hold the guard exclusive: every writer has left and none enters until the block ends."""
        intent = _open(self._intent_path)
        content: int | None = None
        try:
            await _poll(intent, fcntl.LOCK_EX)
            content = _open(self._content_path)
            await _poll(content, fcntl.LOCK_EX)
            yield
        finally:
            if content is not None:
                os.close(content)
            os.close(intent)

    async def _enter(self) -> None:
        async with self._entering:
            await self._wait_while_collecting()
            if self._writers == 0:
                fd = _open(self._content_path)
                try:
                    await _poll(fd, fcntl.LOCK_SH)
                except BaseException:
                    os.close(fd)
                    raise
                self._shared_fd = fd
            self._writers += 1

    def _leave(self) -> None:
        self._writers -= 1
        if self._writers == 0 and self._shared_fd is not None:
            os.close(self._shared_fd)  # releases the shared lock
            self._shared_fd = None

    async def _wait_while_collecting(self) -> None:
        """Wait while a collector holds (or waits for) the guard. A process whose writers are all inside keeps
        its shared hold, so the collector waits for them to leave; new ones queue here meanwhile."""
        if self._intent_probe is None:
            self._intent_probe = _open(self._intent_path)
        probe = self._intent_probe
        while True:
            try:
                fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                await asyncio.sleep(POLL_SECONDS)
                continue
            fcntl.flock(probe, fcntl.LOCK_UN)
            return


def _open(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)


async def _poll(fd: int, operation: int) -> None:
    while True:
        try:
            fcntl.flock(fd, operation | fcntl.LOCK_NB)
        except BlockingIOError:
            await asyncio.sleep(POLL_SECONDS)
        else:
            return
