"""TLS terminated by threads on blocking sockets, the plaintext handed to the HTTP server through socket pairs.

asyncio's TLS transport runs every byte through OpenSSL's memory buffers on the event loop's thread: measured here,
five 40 MiB blobs over TLS took ten times as long as over plain HTTP. A blocking `ssl` socket encrypts in OpenSSL
straight onto the socket, with the interpreter's lock let go, so several connections encrypt at once on several
cores. So the listening socket's accept(), which the event loop calls, makes a socket pair for each connection it
admits: the event loop serves the one end as a plain connection (every rule of http_server.py applies to it, sendfile
included), and a thread of the connection's own relays between the other end and the client, doing the handshake
first and then encrypting and decrypting as bytes come.

- The connection budget counts the connection as it counts a plain one; a connection refused at the cap gets its 503
  over TLS, from a short-lived thread (at most REFUSING at once; past that it is closed).
- The handshake must end within the header timeout. After it, a client that takes more than `send_timeout` to accept
  bytes loses the connection (a plain connection's slow reader holds only the event loop's buffer; here the relay's
  thread would be held).
- The server side closing (a response with `Connection: close`, an idle timeout, an eviction) closes the client's
  connection once every byte before it is relayed; the client closing closes the server side.
- Each handshake takes the certificate `contexts()` gives at that moment: a reload takes effect for new connections
  and leaves open ones as they are.
- Relaying holds a buffer from a shared pool only while bytes move: idle connections hold none. The client is
  read without waiting for the rest of a record, so a thread always notices the server side closing.
- A file's bytes need not cross the pair: a response sending a blob from a local file hands the relay the file
  (Relay.send_file, in the place of sendfile), and the thread reads it and encrypts it straight onto the client's
  socket, after the bytes written before it - as few copies as a server with TLS of its own makes. The event loop
  wakes the thread through an eventfd, a fourth file of the connection's.
- When there is no file for a pair or no thread to be had, the connection is closed and the listener rests a moment
  (RESOURCE_PAUSE), as a plain one does when files run out: the others wait in the kernel's queue meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass

from pullcache.connection_budget import RESOURCE_PAUSE, BudgetedListener, ConnectionBudget

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20  # read at once from the server side or a file: large writes let OpenSSL fill whole records
RECORD_BYTES = 1 << 16  # read at once from the client: a TLS read returns one record (16 KiB) at most
KEPT_BUFFERS = 64  # buffers the pool keeps for reuse; more may be lent at once, and are then let go
REFUSING = 16  # refused connections answered over TLS at once; past that a refused connection is closed
REFUSAL_TIMEOUT = 2.0  # seconds a refused connection's handshake and 503 may take
PAIR_BUFFER_BYTES = 4 << 20  # each socket pair end's send buffer: a whole chunk and more in flight
TLS_RELAY_FILES = 4  # open files a relayed connection holds: the client's socket, the pair's two ends, the eventfd
EMPTY_POLL = 0.0005  # seconds between looks at the event loop's write buffer before a file is handed over
SHUT = (OSError, ssl.SSLError, ValueError)  # what ends a relay: a closed, reset or failed socket


class BufferPool:
    """Buffers lent to relays while they move bytes (thread-safe: list.append and list.pop are atomic)."""

    def __init__(self, kept: int = KEPT_BUFFERS) -> None:
        self._free: list[bytearray] = []
        self._kept = kept

    def lend(self) -> bytearray:
        try:
            return self._free.pop()
        except IndexError:
            return bytearray(CHUNK_BYTES)

    def give_back(self, buffer: bytearray) -> None:
        if len(self._free) < self._kept:
            self._free.append(buffer)


@dataclass(slots=True)
class _FileSend:
    """A file handed to the relay's thread: its own descriptor of it, and the event loop's future to settle."""

    fd: int
    offset: int
    count: int
    loop: asyncio.AbstractEventLoop
    done: asyncio.Future[None]
    abandoned: bool = False  # the response gave up waiting: stop between chunks

    def settle(self, error: BaseException | None) -> None:
        with contextlib.suppress(RuntimeError):  # the event loop is closed: nobody waits any more
            self.loop.call_soon_threadsafe(_settle, self.done, error)


def _settle(done: asyncio.Future[None], error: BaseException | None) -> None:
    if done.done():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)


class Relay:
    """One connection's relay: the thread's side (run) and the event loop's (send_file)."""

    def __init__(self, plain: socket.socket, buffers: BufferPool, send_timeout: float, local_port: int = 0) -> None:
        """`local_port`: the port of this server the client connected to (the event loop sees only the pair)."""
        self.local_port = local_port
        self._plain = plain
        plain.settimeout(send_timeout)  # the server side not reading (its handler busy) holds the thread no longer
        self._buffers = buffers
        self._send_timeout = send_timeout
        self._wake = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        self._lock = threading.Lock()  # the eventfd's life against the event loop's wake-ups
        self._ended = False
        self._file: _FileSend | None = None

    async def send_file(self, transport: asyncio.WriteTransport, fd: int, offset: int, count: int) -> None:
        """Send `count` bytes of the file `fd` from `offset`, after every byte written to `transport` (the pair's
        served end) before; return once they are sent. Raises ConnectionResetError when the connection ends first."""
        while transport.get_write_buffer_size():  # the bytes before the file must be in the pair first
            if transport.is_closing():
                raise ConnectionResetError("client went away")
            await asyncio.sleep(EMPTY_POLL)
        loop = asyncio.get_running_loop()
        handed = _FileSend(os.dup(fd), offset, count, loop, loop.create_future())
        with self._lock:
            if self._ended:
                os.close(handed.fd)
                raise ConnectionResetError("client went away")
            self._file = handed
            os.eventfd_write(self._wake, 1)
        try:
            await handed.done
        except asyncio.CancelledError:
            handed.abandoned = True
            raise

    def run(self, client: ssl.SSLSocket) -> None:
        """Relay until either side closes or fails; the server side closing is told to the client (close_notify).

        The client is read without waiting (part of a record in: poll again), so that the thread always watches
        the server side too: a client sending a record a byte at a time holds nothing once the server side gives
        up on it. Writes to the client may wait `send_timeout` for room."""
        try:
            self._relay(client)
        finally:
            self.end()

    def end(self) -> None:
        """Close the server side and the eventfd; a file handed over and not yet sent fails (idempotent)."""
        self._plain.close()
        with self._lock:
            if self._ended:
                return
            self._ended = True
            os.close(self._wake)
            handed, self._file = self._file, None
        if handed is not None:
            os.close(handed.fd)
            handed.settle(ConnectionResetError("client went away"))

    def _relay(self, client: ssl.SSLSocket) -> None:
        plain = self._plain
        poller = select.poll()
        poller.register(client, select.POLLIN)
        poller.register(plain, select.POLLIN)
        poller.register(self._wake, select.POLLIN)
        client_fd, plain_fd = client.fileno(), plain.fileno()
        client.settimeout(0.0)
        while True:
            ready = [client_fd] if client.pending() else [fd for fd, _events in poller.poll()]
            for fd in ready:
                if fd == client_fd:
                    if not self._from_client(client):
                        return
                elif fd == plain_fd:
                    if not self._to_client(client):
                        return
                elif not self._send_file(client):
                    return

    def _from_client(self, client: ssl.SSLSocket) -> bool:
        try:
            data = client.recv(RECORD_BYTES)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return True  # a record not whole yet
        except SHUT:
            return False
        if not data:
            return False
        try:
            self._plain.sendall(data)
        except SHUT:
            return False
        return True

    def _to_client(self, client: ssl.SSLSocket) -> bool:
        """Relay what the server side wrote (False: it closed, or the client failed)."""
        buffer = self._buffers.lend()
        try:
            count = self._plain.recv_into(buffer)
            if count == 0:
                _close_notify(client)
                return False
            self._write(client, memoryview(buffer)[:count])
            return True
        except BlockingIOError:
            raise  # nothing more to read now (the server side read without waiting)
        except SHUT:
            return False
        finally:
            self._buffers.give_back(buffer)

    def _send_file(self, client: ssl.SSLSocket) -> bool:
        """The file the event loop handed over, after what the server side wrote before it."""
        with contextlib.suppress(BlockingIOError):
            os.eventfd_read(self._wake)
        with self._lock:
            handed, self._file = self._file, None
        if handed is None:
            return True
        buffer = self._buffers.lend()
        try:
            self._plain.settimeout(0.0)
            while True:  # what came before the file, all in the pair already
                try:
                    if not self._to_client(client):
                        raise ConnectionResetError("the connection closed before the file was sent")
                except BlockingIOError:
                    break
            self._plain.settimeout(self._send_timeout)
            position, end = handed.offset, handed.offset + handed.count
            view = memoryview(buffer)
            while position < end and not handed.abandoned:
                count = os.preadv(handed.fd, [view[: min(CHUNK_BYTES, end - position)]], position)
                if count == 0:
                    raise ConnectionResetError("the file shrank while being sent")
                self._write(client, view[:count])
                position += count
        except SHUT as error:
            handed.settle(ConnectionResetError(f"client went away: {error}"))
            return False
        finally:
            os.close(handed.fd)
            self._buffers.give_back(buffer)
        handed.settle(None)
        return not handed.abandoned

    def _write(self, client: ssl.SSLSocket, data: memoryview) -> None:
        client.settimeout(self._send_timeout)
        client.sendall(data)
        client.settimeout(0.0)


