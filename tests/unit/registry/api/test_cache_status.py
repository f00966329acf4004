"""The X-Cache label of blob answers: MISS only for a blob still arriving from the upstream."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from pathlib import Path

from pullcache.registry.api.cache_status import HIT, MISS, blob_cache_status, manifest_cache_status
from pullcache.registry.ports import BlobUrl, GrowingFile
from pullcache.storage.filesystem import FileBlob
from tests.memory_blobs import BytesBlob


class ArrivingBlob:
    """A blob whose file is still growing, as a pull-through fill's is (pullthrough/filling.py)."""

    size = 10
    fileno = -1

    async def chunks(self, start: int, length: int) -> AsyncGenerator[bytes]:
        yield b""

    def local_file(self) -> GrowingFile:
        return self

    async def sendable(self, position: int, end: int) -> int:
        return end

    async def url(self) -> BlobUrl | None:
        return None

    def close(self) -> None:
        pass


def test_a_blob_still_arriving_is_a_miss_and_one_the_registry_holds_a_hit(tmp_path: Path) -> None:
    assert blob_cache_status(ArrivingBlob()) == MISS
    assert blob_cache_status(FileBlob(tmp_path / "blob", 10)) == HIT
    assert blob_cache_status(BytesBlob(b"held elsewhere")) == HIT


def test_a_manifest_is_a_miss_when_the_source_supplied_it() -> None:
    assert manifest_cache_status(fetched=True) == MISS
    assert manifest_cache_status(fetched=False) == HIT
