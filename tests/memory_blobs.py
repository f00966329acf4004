"""Blobs in memory.

- MemoryBlobStore: a BlobStore driver that keeps everything in memory. Its blobs offer no local file, so the HTTP
  edge streams them; the contract suite runs it beside the filesystem driver. Given a base URL it hands out URLs,
  as an object store would.
- MemoryBlob: an upstream's blob (UpstreamBlob) of bytes in memory, for the pull-through cache's unit tests.
- read_all: the bytes of any blob, read through its chunks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator
from dataclasses import dataclass, field

from pullcache.core.digests import Digest
from pullcache.registry.errors import BlobUploadUnknown, DigestInvalid, RangeInvalid
from pullcache.registry.ports import Blob, BlobUrl

CHUNK = 64 * 1024


class BytesBlob:
    """A blob held as bytes: read as chunks, never a local file; at `url` when one is given."""

    def __init__(self, content: bytes, url: str | None = None) -> None:
        self._content = content
        self._url = url

    @property
    def size(self) -> int:
        return len(self._content)

    async def chunks(self, start: int, length: int) -> AsyncGenerator[bytes]:
        end = start + length
        for position in range(start, end, CHUNK):
            yield self._content[position : min(position + CHUNK, end)]

    def local_file(self) -> None:
        return None

    async def url(self) -> BlobUrl | None:
        return None if self._url is None else BlobUrl(self._url)

    def close(self) -> None:
        pass


@dataclass
class _Upload:
    data: bytearray = field(default_factory=bytearray)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one append or commit at a time, as flock does


@dataclass
class MemoryStorage:
    """What every MemoryBlobStore over it shares, as the processes of one server share a disk."""

    blobs: dict[Digest, bytes] = field(default_factory=dict)
    uploads: dict[str, _Upload] = field(default_factory=dict)


class MemoryBlobStore:
    def __init__(self, storage: MemoryStorage | None = None, *, url_base: str | None = None) -> None:
        """`url_base`: when given, every committed blob is also at `<url_base><digest>`."""
        self._storage = MemoryStorage() if storage is None else storage
        self._url_base = url_base

    async def open_blob(self, digest: Digest) -> BytesBlob | None:
        content = self._storage.blobs.get(digest)
        if content is None:
            return None
        return BytesBlob(content, None if self._url_base is None else f"{self._url_base}{digest}")

    async def start_upload(self, upload_id: str) -> None:
        if upload_id in self._storage.uploads:
            raise FileExistsError(upload_id)
        self._storage.uploads[upload_id] = _Upload()

    async def upload_size(self, upload_id: str) -> int | None:
        upload = self._storage.uploads.get(upload_id)
        return None if upload is None else len(upload.data)

    async def append(self, upload_id: str, offset: int | None, chunks: AsyncIterable[bytes]) -> int:
        upload = await self._locked(upload_id)
        try:
            size = len(upload.data)
            if offset is not None and offset != size:
                raise RangeInvalid(f"chunk starts at {offset} but the upload has {size} bytes", size)
            async for chunk in chunks:
                upload.data += chunk
            return len(upload.data)
        finally:
            upload.lock.release()

    async def verify(self, upload_id: str, digest: Digest) -> None:
        upload = await self._locked(upload_id)
        try:
            actual = Digest.of(bytes(upload.data), digest.algorithm)
            if actual != digest:
                del self._storage.uploads[upload_id]
                raise DigestInvalid(f"content digest {actual} does not match {digest}", {"digest": str(digest)})
        finally:
            upload.lock.release()

    async def commit(self, upload_id: str, digest: Digest) -> int:
        upload = await self._locked(upload_id)
        try:
            del self._storage.uploads[upload_id]
            content = bytes(upload.data)
            actual = Digest.of(content, digest.algorithm)
            if actual != digest:
                raise DigestInvalid(f"content digest {actual} does not match {digest}", {"digest": str(digest)})
            self._storage.blobs.setdefault(digest, content)
            return len(content)
        finally:
            upload.lock.release()

    async def abort(self, upload_id: str) -> None:
        self._storage.uploads.pop(upload_id, None)

    async def find_staged(self, upload_id: str) -> BytesBlob | None:
        upload = self._storage.uploads.get(upload_id)
        return None if upload is None else BytesBlob(bytes(upload.data))

    async def _locked(self, upload_id: str) -> _Upload:
        """The upload, its lock taken; raises BlobUploadUnknown, also when it was committed or aborted meanwhile."""
        upload = self._storage.uploads.get(upload_id)
        if upload is None:
            raise BlobUploadUnknown(upload_id)
        await upload.lock.acquire()
        if self._storage.uploads.get(upload_id) is not upload:
            upload.lock.release()
            raise BlobUploadUnknown(upload_id)
        return upload


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


async def read_all(blob: Blob, start: int = 0, length: int | None = None) -> bytes:
    """The bytes `start` to `start + length` (to the end by default) of a blob, committed or still arriving."""
    return b"".join([chunk async for chunk in blob.chunks(start, blob.size - start if length is None else length)])
