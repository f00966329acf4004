"""The /v2/ requests a puller makes, as `pullcache warm` needs them: the version check, a manifest, a blob read to
its end and thrown away.

Every body is checked: a manifest against its digest (when pulled by digest) and its media type, a blob against
its size and digest as it streams, so an image is called warm only when every byte arrived right. A blob's bytes
are never held: chunks are hashed, counted and dropped.

Failures are two exceptions: RegistryRefused (the registry answered an error: its OCI code and message) and
RegistryUnreachable (no answer: connection refused or cut, timeouts).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import aiohttp

from pullcache.core import mediatypes
from pullcache.core.digests import Digest

CACHE_STATUS: Final = "X-Cache"  # the server's: registry/api/cache_status.py
ACCEPT: Final = ", ".join(sorted(mediatypes.MANIFESTS))
MAX_MANIFEST_BYTES: Final = 8 << 20
CHUNK_BYTES: Final = 256 << 10


class RegistryRefused(Exception):
    """The registry answered `status` with an OCI error (its first `code` and `message`)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.status = status
        self.code = code
        self.message = message


class RegistryUnreachable(Exception):
    """No answer came: the connection was refused, cut, or timed out."""


class ContentMismatch(Exception):
    """The bytes that arrived are not the ones asked for (digest, size or media type)."""


@dataclass(frozen=True, slots=True)
class Manifest:
    content: bytes
    media_type: str | None  # as Content-Type states it
    digest: Digest
    cache: str | None  # the X-Cache header: HIT, MISS, or None when the registry says nothing


@dataclass(frozen=True, slots=True)
class DrainedBlob:
    size: int
    cache: str | None


class RegistryClient:
    """/v2/ of one registry (`base_url`: scheme://host[:port]), with one Authorization header for every request."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, authorization: str | None) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._headers = {"Authorization": authorization} if authorization else {}

    async def check(self) -> None:
        """GET /v2/: the registry answers and takes the credentials. Raises RegistryRefused, RegistryUnreachable."""
        try:
            async with self._session.get(f"{self.base_url}/v2/", headers=self._headers) as response:
                if response.status != 200:
                    raise await _refusal(response)
                await response.read()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise RegistryUnreachable(_reason(error)) from None

    async def get_manifest(self, repository: str, reference: str) -> Manifest:
        """Raises RegistryRefused, RegistryUnreachable, ContentMismatch (a manifest by digest that is other bytes,
        or one past MAX_MANIFEST_BYTES)."""
        url = f"{self.base_url}/v2/{repository}/manifests/{reference}"
        try:
            async with self._session.get(url, headers={**self._headers, "Accept": ACCEPT}) as response:
                if response.status != 200:
                    raise await _refusal(response)
                content = await response.content.read(MAX_MANIFEST_BYTES + 1)
                if len(content) > MAX_MANIFEST_BYTES:
                    raise ContentMismatch(f"the manifest {reference} is larger than {MAX_MANIFEST_BYTES} bytes")
                media_type = response.headers.get("Content-Type")
                cache = response.headers.get(CACHE_STATUS)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise RegistryUnreachable(_reason(error)) from None
        if ":" in reference:
            digest = Digest.parse(reference)
            if Digest.of(content, digest.algorithm) != digest:
                raise ContentMismatch(f"the manifest {reference} arrived as other bytes")
        else:
            digest = Digest.of(content)
        return Manifest(content, media_type, digest, cache)

    async def drain_blob(
        self, repository: str, digest: Digest, size: int, on_bytes: Callable[[int], None]
    ) -> DrainedBlob:
        """GET the blob and read it to its end, calling `on_bytes` with each chunk's length; nothing is kept.
        Raises RegistryRefused, RegistryUnreachable, ContentMismatch."""
        url = f"{self.base_url}/v2/{repository}/blobs/{digest}"
        hasher = digest.hasher()
        received = 0
        try:
            async with self._session.get(url, headers=self._headers) as response:
                if response.status != 200:
                    raise await _refusal(response)
                cache = response.headers.get(CACHE_STATUS)
                async for chunk in response.content.iter_chunked(CHUNK_BYTES):
                    hasher.update(chunk)
                    received += len(chunk)
                    on_bytes(len(chunk))
        except (aiohttp.ClientError, TimeoutError) as error:
            raise RegistryUnreachable(f"{digest} cut off after {received} bytes: {_reason(error)}") from None
        if received != size:
            raise ContentMismatch(f"the blob {digest} is {received} bytes, its manifest says {size}")
        if hasher.hexdigest() != digest.encoded:
            raise ContentMismatch(f"the blob {digest} arrived as other bytes")
        return DrainedBlob(received, cache)


async def _refusal(response: aiohttp.ClientResponse) -> RegistryRefused:
    """The OCI error of a response that is not the success asked for (its first error; the status otherwise)."""
    body = await response.content.read(64 << 10)
    try:
        first = json.loads(body)["errors"][0]
        return RegistryRefused(response.status, str(first.get("code", "")), str(first.get("message", "")))
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return RegistryRefused(response.status, f"HTTP {response.status}", response.reason or "")


def _reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, aiohttp.ClientConnectorError):
        cause = error.os_error
        reason = os.strerror(cause.errno) if cause.errno else str(cause)  # asyncio's own text repeats the address
        return f"cannot connect to {error.host}:{error.port}: {reason}"
    return str(error) or type(error).__name__
