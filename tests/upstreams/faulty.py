"""FaultyUpstream: a streaming reverse proxy that misbehaves on demand and counts what it served."""

from __future__ import annotations

import asyncio
import re
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from tests.upstreams.proxy import CHUNK_BYTES, ReverseProxy, blob_digest_of, error_body, hang_up

BLOB_PATTERN: Final = r"/blobs/[a-z0-9]+:"  # blob GETs, not uploads
MANIFEST_PATTERN: Final = r"/manifests/"


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    path: str
    headers: Mapping[str, str]


@dataclass(slots=True)
class _Fault:
    """What the next `remaining` (None: every) requests of `method` (None: any) whose path matches get."""

    pattern: re.Pattern[str]
    method: str | None
    remaining: int | None
    status: int = 503
    retry_after: int | None = None
    drop_after_bytes: int | None = None  # set: the body breaks off after this many bytes instead

    def takes(self, method: str, path: str) -> bool:
        if self.remaining == 0 or (self.method is not None and self.method != method):
            return False
        if self.pattern.search(path) is None:
            return False
        if self.remaining is not None:
            self.remaining -= 1
        return True


@dataclass(slots=True)
class _State:
    faults: list[_Fault] = field(default_factory=list)
    corrupt: re.Pattern[str] | None = None
    bytes_per_second: int | None = None
    down: Literal["refuse", "503"] | None = None
    redirect_blobs_to: str | None = None
    stripped_headers: frozenset[str] = frozenset()
    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    recorded: list[RecordedRequest] = field(default_factory=list)
    blob_bytes: Counter[str] = field(default_factory=Counter)


