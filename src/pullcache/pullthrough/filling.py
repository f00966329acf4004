"""Filling: one reader of a blob being filled, tailing its staged file (fills.py has the fill itself).

The reader holds the staged file open, so it keeps reading the same inode whatever happens to its name: the
commit renames it into the blob tree, a failed fill unlinks it. Bytes are handed over as they land, except the
blob's last ones, held back until the verdict: once the committed blob is this very file (or another verified
copy), the rest is read from the committed blob; once the file is unlinked with no blob committed, the fill
failed and the reader is cut off.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncGenerator, Callable
from pathlib import Path

from pullcache.core.digests import Digest
from pullcache.registry.errors import BlobFillFailed
from pullcache.registry.ports import Blob, BlobStore, BlobUrl, GrowingFile, LocalFile

READ_BYTES = 256 * 1024
POLL_FIRST = 0.0005
POLL_MAX = 0.005
# A reader that sees no new byte for this long checks whether the filling process is still alive.
STALL_CHECK = 0.25


class Filling:
    """A blob being filled, read through its staged file: a Blob whose local file is still growing."""

    def __init__(self, digest: Digest, size: int, fd: int, blobs: BlobStore, fill_alive: Callable[[], bool]) -> None:
        """`fd`: the staged file, open; `fill_alive`: whether a process (this one or another) still fills it."""
        self.digest = digest
        self.size = size
        self._fd = fd
        self._blobs = blobs
        self._fill_alive = fill_alive
        self._verified = False
        self._delay = POLL_FIRST
        self._idle = 0.0

    @property
    def fileno(self) -> int:
        """The file to read the bytes `sendable` allows from (the committed blob once it is verified)."""
        return self._fd

    def local_file(self) -> GrowingFile:
        return self

    async def url(self) -> BlobUrl | None:
        return None

    async def sendable(self, position: int, end: int) -> int:
        """Wait until bytes from `position` on may be sent, and say up to where (at most `end`). The blob's last
        byte may be sent only once the whole blob is verified. Raises BlobFillFailed."""
        while True:
            available = os.fstat(self._fd).st_size
            limit = end if self._verified else min(end, self.size - 1)
            if available > position and position < limit:
                self._delay, self._idle = POLL_FIRST, 0.0
                return min(available, limit)
            verdict = await self._verdict()
            if verdict is True:
                self._verified = True
                await self._switch_to_committed()
                continue
            if verdict is False:
                raise BlobFillFailed(str(self.digest), "the upstream's content was not right")
            if self._idle >= STALL_CHECK:
                self._idle = 0.0
                if not self._fill_alive() and await self._verdict() is None:
                    raise BlobFillFailed(str(self.digest), "the process filling it stopped")
            await asyncio.sleep(self._delay)
            self._idle += self._delay
            self._delay = min(self._delay * 2, POLL_MAX)

    async def chunks(self, start: int, length: int) -> AsyncGenerator[bytes]:
        """The bytes as they may be sent. Raises BlobFillFailed."""
        try:
            position, end = start, start + length
            while position < end:
                upto = await self.sendable(position, end)
                data = os.pread(self._fd, min(READ_BYTES, upto - position), position)
                position += len(data)
                yield data
        finally:
            self.close()

    async def verdict(self) -> None:
        """Wait for the fill's end; raises BlobFillFailed when it failed."""
        async for _ in self.chunks(max(self.size - 1, 0), min(self.size, 1)):
            pass

    async def _verdict(self) -> bool | None:
        """True once the staged file is the committed blob, False when its fill failed, None while it runs."""
        committed = _local_path(await self._blobs.open_blob(self.digest))
        if committed is not None:
            with contextlib.suppress(FileNotFoundError):
                if os.stat(committed).st_ino == os.fstat(self._fd).st_ino:
                    return True
        if os.fstat(self._fd).st_nlink == 0:
            # Discarded: failed - unless another copy was committed meanwhile, whose bytes are the right ones.
            return committed is not None
        return None

    async def _switch_to_committed(self) -> None:
        """Read the rest from the committed blob (the same bytes; another inode when another copy won)."""
        committed = _local_path(await self._blobs.open_blob(self.digest))
        if committed is None:
            return
        fd = os.open(committed, os.O_RDONLY)
        os.close(self._fd)
        self._fd = fd

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _local_path(blob: Blob | None) -> Path | None:
    """Where a blob of a store that stages in local files lies (fills are hosted only by such stores)."""
    file = None if blob is None else blob.local_file()
    return file.path if isinstance(file, LocalFile) else None
