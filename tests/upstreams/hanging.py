"""HangingUpstream: a reverse proxy that, when told, takes requests in and never answers, or answers and then
stalls the body; counts the connections it was sent."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Final, Literal

import aiohttp
from aiohttp import web

from tests.upstreams.proxy import CHUNK_BYTES, ReverseProxy, blob_digest_of, hang_up

# The longest a request is held: far past any bound the tests set, and it ends the wait even if nobody hangs up.
HOLD_LIMIT: Final = 120.0

Mode = Literal["silent", "stall_blobs"]


class HangingUpstream(ReverseProxy):
    """Forwards to `upstream_url` until `hang`: then every request is read and held unanswered ("silent"), or
    each blob GET is answered with its headers and `stall_after` bytes of body and then held ("stall_blobs"),
    until the client hangs up, `recover` is called or HOLD_LIMIT passes."""

    def __init__(self, upstream_url: str) -> None:
        super().__init__(upstream_url)
        self._lock = threading.Lock()
        self._mode: Mode | None = None
        self._stall_after = 0
        self._peers: set[tuple[str, int]] = set()
        self._requests = 0
        self._released: asyncio.Event | None = None

    def hang(self, mode: Mode = "silent", *, stall_after: int = 0) -> None:
        with self._lock:
            self._mode, self._stall_after = mode, stall_after
        self.call(self._hold())

    def recover(self) -> None:
        """Answer again; held requests are let go (their clients gave up long ago)."""
        with self._lock:
            self._mode = None
        self.call(self._release())

    def connections(self) -> int:
        """Connections that sent at least one request."""
        with self._lock:
            return len(self._peers)

    def requests(self) -> int:
        with self._lock:
            return self._requests

    async def _hold(self) -> None:
        self._released = asyncio.Event()

    async def _release(self) -> None:
        if self._released is not None:
            self._released.set()

    async def _held(self) -> None:
        released = self._released
        assert released is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(released.wait(), HOLD_LIMIT)

    def application(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        peer = request.transport.get_extra_info("peername")
        with self._lock:
            self._peers.add((peer[0], peer[1]))
            self._requests += 1
            mode = self._mode
        if mode == "silent":
            await self._held()
            hang_up(request)
        return await self.forward(request)

    async def stream(
        self,
        request: web.Request,
        response: web.StreamResponse,
        answer: aiohttp.ClientResponse,
        drop_after: int | None,
    ) -> None:
        with self._lock:
            stalls = self._mode == "stall_blobs" and blob_digest_of(request.path) is not None
            stall_after = self._stall_after if stalls else None
        sent = 0
        async for chunk in answer.content.iter_chunked(CHUNK_BYTES):
            if stall_after is not None and sent + len(chunk) >= stall_after:
                await response.write(chunk[: stall_after - sent])
                await self._held()
                hang_up(request)
            await response.write(chunk)
            sent += len(chunk)
