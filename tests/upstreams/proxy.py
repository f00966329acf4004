"""An aiohttp application served by its own thread and event loop, and a streaming reverse proxy built on it."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Coroutine
from typing import Any, Final, NoReturn, Self, TypeVar

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from testkit.servers import free_port

T = TypeVar("T")

CALL_TIMEOUT: Final = 30.0
SHUTDOWN_TIMEOUT: Final = 1.0  # what requests still in flight at `stop` get to finish
CHUNK_BYTES: Final = 64 << 10
FORWARDED_REQUEST_HEADERS: Final = ("Accept", "Range", "Authorization", "Content-Type", "User-Agent")
FORWARDED_RESPONSE_HEADERS: Final = (
    "Content-Type",
    "Content-Length",
    "Content-Range",
    "Accept-Ranges",
    "Docker-Content-Digest",
    "Docker-Distribution-API-Version",
    "Docker-Upload-UUID",
    "ETag",
    "Link",
    "Location",
    "Range",
    "Retry-After",
    "WWW-Authenticate",
)
# Headers that may carry a URL of the upstream, rewritten to point at the proxy instead.
REWRITTEN_HEADERS: Final = frozenset({"location", "www-authenticate", "link"})
_REPOSITORY_PATH: Final = re.compile(r"^/v2/(?P<name>.+?)/(?:manifests|blobs|tags)/")
_BLOB_PATH: Final = re.compile(r"^/v2/(?P<name>.+)/blobs/(?P<digest>[a-z0-9]+:[a-zA-Z0-9=_-]+)$")


def repository_of(path: str) -> str | None:
    """The repository a /v2/ path names, if any."""
    match = _REPOSITORY_PATH.match(path)
    return match.group("name") if match else None


def blob_digest_of(path: str) -> str | None:
    match = _BLOB_PATH.match(path)
    return match.group("digest") if match else None


def hang_up(request: web.Request) -> NoReturn:
    """Abort the connection of `request` mid-answer."""
    assert request.transport is not None
    request.transport.abort()
    raise ConnectionResetError("hung up on purpose")


def error_body(code: str, message: str) -> bytes:
    return f'{{"errors":[{{"code":"{code}","message":"{message}"}}]}}'.encode()


class BackgroundServer:
    """An aiohttp application on `host`:`port`, served by its own thread and event loop. All of 127.0.0.0/8 is
    loopback: a subclass may listen on another address of it (`host = "127.0.0.2"`)."""

    host: str = "127.0.0.1"

    def __init__(self) -> None:
        self.port = free_port()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def application(self) -> web.Application:
        raise NotImplementedError

    async def on_start(self) -> None:
        """Runs in the server's loop before it listens."""

    async def on_stop(self) -> None:
        """Runs in the server's loop after it stopped listening."""

    def start(self) -> Self:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name=f"{type(self).__name__}-{self.port}", daemon=True)
        self._thread.start()
        self.call(self._open())
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        try:
            self.call(self._close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(CALL_TIMEOUT)
            self._loop.close()
            self._loop = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` in the server's loop and wait for its result."""
        assert self._loop is not None, "the server is not running"
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(CALL_TIMEOUT)

    async def listen(self) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await self._site.start()

    async def stop_listening(self) -> None:
        if self._site is not None:
            await self._site.stop()
            self._site = None

    async def _open(self) -> None:
        await self.on_start()
        self._runner = web.AppRunner(
            self.application(), access_log=None, handler_cancellation=True, shutdown_timeout=SHUTDOWN_TIMEOUT
        )
        await self._runner.setup()
        await self.listen()

    async def _close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        self._site = self._runner = None
        await self.on_stop()


class ReverseProxy(BackgroundServer):
    """Forwards every request to `upstream_url` and streams the answer back, URLs of the upstream in its headers
    rewritten to the proxy's own."""

    def __init__(self, upstream_url: str) -> None:
        super().__init__()
        self.upstream_url = upstream_url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    async def on_start(self) -> None:
        self._session = aiohttp.ClientSession(
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=60),
        )

    async def on_stop(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def forward(
        self, request: web.Request, *, drop_authorization: bool = False, drop_after_bytes: int | None = None
    ) -> web.StreamResponse:
        """The upstream's answer to `request`; with `drop_after_bytes`, the body breaks off after that many."""
        assert self._session is not None
        headers = {name: request.headers[name] for name in FORWARDED_REQUEST_HEADERS if name in request.headers}
        if drop_authorization:
            headers.pop("Authorization", None)
        body = await request.read() if request.body_exists else None
        async with self._session.request(
            request.method,
            URL(f"{self.upstream_url}{request.path_qs}", encoded=True),
            headers=headers,
            data=body,
            allow_redirects=False,
        ) as answer:
            response = web.StreamResponse(status=answer.status, headers=self.answer_headers(answer.headers))
            await response.prepare(request)
            try:
                if request.method != "HEAD":
                    await self.stream(request, response, answer, drop_after_bytes)
                await response.write_eof()
            except ConnectionResetError:
                pass  # the client hung up, or a fault hung up on it
            return response

    def answer_headers(self, headers: CIMultiDictProxy[str]) -> CIMultiDict[str]:
        kept: CIMultiDict[str] = CIMultiDict()
        for name in FORWARDED_RESPONSE_HEADERS:
            for value in headers.getall(name, ()):
                kept.add(
                    name, value.replace(self.upstream_url, self.url) if name.lower() in REWRITTEN_HEADERS else value
                )
        return kept

    async def stream(
        self,
        request: web.Request,
        response: web.StreamResponse,
        answer: aiohttp.ClientResponse,
        drop_after: int | None,
    ) -> None:
        sent = 0
        async for chunk in answer.content.iter_chunked(CHUNK_BYTES):
            if drop_after is not None and sent + len(chunk) >= drop_after:
                await response.write(chunk[: drop_after - sent])
                hang_up(request)
            await response.write(chunk)
            sent += len(chunk)