class FaultyUpstream(ReverseProxy):
    """A reverse proxy that misbehaves on demand. Path patterns are regular expressions searched in the path."""

    def __init__(self, upstream_url: str) -> None:
        super().__init__(upstream_url)
        self._lock = threading.Lock()
        self._state = _State()

    # -- faults ---------------------------------------------------------------------------------------------

    def fail(
        self,
        path_pattern: str = "",
        status: int = 503,
        *,
        times: int | None = 1,
        retry_after: int | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next `times` matching requests (every one when None) with `status` (and Retry-After)."""
        fault = _Fault(re.compile(path_pattern), method, times, status, retry_after)
        with self._lock:
            self._state.faults.append(fault)

    def drop_connection(
        self, path_pattern: str = "", *, after_bytes: int = 0, times: int | None = 1, method: str | None = "GET"
    ) -> None:
        """Send the headers and `after_bytes` of the body of the next `times` matching requests, then hang up."""
        fault = _Fault(re.compile(path_pattern), method, times, drop_after_bytes=after_bytes)
        with self._lock:
            self._state.faults.append(fault)

    def corrupt(self, path_pattern: str | None = BLOB_PATTERN) -> None:
        """Flip the first byte of every chunk of the bodies of GETs whose path matches (their length unchanged);
        None: corrupt nothing."""
        with self._lock:
            self._state.corrupt = None if path_pattern is None else re.compile(path_pattern)

    def throttle(self, bytes_per_second: int | None) -> None:
        """Serve bodies at most this fast (None: as fast as the upstream)."""
        with self._lock:
            self._state.bytes_per_second = bytes_per_second

    def redirect_blobs(self, target_url: str | None) -> None:
        """Answer blob GETs with 307 to the same path at `target_url` (None: serve them again)."""
        with self._lock:
            self._state.redirect_blobs_to = None if target_url is None else target_url.rstrip("/")

    def strip_headers(self, *names: str) -> None:
        """Leave these headers out of every answer (none: keep them all again). Without Content-Length, a body
        goes out chunked."""
        with self._lock:
            self._state.stripped_headers = frozenset(name.lower() for name in names)

    def go_down(self, mode: Literal["refuse", "503"] = "refuse") -> None:
        """Refuse connections (and hang up on open ones), or answer 503 to everything, until `come_up`."""
        with self._lock:
            self._state.down = mode
        if mode == "refuse":
            self.call(self.stop_listening())

    def come_up(self) -> None:
        with self._lock:
            was, self._state.down = self._state.down, None
        if was == "refuse":
            self.call(self.listen())

    def clear_faults(self) -> None:
        with self._lock:
            self._state.faults.clear()
            self._state.corrupt = None
            self._state.bytes_per_second = None
            self._state.redirect_blobs_to = None
            self._state.stripped_headers = frozenset()

    # -- counters -------------------------------------------------------------------------------------------

    def requests(self, method: str | None = None, path: str | None = None) -> int:
        """Requests received (faulted ones included), of `method` and to `path` when given."""
        with self._lock:
            return sum(
                count
                for (m, p), count in self._state.requests.items()
                if (method is None or m == method) and (path is None or p == path)
            )

    def recorded(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._state.recorded)

    def blob_bytes(self, digest: str) -> int:
        """Body bytes served of the blob `digest`, over every GET of it."""
        with self._lock:
            return self._state.blob_bytes[digest]

    def blob_bytes_served(self) -> dict[str, int]:
        with self._lock:
            return dict(self._state.blob_bytes)

    def reset_counts(self) -> None:
        with self._lock:
            self._state.requests.clear()
            self._state.recorded.clear()
            self._state.blob_bytes.clear()

    # -- serving --------------------------------------------------------------------------------------------

    def application(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method, path = request.method, request.path
        with self._lock:
            state = self._state
            state.requests[(method, path)] += 1
            state.recorded.append(RecordedRequest(method, path, dict(request.headers)))
            down = state.down
            fault = next((f for f in state.faults if f.takes(method, path)), None)
            redirect = state.redirect_blobs_to if method == "GET" and blob_digest_of(path) else None
        if down == "refuse":
            assert request.transport is not None
            request.transport.abort()  # a connection kept alive from before: hang up on it
            return web.Response(status=503)
        if down == "503":
            return self._failure(request, 503, None)
        if fault is not None and fault.drop_after_bytes is None:
            return self._failure(request, fault.status, fault.retry_after)
        if redirect is not None:
            return web.Response(status=307, headers={"Location": f"{redirect}{request.path_qs}"})
        return await self.forward(request, drop_after_bytes=None if fault is None else fault.drop_after_bytes)

    def answer_headers(self, headers: CIMultiDictProxy[str]) -> CIMultiDict[str]:
        kept = super().answer_headers(headers)
        with self._lock:
            stripped = self._state.stripped_headers
        for name in stripped:
            kept.popall(name, None)
        return kept

    def _failure(self, request: web.Request, status: int, retry_after: int | None) -> web.Response:
        code = "TOOMANYREQUESTS" if status == 429 else "UNAVAILABLE"
        return web.Response(
            status=status,
            headers={"Retry-After": str(retry_after)} if retry_after is not None else None,
            content_type="application/json",
            body=None if request.method == "HEAD" else error_body(code, f"injected {status}"),
        )

    async def stream(
        self,
        request: web.Request,
        response: web.StreamResponse,
        answer: aiohttp.ClientResponse,
        drop_after: int | None,
    ) -> None:
        digest = blob_digest_of(request.path) if request.method == "GET" else None
        sent = 0
        async for chunk in answer.content.iter_chunked(CHUNK_BYTES):
            with self._lock:
                pattern = self._state.corrupt
                corrupt = request.method == "GET" and pattern is not None and pattern.search(request.path) is not None
                rate = self._state.bytes_per_second
            if corrupt:
                chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
            if drop_after is not None and sent + len(chunk) >= drop_after:
                await self._write(response, chunk[: drop_after - sent], digest, rate)
                hang_up(request)
            await self._write(response, chunk, digest, rate)
            sent += len(chunk)

    async def _write(self, response: web.StreamResponse, data: bytes, digest: str | None, rate: int | None) -> None:
        """Write `data`, at most `rate` bytes a second, counting what goes out (before it goes: a client that has
        read the bytes finds them counted)."""
        step = len(data) if rate is None else max(1, rate // 20)
        for start in range(0, len(data), step):
            piece = data[start : start + step]
            if digest is not None:
                with self._lock:
                    self._state.blob_bytes[digest] += len(piece)
            await response.write(piece)
            if rate is not None:
                await asyncio.sleep(len(piece) / rate)
