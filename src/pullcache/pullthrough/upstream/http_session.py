"""HttpSession: the upstream client's pooled connections, and one request that follows redirects safely.

The bottom layer of the upstream package: it knows HTTP, not registries. Redirects are followed by hand, up to
MAX_REDIRECTS, and Authorization goes only to the origin first asked: blobs are often redirected to object
storage that must not see it. Bodies are asked for as stored (`Accept-Encoding: identity` is the caller's), and
read with a limit, so an upstream cannot make the client hold more than it asked for. Every connection, the
first and each redirect hop (a token realm's too), goes only where the DestinationPolicy allows: the
DestinationGuard is the connector's resolver and checks hosts written as addresses (destination_guard.py).
"""

from __future__ import annotations

import asyncio
import time
from typing import Final

import aiohttp
from aiohttp.abc import AbstractResolver
from multidict import CIMultiDictProxy
from yarl import URL

from pullcache.pullthrough.destinations import DestinationPolicy
from pullcache.pullthrough.errors import UpstreamInvalid
from pullcache.pullthrough.observations import TRANSPORT_FAILED, UNOBSERVED, UpstreamObserver
from pullcache.pullthrough.upstream.destination_guard import DestinationGuard

MAX_REDIRECTS: Final = 5
REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
SEE_OTHER: Final = 303
READ_BYTES: Final = 64 << 10
# What a connection buffers (twice this) before it stops reading the socket: a big blob streams in few pieces
# with few pauses (client.MAX_PIECE_BYTES).
READ_BUFFER_BYTES: Final = 1 << 20
TRANSPORT_ERRORS: Final = (aiohttp.ClientError, TimeoutError)

Headers = CIMultiDictProxy[str]


class HttpSession:
    """One pooled aiohttp session, created in the event loop that first uses it; `close` ends it (and
    `resolver`, which looks names up: aiohttp's default when None)."""

    def __init__(
        self,
        *,
        timeout: aiohttp.ClientTimeout,
        idle_timeout: float | None = None,
        user_agent: str,
        connections: int = 100,
        destinations: DestinationPolicy | None = None,
        resolver: AbstractResolver | None = None,
        observer: UpstreamObserver = UNOBSERVED,
    ) -> None:
        """`observer`: told of every exchange, each redirect hop its own, with its host and status."""
        self._observer = observer
        self._timeout = timeout
        self._idle_timeout = idle_timeout
        self._user_agent = user_agent
        self._connections = connections
        self._guard = DestinationGuard(destinations or DestinationPolicy(), resolver)
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        await self._guard.close()

    async def send(
        self, method: str, url: URL, headers: dict[str, str], authorization: str | None
    ) -> aiohttp.ClientResponse:
        """The response at the end of up to MAX_REDIRECTS redirects, its body unread; Authorization goes only to
        `url`'s origin. Raises UpstreamInvalid (a redirect without a Location, too many redirects), UpstreamRefused
        (a destination the policy refuses: nothing is sent there) and the TRANSPORT_ERRORS."""
        home = url.origin()
        session = self._client()
        for _ in range(MAX_REDIRECTS + 1):
            sent = dict(headers)
            if authorization is not None and url.origin() == home:
                sent["Authorization"] = authorization
            self._guard.check_literal(url.raw_host or "")
            response = await self._exchange(session, method, url, sent)
            _bound_idle_reads(response, self._idle_timeout)
            if response.status not in REDIRECT_STATUSES:
                return response
            location = response.headers.get("Location")
            response.release()
            if not location:
                raise UpstreamInvalid(f"{home} answered {response.status} to {method} {url.path} without a Location")
            url = url.join(URL(location))
            if response.status == SEE_OTHER and method != "HEAD":
                method = "GET"
        raise UpstreamInvalid(f"{home} redirected {method} more than {MAX_REDIRECTS} times")

    async def _exchange(
        self, session: aiohttp.ClientSession, method: str, url: URL, headers: dict[str, str]
    ) -> aiohttp.ClientResponse:
        """One request, its answer (or its failure) and the wait for its headers told to the observer."""
        host = _host_of(url)
        sent_at = time.perf_counter()
        try:
            response = await session.request(method, url, headers=headers, allow_redirects=False)
        except BaseException:
            self._observer.answered(host, TRANSPORT_FAILED, None)
            raise
        self._observer.answered(host, response.status, time.perf_counter() - sent_at)
        return response

    def _client(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is not None and self._loop is not loop:
            raise RuntimeError("an upstream client serves the event loop that first used it")
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                headers={"User-Agent": self._user_agent},
                connector=aiohttp.TCPConnector(limit=self._connections, resolver=self._guard),
                cookie_jar=aiohttp.DummyCookieJar(),
                read_bufsize=READ_BUFFER_BYTES,
            )
            self._loop = loop
        return self._session


def _host_of(url: URL) -> str:
    """The host a request went to, with its port when not the scheme's: a label of few values (the rules'
    upstreams, their token realms and the stores they redirect to), never a path."""
    host = url.raw_host or ""
    return host if url.explicit_port is None else f"{host}:{url.explicit_port}"


def _bound_idle_reads(response: aiohttp.ClientResponse, idle_timeout: float | None) -> None:
    """The session's `sock_read` bounds the wait for a response's first byte (aiohttp starts it once the request
    is sent, and restarts it at each read); once the headers are in, each wait between body bytes gets
    `idle_timeout` instead, from now: the body bytes that came with the headers armed the old bound. (A
    connection's reading is paused only once megabytes wait unread, not as its headers arrive.) None: `sock_read`
    throughout."""
    connection = response.connection
    if idle_timeout is not None and connection is not None and connection.protocol is not None:
        connection.protocol.read_timeout = idle_timeout
        connection.protocol.start_timeout()


async def read_limited(response: aiohttp.ClientResponse, limit: int) -> bytes | None:
    """The whole body, or None (having read no more than `limit` + a chunk) when it is longer than `limit`."""
    if response.content_length is not None and response.content_length > limit:
        return None
    parts: list[bytes] = []
    received = 0
    while chunk := await response.content.read(READ_BYTES):
        received += len(chunk)
        if received > limit:
            return None
        parts.append(chunk)
    return b"".join(parts)


def describe_transport_error(error: BaseException) -> str:
    """A transport error in a few words; its text can hold a URL with a signed query, so only the class and the
    connection's address."""
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, aiohttp.ClientConnectorError):
        return f"cannot connect to {error.host}:{error.port}"
    return type(error).__name__
