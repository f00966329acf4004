"""FilesystemBlobStore on a full disk: a write refused for lack of space (ENOSPC, or EDQUOT past a quota) raises
StorageFull and discards the upload at once, so its staged bytes do not hold the disk full until it expires.

The refusals are injected (a writer that fails part-way), and then real (a tmpfs of 1 MiB, where mounting is
allowed).
"""

from __future__ import annotations

import errno
import os
import uuid
from pathlib import Path
from typing import Final

import pytest

from pullcache.core.digests import Digest
from pullcache.registry.errors import BlobUploadUnknown, StorageFull
from pullcache.storage import filesystem
from pullcache.storage.filesystem import FilesystemBlobStore
from tests.stores import chunks, read_blob
from tests.tmpfs import mounted_tmpfs, used_bytes

MIB: Final = 1 << 20
WRITTEN_BEFORE_THE_DISK_FILLS: Final = 4096


@pytest.fixture
def store(tmp_path: Path) -> FilesystemBlobStore:
    return FilesystemBlobStore(tmp_path / "store")


def staged_files(tmp_path: Path) -> list[str]:
    return os.listdir(tmp_path / "store" / "uploads")


async def start(store: FilesystemBlobStore) -> str:
    upload_id = str(uuid.uuid4())
    await store.start_upload(upload_id)
    return upload_id


def disk_fills_up(monkeypatch: pytest.MonkeyPatch, code: int = errno.ENOSPC) -> None:
    """Every write of a staged upload lands a few bytes, then is refused with `code`."""

    def write(progress: object, fd: int, data: bytes) -> None:
        os.write(fd, data[:WRITTEN_BEFORE_THE_DISK_FILLS])
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(filesystem._Progress, "write", write)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT], ids=["disk-full", "quota-exceeded"])
async def test_a_chunk_refused_for_lack_of_space_discards_the_upload(
    store: FilesystemBlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    upload_id = await start(store)
    await store.append(upload_id, 0, chunks(b"first chunk"))
    disk_fills_up(monkeypatch, code)

    with pytest.raises(StorageFull) as refused:
        await store.append(upload_id, None, chunks(b"x" * (2 * MIB)))

    assert "started again" in refused.value.message
    assert refused.value.detail == {"uuid": upload_id}
    assert await store.upload_size(upload_id) is None
    assert staged_files(tmp_path) == []
    with pytest.raises(BlobUploadUnknown):
        await store.append(upload_id, None, chunks(b"more"))


async def test_a_small_last_chunk_refused_for_lack_of_space_discards_the_upload_too(
    store: FilesystemBlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    upload_id = await start(store)
    disk_fills_up(monkeypatch)

    with pytest.raises(StorageFull):
        await store.append(upload_id, 0, chunks(b"a small tail, written on the event loop"))

    assert staged_files(tmp_path) == []


async def test_another_write_error_keeps_the_upload(
    store: FilesystemBlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    upload_id = await start(store)
    disk_fills_up(monkeypatch, errno.EIO)

    with pytest.raises(OSError, match="Input/output error"):
        await store.append(upload_id, 0, chunks(b"x" * MIB))

    assert staged_files(tmp_path) == [upload_id]


async def test_a_commit_refused_for_lack_of_space_discards_the_upload_and_stores_no_blob(
    store: FilesystemBlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = b"verified, then no room to keep it"
    upload_id = await start(store)
    await store.append(upload_id, 0, chunks(data))

    def fsync(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(StorageFull):
        await store.commit(upload_id, Digest.of(data))

    assert staged_files(tmp_path) == []
    assert await store.open_blob(Digest.of(data)) is None


async def test_an_upload_that_cannot_be_started_for_lack_of_space_leaves_nothing(
    store: FilesystemBlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def touch(path: Path, exist_ok: bool = True) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "touch", touch)
    with pytest.raises(StorageFull, match="not started"):
        await start(store)

    assert staged_files(tmp_path) == []


async def test_on_a_full_tmpfs_the_refused_upload_gives_its_space_back_and_the_store_goes_on(tmp_path: Path) -> None:
    with mounted_tmpfs(tmp_path / "disk", MIB) as disk:
        store = FilesystemBlobStore(disk)
        kept = b"committed before the disk filled"
        kept_upload = await start(store)
        await store.append(kept_upload, 0, chunks(kept))
        await store.commit(kept_upload, Digest.of(kept))
        before = used_bytes(disk)
        upload_id = await start(store)

        with pytest.raises(StorageFull):
            await store.append(upload_id, 0, chunks(*[b"y" * (256 * 1024)] * 8))  # 2 MiB on a 1 MiB disk

        assert os.listdir(disk / "uploads") == []
        assert used_bytes(disk) == before
        assert await read_blob(store, Digest.of(kept)) == kept
        small = b"fits again"
        again = await start(store)
        await store.append(again, 0, chunks(small))
        assert await store.commit(again, Digest.of(small)) == len(small)
