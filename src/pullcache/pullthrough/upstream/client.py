"""UpstreamClient: the OCI distribution API of upstream registries, the UpstreamRegistry port.

    check           GET  /v2/                          authenticated for a repository when one is given
    head_manifest   HEAD /v2/<name>/manifests/<ref>    a GET when it states no digest, size or manifest type
    get_manifest    GET  /v2/<name>/manifests/<ref>    verified against a digest reference and Docker-Content-Digest
    open_blob       GET  /v2/<name>/blobs/<digest>     streamed; the caller hashes the bytes

The package's layers call one way, each only the ones below it:

    client.py        the registry API: paths, digests checked, media types        UpstreamClient
    transport.py     one exchange: authenticated, statuses mapped, retried         UpstreamTransport
    auth.py          the answer to a 401: Bearer tokens, Basic credentials         Authenticator
    retry.py         when to ask again and how long to wait                        RetryPolicy
    breaker.py       which upstreams are failing, left alone for a while           CircuitBreaker
    http_session.py  pooled connections, redirects followed safely, bodies read    HttpSession

A manifest is read whole (at most `max_manifest_bytes`) inside the retries; a blob's bytes go to the caller as
they arrive, so a failure while reading them is UpstreamUnavailable at once.

Every wait is bounded, in seconds:

    connect_timeout      a new connection (TCP and TLS)
    first_byte_timeout   the response's first byte once the request is sent (and each gap within its headers)
    idle_timeout         each gap between the body's bytes
    request_timeout      the whole request: its attempts, token fetches, redirects and retry waits; a manifest's
                         body is read within it, a blob's headers arrive within it and its body, which may take
                         as long as it keeps flowing, is bounded by idle_timeout alone

`head_manifest` takes a budget of its own (a cached tag's check: the cache can answer instead). An upstream
that keeps failing is not asked at all for a cool-down (breaker.py).
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Final

import aiohttp
from aiohttp.abc import AbstractResolver

from pullcache.core import mediatypes
from pullcache.core.digests import CANONICAL, Digest, InvalidDigest, looks_like_digest
from pullcache.pullthrough.destinations import DestinationPolicy
from pullcache.pullthrough.errors import UpstreamInvalid, UpstreamUnavailable
from pullcache.pullthrough.observations import UNOBSERVED, UpstreamObserver
from pullcache.pullthrough.ports import UpstreamBlob, UpstreamEndpoint, UpstreamManifest, UpstreamManifestHead
from pullcache.pullthrough.upstream.auth import Authenticator, pull_scope
from pullcache.pullthrough.upstream.breaker import DEFAULT_COOL_DOWN, DEFAULT_FAILURES_TO_OPEN, CircuitBreaker
from pullcache.pullthrough.upstream.http_session import (
    READ_BUFFER_BYTES,
    TRANSPORT_ERRORS,
    Headers,
    HttpSession,
    describe_transport_error,
)
from pullcache.pullthrough.upstream.retry import RetryPolicy
from pullcache.pullthrough.upstream.transport import UpstreamTransport

DEFAULT_MAX_MANIFEST_BYTES: Final = 4 << 20
# Seconds. A registry answers a manifest in well under a second; these let a slow one through and stop a hung
# one from holding a pull for minutes.
DEFAULT_CONNECT_TIMEOUT: Final = 5.0
DEFAULT_FIRST_BYTE_TIMEOUT: Final = 15.0
DEFAULT_IDLE_TIMEOUT: Final = 30.0
DEFAULT_REQUEST_TIMEOUT: Final = 30.0
DEFAULT_USER_AGENT: Final = "pullcache"
# A blob arrives in the pieces its connection has buffered: fewer, larger pieces cost less Python than reads of a
# fixed size. aiohttp stops reading the socket once twice READ_BUFFER_BYTES wait, so a piece is at most that and
# one more read from the socket (asyncio reads 256 KiB at a time): memory stays flat whatever the blob's size.
MAX_PIECE_BYTES: Final = 2 * READ_BUFFER_BYTES + (256 << 10)
DIGEST_HEADER: Final = "Docker-Content-Digest"
# Every manifest type pullcache stores: without all of them, an upstream may answer an index with one of its
# children, or convert a manifest (and change its digest).
MANIFEST_ACCEPT: Final = ", ".join(
    (mediatypes.OCI_MANIFEST, mediatypes.OCI_INDEX, mediatypes.DOCKER_MANIFEST, mediatypes.DOCKER_MANIFEST_LIST)
)


class UpstreamClient:
    """One client per event loop (its session is created in the loop that first uses it); `close` ends it.

    Every method raises the errors of pullthrough/errors.py; a reference that looks like a digest but is not a
    valid one raises InvalidDigest.
    """

    def __init__(
        self,
        *,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        first_byte_timeout: float = DEFAULT_FIRST_BYTE_TIMEOUT,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        failures_to_open: int = DEFAULT_FAILURES_TO_OPEN,
        cool_down: float = DEFAULT_COOL_DOWN,
        retries: int = 3,
        backoff_base: float = 0.2,
        retry_after_cap: float = 30.0,
        max_manifest_bytes: int = DEFAULT_MAX_MANIFEST_BYTES,
        user_agent: str = DEFAULT_USER_AGENT,
        connections: int = 100,
        jitter: Callable[[], float] = random.random,
        destinations: DestinationPolicy | None = None,
        resolver: AbstractResolver | None = None,
        observer: UpstreamObserver = UNOBSERVED,
    ) -> None:
        """`destinations`: where the client may connect (default: anywhere but link-local, destinations.py);
        `resolver`: looks host names up (default: aiohttp's), its answers filtered by the policy; `observer`:
        told of every exchange (http_session.py)."""
        self._max_manifest_bytes = max_manifest_bytes
        # No bound on the wait for a pooled connection (`connect`): a busy pool is no failure of the upstream, and
        # the request budget bounds that wait.
        self._http = HttpSession(
            timeout=aiohttp.ClientTimeout(
                total=None, connect=None, sock_connect=connect_timeout, sock_read=first_byte_timeout
            ),
            idle_timeout=idle_timeout,
            user_agent=user_agent,
            connections=connections,
            destinations=destinations,
            resolver=resolver,
            observer=observer,
        )
        self._transport = UpstreamTransport(
            self._http,
            Authenticator(self._http),
            RetryPolicy(retries=retries, backoff_base=backoff_base, retry_after_cap=retry_after_cap),
            CircuitBreaker(failures_to_open=failures_to_open, cool_down=cool_down),
            request_timeout=request_timeout,
            jitter=jitter,
        )

    async def close(self) -> None:
        await self._http.close()

    async def __aenter__(self) -> UpstreamClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def check(self, endpoint: UpstreamEndpoint, repository: str | None = None) -> None:
        scope = None if repository is None else pull_scope(repository)
        await self._transport.check(endpoint, "/v2/", scope=scope)

    async def get_manifest(self, endpoint: UpstreamEndpoint, repository: str, reference: str) -> UpstreamManifest:
        return await self._get_manifest(endpoint, repository, reference, None)

    async def _get_manifest(
        self, endpoint: UpstreamEndpoint, repository: str, reference: str, deadline: float | None
    ) -> UpstreamManifest:
        expected = Digest.parse(reference) if looks_like_digest(reference) else None
        path = f"/v2/{repository}/manifests/{reference}"
        limit = self._max_manifest_bytes
        headers, content = await self._transport.read(
            endpoint, path, scope=pull_scope(repository), accept=MANIFEST_ACCEPT, limit=limit, deadline=deadline
        )
        if content is None:
            raise UpstreamInvalid(f"upstream {endpoint.base_url} served {path} larger than {limit} bytes")
        digest = Digest.of(content, expected.algorithm if expected else CANONICAL)
        if expected is not None and digest != expected:
            raise UpstreamInvalid(f"upstream {endpoint.base_url} served {path} with the digest {digest}")
        stated = _stated_digest(endpoint, path, headers)
        if stated is not None and Digest.of(content, stated.algorithm) != stated:
            raise UpstreamInvalid(f"upstream {endpoint.base_url} served {path} as {stated} but it is {digest}")
        return UpstreamManifest(digest, _media_type(endpoint, path, headers, content), content)

    async def head_manifest(
        self, endpoint: UpstreamEndpoint, repository: str, reference: str, *, budget: float | None = None
    ) -> UpstreamManifestHead:
        """`budget`: seconds for the whole answer, a GET in place of a HEAD included (None: the request budget)."""
        expected = Digest.parse(reference) if looks_like_digest(reference) else None
        path = f"/v2/{repository}/manifests/{reference}"
        deadline = None if budget is None else asyncio.get_running_loop().time() + budget
        headers, size = await self._transport.head(
            endpoint, path, scope=pull_scope(repository), accept=MANIFEST_ACCEPT, deadline=deadline
        )
        stated = _stated_digest(endpoint, path, headers)
        content_type = _content_type(headers)
        if stated is None or size is None or content_type not in mediatypes.MANIFESTS:
            manifest = await self._get_manifest(endpoint, repository, reference, deadline)
            return UpstreamManifestHead(manifest.digest, manifest.media_type, len(manifest.content))
        if expected is not None and stated != expected:
            raise UpstreamInvalid(f"upstream {endpoint.base_url} states the digest {stated} for {path}")
        assert content_type is not None
        return UpstreamManifestHead(stated, content_type, size)

    async def has_blob(self, endpoint: UpstreamEndpoint, repository: str, digest: Digest) -> None:
        path = f"/v2/{repository}/blobs/{digest}"
        headers, _ = await self._transport.head(endpoint, path, scope=pull_scope(repository), accept=None)
        stated = _stated_digest(endpoint, path, headers)
        if stated is not None and stated != digest:
            raise UpstreamInvalid(f"upstream {endpoint.base_url} states the digest {stated} for {path}")

    @asynccontextmanager
    async def open_blob(
        self, endpoint: UpstreamEndpoint, repository: str, digest: Digest
    ) -> AsyncIterator[UpstreamBlob]:
        path = f"/v2/{repository}/blobs/{digest}"
        response = await self._transport.open(endpoint, path, scope=pull_scope(repository))
        blob = _StreamedBlob(
            response,
            f"upstream {endpoint.base_url}: {path}",
            lambda reason: self._transport.broke_off(endpoint, reason),
        )
        try:
            stated = _stated_digest(endpoint, path, response.headers)
            if stated is not None and stated != digest:
                raise UpstreamInvalid(f"upstream {endpoint.base_url} states the digest {stated} for {path}")
            if response.content_length is None:
                raise UpstreamInvalid(f"upstream {endpoint.base_url} served {path} without a Content-Length")
            yield blob
        finally:
            # A connection with unread bytes on it cannot go back to the pool.
            if blob.finished:
                response.release()
            else:
                response.close()


class _StreamedBlob:
    """UpstreamBlob over an open response. A failure while reading is UpstreamUnavailable, never retried: the
    caller already has some of the bytes."""

    def __init__(self, response: aiohttp.ClientResponse, where: str, broke_off: Callable[[str], None]) -> None:
        self._response = response
        self._where = where
        self._broke_off = broke_off
        self._started = False
        self.finished = False

    @property
    def size(self) -> int:
        return self._response.content_length or 0

    async def chunks(self) -> AsyncIterator[bytes]:
        if self._started:
            raise RuntimeError("a blob's bytes can be read once")
        self._started = True
        received = 0
        try:
            async for chunk in self._response.content.iter_any():
                received += len(chunk)
                yield chunk
        except TRANSPORT_ERRORS as error:
            reason = describe_transport_error(error)
            self._broke_off(f"a body broke off ({reason})")
            message = f"{self._where} broke off after {received} of {self.size} bytes ({reason})"
            raise UpstreamUnavailable(message) from None
        if received != self.size:
            self._broke_off("a body ended short")
            raise UpstreamUnavailable(f"{self._where} ended after {received} of {self.size} bytes")
        self.finished = True


def _stated_digest(endpoint: UpstreamEndpoint, path: str, headers: Headers) -> Digest | None:
    value = headers.get(DIGEST_HEADER)
    if not value:
        return None
    try:
        return Digest.parse(value.strip())
    except InvalidDigest:
        raise UpstreamInvalid(f"upstream {endpoint.base_url} states an invalid {DIGEST_HEADER} for {path}") from None


def _content_type(headers: Headers) -> str | None:
    value = headers.get("Content-Type", "").split(";", 1)[0].strip()
    return value or None


def _media_type(endpoint: UpstreamEndpoint, path: str, headers: Headers, content: bytes) -> str:
    """The Content-Type when it names a manifest type, else the manifest's own mediaType, else any Content-Type
    (a type pullcache does not know is for the manifest parser to refuse)."""
    stated = _content_type(headers)
    if stated in mediatypes.MANIFESTS:
        return stated
    declared = _declared_media_type(content)
    if declared is not None:
        return declared
    if stated is not None:
        return stated
    raise UpstreamInvalid(f"upstream {endpoint.base_url} served {path} with no media type")


def _declared_media_type(content: bytes) -> str | None:
    try:
        document = json.loads(content)
    except ValueError:
        return None
    media_type = document.get("mediaType") if isinstance(document, dict) else None
    return media_type if isinstance(media_type, str) and media_type else None
