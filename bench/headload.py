"""HEAD requests under load, as wrk loads GETs: wrk 4.1 cannot (it waits for the body a HEAD response announces).

Each of `connections` keep-alive connections sends one HEAD, reads the status line and headers up to the empty
line, and sends the next, for `seconds`. Any status other than 200, a closed connection or a response without a
Content-Length fails the run. It runs in its own process, so that it has its own interpreter and its CPU is
counted as the client's, as wrk's is:

    python -m bench.headload URL --seconds 10 --connections 16 [--header 'Name: value' ...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.wrk import WrkError, WrkResult

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
HEADERS_END = b"\r\n\r\n"
OK = b"HTTP/1.1 200 "


class _HeadConnection(asyncio.Protocol):
    """One connection: HEAD, wait for the whole header block, record the latency, HEAD again, until `deadline`."""

    def __init__(self, request: bytes, deadline: float, latencies: list[float], done: asyncio.Future[None]) -> None:
        self._request = request
        self._deadline = deadline
        self._latencies = latencies
        self._done = done
        self._buffer = b""
        self._sent = 0.0
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._send()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        end = self._buffer.find(HEADERS_END)
        if end < 0:
            return
        head, self._buffer = self._buffer[:end], self._buffer[end + len(HEADERS_END) :]
        if not head.startswith(OK) or b"\r\ncontent-length:" not in head.lower():
            self._fail(f"unexpected response: {head[:300]!r}")
            return
        now = time.perf_counter()
        self._latencies.append(now - self._sent)
        if now >= self._deadline:
            self._finish()
        else:
            self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(f"the server closed the connection ({exc})")

    def _send(self) -> None:
        assert self._transport is not None
        self._sent = time.perf_counter()
        self._transport.write(self._request)

    def _finish(self) -> None:
        if not self._done.done():
            self._done.set_result(None)
        if self._transport is not None:
            self._transport.close()

    def _fail(self, reason: str) -> None:
        if not self._done.done():
            self._done.set_exception(WrkError(reason))


async def load(url: str, seconds: float, connections: int, headers: Mapping[str, str]) -> dict[str, float]:
    """Keep `connections` HEAD requests of `url` in flight for `seconds`; the figures, as WrkResult names them."""
    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    lines = [f"HEAD {parts.path}{'?' + parts.query if parts.query else ''} HTTP/1.1", f"Host: {parts.netloc}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    started = time.perf_counter()
    deadline = started + seconds
    finished = [loop.create_future() for _ in range(connections)]
    transports = []
    for done in finished:
        transport, _ = await loop.create_connection(
            lambda done=done: _HeadConnection(request, deadline, latencies, done),  # type: ignore[misc]
            host,
            port,
        )
        transports.append(transport)
    try:
        await asyncio.wait_for(asyncio.gather(*finished), seconds + 30)
    finally:
        for transport in transports:
            transport.close()
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "requests_per_second": len(ordered) / elapsed,
        "requests": float(len(ordered)),
        "latency_p50_ms": statistics.median(ordered) * 1000 if ordered else 0.0,
        "latency_p99_ms": ordered[int(len(ordered) * 0.99)] * 1000 if ordered else 0.0,
    }


def run_head_load(url: str, *, seconds: int, connections: int, headers: Mapping[str, str] | None = None) -> WrkResult:
    """Load `url` with HEADs for `seconds` in a child process; raises WrkError unless every request succeeded."""
    command = [
        sys.executable,
        "-m",
        "bench.headload",
        url,
        "--seconds",
        str(seconds),
        "--connections",
        str(connections),
    ]
    for name, value in (headers or {}).items():
        command += ["--header", f"{name}: {value}"]
    completed = subprocess.run(
        command, cwd=REPOSITORY_ROOT, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    if completed.returncode != 0:
        raise WrkError(f"the HEAD load failed: {(completed.stderr or completed.stdout).strip()[-2000:]}")
    figures = json.loads(completed.stdout)
    return WrkResult(
        requests_per_second=figures["requests_per_second"],
        requests=int(figures["requests"]),
        latency_p50_ms=figures["latency_p50_ms"],
        latency_p99_ms=figures["latency_p99_ms"],
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.headload", description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--header", action="append", default=[], help="'Name: value', repeatable")
    arguments = parser.parse_args(argv)
    headers = dict(header.split(": ", 1) for header in arguments.header)
    print(json.dumps(asyncio.run(load(arguments.url, arguments.seconds, arguments.connections, headers))))


if __name__ == "__main__":
    main()
