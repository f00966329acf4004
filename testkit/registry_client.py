"""The OCI Distribution client of the tests and the benchmark alike, over one aiohttp session.

Three kinds of call:
- `request` sends anything and reads the answer whole into a `Reply`, for tests that assert on status, headers
  and bytes. It sends only the headers named (no automatic Content-Type) and never follows a redirect.
- the steps of a push or a pull (`start_upload` ... `catalog`) expect the status the spec promises for them and
  raise `TransferError` on any other.
- `download` streams a body and hashes it as it arrives, in worker threads (hashlib releases the GIL, so hashing
  overlaps reading): neither a test nor the benchmark holds a large blob, and the benchmark's pulls run at the
  speed of the network and the hash, not of the event loop.

Every status the registry answers is recorded in `statuses`, so a test can assert on all of them. The blocking face
for tests without an event loop is sync_client.py.
"""

from __future__ import annotations

import asyncio
import enum
import io
import time
from collections.abc import AsyncIterable, AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from pullcache.core.digests import Digest
from testkit.content import streamed
from testkit.hashing import Sha256Tap
from testkit.reply import DIGEST_HEADER, Reply

OCTET_STREAM: Final = "application/octet-stream"
# A request of a protocol test: a hung server fails the test rather than hanging it.
REQUEST_TIMEOUT: Final = aiohttp.ClientTimeout(total=20)
# Generous for one request of a few hundred mebibytes over loopback; a hung server still fails the test.
TRANSFER_TIMEOUT: Final = aiohttp.ClientTimeout(total=120, sock_connect=10)
CONNECTIONS: Final = 100  # aiohttp's own default
HASH_BYTES: Final = 4 << 20  # a download is hashed this much at a time, in a worker thread
READ_BUFFER_BYTES: Final = 4 << 20  # how much a response may buffer before the client stops reading the socket

Body = bytes | AsyncIterable[bytes] | None


