"""An OCI Distribution client for tests that move a lot of bytes or make a lot of requests.

Unlike registry_client.py, which reads every answer whole for protocol assertions, this one streams request
bodies from async iterables and hashes pulled blobs as they arrive, so a test never holds a large blob in
memory. Each push and pull step is one method that checks the status the spec promises for it, and every
status the server answers is recorded, so a test can assert on all of them.
"""

from __future__ import annotations

import enum
import io
import json
from collections.abc import AsyncIterable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy

from tests.integration.content import MIB, Sha256Tap, streamed

OCTET_STREAM = "application/octet-stream"
# Generous for one request of a few hundred mebibytes over loopback; a hung server still fails the test.
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=120, sock_connect=10)


class UnexpectedStatus(AssertionError):
    def __init__(self, method: str, url: str, status: int, expected: Collection[int], body: bytes) -> None:
        super().__init__(f"{method} {url} answered {status}, expected {sorted(expected)}: {body[:500]!r}")
        self.status = status


class UploadStyle(enum.Enum):
    """The ways the spec lets a client push a blob."""

    MONOLITHIC = "POST with ?digest="
    POST_PUT = "POST, then PUT with the body"
    CHUNKED = "POST, PATCH chunks, then PUT"


@dataclass(frozen=True, slots=True)
class PulledBlob:
    status: int
    digest: str  # of the bytes received
    size: int
    headers: CIMultiDictProxy[str]


def staged_bytes(range_header: str) -> int:
    """How many bytes an upload holds, from the `Range: 0-<last>` of an upload response."""
    first, _, last = range_header.partition("-")
    assert first == "0", f"upload Range {range_header!r} does not start at 0"
    assert last.isdigit(), f"malformed upload Range {range_header!r}"
    return int(last) + 1


class StreamingClient:
    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self._session = session
        self._base_url = base_url
        self.statuses: list[int] = []

    # -- blob uploads --------------------------------------------------------------------------------------

    async def start_upload(self, repository: str) -> str:
        """POST a new upload; returns its location."""
        headers, _ = await self._call("POST", f"/v2/{repository}/blobs/uploads/", expect={202})
        return headers["Location"]

    async def upload_chunk(self, location: str, start: int, length: int, body: AsyncIterable[bytes]) -> int:
        """PATCH `length` bytes at `start`; returns how many bytes the upload holds afterwards."""
        headers, _ = await self._call(
            "PATCH",
            location,
            expect={202},
            data=body,
            headers={
                "Content-Range": f"{start}-{start + length - 1}",
                "Content-Length": str(length),
                "Content-Type": OCTET_STREAM,
            },
        )
        return staged_bytes(headers["Range"])

    async def upload_status(self, location: str) -> int:
        """GET the upload's status; returns how many bytes it holds."""
        headers, _ = await self._call("GET", location, expect={204})
        return staged_bytes(headers["Range"])

    async def complete_upload(self, location: str, digest: str, body: bytes = b"") -> str:
        """PUT `?digest=`, with an optional last chunk; returns the digest the registry committed."""
        headers, _ = await self._call(
            "PUT",
            location,
            expect={201},
            params={"digest": digest},
            data=io.BytesIO(body),  # aiohttp sends a file-like body in pieces
            headers={"Content-Type": OCTET_STREAM},
        )
        return headers["Docker-Content-Digest"]

    async def push_blob(self, repository: str, data: bytes, digest: str, style: UploadStyle) -> str:
        """Push a small blob the way `style` says; returns the digest the registry committed."""
        if style is UploadStyle.MONOLITHIC:
            headers, _ = await self._call(
                "POST",
                f"/v2/{repository}/blobs/uploads/",
                expect={201},
                params={"digest": digest},
                data=io.BytesIO(data),  # aiohttp sends a file-like body in pieces
                headers={"Content-Type": OCTET_STREAM},
            )
            return headers["Docker-Content-Digest"]
        location = await self.start_upload(repository)
        if style is UploadStyle.POST_PUT:
            return await self.complete_upload(location, digest, data)
        chunk = max(len(data) // 3, 1)  # a few chunks, each possibly served by another connection
        for start in range(0, len(data), chunk):
            piece = data[start : start + chunk]
            await self.upload_chunk(location, start, len(piece), streamed([piece]))
        return await self.complete_upload(location, digest)

    # -- blob reads ----------------------------------------------------------------------------------------

    async def pull_blob(self, repository: str, digest: str, byte_range: str | None = None) -> PulledBlob:
        """GET a blob (or the `Range: bytes=...` asked for), hashing it as it arrives."""
        headers = {"Range": byte_range} if byte_range is not None else {}
        url = self._url(f"/v2/{repository}/blobs/{digest}")
        async with self._session.get(url, headers=headers, timeout=REQUEST_TIMEOUT) as response:
            self.statuses.append(response.status)
            expected = {200} if byte_range is None else {206}
            if response.status not in expected:
                raise UnexpectedStatus("GET", url, response.status, expected, await response.read())
            tap = Sha256Tap()
            async for piece in response.content.iter_chunked(MIB):
                tap.update(piece)
            return PulledBlob(response.status, tap.digest, tap.size, response.headers)

    async def blob_status(self, repository: str, digest: str) -> int:
        """The status of a GET of the blob, whatever it is."""
        async with self._session.get(
            self._url(f"/v2/{repository}/blobs/{digest}"), timeout=REQUEST_TIMEOUT
        ) as response:
            self.statuses.append(response.status)
            await response.content.readany()  # a committed blob's bytes are not wanted here
            return response.status

    # -- manifests and discovery ---------------------------------------------------------------------------

    async def put_manifest(self, repository: str, reference: str, content: bytes, media_type: str) -> str:
        headers, _ = await self._call(
            "PUT",
            f"/v2/{repository}/manifests/{reference}",
            expect={201},
            data=content,
            headers={"Content-Type": media_type},
        )
        return headers["Docker-Content-Digest"]

    async def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str]:
        """The manifest's bytes and the digest the registry states for it."""
        headers, body = await self._call("GET", f"/v2/{repository}/manifests/{reference}", expect={200})
        return body, headers["Docker-Content-Digest"]

    async def list_tags(self, repository: str) -> Sequence[str]:
        _, body = await self._call("GET", f"/v2/{repository}/tags/list", expect={200})
        tags: list[str] = json.loads(body)["tags"]
        return tags

    async def catalog(self) -> Sequence[str]:
        _, body = await self._call("GET", "/v2/_catalog", expect={200})
        repositories: list[str] = json.loads(body)["repositories"]
        return repositories

    # -- plumbing ------------------------------------------------------------------------------------------

    async def _call(
        self, method: str, location: str, *, expect: Collection[int], **kwargs: Any
    ) -> tuple[CIMultiDictProxy[str], bytes]:
        url = self._url(location)
        async with self._session.request(method, url, timeout=REQUEST_TIMEOUT, **kwargs) as response:
            self.statuses.append(response.status)
            body = await response.read()
            if response.status not in expect:
                raise UnexpectedStatus(method, url, response.status, expect, body)
            return response.headers, body

    def _url(self, location: str) -> str:
        """`location` as an absolute URL: the registry answers with paths."""
        return location if location.startswith("http") else self._base_url + location
