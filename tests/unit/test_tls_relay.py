"""TLS through relaying threads (tls/relay.py), in process on loopback with real TLS clients: what the relay adds to
the connection rules that tests/unit/test_http_server.py runs over it - whole bodies both ways, what a handler learns
of its client, a handshake that never comes, a client that stops reading, a certificate swapped between
handshakes, and no thread left behind."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web

from pullcache.http_server import BoundedAppRunner
from pullcache.registry.api.sendfile import SendfileResponse
from pullcache.tls.relay import Relay
from tests.integration.tls_front import Certificate, self_signed_certificate

HEADER_TIMEOUT = 0.8
IDLE_TIMEOUT = 1.0
BOUND = 10.0  # seconds any wait here may take at most
BODY = os.urandom(9 << 20)  # larger than the relay's chunk, not a multiple of it


@dataclass
class Relayed:
    port: int
    certificates: list[ssl.SSLContext]  # the last one is served to new handshakes
    trusted: Callable[[Certificate], ssl.SSLContext]
    body_file: Path  # BODY, for the responses that send a file
    seen: list[tuple[bool, str | None]] = field(default_factory=list)  # request.secure, request.remote per request


def server_context(certificate: Certificate) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate.certificate, certificate.key)
    return context


def client_context(certificate: Certificate) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=certificate.certificate)


@pytest.fixture
def certificate(tmp_path: Path) -> Certificate:
    return self_signed_certificate(tmp_path / "first", timedelta(days=1))


@pytest.fixture
async def relayed(certificate: Certificate) -> AsyncIterator[Relayed]:
    async with relay(certificate, IDLE_TIMEOUT) as served:
        yield served


@contextlib.asynccontextmanager
async def relay(certificate: Certificate, idle_timeout: float) -> AsyncIterator[Relayed]:
    """A server with the connection rules whose connections are TLS through relays."""
    app = web.Application()
    served = Relayed(0, [server_context(certificate)], client_context, certificate.certificate.with_name("body"))
    served.body_file.write_bytes(BODY)

    async def body(request: web.Request) -> web.Response:
        served.seen.append((request.secure, request.remote))
        return web.Response(body=BODY)

    async def echo(request: web.Request) -> web.Response:
        served.seen.append((request.secure, request.remote))
        return web.Response(text=hashlib.sha256(await request.read()).hexdigest())

    async def file(request: web.Request) -> web.StreamResponse:
        """BODY's bytes from `start` on, sent from its file: handed to the relay, not through the socket pair."""
        served.seen.append((request.secure, request.remote))
        start = int(request.query.get("start", "0"))
        return SendfileResponse(served.body_file, start, len(BODY) - start)

    app.router.add_get("/body", body)
    app.router.add_get("/file", file)
    app.router.add_put("/echo", echo)
    app._client_max_size = len(BODY) + 1
    runner = BoundedAppRunner(
        app,
        header_timeout=HEADER_TIMEOUT,
        idle_timeout=idle_timeout,
        body_timeout=idle_timeout,
        max_connections=50,
        tls=lambda: served.certificates[-1],
    )
    await runner.setup()
    [sock] = runner.listening_sockets("127.0.0.1", 0, reuse_port=False)
    await web.SockSite(runner, sock).start()
    served.port = sock.getsockname()[1]
    try:
        yield served
    finally:
        await runner.cleanup()