class TransferError(AssertionError):
    """A registry answered a status the step does not expect, or served bytes that do not match their digest.

    An AssertionError, so that a test stopped by one reads as a failed expectation.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class UploadStyle(enum.Enum):
    """The ways the spec lets a client push a blob."""

    MONOLITHIC = "POST with ?digest="
    POST_PUT = "POST, then PUT with the body"
    CHUNKED = "POST, PATCH chunks, then PUT"


@dataclass(frozen=True, slots=True)
class Content:
    """A blob or manifest: its bytes and media type, from which its descriptor follows."""

    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        return str(Digest.of(self.data))

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data), **extra}


@dataclass(frozen=True, slots=True)
class Download:
    """What a streamed GET received: never the bytes themselves, only their digest and size."""

    status: int
    digest: str  # of the bytes received
    size: int
    headers: CIMultiDictProxy[str]
    first_byte_seconds: float  # from sending the request to the first byte of the body


def chunk_range(start: int, data: bytes) -> str:
    """The `Content-Range` of an upload chunk of `data` starting at `start`: `start-end`, no unit."""
    return f"{start}-{start + len(data) - 1}"


def _staged_bytes(range_header: str) -> int:
    """How many bytes an upload holds, from the `Range: 0-<last>` of an upload response."""
    first, _, last = range_header.partition("-")
    assert first == "0", f"upload Range {range_header!r} does not start at 0"
    assert last.isdigit(), f"malformed upload Range {range_header!r}"
    return int(last) + 1


class RegistryClient:
    """Requests to one registry (and, by absolute URL, anywhere else) over one session."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        self._base = URL(base_url)
        self._session = session
        self.statuses: list[int] = []

    @classmethod
    @asynccontextmanager
    async def connect(
        cls,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        connections: int = CONNECTIONS,
        request_timeout: aiohttp.ClientTimeout = REQUEST_TIMEOUT,
    ) -> AsyncIterator[RegistryClient]:
        """A client over a session of its own; `headers` go with every request (an Authorization, say), at most
        `connections` are open at once, and each request is bounded by `request_timeout` (REQUEST_TIMEOUT for
        protocol tests, TRANSFER_TIMEOUT for large bodies). Bodies arrive as served: never decompressed, since
        digests name the bytes on the wire."""
        session = aiohttp.ClientSession(
            headers=headers,
            connector=aiohttp.TCPConnector(limit=connections),
            timeout=request_timeout,
            read_bufsize=READ_BUFFER_BYTES,
            auto_decompress=False,
        )
        async with session:
            yield cls(base_url, session)

    # -- any request, read whole ----------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        target: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: Body = None,
        query: Mapping[str, str] | None = None,
    ) -> Reply:
        """Send `method` to `target` (a path as written, or an absolute URL such as a Location) and read it all."""
        url = self._url(target)
        if query:
            url = url.update_query(query)
        async with self._session.request(
            method,
            url,
            headers=dict(headers or {}),
            data=io.BytesIO(body) if isinstance(body, bytes) else body,  # bytes past 1 MiB would warn
            allow_redirects=False,
            skip_auto_headers=("Content-Type",),
        ) as response:
            self.statuses.append(response.status)
            return Reply(method, response.status, response.headers, await response.read())

    # -- blob uploads ---------------------------------------------------------------------------------------

    async def start_upload(self, repository: str) -> str:
        """POST a new upload; returns its Location."""
        return (await self._step(202, "POST", f"/v2/{repository}/blobs/uploads/")).headers["Location"]

    async def patch_chunk(self, location: str, data: bytes, start: int) -> Reply:
        """PATCH `data` at `start`, whatever the answer."""
        return await self.request("PATCH", location, headers={"Content-Range": chunk_range(start, data)}, body=data)

    async def upload_chunk(self, location: str, start: int, length: int, body: AsyncIterable[bytes]) -> int:
        """PATCH the `length` bytes `body` streams at `start`; returns how many bytes the upload holds afterwards."""
        headers = {
            "Content-Range": f"{start}-{start + length - 1}",
            "Content-Length": str(length),
            "Content-Type": OCTET_STREAM,
        }
        reply = await self._step(202, "PATCH", location, headers=headers, body=body)
        return _staged_bytes(reply.headers["Range"])

    async def upload_status(self, location: str) -> int:
        """GET the upload's status; returns how many bytes it holds."""
        return _staged_bytes((await self._step(204, "GET", location)).headers["Range"])

    async def complete_upload(
        self, location: str, digest: str, body: bytes | AsyncIterable[bytes] = b"", *, length: int | None = None
    ) -> str:
        """PUT `?digest=`, with an optional last chunk (`length` bytes, when `body` streams them); returns the
        digest the registry committed."""
        headers = {"Content-Type": OCTET_STREAM}
        if length is not None:
            headers["Content-Length"] = str(length)
        reply = await self._step(201, "PUT", location, headers=headers, body=body, query={"digest": digest})
        return reply.headers[DIGEST_HEADER]

    async def push_blob(
        self, repository: str, data: bytes, style: UploadStyle = UploadStyle.MONOLITHIC, *, algorithm: str = "sha256"
    ) -> str:
        """Push `data` the way `style` says, under its digest of `algorithm`; returns the digest the registry
        committed."""
        digest = str(Digest.of(data, algorithm))
        if style is UploadStyle.MONOLITHIC:
            reply = await self._step(
                201,
                "POST",
                f"/v2/{repository}/blobs/uploads/",
                headers={"Content-Type": OCTET_STREAM},
                body=data,
                query={"digest": digest},
            )
            return reply.headers[DIGEST_HEADER]
        location = await self.start_upload(repository)
        if style is UploadStyle.POST_PUT:
            return await self.complete_upload(location, digest, data)
        chunk = max(len(data) // 3, 1)  # a few chunks, each possibly served by another connection
        for start in range(0, len(data), chunk):
            piece = data[start : start + chunk]
            await self.upload_chunk(location, start, len(piece), streamed([piece]))
        return await self.complete_upload(location, digest)

    async def push_all(self, repository: str, contents: Sequence[Content]) -> None:
        """Push every one of `contents` as a blob, one after the other."""
        for content in contents:
            await self.push_blob(repository, content.data)

    # -- manifests and discovery ----------------------------------------------------------------------------

    async def put_manifest(self, repository: str, reference: str, manifest: Content) -> Reply:
        """PUT `manifest` under `reference`, whatever the answer."""
        return await self.request(
            "PUT",
            f"/v2/{repository}/manifests/{reference}",
            headers={"Content-Type": manifest.media_type},
            body=manifest.data,
        )

    async def push_manifest(self, repository: str, manifest: Content, reference: str | None = None) -> str:
        """PUT `manifest` under `reference` (default: its digest); returns the digest the registry stated."""
        reply = await self._step(
            201,
            "PUT",
            f"/v2/{repository}/manifests/{reference or manifest.digest}",
            headers={"Content-Type": manifest.media_type},
            body=manifest.data,
        )
        return reply.headers[DIGEST_HEADER]

    async def get_manifest(self, repository: str, reference: str, *, accept: str | None = None) -> tuple[bytes, str]:
        """The manifest's bytes and the digest the registry states for it; `accept` is the Accept header, if any."""
        headers = {} if accept is None else {"Accept": accept}
        reply = await self._step(200, "GET", f"/v2/{repository}/manifests/{reference}", headers=headers)
        return reply.body, reply.headers[DIGEST_HEADER]

    async def list_tags(self, repository: str) -> Sequence[str]:
        tags: list[str] = (await self._step(200, "GET", f"/v2/{repository}/tags/list")).json()["tags"]
        return tags

    async def catalog(self) -> Sequence[str]:
        repositories: list[str] = (await self._step(200, "GET", "/v2/_catalog")).json()["repositories"]
        return repositories

    # -- streamed reads -------------------------------------------------------------------------------------

    async def download(
        self, target: str, *, headers: Mapping[str, str] | None = None, expect: Collection[int] = (200,)
    ) -> Download:
        """GET `target` (following redirects), hashing the body as it arrives, a few mebibytes at a time in a
        worker thread; raises TransferError unless the status is one of `expect`."""
        tap = Sha256Tap()
        started = time.perf_counter()
        first_byte = 0.0
        async with self._session.get(self._url(target), headers=dict(headers or {})) as response:
            self.statuses.append(response.status)
            if response.status not in expect:
                raise _unexpected("GET", response.url, response.status, expect, await response.read())
            pending: list[bytes] = []
            pending_bytes = 0
            async for data in response.content.iter_any():
                if not first_byte:
                    first_byte = time.perf_counter() - started
                pending.append(data)
                pending_bytes += len(data)
                if pending_bytes >= HASH_BYTES:
                    await asyncio.to_thread(tap.update, b"".join(pending))
                    pending.clear()
                    pending_bytes = 0
            tap.update(b"".join(pending))
            return Download(response.status, tap.digest, tap.size, response.headers, first_byte)

    async def pull_blob(self, repository: str, digest: str, byte_range: str | None = None) -> Download:
        """GET a blob (or the `Range: bytes=...` asked for), hashing it as it arrives."""
        headers = {} if byte_range is None else {"Range": byte_range}
        expect = (200,) if byte_range is None else (206,)
        return await self.download(f"/v2/{repository}/blobs/{digest}", headers=headers, expect=expect)

    async def blob_status(self, repository: str, digest: str) -> int:
        """The status of a GET of the blob, whatever it is; a committed blob's bytes are not read."""
        async with self._session.get(self._url(f"/v2/{repository}/blobs/{digest}")) as response:
            self.statuses.append(response.status)
            await response.content.readany()
            return response.status

    async def _step(self, expect: int, method: str, target: str, **options: Any) -> Reply:
        """`request`, raising TransferError unless the registry answers `expect`."""
        reply = await self.request(method, target, **options)
        if reply.status != expect:
            raise _unexpected(method, self._url(target), reply.status, (expect,), reply.body)
        return reply

    def _url(self, target: str) -> URL:
        """`target` as an absolute URL: a registry answers with paths (a Location), already percent-encoded."""
        return URL(target) if target.startswith("http") else self._base.join(URL(target, encoded=True))


def _unexpected(method: str, url: object, status: int, expected: Collection[int], body: bytes) -> TransferError:
    return TransferError(f"{method} {url} answered {status}, expected {sorted(expected)}: {body[:500]!r}", status)
