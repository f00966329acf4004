"""UpstreamTransport: one exchange with an upstream registry, authenticated, redirected and retried.

An exchange: send (with the Authorization kept for its upstream, scope and credentials); on 401 answer the
challenge (upstream/auth.py) and send once more; follow up to MAX_REDIRECTS redirects by hand, sending
Authorization only to the upstream's own origin (blobs are often redirected to object storage that must not see
it); on 5xx, 429, a broken connection or a timeout, wait and ask again (upstream/retry.py). The caller's `read`
runs inside the retries, so a body that breaks off while it is read is asked for again, as long as nothing of it
has left `read`.

Statuses keep their meaning: 404 UpstreamNotFound, 401/403 after authenticating UpstreamDenied, what still fails
after the retries UpstreamUnavailable (with the last status), any other answer UpstreamInvalid. Messages name the
upstream, the method, the path and the status; never a credential, a token or a redirect's query string.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

import aiohttp
from yarl import URL

from pullcache.pullthrough.errors import UpstreamDenied, UpstreamInvalid, UpstreamNotFound, UpstreamUnavailable
from pullcache.pullthrough.ports import UpstreamEndpoint
from pullcache.pullthrough.upstream.auth import (
    BASIC,
    BEARER,
    AuthorizationCache,
    AuthorizationKey,
    Challenge,
    InvalidTokenResponse,
    IssuedToken,
    basic_authorization,
    parse_challenges,
    parse_token_response,
)
from pullcache.pullthrough.upstream.retry import RetryPolicy, is_retryable, parse_retry_after

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_REDIRECTS: Final = 5
REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
SEE_OTHER: Final = 303
MAX_TOKEN_RESPONSE_BYTES: Final = 1 << 20
READ_BYTES: Final = 64 << 10
# What a connection buffers (twice this) before it stops reading the socket: a big blob streams in few pieces
# with few pauses (upstream.MAX_PIECE_BYTES).
READ_BUFFER_BYTES: Final = 1 << 20
TRANSPORT_ERRORS: Final = (aiohttp.ClientError, TimeoutError)

Read = Callable[[aiohttp.ClientResponse], Awaitable[T]]


class _Transient(Exception):
    """A failure worth asking again about: a retryable status, or none when the connection failed."""

    def __init__(self, reason: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


class UpstreamTransport:
    """One pooled aiohttp session, created in the event loop that first uses it; `close` ends it."""

    def __init__(
        self,
        *,
        timeout: aiohttp.ClientTimeout,
        policy: RetryPolicy,
        user_agent: str,
        connections: int = 100,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._timeout = timeout
        self._policy = policy
        self._user_agent = user_agent
        self._connections = connections
        self._jitter = jitter
        self._authorizations = AuthorizationCache()
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def exchange(
        self,
        endpoint: UpstreamEndpoint,
        method: str,
        path: str,
        read: Read[T],
        *,
        scope: str | None,
        accept: str | None = None,
    ) -> T:
        """What `read` makes of the 2xx response to `method path`, retried as the module says.

        `read` owns the response: it releases it, or hands it on (its bytes are then beyond retrying).
        """
        tried = 0
        while True:
            try:
                response = await self._attempt(endpoint, method, path, scope, accept)
                return await read(response)
            except _Transient as error:
                failure = error
            except TRANSPORT_ERRORS as error:
                failure = _Transient(describe_transport_error(error))
            delay = self._policy.delay(tried, failure.retry_after, self._jitter())
            tried += 1
            if delay is None:
                status = "" if failure.status is None else f" {failure.status}"
                raise UpstreamUnavailable(
                    f"upstream {endpoint.base_url} failed{status} on {method} {path} ({failure.reason})"
                    f" after {tried} attempt{'s' if tried > 1 else ''}",
                    failure.status,
                ) from None
            log.warning(
                "upstream %s: %s %s failed (%s); asking again in %.2f s",
                endpoint.base_url,
                method,
                path,
                failure.reason,
                delay,
            )
            await asyncio.sleep(delay)

    async def _attempt(
        self, endpoint: UpstreamEndpoint, method: str, path: str, scope: str | None, accept: str | None
    ) -> aiohttp.ClientResponse:
        """A 2xx response, its body unread; raises the upstream errors or _Transient."""
        key: AuthorizationKey = (endpoint.base_url, scope, endpoint.credentials)
        authorization = self._authorizations.find(key)
        response = await self._send(endpoint, method, path, accept, authorization)
        if response.status == 401:
            challenges = parse_challenges(response.headers.getall("WWW-Authenticate", ()))
            response.release()
            self._authorizations.forget(key)
            authorization = await self._authorize(endpoint, challenges, key)
            response = await self._send(endpoint, method, path, accept, authorization)
        status = response.status
        if 200 <= status <= 299:
            return response
        response.release()
        message = f"upstream {endpoint.base_url} answered {status} to {method} {path}"
        if status == 404:
            raise UpstreamNotFound(message, status)
        if status in (401, 403):
            raise UpstreamDenied(message, status)
        if is_retryable(status):
            raise _Transient(f"{status}", status, _retry_after(response))
        raise UpstreamInvalid(message, status)

    async def _send(
        self, endpoint: UpstreamEndpoint, method: str, path: str, accept: str | None, authorization: str | None
    ) -> aiohttp.ClientResponse:
        # Bytes as stored upstream: a digest is of them, not of a transfer encoding of them.
        headers = {"Accept-Encoding": "identity"}
        if accept is not None:
            headers["Accept"] = accept
        return await self._follow(method, URL(f"{endpoint.base_url}{path}"), headers, authorization)

    async def _follow(
        self, method: str, url: URL, headers: dict[str, str], authorization: str | None
    ) -> aiohttp.ClientResponse:
        """The response at the end of up to MAX_REDIRECTS redirects; Authorization goes only to `url`'s origin."""
        home = url.origin()
        session = self._client()
        for _ in range(MAX_REDIRECTS + 1):
            sent = dict(headers)
            if authorization is not None and url.origin() == home:
                sent["Authorization"] = authorization
            response = await session.request(method, url, headers=sent, allow_redirects=False)
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

    async def _authorize(self, endpoint: UpstreamEndpoint, challenges: list[Challenge], key: AuthorizationKey) -> str:
        """The Authorization value that answers the first challenge pullcache can answer; kept under `key`."""
        for challenge in challenges:
            if challenge.scheme == BEARER and challenge.realm:
                token = await self._fetch_token(endpoint, challenge, key[1])
                self._authorizations.store(key, token.authorization, token.lifetime)
                return token.authorization
            if challenge.scheme == BASIC:
                if endpoint.credentials is None:
                    raise UpstreamDenied(f"upstream {endpoint.base_url} asks for Basic credentials and has none", 401)
                value = basic_authorization(endpoint.credentials)
                self._authorizations.store(key, value)
                return value
        raise UpstreamDenied(f"upstream {endpoint.base_url} answered 401 with no challenge pullcache can answer", 401)

    async def _fetch_token(self, endpoint: UpstreamEndpoint, challenge: Challenge, scope: str | None) -> IssuedToken:
        """A token from the challenge's realm for `scope` (the challenge's own when None), asked with the
        endpoint's credentials when it has any, anonymously otherwise."""
        assert challenge.realm is not None
        realm = URL(challenge.realm)
        if realm.scheme not in ("http", "https") or not realm.host:
            raise UpstreamInvalid(f"upstream {endpoint.base_url} names a token realm that is not an HTTP URL")
        wanted = (("service", challenge.service), ("scope", scope or challenge.scope))
        url = realm.update_query({name: value for name, value in wanted if value})
        authorization = None if endpoint.credentials is None else basic_authorization(endpoint.credentials)
        response = await self._follow("GET", url, {"Accept": "application/json"}, authorization)
        try:
            where = f"the token service {realm.origin()}{realm.path} of upstream {endpoint.base_url}"
            if response.status in (401, 403):
                who = "the credentials" if endpoint.credentials else "anonymous access"
                raise UpstreamDenied(f"{where} refused {who} ({response.status})", response.status)
            if is_retryable(response.status):
                raise _Transient(f"{where} answered {response.status}", response.status, _retry_after(response))
            if response.status != 200:
                raise UpstreamInvalid(f"{where} answered {response.status}", response.status)
            body = await read_limited(response, MAX_TOKEN_RESPONSE_BYTES)
            if body is None:
                raise UpstreamInvalid(f"{where} answered with more than {MAX_TOKEN_RESPONSE_BYTES} bytes")
            try:
                return parse_token_response(body)
            except InvalidTokenResponse as error:
                raise UpstreamInvalid(f"{where}: {error}") from None
        finally:
            response.release()

    def _client(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is not None and self._loop is not loop:
            raise RuntimeError("an upstream client serves the event loop that first used it")
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                headers={"User-Agent": self._user_agent},
                connector=aiohttp.TCPConnector(limit=self._connections),
                cookie_jar=aiohttp.DummyCookieJar(),
                read_bufsize=READ_BUFFER_BYTES,
            )
            self._loop = loop
        return self._session


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


def _retry_after(response: aiohttp.ClientResponse) -> float | None:
    return parse_retry_after(response.headers.get("Retry-After"))
