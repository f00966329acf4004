"""A reverse proxy in front of the upstream registry that streams every response and counts the blob bytes it serves.

The pull-through comparison asks how many times the upstream served each blob: ideally once per image, however
many clients pull it. This proxy forwards GET and HEAD to the upstream unchanged (headers, status, body), streams
the body as it arrives, and adds the body bytes of every `/v2/<name>/blobs/<digest>` response to that digest's
count. Two paths of its own answer the benchmark:

    GET  /_counts   {"blobs": {digest: bytes served}, "blob_requests": n, "manifest_requests": n}
    POST /_reset    sets every count to zero

    python -m bench.counting_proxy --upstream URL --port PORT
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import urllib.request
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from testkit.servers import free_port, stop_process_group, wait_until_serving

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
COUNTS_PATH = "/_counts"
RESET_PATH = "/_reset"
_BLOB_PATH = re.compile(r"^/v2/.+/blobs/(?P<digest>[a-z0-9]+:[a-f0-9]+)$")
_MANIFEST_PATH = re.compile(r"^/v2/.+/manifests/[^/]+$")
# Hop-by-hop headers (RFC 9110, 7.6.1) and those aiohttp sets itself: never forwarded.
_NOT_FORWARDED = frozenset(
    name.lower()
    for name in (
        "Connection",
        "Keep-Alive",
        "Proxy-Connection",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
        "Host",
        "Content-Length",
    )
)
READ_BYTES = 1 << 20


@dataclass
class Tally:
    blob_bytes: Counter[str] = field(default_factory=Counter)
    blob_requests: int = 0
    manifest_requests: int = 0

    def as_json(self) -> dict[str, object]:
        return {
            "blobs": dict(self.blob_bytes),
            "blob_requests": self.blob_requests,
            "manifest_requests": self.manifest_requests,
        }


def build_app(upstream: str) -> web.Application:
    tally = Tally()
    app = web.Application()
    sessions: list[aiohttp.ClientSession] = []

    async def open_session(_app: web.Application) -> None:
        sessions.append(
            aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
                auto_decompress=False,
                read_bufsize=READ_BYTES,
            )
        )

    async def close_session(_app: web.Application) -> None:
        for session in sessions:
            await session.close()

    async def counts(_request: web.Request) -> web.Response:
        return web.json_response(tally.as_json())

    async def reset(_request: web.Request) -> web.Response:
        tally.blob_bytes.clear()
        tally.blob_requests = tally.manifest_requests = 0
        return web.json_response(tally.as_json())

    async def forward(request: web.Request) -> web.StreamResponse:
        blob = _BLOB_PATH.match(request.path)
        if blob is not None:
            tally.blob_requests += 1
        elif _MANIFEST_PATH.match(request.path):
            tally.manifest_requests += 1
        async with sessions[0].request(
            request.method,
            upstream + request.path_qs,
            headers=_forwarded(request.headers),
            allow_redirects=False,
        ) as answer:
            response = web.StreamResponse(status=answer.status, headers=_forwarded(answer.headers))
            if answer.content_length is not None:
                response.content_length = answer.content_length
            try:
                await response.prepare(request)
                if request.method != "HEAD":
                    async for data in answer.content.iter_any():
                        if blob is not None:
                            tally.blob_bytes[blob["digest"]] += len(data)
                        await response.write(data)
                await response.write_eof()
            except ConnectionError:
                pass  # the client hung up (a cache stopped mid-fill): what it was sent is counted
            return response

    app.on_startup.append(open_session)
    app.on_cleanup.append(close_session)
    app.router.add_get(COUNTS_PATH, counts)
    app.router.add_post(RESET_PATH, reset)
    app.router.add_get("/{tail:.*}", forward)  # and HEAD
    return app


def _forwarded(headers: CIMultiDictProxy[str]) -> CIMultiDict[str]:
    """Every header but the hop-by-hop ones, repeated ones kept (a client may send one Accept per media type)."""
    return CIMultiDict((name, value) for name, value in headers.items() if name.lower() not in _NOT_FORWARDED)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.counting_proxy", description=__doc__)
    parser.add_argument("--upstream", required=True, help="the upstream's base URL, e.g. http://127.0.0.1:5000")
    parser.add_argument("--port", type=int, required=True)
    arguments = parser.parse_args(argv)
    app = build_app(arguments.upstream.rstrip("/"))
    web.run_app(app, host="127.0.0.1", port=arguments.port, print=None, access_log=None)


@dataclass(frozen=True, slots=True)
class UpstreamCounts:
    blob_bytes: Mapping[str, int]
    blob_requests: int
    manifest_requests: int

    def served(self, digests: Sequence[str]) -> int:
        """Bytes served of the blobs named, each as often as it was served."""
        return sum(self.blob_bytes.get(digest, 0) for digest in digests)


@dataclass
class CountingProxy:
    """`python -m bench.counting_proxy` in a child process, in front of `upstream`."""

    upstream: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> CountingProxy:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.counting_proxy", "--upstream", self.upstream, "--port", str(self.port)],
            cwd=REPOSITORY_ROOT,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_until_serving(f"{self.url}{COUNTS_PATH}", self.process)
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process)

    def counts(self) -> UpstreamCounts:
        with urllib.request.urlopen(f"{self.url}{COUNTS_PATH}", timeout=10) as response:
            found = json.loads(response.read())
        return UpstreamCounts(found["blobs"], found["blob_requests"], found["manifest_requests"])

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.url}{RESET_PATH}", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=10):
            pass


if __name__ == "__main__":
    main()
