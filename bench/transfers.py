"""A fast OCI client over aiohttp: pushes stream blobs from files, pulls hash what they read.

Pushes are POST-then-PUT monolithic uploads (the form every registry accepts), all blobs of an image at
once, each PUT naming the digest the server must verify. Pulls fetch every blob at once and check each
against its digest; hashing runs in worker threads (hashlib releases the GIL), so it overlaps the reading.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import aiohttp

from bench.image import OCI_MANIFEST, BlobFile, Image

CHUNK_BYTES = 4 << 20  # read from disk, and hash, this much at a time
READ_BUFFER_BYTES = 4 << 20  # how much a response may buffer before the client stops reading the socket
TIMEOUT = aiohttp.ClientTimeout(total=600, sock_connect=10)


class TransferError(RuntimeError):
    """A registry refused a request, or served bytes that do not match their digest."""


def open_session(connections: int = 32, headers: dict[str, str] | None = None) -> aiohttp.ClientSession:
    """A session for one registry; `headers` go with every request (an Authorization, say)."""
    return aiohttp.ClientSession(
        headers=headers,
        connector=aiohttp.TCPConnector(limit=connections),
        timeout=TIMEOUT,
        read_bufsize=READ_BUFFER_BYTES,
        auto_decompress=False,
    )


async def push_image(session: aiohttp.ClientSession, base_url: str, repository: str, tag: str, image: Image) -> None:
    """Upload every blob of `image` concurrently, then its manifest under `tag`."""
    await asyncio.gather(*(push_blob(session, base_url, repository, blob) for blob in image.blobs))
    await push_manifest(session, base_url, repository, tag, image.manifest, image.media_type)


async def push_blob(session: aiohttp.ClientSession, base_url: str, repository: str, blob: BlobFile) -> None:
    async with session.post(f"{base_url}/v2/{repository}/blobs/uploads/") as started:
        await _expect(started, 202)
        location = started.headers["Location"]
    upload_url = location if location.startswith("http") else base_url + location
    async with session.put(
        upload_url,
        params={"digest": blob.digest},
        data=_file_chunks(blob.path, blob.size),
        headers={"Content-Type": "application/octet-stream", "Content-Length": str(blob.size)},
    ) as committed:
        await _expect(committed, 201)
        _expect_digest(committed, blob.digest)


async def push_manifest(
    session: aiohttp.ClientSession,
    base_url: str,
    repository: str,
    reference: str,
    manifest: bytes,
    media_type: str = OCI_MANIFEST,
) -> None:
    async with session.put(
        f"{base_url}/v2/{repository}/manifests/{reference}",
        data=manifest,
        headers={"Content-Type": media_type},
    ) as stored:
        await _expect(stored, 201)


async def pull_image(session: aiohttp.ClientSession, base_url: str, repository: str, tag: str, image: Image) -> None:
    """Fetch the manifest by `tag`, then every blob it names concurrently, each checked against its digest."""
    async with session.get(
        f"{base_url}/v2/{repository}/manifests/{tag}", headers={"Accept": image.media_type}
    ) as response:
        await _expect(response, 200)
        if await response.read() != image.manifest:
            raise TransferError(f"the manifest under {tag} is not the one pushed")
    await asyncio.gather(
        *(fetch_verified(session, f"{base_url}/v2/{repository}/blobs/{blob.digest}", blob) for blob in image.blobs)
    )


async def pull_index(
    session: aiohttp.ClientSession,
    base_url: str,
    repository: str,
    tag: str,
    index: tuple[bytes, str],
    images: Sequence[Image],
) -> None:
    """Fetch the index (its document and media type) by `tag`, then each platform's manifest by digest and its
    blobs, all checked; the platforms are pulled at once, as a client that copies every platform does."""
    document, media_type = index
    accept = {"Accept": ", ".join(dict.fromkeys([media_type, *(image.media_type for image in images)]))}
    async with session.get(f"{base_url}/v2/{repository}/manifests/{tag}", headers=accept) as response:
        await _expect(response, 200)
        if await response.read() != document:
            raise TransferError(f"the index under {tag} is not the one pushed")

    async def pull_platform(image: Image) -> None:
        url = f"{base_url}/v2/{repository}/manifests/{image.manifest_digest}"
        async with session.get(url, headers=accept) as response:
            await _expect(response, 200)
            if await response.read() != image.manifest:
                raise TransferError(f"the manifest {image.manifest_digest} is not the one pushed")
        await asyncio.gather(
            *(fetch_verified(session, f"{base_url}/v2/{repository}/blobs/{blob.digest}", blob) for blob in image.blobs)
        )

    await asyncio.gather(*(pull_platform(image) for image in images))


async def fetch_verified(session: aiohttp.ClientSession, url: str, blob: BlobFile) -> float:
    """GET `url`, hashing the body as it arrives; raises TransferError unless it is exactly `blob`. Returns the
    seconds from sending the request to the first byte of the body."""
    hasher = hashlib.sha256()
    size = 0
    started = time.perf_counter()
    first_byte = 0.0
    async with session.get(url) as response:
        await _expect(response, 200)
        pending: list[bytes] = []
        pending_bytes = 0
        async for data in response.content.iter_any():
            if not first_byte:
                first_byte = time.perf_counter() - started
            pending.append(data)
            pending_bytes += len(data)
            if pending_bytes >= CHUNK_BYTES:
                await asyncio.to_thread(hasher.update, b"".join(pending))
                size += pending_bytes
                pending.clear()
                pending_bytes = 0
        hasher.update(b"".join(pending))
        size += pending_bytes
    digest = "sha256:" + hasher.hexdigest()
    if size != blob.size or digest != blob.digest:
        raise TransferError(f"{url} served {size} bytes with digest {digest}, expected {blob.size} {blob.digest}")
    return first_byte


async def hash_files(blobs: tuple[BlobFile, ...]) -> None:
    """Hash every blob from the page cache, concurrently, as a pull would: the client's ceiling without a network."""
    await asyncio.gather(*(asyncio.to_thread(_check_file, blob) for blob in blobs))


def _check_file(blob: BlobFile) -> None:
    hasher = hashlib.sha256()
    fd = os.open(blob.path, os.O_RDONLY)
    try:
        offset = 0
        while data := os.pread(fd, CHUNK_BYTES, offset):
            hasher.update(data)
            offset += len(data)
    finally:
        os.close(fd)
    if "sha256:" + hasher.hexdigest() != blob.digest:
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


async def _expect(response: aiohttp.ClientResponse, status: int) -> None:
    if response.status != status:
        body = await response.text(errors="replace")
        raise TransferError(f"{response.method} {response.url} answered {response.status}, not {status}: {body[:500]}")


def _expect_digest(response: aiohttp.ClientResponse, digest: str) -> None:
    answered = response.headers.get("Docker-Content-Digest")
    if answered != digest:
        raise TransferError(f"{response.url} stored {answered}, expected {digest}")
