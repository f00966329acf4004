"""What the benchmark times: images pushed from files and pulled back over testkit's RegistryClient, every byte
checked.

Pushes are POST-then-PUT monolithic uploads (the form every registry accepts), all blobs of an image at once,
each PUT streaming its file and naming the digest the server must verify. Pulls fetch every blob at once and
check each against its digest; the client hashes in worker threads (hashlib releases the GIL), so hashing
overlaps the reading. Any refusal or mismatch raises testkit's TransferError.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp

from bench.image import BlobFile, Image
from testkit.hashing import Sha256Tap
from testkit.registry_client import Content, RegistryClient, TransferError

CHUNK_BYTES = 4 << 20  # read from disk, and hash, this much at a time
TIMEOUT = aiohttp.ClientTimeout(total=600, sock_connect=10)
CONNECTIONS = 32


@asynccontextmanager
async def connect(
    base_url: str, *, connections: int = CONNECTIONS, headers: Mapping[str, str] | None = None
) -> AsyncIterator[RegistryClient]:
    """A client of the registry at `base_url` (or of a file server: `fetch_verified` takes any URL); `headers`
    go with every request (an Authorization, say)."""
    async with RegistryClient.connect(
        base_url, headers=headers, connections=connections, request_timeout=TIMEOUT
    ) as client:
        yield client


async def push_image(client: RegistryClient, repository: str, tag: str, image: Image) -> None:
    """Upload every blob of `image` concurrently, then its manifest under `tag`."""
    await asyncio.gather(*(push_blob(client, repository, blob) for blob in image.blobs))
    await push_manifest(client, repository, tag, image.manifest, image.media_type)


async def push_blob(client: RegistryClient, repository: str, blob: BlobFile) -> None:
    """POST, then PUT the blob's file streamed; the registry must commit it under its digest."""
    location = await client.start_upload(repository)
    committed = await client.complete_upload(
        location, blob.digest, _file_chunks(blob.path, blob.size), length=blob.size
    )
    if committed != blob.digest:
        raise TransferError(f"{location} stored {committed}, expected {blob.digest}")


async def push_manifest(
    client: RegistryClient, repository: str, reference: str, manifest: bytes, media_type: str
) -> None:
    await client.push_manifest(repository, Content(media_type, manifest), reference)


async def pull_image(client: RegistryClient, repository: str, tag: str, image: Image) -> None:
    """Fetch the manifest by `tag`, then every blob it names concurrently, each checked against its digest."""
    document, _ = await client.get_manifest(repository, tag, accept=image.media_type)
    if document != image.manifest:
        raise TransferError(f"the manifest under {tag} is not the one pushed")
    await asyncio.gather(*(fetch_verified(client, _blob_path(repository, blob), blob) for blob in image.blobs))


async def pull_index(
    client: RegistryClient, repository: str, tag: str, index: tuple[bytes, str], images: Sequence[Image]
) -> None:
    """Fetch the index (its document and media type) by `tag`, then each platform's manifest by digest and its
    blobs, all checked; the platforms are pulled at once, as a client that copies every platform does."""
    document, media_type = index
    accept = ", ".join(dict.fromkeys([media_type, *(image.media_type for image in images)]))
    pulled, _ = await client.get_manifest(repository, tag, accept=accept)
    if pulled != document:
        raise TransferError(f"the index under {tag} is not the one pushed")

    async def pull_platform(image: Image) -> None:
        manifest, _ = await client.get_manifest(repository, image.manifest_digest, accept=accept)
        if manifest != image.manifest:
            raise TransferError(f"the manifest {image.manifest_digest} is not the one pushed")
        await asyncio.gather(*(fetch_verified(client, _blob_path(repository, blob), blob) for blob in image.blobs))

    await asyncio.gather(*(pull_platform(image) for image in images))


async def fetch_verified(client: RegistryClient, url: str, blob: BlobFile) -> float:
    """GET `url` (a path of the client's registry, or any absolute URL), hashing the body as it arrives; raises
    TransferError unless it is exactly `blob`. Returns the seconds from sending the request to the first byte of
    the body."""
    received = await client.download(url)
    if received.size != blob.size or received.digest != blob.digest:
        raise TransferError(
            f"{url} served {received.size} bytes with digest {received.digest}, expected {blob.size} {blob.digest}"
        )
    return received.first_byte_seconds


async def hash_files(blobs: tuple[BlobFile, ...]) -> None:
    """Hash every blob from the page cache, concurrently, as a pull would: the client's ceiling without a network."""
    await asyncio.gather(*(asyncio.to_thread(_check_file, blob) for blob in blobs))


def _blob_path(repository: str, blob: BlobFile) -> str:
    return f"/v2/{repository}/blobs/{blob.digest}"


def _check_file(blob: BlobFile) -> None:
    tap = Sha256Tap()
    fd = os.open(blob.path, os.O_RDONLY)
    try:
        while data := os.pread(fd, CHUNK_BYTES, tap.size):
            tap.update(data)
    finally:
        os.close(fd)
    if tap.digest != blob.digest:
        raise TransferError(f"{blob.path} no longer holds {blob.digest}")


async def _file_chunks(path: Path, size: int) -> AsyncIterator[bytes]:
    fd = os.open(path, os.O_RDONLY)
    try:
        offset = 0
        while offset < size:
            data = await asyncio.to_thread(os.pread, fd, min(CHUNK_BYTES, size - offset), offset)
            if not data:
                raise TransferError(f"{path} ended after {offset} of {size} bytes")
            yield data
            offset += len(data)
    finally:
        os.close(fd)
