"""Single-flight fills over a real FilesystemBlobStore, with an upstream made of bytes in memory."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pullcache.core.digests import Digest
from pullcache.pullthrough.errors import UpstreamNotFound
from pullcache.pullthrough.fills import BlobFills, Filling, fill_upload_id
from pullcache.registry.errors import BlobFillFailed, StorageFull
from pullcache.storage import filesystem
from pullcache.storage.filesystem import FilesystemBlobStore
from tests.memory_blobs import MemoryBlob, read_all


class Upstream:
    """Counts how often the blob is asked for; serves `served` (the digest is of `content`)."""

    def __init__(self, content: bytes, served: bytes | None = None, *, pause: float = 0.0) -> None:
        self.content = content
        self.served = content if served is None else served
        self.digest = Digest.of(content)
        self.opened = 0
        self.gate: asyncio.Event | None = None
        self.pause = pause
        self.missing = False

    @contextlib.asynccontextmanager
    async def open(self) -> AsyncIterator[MemoryBlob]:
        self.opened += 1
        if self.missing:
            raise UpstreamNotFound("no such blob", 404)
        yield MemoryBlob(self.served, self.gate, self.pause)


class Commits:
    def __init__(self) -> None:
        self.sizes: list[int] = []

    async def __call__(self, size: int) -> None:
        self.sizes.append(size)

    async def settled(self) -> list[int]:
        """The sizes committed, once the fill's commit callback ran (readers may finish a moment before)."""
        for _ in range(500):
            if self.sizes:
                break
            await asyncio.sleep(0.01)
        return self.sizes


def new_fills(root: Path) -> tuple[FilesystemBlobStore, BlobFills]:
    store = FilesystemBlobStore(root)
    return store, BlobFills(store, root / "fills", wait_timeout=10.0)


async def test_concurrent_readers_share_one_upstream_fetch_and_each_gets_every_byte(tmp_path: Path) -> None:
    upstream = Upstream(os.urandom(3 * 1024 * 1024 + 17), pause=0.001)
    store, fills = new_fills(tmp_path)
    commits = Commits()
    blobs = await asyncio.gather(*(fills.open(upstream.digest, upstream.open, commits) for _ in range(10)))
    bodies = await asyncio.gather(*(read_all(blob) for blob in blobs))
    assert upstream.opened == 1
    assert all(body == upstream.content for body in bodies)
    assert await commits.settled() == [len(upstream.content)]
    committed = await store.open_blob(upstream.digest)
    assert committed is not None
    assert committed.path.read_bytes() == upstream.content
    await fills.close()


async def test_a_fill_in_another_instance_is_followed_not_repeated(tmp_path: Path) -> None:
    """Two BlobFills over one directory stand for two worker processes: the flock decides who fetches."""
    upstream = Upstream(os.urandom(2 * 1024 * 1024), pause=0.001)
    upstream.gate = asyncio.Event()
    _, leader = new_fills(tmp_path)
    _, follower = new_fills(tmp_path)
    first = await leader.open(upstream.digest, upstream.open, Commits())
    second = await follower.open(upstream.digest, upstream.open, Commits())
    assert isinstance(second, Filling)
    reading = asyncio.ensure_future(read_all(second))
    await asyncio.sleep(0.05)
    assert not reading.done()  # the follower waits for bytes that have not arrived
    upstream.gate.set()
    assert await reading == upstream.content
    assert await read_all(first) == upstream.content
    assert upstream.opened == 1
    await leader.close()


async def test_corrupt_upstream_bytes_fail_every_reader_and_nothing_is_stored(tmp_path: Path) -> None:
    content = os.urandom(512 * 1024)
    corrupt = bytearray(content)
    corrupt[1000] ^= 0xFF
    upstream = Upstream(content, bytes(corrupt))
    store, fills = new_fills(tmp_path)
    blob = await fills.open(upstream.digest, upstream.open, Commits())
    assert isinstance(blob, Filling)
    received = bytearray()

    async def drain() -> None:
        async for chunk in blob.chunks(0, blob.size):
            received.extend(chunk)

    with pytest.raises(BlobFillFailed):
        await drain()
    assert len(received) < len(content)  # the last bytes are held back until the digest is known
    assert await store.open_blob(upstream.digest) is None
    assert await store.find_staged(fill_upload_id(upstream.digest)) is None


