"""How many client connections a worker holds, counted where they are accepted, so that accept() never runs out of
files.

Every connection is an open file. asyncio accepts for as long as the kernel hands it connections; at the open-file
limit accept() fails with EMFILE, and from then on nobody reaches the server (and asyncio reports each failure with
a traceback, hundreds a turn of its loop). So the listening socket keeps the count itself (BudgetedListener: asyncio
calls its accept()), and a connection is counted from accept() until its transport is gone:

- Below the cap (`--max-connections`) every connection is accepted.
- At the cap a new connection takes the place of an idle one: the longest-connected connection that is waiting for a
  request (its next one on a kept-alive connection, or its first) is closed. Its file is released on the event
  loop's next turn, so up to `slack` such closings may be under way at once; past that, accept() waits a turn for
  them (the new connections wait in the kernel's queue meanwhile).
- With no idle connection to close, the new connection is answered at once (503, `Connection: close`, `Retry-After`,
  a body in both the OCI and the AWS JSON error shapes: which API it was for is not known before it has sent a
  request) and closed.

The default cap is half of what the open-file limit leaves after RESERVED_FILES for the process's own files: the
other half is for the files requests open (a blob being sent, a fill's staging file and its upstream connection).
A cap given beyond what the limit can hold is lowered to it, with a warning.
"""

from __future__ import annotations

import errno
import json
import logging
import resource
import socket
import time
from collections.abc import Callable

from pullcache.logs import RESOURCE_ERRNOS

log = logging.getLogger(__name__)

RESERVED_FILES = 64  # the database, logs, the listening sockets, the event loop's own, a refused connection's
MAX_EVICTION_SLACK = 32  # idle connections closed to make room whose files may still be open at once
UNLIMITED_FILES = 1 << 20  # what a limit of RLIM_INFINITY is taken for
REFUSALS_PER_ACCEPT = 64  # connections refused in one call of accept() before the event loop gets its turn back
RESOURCE_PAUSE = 0.5  # seconds accept() stays quiet after the system ran out of files (asyncio retries after 1 s)
RETRY_AFTER = 1  # seconds a refused client is told to wait


def open_file_limit() -> int:
    """This process's soft limit of open files."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return UNLIMITED_FILES if soft == resource.RLIM_INFINITY or soft > UNLIMITED_FILES else soft


def default_max_connections(file_limit: int, files_per_connection: int = 1) -> int:
    return max(1, (file_limit - RESERVED_FILES) // (2 * files_per_connection))


def eviction_slack(max_connections: int) -> int:
    return max(1, min(MAX_EVICTION_SLACK, max_connections // 4))


def max_connections_for(configured: int, file_limit: int, files_per_connection: int = 1) -> int:
    """The cap a worker applies: `configured`, or (0) the default for `file_limit`; never more than the limit can
    hold beside the reserved files and the closings under way, each connection holding `files_per_connection`."""
    if configured == 0:
        return default_max_connections(file_limit, files_per_connection)
    ceiling = max(1, (file_limit - RESERVED_FILES) // files_per_connection - MAX_EVICTION_SLACK)
    if configured > ceiling:
        log.warning(
            "max connections lowered to what the open file limit holds",
            extra={"fields": {"max_connections": configured, "open_file_limit": file_limit, "lowered_to": ceiling}},
        )
        return ceiling
    return configured


class ConnectionBudget:
    """The count of accepted connections against the cap. `make_room` closes an idle connection if there is one
    (True), whose transport, once gone, calls release(evicted=True)."""

    def __init__(self, max_connections: int, make_room: Callable[[], bool]) -> None:
        self.max_connections = max_connections
        self._slack = eviction_slack(max_connections)
        self._make_room = make_room
        self._open = 0  # accepted and not yet closed: each holds a file
        self._closing = 0  # of those, closed to make room, their files not yet released
        self.evicted = 0  # idle connections closed to make room, since start
        self.refused = 0  # connections refused at the cap, since start

    @property
    def open(self) -> int:
        return self._open

    def has_file_for_one_more(self) -> bool:
        """False while connections closed to make room still hold their files (for a turn of the loop)."""
        return self._open < self.max_connections + self._slack

    def admit(self) -> bool:
        """Count in a connection just accepted, closing an idle one to make room at the cap; False: refuse it."""
        if self._open - self._closing < self.max_connections:
            self._open += 1
            return True
        if self._make_room():
            self._closing += 1
            self._open += 1
            self.evicted += 1
            log.warning(
                "at the connection limit: closed an idle connection to make room",
                extra={"fields": {"max_connections": self.max_connections, "evicted": self.evicted}},
            )
            return True
        self.refused += 1
        log.warning(
            "at the connection limit with no idle connection: refused a connection",
            extra={"fields": {"max_connections": self.max_connections, "refused": self.refused}},
        )
        return False

    def release(self, *, evicted: bool) -> None:
        """A counted connection's transport is gone (its file closed)."""
        self._open -= 1
        if evicted:
            self._closing -= 1


