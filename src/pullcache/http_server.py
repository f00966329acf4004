"""aiohttp's HTTP server with pullcache's rules for connections: a header timeout, an idle timeout, a connection
budget (connection_budget.py) and answers in the API's shape to requests its parser rejects (unreadable_requests.py).

The request handler (aiohttp's protocol object, one a connection) is subclassed, not wrapped: nothing runs per
request beyond what aiohttp runs, and per connection one timer and a few counters are added.

- Idle timeout: aiohttp's keep-alive timeout. It runs from the moment a connection is made and from the end of each
  response, and closes a connection that has not sent the first byte of a request by then.
- Header timeout: a request's headers must be complete within `header_timeout` of the connection being made (its
  first request) or of the request's first byte (a later one on a kept-alive connection), or the connection is
  closed: a client sending its headers a byte at a time holds a connection for that long at most, and one that
  sends nothing is closed at the first of the two timeouts. Once a request's first byte is in, the idle timeout waits
  for the header timeout. Both apply only while the connection waits for headers; a request being handled, its
  body arriving or its response being sent (a long blob download) is never cut by either.
- Body timeout: a request body may fall silent for `body_timeout` at most while its handler waits for it (an upload
  whose client stopped sending); the connection is then aborted, which cancels the handler (an upload keeps what it
  had staged, so the client can resume). Silence the server causes - reading paused because the handler is not
  keeping up - does not count, and neither does a response being sent.
- A connection waiting for a request is idle: at the connection cap the longest-connected idle one makes room for a
  new connection (BoundedServer.evict_idle).

This leans on aiohttp 3's RequestHandler internals (`_waiter`: it waits for a request; `_request_count`: requests
parsed so far), pinned by the lock file; tests/unit/test_http_server.py drives them through a real server.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from functools import partial
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from pullcache.connection_budget import BudgetedListener, ConnectionBudget, Listener, listening_sockets
from pullcache.tls.relay import Relay, TlsRelayListener
from pullcache.unreadable_requests import answer, rejection_for

log = logging.getLogger(__name__)

CLIENT_CLOSED_REQUEST = 499  # the access log's status for a request whose client left (nginx's number)
HEAD_BYTES = 1024  # of a request's first bytes, kept to shape the answer should the parser reject it


class BoundedRequestHandler(RequestHandler):
    """One connection: aiohttp's request handler with the header timeout, the budget's count and idle eviction."""

    __slots__ = (
        "_body_timeout",
        "_body_timer",
        "_budget",
        "_evicted",
        "_head",
        "_head_of",
        "_header_deadline",
        "_header_timeout",
        "_header_timer",
        "_heard_at",
        "_relays",
        "_timed_request",
        "_tls",
        "file_relay",
    )

    def __init__(self, manager: BoundedServer, *, header_timeout: float, body_timeout: float, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._tls = manager.tls
        self._relays = manager.relays
        self.file_relay: Relay | None = None  # a TLS relay's connection: where files are sent instead of sendfile
        self._budget: ConnectionBudget | None = manager.budget
        self._header_timeout = header_timeout
        self._body_timeout = body_timeout
        self._body_timer: asyncio.TimerHandle | None = None
        self._heard_at = 0.0
        self._header_timer: asyncio.TimerHandle | None = None
        self._header_deadline = 0.0
        self._timed_request = 0  # the value of _request_count while the timed request's headers are awaited
        self._head = b""
        self._head_of = -1  # the value of _request_count when _head was kept
        self._evicted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if self._tls is not None:
            sock = transport.get_extra_info("socket")
            self.file_relay = self._relays.pop(sock.fileno(), None) if sock is not None else None
        self._header_deadline = self._loop.time() + self._header_timeout
        self._header_timer = self._loop.call_at(self._header_deadline, self._header_time_is_up)

    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        """A TLS relay's connection is plain to the event loop, but the client's is TLS (request.secure)."""
        return self._tls() if self._tls is not None else super().ssl_context

    def data_received(self, data: bytes) -> None:
        self._heard_at = self._loop.time()
        if data and self._head_of != self._request_count:
            waiter = self._waiter
            if (waiter is not None and not waiter.done()) or not self._request_count:
                self._request_begins(data)
        super().data_received(data)

    def _request_begins(self, data: bytes) -> None:
        """The first bytes of a request: keep its head and, after the first request, start its header clock."""
        self._head = data[:HEAD_BYTES]
        self._head_of = self._request_count
        now = self._loop.time()
        # aiohttp's keep-alive check, should it come first, finds its close time moved past the header deadline.
        self._next_keepalive_close_time = max(self._next_keepalive_close_time, now + 2 * self._header_timeout)
        if self._body_timer is None:
            self._body_timer = self._loop.call_at(now + self._body_timeout, self._body_time_is_up)
        if self._request_count:
            self._timed_request = self._request_count
            self._header_deadline = now + self._header_timeout
            if self._header_timer is None:  # else it fires early and is set again (no cancel, no heap churn)
                self._header_timer = self._loop.call_at(self._header_deadline, self._header_time_is_up)

    def _header_time_is_up(self) -> None:
        self._header_timer = None
        if self._request_count != self._timed_request or not self.is_idle():
            return  # the headers came: a request is under way, or done and its connection idle till the next
        now = self._loop.time()
        if now < self._header_deadline:
            self._header_timer = self._loop.call_at(self._header_deadline, self._header_time_is_up)
            return
        if self._head_of == self._request_count:
            log.warning(
                "closed a connection whose request headers did not arrive in time",
                extra={"fields": {"header_timeout": self._header_timeout, "remote": _remote(self.peername)}},
            )
        else:
            log.debug("closed a connection that sent no request", extra={"fields": {"remote": _remote(self.peername)}})
        self.force_close()

    def _body_time_is_up(self) -> None:
        """Abort a connection whose request body has been silent for the body timeout while its handler waits."""
        self._body_timer = None
        if self.transport is None or self._force_close:
            return
        request = self._current_request
        if request is None or request.content.is_eof():
            if self.is_idle():
                return  # the next request's first bytes start the watch again
            wake_at = self._loop.time() + self._body_timeout
        elif self._reading_paused:  # the handler is not keeping up: the silence is ours
            wake_at = self._loop.time() + self._body_timeout
        else:
            wake_at = self._heard_at + self._body_timeout
            if wake_at <= self._loop.time():
                log.warning(
                    "aborted a request whose body stopped arriving",
                    extra={
                        "repeat_key": "request body timeout",
                        "fields": {"body_timeout": self._body_timeout, "remote": _remote(self.peername)},
                    },
                )
                self.force_close()
                if self.transport is not None:
                    self.transport.abort()
                return
        self._body_timer = self._loop.call_at(wake_at, self._body_time_is_up)

    def is_idle(self) -> bool:
        """Waiting for a request (none parsed and unanswered), and still connected."""
        waiter = self._waiter
        return waiter is not None and not waiter.done() and self.transport is not None and not self._force_close

    def evict(self) -> None:
        """Close now to make room for a new connection; what the transport still buffers is dropped."""
        self._evicted = True
        transport = self.transport
        self.force_close()
        if transport is not None:
            transport.abort()

    def connection_lost(self, exc: BaseException | None) -> None:
        for timer in (self._header_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._header_timer = self._body_timer = None
        budget, self._budget = self._budget, None
        if budget is not None:
            budget.release(evicted=self._evicted)
        super().connection_lost(exc)

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> StreamResponse:
        """A request the parser rejected: answered in its API's shape, logged once per cause and interval, without
        a traceback (it is the client's fault, not a bug here). A request whose client went away while it was
        handled (its body stopped, the connection dropped): one line, no traceback, nothing to answer. Any other
        error: aiohttp's answer."""
        if isinstance(exc, ConnectionError) and (self.transport is None or self.transport.is_closing()):
            log.info(
                "a client went away during its request",
                extra={
                    "repeat_key": "client went away",
                    "fields": {"method": request.method, "path": request.path, "remote": request.remote},
                },
            )
            self.force_close()
            return web.Response(status=CLIENT_CLOSED_REQUEST, reason="Client Closed Request")
        if not isinstance(exc, HttpProcessingError):
            return super().handle_error(request, status, exc, message)
        # The head kept last is that of the request that failed: bytes a client goes on sending after it may fail
        # the parser again (and count as more requests) before this runs.
        head = self._head if 0 <= self._head_of < self._request_count else b""
        rejection = rejection_for(exc, head)
        log.warning(
            "rejected a request the HTTP parser cannot read: %s",
            rejection.cause,
            extra={
                "repeat_key": rejection.cause,
                "fields": {
                    "cause": rejection.cause,
                    "status": rejection.http_status,
                    "remote": request.remote,
                    "reason": exc.message.split("\n", 1)[0][:200],
                },
            },
        )
        return answer(rejection, head)


class BoundedServer(web.Server):
    """aiohttp's server (the protocol factory) making BoundedRequestHandlers, and the owner of the budget."""

    def __init__(
        self,
        *args: Any,
        max_connections: int,
        header_timeout: float,
        body_timeout: float,
        tls: Callable[[], ssl.SSLContext] | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.budget = ConnectionBudget(max_connections, make_room=self.evict_idle)
        self.tls = tls  # the certificate of the moment, when connections come through a TLS relay
        self.relays: dict[int, Relay] = {}  # each relayed connection's, from accept() to its connection_made
        self._header_timeout = header_timeout
        self._body_timeout = body_timeout

    def __call__(self) -> RequestHandler:
        return BoundedRequestHandler(
            self,
            loop=self._loop,
            header_timeout=self._header_timeout,
            body_timeout=self._body_timeout,
            **self._kwargs,
        )

    def evict_idle(self) -> bool:
        """Close the longest-connected idle connection, if any."""
        for handler in self._connections:
            if isinstance(handler, BoundedRequestHandler) and handler.is_idle():
                handler.evict()
                return True
        return False


class BoundedAppRunner(web.AppRunner):
    """An AppRunner whose server is a BoundedServer, with aiohttp's keep-alive timeout as the idle timeout; with
    `tls` (what gives the certificate of the moment), its listening sockets serve TLS through relays."""

    __slots__ = ("_body_timeout", "_header_timeout", "_idle_timeout", "_max_connections", "_tls")

    def __init__(
        self,
        app: web.Application,
        *,
        header_timeout: float,
        idle_timeout: float,
        max_connections: int,
        body_timeout: float,
        tls: Callable[[], ssl.SSLContext] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(app, keepalive_timeout=idle_timeout, **kwargs)
        self._tls = tls
        self._idle_timeout = idle_timeout
        self._header_timeout = header_timeout
        self._body_timeout = body_timeout
        self._max_connections = max_connections

    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()  # starts the app; its server is made again as a BoundedServer
        return BoundedServer(
            plain.request_handler,
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            max_connections=self._max_connections,
            header_timeout=self._header_timeout,
            body_timeout=self._body_timeout,
            tls=self._tls,
            **plain._kwargs,
        )

    def listening_sockets(self, host: str, port: int, *, reuse_port: bool) -> list[BudgetedListener]:
        """Sockets for web.SockSite that admit connections within this runner's budget (after setup())."""
        server = self.server
        assert isinstance(server, BoundedServer), "setup() first"
        make: Listener = partial(BudgetedListener, budget=server.budget)
        if self._tls is not None:
            make = partial(
                TlsRelayListener,
                budget=server.budget,
                contexts=self._tls,
                relays=server.relays,
                handshake_timeout=self._header_timeout,
                send_timeout=self._idle_timeout,
            )
        return listening_sockets(host, port, make, reuse_port=reuse_port)


def _remote(peername: object) -> str | None:
    return str(peername[0]) if isinstance(peername, tuple) and peername else None
