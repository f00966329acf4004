"""Single-flight blob fills: however many clients, in however many worker processes, ask for a blob the cache
lacks, the upstream is asked for it once, and every one of them is served from the copy being written.

    <fills>/<algorithm>-<hex>.lock    who fills the blob: the process holding an exclusive flock on it. Its
                                      content is the blob's size once the upstream has answered.
    the blob store's staged upload    the bytes so far (upload id: a UUID derived from the digest); committed into
                                      the blob tree - same inode - only when its digest matches

The fill runs in a task this object owns, never in a client's request, so a client hanging up does not abort
it. Every reader (the one that started the fill included) tails the staged file, and holds back the blob's last
bytes until the verdict: served whole only once committed, cut off when the fill fails (filling.py). A fill
whose process died (kill -9) leaves its lock free and its staged file behind; the next request takes the lock
and starts over. A fill that runs out of space is discarded at once like any failed fill (its staged bytes freed,
nothing served), and the request that started it is answered StorageFull.

Only a blob store that stages uploads in local files can host fills: readers tail the staged file, whose
`find_staged(...).local_file()` must be a LocalFile. A store without local files cannot host them yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path

from pullcache.core.digests import Digest
from pullcache.pullthrough.filling import POLL_FIRST, POLL_MAX, Filling
from pullcache.pullthrough.observations import UNOBSERVED, PullThroughObserver
from pullcache.pullthrough.ports import UpstreamBlob
from pullcache.registry.errors import OUT_OF_SPACE, BlobFillFailed, DigestInvalid, StorageFull
from pullcache.registry.ports import Blob, BlobStore, ContentGuard, LocalFile, Unguarded

# Filling is part of this module's face: what `open` returns while a fill runs.
__all__ = ["BlobFills", "Filling", "OnCommit", "OpenUpstream", "fill_upload_id", "finish_or_cancel"]

log = logging.getLogger(__name__)

OpenUpstream = Callable[[], AbstractAsyncContextManager[UpstreamBlob]]
OnCommit = Callable[[int], Awaitable[None]]

_FILL_NAMESPACE = uuid.UUID("0f1c5a6e-3d4b-4e55-9a7c-2b8e6f1d9c30")


def fill_upload_id(digest: Digest) -> str:
    """The staged upload of a fill: the same id in every process, and a UUID no client upload can collide with."""
    return str(uuid.uuid5(_FILL_NAMESPACE, str(digest)))


class BlobFills:
    def __init__(
        self,
        blobs: BlobStore,
        directory: Path,
        *,
        wait_timeout: float = 300.0,
        guard: ContentGuard | None = None,
        observer: PullThroughObserver = UNOBSERVED,
    ) -> None:
        """`blobs`: a store that stages uploads in local files (see above). `wait_timeout`: how long a reader
        waits for the upstream to answer another process's fill. `guard`: held from committing a fill to linking
        it (`on_commit`), so garbage collection cannot come between. `observer`: told of the fills this process
        runs and of the requests that join a fill under way."""
        self._guard = guard or Unguarded()
        self._observer = observer
        self._blobs = blobs
        self._directory = directory
        self._directory.mkdir(parents=True, exist_ok=True)
        self._wait_timeout = wait_timeout
        self._leading: dict[Digest, _Lead] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def open(self, digest: Digest, upstream: OpenUpstream, on_commit: OnCommit) -> Blob | Filling:
        """The committed blob, or a handle on the fill under way (started here if none is).

        Raises what opening the upstream raises when this call started the fill (or found the one it joined
        failed before its first byte): UpstreamNotFound, UpstreamDenied, UpstreamUnavailable, UpstreamInvalid;
        StorageFull when there is no room to stage the blob.
        """
        deadline = asyncio.get_running_loop().time() + self._wait_timeout
        delay = POLL_FIRST
        while True:
            committed = await self._blobs.open_blob(digest)
            if committed is not None:
                return committed
            lead = self._leading.get(digest)
            if lead is not None:
                self._observer.fill_joined()
            else:
                lead = self._try_lead(digest, upstream, on_commit)
            if lead is not None:
                await lead.started  # raises the upstream's error when the fill could not start
                staged = await self._follow(digest, lead.size)
                if staged is not None:
                    return staged
                committed = await self._blobs.open_blob(digest)
                if committed is not None:
                    return committed
                # Started, then gone without a blob: this process's fill failed. Not again from this request.
                if isinstance(lead.failure, StorageFull):
                    raise StorageFull(f"blob {digest} could not be cached")
                raise BlobFillFailed(str(digest), "the upstream's content was not right")
            else:
                size = self._read_size(digest)
                if size is not None:
                    staged = await self._follow(digest, size)
                    if staged is not None:
                        self._observer.fill_joined()
                        return staged
            if asyncio.get_running_loop().time() > deadline:
                raise BlobFillFailed(str(digest), "timed out waiting for another process's fill")
            await asyncio.sleep(delay)
            delay = min(delay * 2, POLL_MAX)

    async def wait(self, digest: Digest, upstream: OpenUpstream, on_commit: OnCommit) -> None:
        """Make sure the blob gets committed (a background fill): start or join its fill and wait for the end."""
        blob = await self.open(digest, upstream, on_commit)
        if isinstance(blob, Filling):
            await blob.verdict()

    async def close(self, grace: float = 0.0) -> None:
        """Let the fills under way finish within `grace` seconds (the server is stopping), then cancel the rest;
        their staged bytes are discarded by the next fill of the blob."""
        await finish_or_cancel(self._tasks, grace)

    # -- leading --------------------------------------------------------------------------------------------

    def _try_lead(self, digest: Digest, upstream: OpenUpstream, on_commit: OnCommit) -> _Lead | None:
        lock_fd = _try_lock(self._lock_path(digest))
        if lock_fd is None:
            return None
        lead = _Lead(asyncio.get_running_loop().create_future())
        self._leading[digest] = lead
        task = asyncio.create_task(self._fill(digest, lock_fd, lead, upstream, on_commit))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return lead

    async def _fill(
        self, digest: Digest, lock_fd: int, lead: _Lead, upstream: OpenUpstream, on_commit: OnCommit
    ) -> None:
        upload_id = fill_upload_id(digest)
        self._observer.fill_started()
        try:
            await self._blobs.abort(upload_id)  # what a dead process left behind
            await self._blobs.start_upload(upload_id)
            async with upstream() as source:
                lead.size = source.size
                os.pwrite(lock_fd, f"{source.size}\n".encode(), 0)
                lead.started.set_result(None)
                chunks = aiter(source.chunks())
                # The first chunk alone, so readers get their first bytes without waiting for the store's
                # write batch to fill; then the rest in the store's batches.
                first = await anext(chunks, b"")
                written = await self._blobs.append(upload_id, 0, _once(first))
                written = await self._blobs.append(upload_id, written, chunks)
            if written != lead.size:
                raise BlobFillFailed(str(digest), f"the upstream sent {written} of {lead.size} bytes")
            await self._blobs.verify(upload_id, digest)  # the slow part, before holding the guard
            async with self._guard.writing():
                await self._blobs.commit(upload_id, digest)
                await on_commit(written)
        except BaseException as caught:
            error = _out_of_space(caught, digest)
            lead.failure = error
            if not lead.started.done():
                lead.started.set_exception(
                    error if isinstance(error, Exception) else BlobFillFailed(str(digest), "cancelled")
                )
                lead.started.exception()  # retrieved: a fill nobody joined must not warn
            if isinstance(error, DigestInvalid):
                log.error("upstream content of %s did not match its digest; nothing stored", digest)
            elif isinstance(error, StorageFull):
                log.error("fill of %s discarded: %s", digest, error)
            elif not isinstance(error, asyncio.CancelledError):
                log.warning("fill of %s failed: %s", digest, error)
            await self._blobs.abort(upload_id)
            if isinstance(error, asyncio.CancelledError):
                raise
        finally:
            self._observer.fill_ended()
            self._leading.pop(digest, None)
            self._release(digest, lock_fd)

    def _release(self, digest: Digest, lock_fd: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._lock_path(digest))  # while still held: a process that opens it later locks a new file
        os.close(lock_fd)

    # -- following ------------------------------------------------------------------------------------------

    async def _follow(self, digest: Digest, size: int) -> Filling | None:
        staged = await self._blobs.find_staged(fill_upload_id(digest))
        if staged is None:
            return None
        file = staged.local_file()
        if not isinstance(file, LocalFile):
            raise TypeError("fills need a blob store that stages uploads in local files")
        try:
            fd = os.open(file.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        return Filling(digest, size, fd, self._blobs, lambda: self._fill_alive(digest))

    def _fill_alive(self, digest: Digest) -> bool:
        if digest in self._leading:
            return True
        lock_fd = _try_lock(self._lock_path(digest))
        if lock_fd is None:
            return True
        self._release(digest, lock_fd)
        return False

    def _read_size(self, digest: Digest) -> int | None:
        try:
            text = self._lock_path(digest).read_text()
        except FileNotFoundError:
            return None
        return int(text) if text.strip().isdigit() and text.endswith("\n") else None

    def _lock_path(self, digest: Digest) -> Path:
        return self._directory / f"{digest.algorithm}-{digest.encoded}.lock"


@dataclass(slots=True)
class _Lead:
    started: asyncio.Future[None]
    size: int = 0
    failure: BaseException | None = None  # why the fill failed, once it has


def _out_of_space(error: BaseException, digest: Digest) -> BaseException:
    """A fill's failure for lack of space as its puller should read it: the store's StorageFull speaks of an upload
    the puller never started, and the fill's own write (the lock file) raises the operating system's error."""
    if isinstance(error, StorageFull) or (isinstance(error, OSError) and error.errno in OUT_OF_SPACE):
        return StorageFull(f"blob {digest} could not be cached")
    return error


async def finish_or_cancel(tasks: set[asyncio.Task[None]], grace: float) -> None:
    """Wait up to `grace` seconds for `tasks`, then cancel those still running and wait for them to end."""
    pending = set(tasks)
    if pending and grace > 0:
        _, pending = await asyncio.wait(pending, timeout=grace)
    for task in pending:
        task.cancel()
    for task in pending:
        with contextlib.suppress(BaseException):
            await task


async def _once(chunk: bytes) -> AsyncIterator[bytes]:
    if chunk:
        yield chunk


def _try_lock(path: Path) -> int | None:
    """An fd holding the exclusive lock of `path` (created if missing), or None when another holds it. Raises
    StorageFull when there is no room to create it."""
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            if error.errno in OUT_OF_SPACE:
                raise StorageFull("a blob could not be cached") from error
            raise
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the holder unlinked it as we opened it: lock the file that is there now