async def test_an_upstream_error_before_the_first_byte_reaches_the_caller(tmp_path: Path) -> None:
    upstream = Upstream(b"gone")
    upstream.missing = True
    _, fills = new_fills(tmp_path)
    with pytest.raises(UpstreamNotFound):
        await fills.open(upstream.digest, upstream.open, Commits())


async def test_a_reader_that_stops_early_does_not_abort_the_fill(tmp_path: Path) -> None:
    upstream = Upstream(os.urandom(1024 * 1024), pause=0.001)
    store, fills = new_fills(tmp_path)
    commits = Commits()
    blob = await fills.open(upstream.digest, upstream.open, commits)
    assert isinstance(blob, Filling)
    stream = blob.chunks(0, blob.size)
    await anext(stream)
    await stream.aclose()  # the client hung up
    done = await fills.open(upstream.digest, upstream.open, commits)
    if isinstance(done, Filling):
        await done.verdict()
    assert await commits.settled() == [len(upstream.content)]
    committed = await store.open_blob(upstream.digest)
    assert committed is not None
    assert committed.path.read_bytes() == upstream.content


async def test_a_range_of_a_blob_still_arriving_is_served(tmp_path: Path) -> None:
    upstream = Upstream(os.urandom(1024 * 1024 + 3), pause=0.001)
    _, fills = new_fills(tmp_path)
    blob = await fills.open(upstream.digest, upstream.open, Commits())
    assert await read_all(blob, 700_000, 1000) == upstream.content[700_000:701_000]
    await fills.close()


async def test_what_a_dead_process_left_behind_is_discarded_by_the_next_fill(tmp_path: Path) -> None:
    upstream = Upstream(os.urandom(300_000))
    store, fills = new_fills(tmp_path)
    await store.start_upload(fill_upload_id(upstream.digest))  # half a fill, whose process was killed
    staged = await store.find_staged(fill_upload_id(upstream.digest))
    assert staged is not None
    staged.path.write_bytes(b"partial")
    (tmp_path / "fills" / f"sha256-{upstream.digest.encoded}.lock").write_text("300000\n")
    blob = await fills.open(upstream.digest, upstream.open, Commits())
    assert await read_all(blob) == upstream.content
    assert upstream.opened == 1


# -- a full disk ----------------------------------------------------------------------------------------------


def fill_leftovers(root: Path) -> list[str]:
    """What fills and staged uploads left on disk."""
    return sorted(os.listdir(root / "uploads")) + sorted(os.listdir(root / "fills"))


async def test_a_fill_that_runs_out_of_space_is_discarded_at_once_and_never_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream = Upstream(os.urandom(2 * 1024 * 1024))
    upstream.gate = asyncio.Event()
    store, fills = new_fills(tmp_path)
    blob = await fills.open(upstream.digest, upstream.open, Commits())
    assert isinstance(blob, Filling)

    def disk_full(*_: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(filesystem._Progress, "write", disk_full)  # the first half landed; the rest will not
    upstream.gate.set()

    with pytest.raises(BlobFillFailed):
        await read_all(blob)
    await fills.close(grace=5.0)
    assert await store.open_blob(upstream.digest) is None
    assert fill_leftovers(tmp_path) == []


async def test_a_fill_that_cannot_start_for_lack_of_space_answers_its_puller_storage_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream = Upstream(b"no room to stage it")
    store, fills = new_fills(tmp_path)

    def touch(path: Path, exist_ok: bool = True) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "touch", touch)
    with pytest.raises(StorageFull, match="could not be cached") as refused:
        await fills.open(upstream.digest, upstream.open, Commits())

    assert refused.value.detail is None  # nothing of the fill's internal upload reaches the puller
    await fills.close(grace=5.0)
    assert await store.open_blob(upstream.digest) is None
    assert fill_leftovers(tmp_path) == []
