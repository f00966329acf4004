"""The HTTP connection layer under abuse, against a real server process: idle connections past the open-file limit,
clients sending their headers a byte a second, requests the HTTP parser rejects, and a download read slowly past
every timeout. Each probe records the README row it earns (conftest.py)."""

from __future__ import annotations

import hashlib
import json
import selectors
import socket
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from botocore.config import Config

from testkit import aws_clients
from testkit.servers import PullcacheServer
from tests.reliability.conftest import Record

pytestmark = pytest.mark.slow

FILE_LIMIT = 512  # the server's open files, soft and hard
HEADER_TIMEOUT = 3.0
IDLE_TIMEOUT = 5.0
ANSWERED_WITHIN = 10.0  # seconds a normal request may take while the server is under abuse
CLOSED_WITHIN = 30.0  # seconds by which every abusive connection must have been closed


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PullcacheServer]:
    """A server with few files and short timeouts; /v2/ open to callers without credentials (these probes are of
    the connection layer, not of authentication)."""
    started = PullcacheServer(
        tmp_path / "data",
        open_file_limit=FILE_LIMIT,
        extra_args=["--header-timeout", str(HEADER_TIMEOUT), "--idle-timeout", str(IDLE_TIMEOUT)],
    ).start()
    yield started
    started.stop()


def version_check(server: PullcacheServer) -> int:
    with urllib.request.urlopen(f"{server.url}/v2/", timeout=ANSWERED_WITHIN) as reply:
        return int(reply.status)


def caller_account(server: PullcacheServer) -> str:
    config = Config(connect_timeout=ANSWERED_WITHIN, read_timeout=ANSWERED_WITHIN, retries={"max_attempts": 1})
    return str(aws_clients.client(server, "sts", config=config).get_caller_identity()["Account"])


def seconds_until_closed(sockets: Sequence[socket.socket], within: float) -> dict[int, float]:
    """For each socket the server closed (end of stream or reset) within `within` seconds: after how long."""
    started = time.monotonic()
    closed: dict[int, float] = {}
    with selectors.DefaultSelector() as selector:
        for index, sock in enumerate(sockets):
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ, index)
        while len(closed) < len(sockets) and time.monotonic() - started < within:
            for key, _events in selector.select(timeout=0.5):
                ready = sockets[key.data]
                try:
                    if ready.recv(65536):
                        continue  # an answer before the close: read on
                except BlockingIOError:
                    continue
                except OSError:
                    pass
                closed[key.data] = time.monotonic() - started
                selector.unregister(ready)
    return closed


def log_lines(server: PullcacheServer) -> list[dict[str, object]]:
    return [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]


def test_idle_connections_past_the_file_limit_leave_the_server_reachable_and_its_log_short(
    server: PullcacheServer, record: Record
) -> None:
    idle_count = FILE_LIMIT + 88
    idle = [socket.create_connection(("127.0.0.1", server.port), timeout=ANSWERED_WITHIN) for _ in range(idle_count)]
    try:
        started = time.monotonic()
        assert version_check(server) == 200
        assert caller_account(server) == aws_clients.ACCOUNT
        answered_in = time.monotonic() - started

        closed = seconds_until_closed(idle, CLOSED_WITHIN)
    finally:
        for sock in idle:
            sock.close()

    assert len(closed) == idle_count
    assert version_check(server) == 200
    text = server.log()
    assert "out of system resource" not in text
    assert "Traceback" not in text
    assert len(text.splitlines()) < 20
    record(
        "idle connections past the open-file limit",
        f"{idle_count:,} idle connections, open files limited to {FILE_LIMIT}",
        f"GET /v2/ and STS GetCallerIdentity answered in {answered_in:.1f} s; every idle connection closed "
        f"within {max(closed.values()):.0f} s; log lines: {len(text.splitlines())}",
    )