class TlsRelayListener(BudgetedListener):
    """A listening socket whose accepted connections are TLS, relayed by threads (see the module's docstring).
    Each connection's Relay is left in `relays`, under the file number of the socket accept() returns, for the
    event loop's side of the connection to take."""

    def __init__(
        self,
        family: socket.AddressFamily,
        budget: ConnectionBudget,
        contexts: Callable[[], ssl.SSLContext],
        relays: MutableMapping[int, Relay],
        *,
        handshake_timeout: float,
        send_timeout: float,
    ) -> None:
        super().__init__(family, budget)
        self._contexts = contexts
        self._relays = relays
        self._handshake_timeout = handshake_timeout
        self._send_timeout = send_timeout
        self._buffers = BufferPool()
        self._refusing = threading.BoundedSemaphore(REFUSING)

    def accept(self) -> tuple[socket.socket, object]:
        connection, address = super().accept()
        pair: tuple[socket.socket, ...] = ()
        relay: Relay | None = None
        try:
            pair = socket.socketpair()
            served, relayed = pair
            for end in pair:
                end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, PAIR_BUFFER_BYTES)
            relay = Relay(relayed, self._buffers, self._send_timeout, connection.getsockname()[1])
            thread = threading.Thread(target=self._run, args=(connection, relay), name="tls-relay", daemon=True)
            thread.start()
        except (OSError, RuntimeError) as error:  # no file for the pair or the eventfd, no thread to be had
            for sock in (connection, *pair):
                sock.close()
            if relay is not None:
                relay.end()
            self.budget.release(evicted=False)
            log.warning(
                "cannot relay a TLS connection: %s", error, extra={"repeat_key": "cannot relay a TLS connection"}
            )
            self._quiet_until = time.monotonic() + RESOURCE_PAUSE  # as for a plain connection: wait in the queue
            raise BlockingIOError(errno.EAGAIN, "cannot relay a connection this turn") from error
        self._relays[served.fileno()] = relay
        return served, address

    def refuse(self, connection: socket.socket) -> None:
        if not self._refusing.acquire(blocking=False):
            connection.close()
            return
        threading.Thread(target=self._answer_refusal, args=(connection,), name="tls-refusal", daemon=True).start()

    def _answer_refusal(self, connection: socket.socket) -> None:
        try:
            connection.setblocking(True)
            connection.settimeout(REFUSAL_TIMEOUT)
            with self._contexts().wrap_socket(connection, server_side=True) as client:
                client.sendall(self.refusal)
        except SHUT:
            pass
        finally:
            connection.close()
            self._refusing.release()

    def _run(self, connection: socket.socket, relay: Relay) -> None:
        try:
            connection.setblocking(True)
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection.settimeout(self._handshake_timeout)
            client = self._contexts().wrap_socket(connection, server_side=True)
        except SHUT as error:
            log.debug("a TLS handshake failed: %s", error, extra={"repeat_key": "tls handshake failed"})
            connection.close()
            relay.end()
            return
        try:
            relay.run(client)
        finally:
            client.close()


def _close_notify(client: ssl.SSLSocket) -> None:
    """Send TLS's close_notify without waiting for the client's (a client may hang up at once, as most do)."""
    client.settimeout(0.0)
    with contextlib.suppress(*SHUT):  # the client's close_notify has not come yet: no matter
        client.unwrap()