class BudgetedListener(socket.socket):
    """A listening socket whose accept() (asyncio's accept loop calls it) admits connections within a budget and
    refuses, at once, those past it.

    accept() answers BlockingIOError, as an empty queue does, when it should not accept now: connections closed to
    make room still hold their files, or the system ran out of files a moment ago (asyncio has then paused the
    listener for a second; the rest of its accept loop would fail again, each time reported and each time
    scheduling another restart).
    """

    def __init__(self, family: socket.AddressFamily, budget: ConnectionBudget) -> None:
        super().__init__(family, socket.SOCK_STREAM)
        self.budget = budget
        self.refusal = _refusal(budget.max_connections)  # the 503 a refused connection gets
        self._quiet_until = 0.0

    def accept(self) -> tuple[socket.socket, object]:
        for _ in range(REFUSALS_PER_ACCEPT):
            if not self.budget.has_file_for_one_more() or time.monotonic() < self._quiet_until:
                raise BlockingIOError(errno.EAGAIN, "not accepting this turn")
            try:
                connection, address = super().accept()
            except OSError as error:
                if error.errno in RESOURCE_ERRNOS:
                    self._quiet_until = time.monotonic() + RESOURCE_PAUSE
                raise
            if self.budget.admit():
                return connection, address
            self.refuse(connection)
        raise BlockingIOError(errno.EAGAIN, "refused enough this turn")

    def refuse(self, connection: socket.socket) -> None:
        """Answer 503 and close, without waiting: a fresh socket's send buffer takes the few hundred bytes at once."""
        try:
            connection.setblocking(False)
            connection.send(self.refusal)
            # What the client already sent, read so that closing does not reset the connection before it reads the 503.
            connection.recv(65536)
        except OSError:
            pass
        finally:
            connection.close()


Listener = Callable[[socket.AddressFamily], BudgetedListener]


def listening_sockets(host: str, port: int, make: Listener, *, reuse_port: bool) -> list[BudgetedListener]:
    """Bound (not yet listening: asyncio's create_server does that) sockets made by `make` for every address of
    `host` ("" or 0.0.0.0 / :: for all), as asyncio's own create_server would make them."""
    found = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    addresses = list(dict.fromkeys((family, address) for family, _type, _proto, _name, address in found))
    sockets: list[BudgetedListener] = []
    try:
        for family, address in addresses:
            sock = make(family)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _refusal(max_connections: int) -> bytes:
    message = f"the server holds its limit of {max_connections} connections; retry later"
    body = json.dumps(
        {
            # UNSUPPORTED: the spec's code that claims least, as for the registry's other 5xx (registry/api/errors.py).
            "errors": [{"code": "UNSUPPORTED", "message": message, "detail": {"max_connections": max_connections}}],
            "__type": "ServiceUnavailableException",
            "message": message,
        }
    ).encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n"
        f"Retry-After: {RETRY_AFTER}\r\n"
        "\r\n"
    )
    return head.encode() + body