def test_clients_sending_their_headers_a_byte_a_second_are_cut_off_at_the_header_timeout(
    server: PullcacheServer, record: Record
) -> None:
    request = b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 60 + b"\r\n\r\n"
    slow = [socket.create_connection(("127.0.0.1", server.port), timeout=ANSWERED_WITHIN) for _ in range(20)]
    started = time.monotonic()
    still_open = dict(enumerate(slow))
    cut_after: dict[int, float] = {}
    sent = 0
    try:
        while still_open and time.monotonic() - started < CLOSED_WITHIN:
            for index, sock in list(still_open.items()):
                try:
                    sock.send(request[sent : sent + 1])
                except OSError:
                    cut_after[index] = time.monotonic() - started
                    del still_open[index]
            sent += 1
            indices = list(still_open)
            for position in seconds_until_closed([still_open[index] for index in indices], within=1.0):
                cut_after[indices[position]] = time.monotonic() - started
                del still_open[indices[position]]
            assert version_check(server) == 200  # served meanwhile
    finally:
        for sock in slow:
            sock.close()

    assert len(cut_after) == len(slow)
    assert sent < len(request)
    assert max(cut_after.values()) < HEADER_TIMEOUT + ANSWERED_WITHIN
    warnings = [line for line in log_lines(server) if "headers did not arrive" in str(line["message"])]
    assert len(warnings) == 1
    record(
        "slow header senders",
        f"{len(slow)} connections sending a header byte a second, header timeout {HEADER_TIMEOUT:.0f} s",
        f"every one cut off within {max(cut_after.values()):.0f} s, after {sent} of {len(request)} bytes; "
        "GET /v2/ answered meanwhile; 1 warning",
    )


REJECTED = {
    # cause: (request, status, registry shape)
    "method": (b"FOO /v2/ HTTP/1.1\r\nHost: x\r\n\r\n", 405, True),
    "url": ("GET /v2/é/manifests/latest HTTP/1.1\r\nHost: x\r\n\r\n".encode(), 400, True),
    "header too large": (b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 10_240 + b"\r\n\r\n", 431, True),
    "request line": (b"\x00\x01 garbage \xff\r\n\r\n", 400, False),
    "aws door header too large": (b"POST / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 10_240 + b"\r\n\r\n", 431, False),
}
REPEATS = 25


def exchange(server: PullcacheServer, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send `request` raw and read the answer until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=ANSWERED_WITHIN) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value for name, _, value in (line.partition(": ") for line in header_lines)}
    return int(status_line.split(" ")[1]), headers, body


def test_requests_the_parser_rejects_get_answers_in_their_apis_shape_and_one_warning_a_cause(
    server: PullcacheServer, record: Record
) -> None:
    for _ in range(REPEATS):
        for request, status, registry in REJECTED.values():
            answered, headers, body = exchange(server, request)
            assert answered == status
            assert headers["content-type"].startswith("application/json")
            document = json.loads(body)
            if registry:
                [error] = document["errors"]
                assert error["code"] == "UNSUPPORTED"
                assert error["message"]
            else:
                assert set(document) == {"__type", "message"}
    assert version_check(server) == 200

    lines = log_lines(server)
    rejections = [line for line in lines if str(line["message"]).startswith("rejected a request")]
    causes = [str(line["cause"]) for line in rejections]
    assert sorted(causes) == sorted(set(causes))  # one a cause
    assert {"method", "url", "header too large", "request line"} <= set(causes)
    assert all(line["level"] == "warning" for line in rejections)
    assert not [line for line in lines if line["level"] == "error"]
    assert "Traceback" not in server.log()
    record(
        "requests the HTTP parser rejects",
        f"{REPEATS * len(REJECTED)} requests: unknown method, non-ASCII URL, 10 KB header, garbage request line",
        f"4xx in the OCI or AWS JSON error shape, never a 5xx; {len(rejections)} log lines, one a cause, no traceback",
    )