def relay_threads() -> int:
    return sum(thread.name == "tls-relay" for thread in threading.enumerate())


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(int(BOUND / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("not within the bound")


def exchange(port: int, trusted: ssl.SSLContext, request: bytes) -> tuple[bytes, bytes]:
    """One request on a new TLS connection (in a thread: a blocking client), read to the server's close, which must
    be TLS's close_notify (else SSLEOFError)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=BOUND)
    with trusted.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False) as client:
        client.sendall(request)
        received = bytearray()
        while chunk := client.recv(1 << 20):
            received += chunk
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    return head, body


async def test_bodies_cross_whole_both_ways_and_the_handler_sees_a_secure_request_from_its_client(
    relayed: Relayed, certificate: Certificate
) -> None:
    trusted = client_context(certificate)
    get = b"GET /body HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    head, body = await asyncio.to_thread(exchange, relayed.port, trusted, get)
    assert head.startswith(b"HTTP/1.1 200")
    assert hashlib.sha256(body).digest() == hashlib.sha256(BODY).digest()

    put = f"PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {len(BODY)}\r\nConnection: close\r\n\r\n".encode()
    head, body = await asyncio.to_thread(exchange, relayed.port, trusted, put + BODY)
    assert head.startswith(b"HTTP/1.1 200")
    assert body.decode() == hashlib.sha256(BODY).hexdigest()
    assert relayed.seen == [(True, "127.0.0.1"), (True, "127.0.0.1")]
    await until(lambda: relay_threads() == 0)


async def test_a_connection_that_never_shakes_hands_is_closed_at_the_header_timeout(relayed: Relayed) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    reader, writer = await asyncio.open_connection("127.0.0.1", relayed.port)
    try:
        assert await asyncio.wait_for(reader.read(), BOUND) == b""
    finally:
        writer.close()
    assert HEADER_TIMEOUT - 0.1 <= loop.time() - started < HEADER_TIMEOUT + BOUND
    await until(lambda: relay_threads() == 0)


async def test_a_client_that_stops_reading_loses_its_connection_and_its_thread(
    relayed: Relayed, certificate: Certificate
) -> None:
    raw = socket.create_connection(("127.0.0.1", relayed.port), timeout=BOUND)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client = await asyncio.to_thread(client_context(certificate).wrap_socket, raw, server_hostname="localhost")
    try:
        client.sendall(b"GET /body HTTP/1.1\r\nHost: x\r\n\r\n")
        await until(lambda: relay_threads() == 1)
        await until(lambda: relay_threads() == 0)  # gone after the send timeout, the body not read
    finally:
        client.close()


async def test_a_new_certificate_serves_new_handshakes_and_open_connections_keep_going(
    relayed: Relayed, certificate: Certificate, tmp_path: Path
) -> None:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", relayed.port, ssl=client_context(certificate), server_hostname="localhost"
    )
    second = self_signed_certificate(tmp_path / "second", timedelta(days=1))
    relayed.certificates.append(server_context(second))

    with pytest.raises(ssl.SSLCertVerificationError):
        await asyncio.to_thread(exchange, relayed.port, client_context(certificate), b"")
    get = b"GET /body HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    head, _ = await asyncio.to_thread(exchange, relayed.port, client_context(second), get)
    assert head.startswith(b"HTTP/1.1 200")

    writer.write(b"GET /body HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")  # opened before the swap
    answer = await asyncio.wait_for(reader.read(), BOUND)
    assert answer.startswith(b"HTTP/1.1 200")
    assert answer.endswith(BODY)
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError):
        await writer.wait_closed()


async def test_clients_sending_part_of_a_record_hold_no_thread_once_the_server_side_gives_up(
    certificate: Certificate,
) -> None:
    async with relay(certificate, idle_timeout=60.0) as served:  # a send timeout far past the bound
        clients = []
        for _ in range(20):
            raw = socket.create_connection(("127.0.0.1", served.port), timeout=BOUND)
            client = await asyncio.to_thread(client_context(certificate).wrap_socket, raw, server_hostname="localhost")
            clients.append(client)
        try:
            for client in clients:
                os.write(client.fileno(), bytes([23, 3, 3, 0x40, 0x00]))  # a record's header, its body never sent
            await until(lambda: relay_threads() == len(clients))
            await until(lambda: relay_threads() == 0)  # closed at the header timeout, long before the send timeout
        finally:
            for client in clients:
                client.close()


async def test_files_go_through_the_relay_whole_in_order_with_the_responses_around_them(
    relayed: Relayed, certificate: Certificate, monkeypatch: pytest.MonkeyPatch
) -> None:
    handed: list[int] = []  # the count of each file handed to a relay (not sent through the socket pair)
    send_file = Relay.send_file

    async def counted(relay: Relay, transport: asyncio.WriteTransport, fd: int, offset: int, count: int) -> None:
        handed.append(count)
        await send_file(relay, transport, fd, offset, count)

    monkeypatch.setattr(Relay, "send_file", counted)
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", relayed.port, ssl=client_context(certificate), server_hostname="localhost"
    )
    try:
        # Pipelined: a whole file, a file from an offset, a plain body, and a file again on one connection.
        for path in ("/file", "/file?start=1000001", "/body", "/file"):
            writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        for expected in (BODY, BODY[1000001:], BODY, BODY):
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), BOUND)
            assert head.startswith(b"HTTP/1.1 200")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            body = await asyncio.wait_for(reader.readexactly(length), BOUND)
            assert hashlib.sha256(body).digest() == hashlib.sha256(expected).digest()
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
    assert handed == [len(BODY), len(BODY) - 1000001, len(BODY)]
    await until(lambda: relay_threads() == 0)


async def test_a_client_leaving_mid_file_ends_the_relay_and_leaves_no_file_open(
    relayed: Relayed, certificate: Certificate
) -> None:
    files_before = len(os.listdir("/proc/self/fd"))
    raw = socket.create_connection(("127.0.0.1", relayed.port), timeout=BOUND)
    client = await asyncio.to_thread(client_context(certificate).wrap_socket, raw, server_hostname="localhost")
    client.sendall(b"GET /file HTTP/1.1\r\nHost: x\r\n\r\n")
    assert await asyncio.to_thread(client.recv, 1024)  # the response has begun
    client.close()

    await until(lambda: relay_threads() == 0)
    await until(lambda: len(os.listdir("/proc/self/fd")) <= files_before)
