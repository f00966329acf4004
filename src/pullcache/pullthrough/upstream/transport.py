"""UpstreamTransport: one exchange with an upstream registry, authenticated, retried and bounded.

An exchange: send (with the Authorization kept for its upstream, scope and credentials) through the session,
which follows redirects (http_session.py); on 401 have the Authenticator answer the challenge (auth.py) and send
once more; on 5xx, 429, a broken connection or a timeout, wait and ask again (retry.py). A body read whole is
read inside the retries, so one that breaks off while it is read is asked for again; a body handed on as a
stream is beyond retrying.

Bounds. Each connection, first byte and silence between bytes has its own bound (http_session.py); the whole
exchange, retries, token fetches and waits included, has the request budget (`request_timeout`, or a deadline
the caller sets): an exchange that would need longer is UpstreamUnavailable at the budget's end, and a retry
whose wait would end past it is not tried. A body handed on as a stream (a blob) is bounded by the budget until
its headers arrive, then by the idle bound alone: a blob that keeps flowing is never cut.

Before every attempt the CircuitBreaker (breaker.py) is asked whether the upstream may be asked at all, and
after it is told how the attempt went: an upstream that keeps failing is UpstreamUnavailable at once.

Statuses keep their meaning: 404 UpstreamNotFound, 401/403 after authenticating UpstreamDenied, what still fails
after the retries UpstreamUnavailable (with the last status; UpstreamRateLimited for a 429, UpstreamTimedOut for
a bound that ran out), any other answer UpstreamInvalid. Messages name the
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

from pullcache.pullthrough.errors import (
    UpstreamDenied,
    UpstreamInvalid,
    UpstreamNotFound,
    UpstreamRateLimited,
    UpstreamTimedOut,
    UpstreamUnavailable,
)
from pullcache.pullthrough.ports import UpstreamEndpoint
from pullcache.pullthrough.upstream.auth import Authenticator, AuthorizationKey
from pullcache.pullthrough.upstream.breaker import CircuitBreaker
from pullcache.pullthrough.upstream.http_session import (
    TRANSPORT_ERRORS,
    Headers,
    HttpSession,
    describe_transport_error,
    read_limited,
)
from pullcache.pullthrough.upstream.retry import (
    TOO_MANY_REQUESTS,
    RetryPolicy,
    Transient,
    is_retryable,
    parse_retry_after,
)

log = logging.getLogger(__name__)

T = TypeVar("T")


class UpstreamTransport:
    """Each method raises UpstreamNotFound, UpstreamDenied, UpstreamUnavailable, UpstreamInvalid. A `deadline`
    is a reading of the event loop's clock by which the exchange must be over (None: the request budget)."""

    def __init__(
        self,
        http: HttpSession,
        authenticator: Authenticator,
        policy: RetryPolicy,
        breaker: CircuitBreaker,
        *,
        request_timeout: float,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._http = http
        self._authenticator = authenticator
        self._policy = policy
        self._breaker = breaker
        self._request_timeout = request_timeout
        self._jitter = jitter

    async def check(self, endpoint: UpstreamEndpoint, path: str, *, scope: str | None) -> None:
        """GET `path` for its status alone (the body is let go unread)."""
        await self._exchange(endpoint, "GET", path, scope, None, _release, None)

    async def head(
        self,
        endpoint: UpstreamEndpoint,
        path: str,
        *,
        scope: str | None,
        accept: str | None,
        deadline: float | None = None,
    ) -> tuple[Headers, int | None]:
        """The headers and the stated Content-Length of HEAD `path`."""
        return await self._exchange(endpoint, "HEAD", path, scope, accept, _headers, deadline)

    async def read(
        self,
        endpoint: UpstreamEndpoint,
        path: str,
        *,
        scope: str | None,
        accept: str | None,
        limit: int,
        deadline: float | None = None,
    ) -> tuple[Headers, bytes | None]:
        """The headers and the whole body of GET `path`; None for a body longer than `limit` bytes."""

        async def whole(response: aiohttp.ClientResponse) -> tuple[Headers, bytes | None]:
            try:
                return response.headers, await read_limited(response, limit)
            finally:
                response.release()

        return await self._exchange(endpoint, "GET", path, scope, accept, whole, deadline)

    async def open(self, endpoint: UpstreamEndpoint, path: str, *, scope: str | None) -> aiohttp.ClientResponse:
        """The 2xx response to GET `path`, its body unread: the caller owns it (and releases or closes it), and
        tells `broke_off` when the body fails."""
        return await self._exchange(endpoint, "GET", path, scope, None, _keep, None)

    def broke_off(self, endpoint: UpstreamEndpoint, reason: str) -> None:
        """A body handed on as a stream failed while it was read: a failure of its upstream."""
        self._breaker.failed(origin_of(endpoint), reason)

    async def _exchange(
        self,
        endpoint: UpstreamEndpoint,
        method: str,
        path: str,
        scope: str | None,
        accept: str | None,
        read: Callable[[aiohttp.ClientResponse], Awaitable[T]],
        deadline: float | None,
    ) -> T:
        """What `read` makes of the 2xx response to `method path`, retried and bounded as the module says. `read`
        owns the response: it releases it, or hands it on."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self._request_timeout if deadline is None else deadline
        where = f"upstream {endpoint.base_url}"
        tried = 0
        failure: Transient | None = None
        try:
            async with asyncio.timeout_at(deadline) as budget:
                while True:
                    try:
                        return await self._recorded(
                            endpoint, lambda: self._attempt_read(endpoint, method, path, scope, accept, read), budget
                        )
                    except Transient as error:
                        failure = error
                    tried += 1
                    delay = self._policy.delay(tried - 1, failure.retry_after, self._jitter())
                    if delay is None or loop.time() + delay >= deadline:
                        raise _unavailable(
                            f"{where} failed{'' if failure.status is None else f' {failure.status}'} on {method}"
                            f" {path} ({failure.reason}) after {tried} attempt{'s' if tried > 1 else ''}",
                            failure,
                        ) from None
                    log.warning(
                        "%s: %s %s failed (%s); asking again in %.2f s", where, method, path, failure.reason, delay
                    )
                    await asyncio.sleep(delay)
        except TimeoutError:
            if not budget.expired():
                raise
            last = "" if failure is None else f"; before that: {failure.reason}"
            raise UpstreamTimedOut(
                f"{where} did not answer {method} {path} within {deadline - started:.3g} s{last}",
                None if failure is None else failure.status,
            ) from None

    async def _recorded(
        self, endpoint: UpstreamEndpoint, attempt: Callable[[], Awaitable[T]], budget: asyncio.Timeout
    ) -> T:
        """The result of one `attempt`, the breaker asked first and told how it went; transport errors are raised
        as Transient."""
        origin = origin_of(endpoint)
        probe = self._breaker.admit(origin)
        try:
            result = await attempt()
        except Transient as error:
            if error.status == TOO_MANY_REQUESTS:
                self._breaker.succeeded(origin)  # up, and saying when to come back
            else:
                self._breaker.failed(origin, error.reason)
            raise
        except TRANSPORT_ERRORS as error:
            reason = describe_transport_error(error)
            self._breaker.failed(origin, reason)
            raise Transient(reason, timed_out=isinstance(error, TimeoutError)) from None
        except (UpstreamNotFound, UpstreamDenied, UpstreamInvalid):
            self._breaker.succeeded(origin)  # an answer: the upstream is up
            raise
        except asyncio.CancelledError:
            if budget.expired():
                self._breaker.failed(origin, "the request budget ran out")
            else:
                self._breaker.abandoned(origin, probe)
            raise
        except BaseException:
            self._breaker.abandoned(origin, probe)
            raise
        self._breaker.succeeded(origin)
        return result

    async def _attempt_read(
        self,
        endpoint: UpstreamEndpoint,
        method: str,
        path: str,
        scope: str | None,
        accept: str | None,
        read: Callable[[aiohttp.ClientResponse], Awaitable[T]],
    ) -> T:
        return await read(await self._attempt(endpoint, method, path, scope, accept))

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


def _unavailable(message: str, failure: Transient) -> UpstreamUnavailable:
    """What a failure that is still there after the retries means: throttling, a timeout, or an upstream down."""
    if failure.status == TOO_MANY_REQUESTS:
        return UpstreamRateLimited(message, failure.retry_after)
    if failure.timed_out:
        return UpstreamTimedOut(message, failure.status)
    return UpstreamUnavailable(message, failure.status)


async def _release(response: aiohttp.ClientResponse) -> None:
    response.release()


async def _headers(response: aiohttp.ClientResponse) -> tuple[Headers, int | None]:
    response.release()
    return response.headers, response.content_length


async def _keep(response: aiohttp.ClientResponse) -> aiohttp.ClientResponse:
    return response


def origin_of(endpoint: UpstreamEndpoint) -> str:
    """What the circuit breaker keeps apart: scheme, host and port."""
    return str(URL(endpoint.base_url).origin())