def test_a_download_read_slowly_past_both_timeouts_is_never_cut(tmp_path: Path, record: Record) -> None:
    server = PullcacheServer(
        tmp_path / "data", open_file_limit=FILE_LIMIT, extra_args=["--header-timeout", "1", "--idle-timeout", "1"]
    ).start()
    try:
        blob = bytes(range(256)) * (64 * 1024)  # 16 MiB
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        push = urllib.request.Request(
            f"{server.url}/v2/slow/reader/blobs/uploads/?digest={digest}", data=blob, method="POST"
        )
        push.add_header("Content-Type", "application/octet-stream")
        with urllib.request.urlopen(push, timeout=60) as reply:
            assert reply.status == 201

        started = time.monotonic()
        received = hashlib.sha256()
        length = 0
        with socket.create_connection(("127.0.0.1", server.port), timeout=ANSWERED_WITHIN) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            sock.sendall(f"GET /v2/slow/reader/blobs/{digest} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            answer = b""
            while b"\r\n\r\n" not in answer:
                answer += sock.recv(65536)
            head, _, rest = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200")
            received.update(rest)
            length += len(rest)
            while length < len(blob):
                time.sleep(0.25)  # a slow reader: a mebibyte each quarter of a second, 4 s for the blob
                turn_ends = min(len(blob), length + 1024 * 1024)
                while length < turn_ends:
                    chunk = sock.recv(turn_ends - length)
                    assert chunk, "the server closed the connection mid-response"
                    received.update(chunk)
                    length += len(chunk)
        took = time.monotonic() - started
    finally:
        server.stop()

    assert length == len(blob)
    assert "sha256:" + received.hexdigest() == digest
    assert took > 2  # the download outlasted both timeouts
    record(
        "a download read slowly",
        "16 MiB blob read at 4 MiB/s, header and idle timeouts 1 s",
        f"whole and verified after {took:.0f} s: timeouts never cut a response",
    )


def start_upload(server: PullcacheServer, repository: str) -> str:
    """The path of a new upload session of `repository`."""
    start = urllib.request.Request(f"{server.url}/v2/{repository}/blobs/uploads/", data=b"", method="POST")
    with urllib.request.urlopen(start, timeout=ANSWERED_WITHIN) as reply:
        return str(reply.headers["Location"]).removeprefix(server.url)


def test_uploads_whose_body_stops_arriving_are_cut_at_the_body_timeout_and_can_resume(
    tmp_path: Path, record: Record
) -> None:
    body_timeout = 2.0
    stalled_clients = 5
    server = PullcacheServer(
        tmp_path / "data", open_file_limit=FILE_LIMIT, extra_args=["--body-timeout", str(body_timeout)]
    ).start()
    sockets: list[socket.socket] = []
    try:
        blob = bytes(range(256)) * (16 * 1024)  # 4 MiB, of which each stalled client sends the first 2.5 MiB
        sent = 5 * 512 * 1024
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        paths = [start_upload(server, "stalled/upload") for _ in range(stalled_clients)]
        for path in paths:
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=ANSWERED_WITHIN)
            sockets.append(sock)
            sock.sendall(
                f"PATCH {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                f"Content-Length: {len(blob)}\r\n\r\n".encode()
                + blob[:sent]
            )
        closed = seconds_until_closed(sockets, within=CLOSED_WITHIN)
        reachable = version_check(server)
        with urllib.request.urlopen(f"{server.url}{paths[0]}", timeout=ANSWERED_WITHIN) as status:
            end = int(str(status.headers["Range"]).rsplit("-", 1)[1]) + 1
        separator = "&" if "?" in paths[0] else "?"
        resume = urllib.request.Request(
            f"{server.url}{paths[0]}{separator}digest={digest}", data=blob[end:], method="PUT"
        )
        resume.add_header("Content-Type", "application/octet-stream")
        resume.add_header("Content-Range", f"{end}-{len(blob) - 1}")
        with urllib.request.urlopen(resume, timeout=ANSWERED_WITHIN) as reply:
            committed = reply.status
        with urllib.request.urlopen(f"{server.url}/v2/stalled/upload/blobs/{digest}", timeout=60) as reply:
            fetched = reply.read()
        log = server.log()
    finally:
        for sock in sockets:
            sock.close()
        server.stop()

    assert len(closed) == stalled_clients
    assert min(closed.values()) >= body_timeout * 0.9  # not before the body timeout
    assert max(closed.values()) < body_timeout + CLOSED_WITHIN
    assert reachable == 200
    assert 1 << 20 <= end <= sent  # what had arrived was kept (staged a mebibyte at a time)
    assert committed == 201
    assert hashlib.sha256(fetched).hexdigest() == digest.removeprefix("sha256:")
    assert "Traceback" not in log
    assert 1 <= log.count("aborted a request whose body stopped arriving") <= 2  # once, and the repeats counted
    record(
        "request bodies that stop arriving",
        f"{stalled_clients} uploads stalled mid-body, body timeout {body_timeout:.0f} s",
        "each aborted at the body timeout; what had arrived kept, the upload resumed and verified",
    )
