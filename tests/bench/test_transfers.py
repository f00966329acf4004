"""The benchmark's transfers against real registries on loopback: what it pushes pulls back, the registry
verifies every digest pushed, and the client verifies every digest pulled."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.fileserver import FileServer
from bench.image import BlobFile, Image, write_image, write_random_blob
from bench.transfers import connect, fetch_verified, hash_files, pull_image, push_blob, push_image
from testkit.registry_client import TransferError
from testkit.servers import DistributionServer, PullcacheServer

REGISTRIES = ["pullcache", "distribution"]
KIB = 1024


@pytest.fixture
def image(tmp_path: Path) -> Image:
    return write_image(tmp_path / "image", layer_count=3, layer_size=64 * KIB)


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[FileServer]:
    server = FileServer(tmp_path / "image").start()
    yield server
    server.stop()


def registry_url(request: pytest.FixtureRequest, name: str) -> str:
    server: PullcacheServer | DistributionServer = request.getfixturevalue(name)
    return server.url


def corrupt(blob: BlobFile) -> BlobFile:
    """Change the first byte of the blob's file, so that it no longer matches its digest."""
    content = bytearray(blob.path.read_bytes())
    content[0] ^= 0xFF
    blob.path.write_bytes(bytes(content))
    return blob


@pytest.mark.parametrize("registry", REGISTRIES)
async def test_pushed_image_pulls_back_byte_for_byte(
    request: pytest.FixtureRequest, registry: str, image: Image
) -> None:
    url = registry_url(request, registry)
    async with connect(url) as client:
        await push_image(client, "bench/image", "v1", image)
        await pull_image(client, "bench/image", "v1", image)


@pytest.mark.parametrize("registry", REGISTRIES)
async def test_push_of_bytes_that_do_not_match_the_digest_is_refused_by_the_registry(
    request: pytest.FixtureRequest, registry: str, tmp_path: Path
) -> None:
    url = registry_url(request, registry)
    blob = corrupt(write_random_blob(tmp_path / "blobs", 64 * KIB))
    async with connect(url) as client:
        with pytest.raises(TransferError, match="answered 400"):
            await push_blob(client, "bench/image", blob)


async def test_pull_of_bytes_that_do_not_match_the_digest_raises(file_server: FileServer, image: Image) -> None:
    layer = corrupt(image.layers[0])
    async with connect(file_server.url) as client:
        await fetch_verified(client, f"{file_server.url}/{image.layers[1].path.name}", image.layers[1])
        with pytest.raises(TransferError, match="expected"):
            await fetch_verified(client, f"{file_server.url}/{layer.path.name}", layer)


async def test_pull_of_a_missing_blob_raises(file_server: FileServer, image: Image) -> None:
    async with connect(file_server.url) as client:
        with pytest.raises(TransferError, match="answered 404"):
            await fetch_verified(client, f"{file_server.url}/absent", image.layers[0])


async def test_hashing_from_the_page_cache_notices_a_changed_file(image: Image) -> None:
    await hash_files(image.blobs)
    corrupt(image.layers[2])

    with pytest.raises(TransferError, match="no longer holds"):
        await hash_files(image.blobs)
