"""aiohttp's server with the connection rules, in process on loopback: the header and idle timeouts, and the cap
with its eviction of idle connections and refusals. These drive the aiohttp internals http_server.py leans on.
Every test runs twice: over plain connections, and over TLS connections relayed by threads (tls/relay.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from aiohttp import web

from pullcache.http_server import BoundedAppRunner, BoundedServer
from tests.integration.tls_front import Certificate, self_signed_certificate

HEADER_TIMEOUT = 0.6
IDLE_TIMEOUT = 1.2
BODY_TIMEOUT = 0.8
BOUND = 10.0  # seconds any wait here may take at most, however loaded the machine


@dataclass
class Served:
    runner: BoundedAppRunner
    port: int
    client_tls: ssl.SSLContext | None  # what a client trusts the server's certificate with, over TLS
    release: asyncio.Event  # lets the /hold handlers finish
    uploads: list[str]  # what became of each /upload: "read N bytes", or the error its body read ended with

    @property
    def server(self) -> BoundedServer:
        assert isinstance(self.runner.server, BoundedServer)
        return self.runner.server


ServerFactory = Callable[[int], Awaitable[Served]]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"), timedelta(days=1))


@pytest.fixture(params=["plain", "tls"])
async def serve(request: pytest.FixtureRequest, certificate: Certificate) -> AsyncIterator[ServerFactory]:
    server_tls: ssl.SSLContext | None = None
    client_tls: ssl.SSLContext | None = None
    if request.param == "tls":
        server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_tls.load_cert_chain(certificate.certificate, certificate.key)
        client_tls = ssl.create_default_context(cafile=certificate.certificate)
    runners: list[BoundedAppRunner] = []
    release = asyncio.Event()
    uploads: list[str] = []
    writers.clear()

    async def start(max_connections: int = 100) -> Served:
        app = web.Application()

        async def hello(_request: web.Request) -> web.Response:
            return web.Response(text="hello")

        async def hold(_request: web.Request) -> web.Response:
            await release.wait()
            return web.Response(text="held")

        async def slow(_request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse()
            await response.prepare(_request)
            for _ in range(4):  # past both timeouts, mid-response
                await asyncio.sleep(HEADER_TIMEOUT)
                await response.write(b"x" * 1024)
            await response.write_eof()
            return response

        async def upload(request: web.Request) -> web.Response:
            received = 0
            try:
                async for chunk in request.content.iter_any():
                    received += len(chunk)
            except (asyncio.CancelledError, ConnectionError) as cut:  # the body fails; or the handler is cancelled
                uploads.append(f"{type(cut).__name__} after {received} bytes")
                raise
            uploads.append(f"read {received} bytes")
            return web.Response(text=f"got {received}")

        app.router.add_put("/upload", upload)
        app.router.add_get("/hello", hello)
        app.router.add_get("/hold", hold)
        app.router.add_get("/slow", slow)
        runner = BoundedAppRunner(
            app,
            header_timeout=HEADER_TIMEOUT,
            idle_timeout=IDLE_TIMEOUT,
            body_timeout=BODY_TIMEOUT,
            max_connections=max_connections,
            tls=None if server_tls is None else (lambda: server_tls),
        )
        runners.append(runner)
        await runner.setup()
        [sock] = runner.listening_sockets("127.0.0.1", 0, reuse_port=False)
        site = web.SockSite(runner, sock)
        await site.start()
        return Served(runner, sock.getsockname()[1], client_tls, release, uploads)

    yield start
    release.set()
    for writer in writers:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    for runner in runners:
        await runner.cleanup()


writers: list[asyncio.StreamWriter] = []  # the test's client connections, closed after it


async def connect(served: Served) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    hostname = None if served.client_tls is None else "localhost"
    opening = asyncio.open_connection("127.0.0.1", served.port, ssl=served.client_tls, server_hostname=hostname)
    reader, writer = await asyncio.wait_for(opening, BOUND)
    writers.append(writer)
    return reader, writer


async def closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """All the server sends until it closes the connection."""
    return await asyncio.wait_for(reader.read(), BOUND)


async def get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str) -> bytes:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), BOUND)
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    return head + await asyncio.wait_for(reader.readexactly(length), BOUND)


async def test_a_connection_sending_its_headers_a_byte_at_a_time_is_closed_at_the_header_timeout(
    serve: ServerFactory,
) -> None:
    served = await serve(100)
    loop = asyncio.get_running_loop()
    started = loop.time()  # before the connection: over TLS the handshake counts too
    reader, writer = await connect(served)
    request = b"GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100 + b"\r\n\r\n"
    closing = asyncio.ensure_future(closed_by_server(reader))
    sent = 0
    while not closing.done() and sent < len(request):
        writer.write(request[sent : sent + 1])
        sent += 1
        await asyncio.wait([closing], timeout=0.1)

    assert await closing == b""  # closed without an answer
    assert sent < len(request)
    assert HEADER_TIMEOUT <= loop.time() - started < HEADER_TIMEOUT + BOUND


async def test_a_connection_that_sends_nothing_is_closed(serve: ServerFactory) -> None:
    served = await serve(100)
    reader, _writer = await connect(served)

    assert await closed_by_server(reader) == b""


async def test_a_kept_alive_connection_waits_the_idle_timeout_and_times_the_next_headers_from_their_first_byte(
    serve: ServerFactory,
) -> None:
    served = await serve(100)
    reader, writer = await connect(served)
    assert (await get(reader, writer, "/hello")).endswith(b"hello")

    await asyncio.sleep(HEADER_TIMEOUT * 1.5)  # longer than the header timeout, within the idle timeout
    writer.write(b"G")
    await asyncio.sleep(HEADER_TIMEOUT / 2)
    writer.write(b"ET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), BOUND)
    assert head.startswith(b"HTTP/1.1 200")
    assert await asyncio.wait_for(reader.readexactly(5), BOUND) == b"hello"

    assert await closed_by_server(reader) == b""  # idle past the idle timeout


async def test_a_response_under_way_is_never_cut_by_the_timeouts(serve: ServerFactory) -> None:
    served = await serve(100)
    reader, writer = await connect(served)
    writer.write(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), BOUND)

    body = await asyncio.wait_for(reader.readuntil(b"\r\n0\r\n\r\n"), BOUND)  # the chunked body's end
    assert body.count(b"x") == 4 * 1024


async def test_at_the_cap_the_longest_connected_idle_connection_makes_room(serve: ServerFactory) -> None:
    served = await serve(3)
    idle = [await connect(served) for _ in range(3)]
    await asyncio.sleep(0.1)

    reader, writer = await connect(served)
    assert (await get(reader, writer, "/hello")).endswith(b"hello")
    assert await closed_by_server(idle[0][0]) == b""
    assert served.server.budget.evicted == 1
    assert served.server.budget.open <= 3


async def test_at_the_cap_with_none_idle_a_connection_is_refused_at_once_in_both_error_shapes(
    serve: ServerFactory,
) -> None:
    served = await serve(2)
    busy = [await connect(served) for _ in range(2)]
    for _, writer in busy:
        writer.write(b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.sleep(0.2)

    reader, writer = await connect(served)
    refusal = await closed_by_server(reader)

    head, body = refusal.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 503")
    assert b"Connection: close" in head
    assert b"Retry-After: 1" in head
    document = json.loads(body)
    assert document["errors"][0]["code"] == "UNSUPPORTED"
    assert document["__type"] == "ServiceUnavailableException"
    assert served.server.budget.refused == 1
    served.release.set()
    for busy_reader, _ in busy:
        assert b"held" in await asyncio.wait_for(busy_reader.readuntil(b"held"), BOUND)


async def test_every_connection_is_counted_out_when_it_closes(serve: ServerFactory) -> None:
    served = await serve(5)
    clients = [await connect(served) for _ in range(8)]  # 3 of them make room
    for reader, writer in clients[-2:]:
        assert (await get(reader, writer, "/hello")).endswith(b"hello")
    for _, writer in clients:
        writer.close()
        await writer.wait_closed()

    for _ in range(int(BOUND / 0.05)):
        if served.server.budget.open == 0:
            break
        await asyncio.sleep(0.05)
    assert served.server.budget.open == 0


async def test_a_request_body_that_stops_arriving_is_aborted_at_the_body_timeout(serve: ServerFactory) -> None:
    served = await serve(100)
    reader, writer = await connect(served)
    writer.write(b"PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"u" * 10)
    loop = asyncio.get_running_loop()
    started = loop.time()

    assert await closed_by_server(reader) == b""  # aborted, no answer

    assert BODY_TIMEOUT <= loop.time() - started < BODY_TIMEOUT + BOUND
    for _ in range(100):  # the cancelled handler reports once it has run
        if served.uploads:
            break
        await asyncio.sleep(0.05)
    [cut_off] = served.uploads
    assert cut_off.endswith(" after 10 bytes")
    assert not cut_off.startswith("read")


async def test_a_request_body_that_keeps_arriving_slowly_is_never_cut(serve: ServerFactory) -> None:
    served = await serve(100)
    reader, writer = await connect(served)
    pieces = 8  # well past the header, idle and body timeouts in all
    writer.write(f"PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: {pieces}\r\n\r\n".encode())
    for _ in range(pieces):
        await asyncio.sleep(BODY_TIMEOUT / 3)
        writer.write(b"u")

    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), BOUND)
    assert head.startswith(b"HTTP/1.1 200")
    assert served.uploads == [f"read {pieces} bytes"]
