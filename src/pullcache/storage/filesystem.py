"""Content-addressed blobs in a directory tree, with staged, resumable uploads.

    <root>/blobs/<algorithm>/<first two hex>/<hex>   committed, verified content (served with sendfile)
    <root>/uploads/<upload id>                       bytes staged so far for one upload

Every blob it returns is a FileBlob: a local file, whole, which the HTTP edge sends with sendfile (and the
pull-through cache's fills tail, for a staged upload).

An upload streams to its staging file while a sha256 runs over it; `commit` checks the digest, fsyncs and
renames the file into place, so nothing partial or unverified is ever visible. The running hash lives in
memory; when it is missing or stale (a restart, another worker process took a chunk) it is recomputed from
the staging file, so uploads survive restarts and may move between processes.

A full disk (or quota) keeps nothing half-done: a write refused for lack of space discards its upload at once -
its staged bytes would otherwise hold the disk full until the upload expires - and raises StorageFull. Reads
need no space and go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import uuid
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Awaitable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from pullcache.core.digests import CANONICAL, Digest, InvalidDigest
from pullcache.registry.collection_ports import StagedUpload
from pullcache.registry.errors import (
    OUT_OF_SPACE,
    BlobUploadUnknown,
    DigestInvalid,
    RangeInvalid,
    StorageFull,
    UploadDiscarded,
)
from pullcache.registry.ports import BlobUrl, LocalFile

T = TypeVar("T")

FLUSH_BYTES = 1 << 20  # hand data to the writer thread a mebibyte at a time: flat memory, few thread hops
READ_BYTES = 1 << 20
INLINE_BYTES = 128 * 1024  # a last batch this small is written on the event loop: a thread hop costs more


class _Progress:
    """The running hash of an upload and how many bytes it covers."""

    __slots__ = ("hasher", "size")

    def __init__(self) -> None:
        self.hasher = hashlib.new(CANONICAL)
        self.size = 0

    def write(self, fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        self.hasher.update(data)
        self.size += len(data)


@dataclass(frozen=True, slots=True)
class FileBlob(LocalFile):
    """A blob that is the file `path` of `size` bytes: being a whole local file, it is its own LocalFile."""

    size: int

    async def chunks(self, start: int, length: int) -> AsyncGenerator[bytes]:
        """The bytes `start` to `start + length`, read a mebibyte at a time in a worker thread."""
        fd = os.open(self.path, os.O_RDONLY)
        try:
            position, end = start, start + length
            while position < end:
                data = await _uninterrupted(asyncio.to_thread(os.pread, fd, min(READ_BYTES, end - position), position))
                if not data:
                    raise EOFError(f"{self.path} ends before byte {end}")
                position += len(data)
                yield data
        finally:
            os.close(fd)

    def local_file(self) -> LocalFile:
        return self

    async def url(self) -> BlobUrl | None:
        return None

    def close(self) -> None:
        pass


class FilesystemBlobStore:
    def __init__(self, root: Path) -> None:
        self._blobs = root / "blobs"
        self._uploads = root / "uploads"
        self._blobs.mkdir(parents=True, exist_ok=True)
        self._uploads.mkdir(parents=True, exist_ok=True)
        self._progress: dict[str, _Progress] = {}

    def blob_path(self, digest: Digest) -> Path:
        return self._blobs / digest.algorithm / digest.encoded[:2] / digest.encoded

    async def check_writable(self) -> None:
        """Raises StoreNotWritable unless a small file can be written where uploads are staged (what readiness asks
        of the store: a full disk, a read-only mount or a missing directory all fail here)."""
        probe = self._uploads / f".ready-{uuid.uuid4().hex}"
        try:
            await asyncio.to_thread(_write_and_remove, probe, b"ready")
        except OSError as error:
            raise StoreNotWritable(f"the blob store cannot write: {error.strerror or type(error).__name__}") from None

    async def open_blob(self, digest: Digest) -> FileBlob | None:
        path = self.blob_path(digest)
        try:
            size = os.stat(path).st_size
        except FileNotFoundError:
            return None
        return FileBlob(path, size)

    async def start_upload(self, upload_id: str) -> None:
        try:
            self._upload_path(upload_id).touch(exist_ok=False)
        except OSError as error:
            if error.errno in OUT_OF_SPACE:
                raise StorageFull("the upload was not started") from error
            raise
        self._progress[upload_id] = _Progress()

    async def upload_size(self, upload_id: str) -> int | None:
        try:
            return os.stat(self._upload_path(upload_id)).st_size
        except FileNotFoundError:
            return None

    async def append(self, upload_id: str, offset: int | None, chunks: AsyncIterable[bytes]) -> int:
        fd = self._open_upload(upload_id, os.O_RDWR)  # read too: a stale running hash is recomputed
        try:
            await self._lock_staged(upload_id, fd)
            with self._discarded_when_full(upload_id):
                return await self._append(upload_id, fd, offset, chunks)
        finally:
            os.close(fd)

    async def _append(self, upload_id: str, fd: int, offset: int | None, chunks: AsyncIterable[bytes]) -> int:
        """Append to the staged file `fd`, whose lock the caller holds."""
        size = os.fstat(fd).st_size
        if offset is not None and offset != size:
            raise RangeInvalid(f"chunk starts at {offset} but the upload has {size} bytes", size)
        progress = self._progress.get(upload_id)
        if progress is None or progress.size != size:  # recomputing reads the file: in a thread
            progress = await _uninterrupted(asyncio.to_thread(self._current_progress, upload_id, fd, size))
        os.lseek(fd, size, os.SEEK_SET)
        pending: list[bytes] = []
        pending_bytes = 0
        async for chunk in chunks:
            pending.append(chunk)
            pending_bytes += len(chunk)
            if pending_bytes >= FLUSH_BYTES:
                await _uninterrupted(asyncio.to_thread(progress.write, fd, b"".join(pending)))
                pending.clear()
                pending_bytes = 0
        if pending_bytes > INLINE_BYTES:
            await _uninterrupted(asyncio.to_thread(progress.write, fd, b"".join(pending)))
        elif pending:
            progress.write(fd, b"".join(pending))  # a small tail: into the page cache, cheaper than a thread
        return progress.size

    async def commit(self, upload_id: str, digest: Digest) -> int:
        fd = self._open_upload(upload_id, os.O_RDONLY)
        try:
            await self._lock_staged(upload_id, fd)
            with self._discarded_when_full(upload_id):
                return await _uninterrupted(asyncio.to_thread(self._commit, upload_id, fd, digest))
        finally:
            os.close(fd)

    async def verify(self, upload_id: str, digest: Digest) -> None:
        fd = self._open_upload(upload_id, os.O_RDONLY)
        try:
            await self._lock_staged(upload_id, fd)
            with self._discarded_when_full(upload_id):
                await _uninterrupted(asyncio.to_thread(self._verify, upload_id, fd, digest))
        finally:
            os.close(fd)

    async def abort(self, upload_id: str) -> None:
        self._discard(upload_id)

    # -- what garbage collection needs (registry/collection.py) ------------------------------------------------

    async def walk(self) -> AsyncIterator[list[tuple[Digest, int]]]:
        """Every committed blob (digest, size), one fan-out directory at a time; files whose names are not digests
        (none are written here) are skipped."""
        for directory in await asyncio.to_thread(_fan_out_directories, self._blobs):
            batch = await asyncio.to_thread(_blobs_in, directory)
            if batch:
                yield batch

    async def delete_blobs(self, digests: Sequence[Digest]) -> tuple[int, int]:
        """Delete the blobs' files, in a worker thread; returns how many files and bytes went (a file already gone
        counts for none). Readers that have one open read on."""
        root = str(self._blobs)
        paths = [os.path.join(root, d.algorithm, d.encoded[:2], d.encoded) for d in digests]
        return await asyncio.to_thread(_delete_files, paths)

    async def list_staged(self) -> list[StagedUpload]:
        """Every staged upload (the readiness probe's files aside)."""
        return await asyncio.to_thread(_staged_in, self._uploads)

    async def find_staged(self, upload_id: str) -> FileBlob | None:
        path = self._upload_path(upload_id)
        try:
            return FileBlob(path, os.stat(path).st_size)
        except FileNotFoundError:
            return None

    @contextlib.contextmanager
    def _discarded_when_full(self, upload_id: str) -> Iterator[None]:
        """Turn a write refused for lack of space into StorageFull, discarding the upload first: its staged bytes
        are freed now (once the caller closes its descriptor), not when the upload expires. The caller holds the
        upload's lock, so no other request is writing to it."""
        try:
            yield
        except OSError as error:
            if error.errno not in OUT_OF_SPACE:
                raise
            self._discard(upload_id)
            raise UploadDiscarded(upload_id) from error

    async def _lock_staged(self, upload_id: str, fd: int) -> None:
        """Take the upload's lock, then make sure `fd` still is the staged upload; raises BlobUploadUnknown.

        While this caller waited for the lock, another may have committed the upload (renamed the file into
        the blob tree) or aborted it: writing through `fd` would then alter a committed blob.
        """
        await _locked(fd)
        try:
            staged = os.stat(self._upload_path(upload_id))
        except FileNotFoundError:
            raise BlobUploadUnknown(upload_id) from None
        opened = os.fstat(fd)
        if (staged.st_dev, staged.st_ino) != (opened.st_dev, opened.st_ino):
            raise BlobUploadUnknown(upload_id)

    def _commit(self, upload_id: str, fd: int, digest: Digest) -> int:
        size = os.fstat(fd).st_size
        progress = self._progress.pop(upload_id, None)
        if digest.algorithm == CANONICAL and progress is not None and progress.size == size:
            actual = progress.hasher.hexdigest()
        else:
            actual = _hash_file(fd, digest.hasher(), size).hexdigest()
        staged = self._upload_path(upload_id)
        if actual != digest.encoded:
            staged.unlink(missing_ok=True)
            raise DigestInvalid(
                f"content digest {digest.algorithm}:{actual} does not match {digest}", {"digest": str(digest)}
            )
        target = self.blob_path(digest)
        if target.exists():
            staged.unlink(missing_ok=True)
            return size
        os.fsync(fd)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(staged, target)
        _fsync_directory(target.parent)
        return size

    def _verify(self, upload_id: str, fd: int, digest: Digest) -> None:
        """The staged file checked against `digest` (its running hash kept, for the commit to reuse) and fsynced."""
        size = os.fstat(fd).st_size
        if digest.algorithm == CANONICAL:
            actual = self._current_progress(upload_id, fd, size).hasher.hexdigest()
        else:
            actual = _hash_file(fd, digest.hasher(), size).hexdigest()
        if actual != digest.encoded:
            self._discard(upload_id)
            raise DigestInvalid(
                f"content digest {digest.algorithm}:{actual} does not match {digest}", {"digest": str(digest)}
            )
        os.fsync(fd)

    def _current_progress(self, upload_id: str, fd: int, size: int) -> _Progress:
        progress = self._progress.get(upload_id)
        if progress is None or progress.size != size:
            progress = _Progress()
            _hash_file(fd, progress.hasher, size)
            progress.size = size
            self._progress[upload_id] = progress
        return progress

    def _discard(self, upload_id: str) -> None:
        self._progress.pop(upload_id, None)
        with contextlib.suppress(FileNotFoundError):
            self._upload_path(upload_id).unlink()

    def _open_upload(self, upload_id: str, flags: int) -> int:
        try:
            return os.open(self._upload_path(upload_id), flags)
        except FileNotFoundError:
            raise BlobUploadUnknown(upload_id) from None

    def _upload_path(self, upload_id: str) -> Path:
        # The service admits only UUIDs, so an id never escapes the uploads directory.
        return self._uploads / upload_id


class StoreNotWritable(Exception):
    """The blob store cannot take new bytes."""


def _delete_files(paths: Sequence[str]) -> tuple[int, int]:
    files = freed = 0
    for path in paths:
        try:
            size = os.stat(path).st_size
            os.unlink(path)
        except FileNotFoundError:
            continue
        files += 1
        freed += size
    return files, freed


def _fan_out_directories(blobs: Path) -> list[Path]:
    return sorted(
        directory
        for algorithm in blobs.iterdir()
        if algorithm.is_dir()
        for directory in algorithm.iterdir()
        if directory.is_dir()
    )


def _blobs_in(directory: Path) -> list[tuple[Digest, int]]:
    found: list[tuple[Digest, int]] = []
    algorithm = directory.parent.name
    with os.scandir(directory) as entries:
        for entry in entries:
            try:
                found.append((Digest.parse(f"{algorithm}:{entry.name}"), entry.stat().st_size))
            except (InvalidDigest, FileNotFoundError):
                continue
    return found


def _staged_in(uploads: Path) -> list[StagedUpload]:
    found: list[StagedUpload] = []
    with os.scandir(uploads) as entries:
        for entry in entries:
            if entry.name.startswith(".ready-"):
                continue
            try:
                status = entry.stat()
            except FileNotFoundError:
                continue
            found.append(StagedUpload(entry.name, status.st_size, datetime.fromtimestamp(status.st_mtime, UTC)))
    return found


def _write_and_remove(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)


def _hash_file(fd: int, hasher: hashlib._Hash, size: int) -> hashlib._Hash:
    offset = 0
    while offset < size:
        data = os.pread(fd, min(READ_BYTES, size - offset), offset)
        if not data:
            break
        hasher.update(data)
        offset += len(data)
    return hasher


async def _locked(fd: int) -> None:
    """Take the upload's exclusive lock (released when `fd` closes), shared across worker processes."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        await _uninterrupted(asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX))


async def _uninterrupted(work: Awaitable[T]) -> T:
    """Await `work` to its end even if the caller is cancelled, then let the cancellation through.

    A thread writing to a file descriptor must finish before the descriptor is closed.
    """
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            await task
        raise


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
