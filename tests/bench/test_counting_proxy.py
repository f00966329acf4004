"""The benchmark's counting proxy: it counts the blob bytes it served, and a client hanging up mid-body (a cache
stopped mid-fill) is an ordinary event, not an error with a traceback."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from bench.counting_proxy import COUNTS_PATH, build_app

DIGEST = "sha256:" + "ab" * 32
BLOB_BYTES = 64 << 20  # far more than the sockets between them buffer
CHUNK = b"x" * (1 << 20)


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


async def big_blob(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Length": str(BLOB_BYTES)})
    await response.prepare(request)
    with contextlib.suppress(ConnectionError):  # the proxy hangs up on it when its client hangs up
        for _ in range(BLOB_BYTES // len(CHUNK)):
            await response.write(CHUNK)
    return response


@pytest.fixture
async def proxy() -> AsyncIterator[str]:
    upstream = web.Application()
    upstream.router.add_get("/v2/app/blobs/{digest}", big_blob)
    upstream_runner, upstream_url = await serve(upstream)
    proxy_runner, proxy_url = await serve(build_app(upstream_url))
    try:
        yield proxy_url
    finally:
        await proxy_runner.cleanup()
        await upstream_runner.cleanup()


async def test_a_client_hanging_up_mid_body_is_counted_without_an_error(
    proxy: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="aiohttp")
    async with aiohttp.ClientSession() as session:
        response = await session.get(f"{proxy}/v2/app/blobs/{DIGEST}")
        assert len(await response.content.readexactly(1 << 20)) == 1 << 20
        await asyncio.sleep(0.3)  # the proxy fills the sockets and waits for the client to read on
        response.close()  # hang up
        await asyncio.sleep(0.5)  # the proxy finds out at its next write
        async with session.get(f"{proxy}{COUNTS_PATH}") as answer:
            counts = await answer.json()
    assert 1 << 20 <= counts["blobs"][DIGEST] < BLOB_BYTES
    assert counts["blob_requests"] == 1
    assert not [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
