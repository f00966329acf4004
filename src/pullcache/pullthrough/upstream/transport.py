"""UpstreamTransport: one exchange with an upstream registry, authenticated and retried.

An exchange: send (with the Authorization kept for its upstream, scope and credentials) through the session,
which follows redirects (http_session.py); on 401 have the Authenticator answer the challenge (auth.py) and send
once more; on 5xx, 429, a broken connection or a timeout, wait and ask again (retry.py). A body read whole is
read inside the retries, so one that breaks off while it is read is asked for again; a body handed on as a
stream is beyond retrying.

Statuses keep their meaning: 404 UpstreamNotFound, 401/403 after authenticating UpstreamDenied, what still fails
after the retries UpstreamUnavailable (with the last status), any other answer UpstreamInvalid. Messages name the
upstream, the method, the path and the status; never a credential, a token or a redirect's query string.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp
from yarl import URL

from pullcache.pullthrough.errors import UpstreamDenied, UpstreamInvalid, UpstreamNotFound, UpstreamUnavailable
from pullcache.pullthrough.ports import UpstreamEndpoint
from pullcache.pullthrough.upstream.auth import Authenticator, AuthorizationKey
from pullcache.pullthrough.upstream.http_session import (
    TRANSPORT_ERRORS,
    Headers,
    HttpSession,
    describe_transport_error,
    read_limited,
)
from pullcache.pullthrough.upstream.retry import RetryPolicy, Transient, is_retryable, parse_retry_after

log = logging.getLogger(__name__)

T = TypeVar("T")


class UpstreamTransport:
    """Each method raises UpstreamNotFound, UpstreamDenied, UpstreamUnavailable, UpstreamInvalid."""

    def __init__(
        self,
        http: HttpSession,
        authenticator: Authenticator,
        policy: RetryPolicy,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._http = http
        self._authenticator = authenticator
        self._policy = policy
        self._jitter = jitter

    async def check(self, endpoint: UpstreamEndpoint, path: str, *, scope: str | None) -> None:
        """GET `path` for its status alone (the body is let go unread)."""
        await self._exchange(endpoint, "GET", path, scope, None, _release)

    async def head(
        self, endpoint: UpstreamEndpoint, path: str, *, scope: str | None, accept: str | None
    ) -> tuple[Headers, int | None]:
        """The headers and the stated Content-Length of HEAD `path`."""
        return await self._exchange(endpoint, "HEAD", path, scope, accept, _headers)

    async def read(
        self, endpoint: UpstreamEndpoint, path: str, *, scope: str | None, accept: str | None, limit: int
    ) -> tuple[Headers, bytes | None]:
        """The headers and the whole body of GET `path`; None for a body longer than `limit` bytes."""

        async def whole(response: aiohttp.ClientResponse) -> tuple[Headers, bytes | None]:
            try:
                return response.headers, await read_limited(response, limit)
            finally:
                response.release()

        return await self._exchange(endpoint, "GET", path, scope, accept, whole)

    async def open(self, endpoint: UpstreamEndpoint, path: str, *, scope: str | None) -> aiohttp.ClientResponse:
        """The 2xx response to GET `path`, its body unread: the caller owns it (and releases or closes it)."""
        return await self._exchange(endpoint, "GET", path, scope, None, _keep)

    async def _exchange(
        self,
        endpoint: UpstreamEndpoint,
        method: str,
        path: str,
        scope: str | None,
        accept: str | None,
        read: Callable[[aiohttp.ClientResponse], Awaitable[T]],
    ) -> T:
        """What `read` makes of the 2xx response to `method path`, retried as the module says. `read` owns the
        response: it releases it, or hands it on."""
        tried = 0
        while True:
            try:
                response = await self._attempt(endpoint, method, path, scope, accept)
                return await read(response)
            except Transient as error:
                failure = error
            except TRANSPORT_ERRORS as error:
                failure = Transient(describe_transport_error(error))
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
        """A 2xx response, its body unread; raises the upstream errors or Transient."""
        key: AuthorizationKey = (endpoint.base_url, scope, endpoint.credentials)
        response = await self._send(endpoint, method, path, accept, self._authenticator.find(key))
        if response.status == 401:
            challenges = response.headers.getall("WWW-Authenticate", ())
            response.release()
            authorization = await self._authenticator.answer(endpoint, challenges, key)
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
            raise Transient(f"{status}", status, parse_retry_after(response.headers.get("Retry-After")))
        raise UpstreamInvalid(message, status)

    async def _send(
        self, endpoint: UpstreamEndpoint, method: str, path: str, accept: str | None, authorization: str | None
    ) -> aiohttp.ClientResponse:
        # Bytes as stored upstream: a digest is of them, not of a transfer encoding of them.
        headers = {"Accept-Encoding": "identity"}
        if accept is not None:
            headers["Accept"] = accept
        return await self._http.send(method, URL(f"{endpoint.base_url}{path}"), headers, authorization)


async def _release(response: aiohttp.ClientResponse) -> None:
    response.release()


async def _headers(response: aiohttp.ClientResponse) -> tuple[Headers, int | None]:
    response.release()
    return response.headers, response.content_length


async def _keep(response: aiohttp.ClientResponse) -> aiohttp.ClientResponse:
    return response
