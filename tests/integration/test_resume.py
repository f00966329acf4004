"""Chunked uploads across server restarts: graceful (SIGTERM) and crash (SIGKILL), between chunks and mid-body.

In every case the client asks where the upload stands after the restart (GET: 204 with `Range`), sends the
rest from there, and the registry commits the blob under the right digest. Until that commit, neither the
blob nor the prefix staged so far is visible under its digest.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Protocol

import aiohttp
import pytest

from testkit.content import MIB, PatternedContent, PausingBody, streamed
from testkit.registry_client import TRANSFER_TIMEOUT, RegistryClient
from testkit.servers import PullcacheServer, free_port

CHUNK = 16 * MIB
REPOSITORY = "resume/blob"
WAIT_TIMEOUT = 30.0  # for anything the test waits on: a body to pause, bytes to be staged, a server to stop
POLL_INTERVAL = 0.02


class StartServer(Protocol):
    def __call__(self, extra_args: Sequence[str] = ()) -> PullcacheServer: ...


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """Starts pullcache over the same data dir and port each time; kills whatever still runs at the end."""
    data_dir, port = tmp_path / "data", free_port()
    started: list[PullcacheServer] = []

    def start(extra_args: Sequence[str] = ()) -> PullcacheServer:
        assert all(s.process is None or s.process.poll() is not None for s in started), "one server at a time"
        server = PullcacheServer(data_dir, port=port, extra_args=extra_args, anonymous_registry=True)
        started.append(server)  # before it starts, so that a server failing to start is still stopped
        return server.start()

    yield start
    for server in started:
        if server.process is not None:
            server.stop(signal.SIGKILL)


@asynccontextmanager
async def streaming_client(server: PullcacheServer) -> AsyncIterator[RegistryClient]:
    async with RegistryClient.connect(server.url, request_timeout=TRANSFER_TIMEOUT) as client:
        yield client


async def push_range(oci: RegistryClient, location: str, content: PatternedContent, start: int, stop: int) -> None:
    staged = await oci.upload_chunk(location, start, stop - start, streamed(content.pieces(start, stop)))
    assert staged == stop


async def commit_and_verify(oci: RegistryClient, location: str, content: PatternedContent) -> None:
    """PUT the upload under the content's digest, then pull the blob back and check it."""
    digest = content.digest()
    assert await oci.complete_upload(location, digest) == digest
    pulled = await oci.pull_blob(REPOSITORY, digest)
    assert (pulled.size, pulled.digest) == (content.size, digest)


async def assert_nothing_visible(oci: RegistryClient, content: PatternedContent, staged: int) -> None:
    """Neither the whole blob nor the staged prefix is a blob yet."""
    assert await oci.blob_status(REPOSITORY, content.digest()) == 404
    assert await oci.blob_status(REPOSITORY, content.digest(0, staged)) == 404


async def wait_until_staged_beyond(oci: RegistryClient, location: str, size: int) -> int:
    """Poll the upload's status until it holds more than `size` bytes; returns what it holds then."""
    deadline = time.monotonic() + WAIT_TIMEOUT
    while (staged := await oci.upload_status(location)) <= size:
        assert time.monotonic() < deadline, f"the upload stayed at {staged} bytes"
        await asyncio.sleep(POLL_INTERVAL)
    return staged


async def wait_until_refusing(server: PullcacheServer) -> None:
    """Wait until the server's port refuses connections: it has stopped listening."""
    deadline = time.monotonic() + WAIT_TIMEOUT
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        except ConnectionRefusedError:
            return
        writer.close()
        await writer.wait_closed()
        assert time.monotonic() < deadline, "the server still accepts connections"
        await asyncio.sleep(POLL_INTERVAL)


def paused_patch(
    oci: RegistryClient, location: str, content: PatternedContent, start: int, pause_after: int
) -> tuple[PausingBody, asyncio.Task[int]]:
    """A PATCH of everything from `start` to the end, whose body stops after `pause_after` bytes."""
    body = PausingBody(content.pieces(start), pause_after, timeout=WAIT_TIMEOUT)
    patch = asyncio.create_task(oci.upload_chunk(location, start, content.size - start, body.stream()))
    return body, patch


async def test_upload_resumes_after_a_graceful_restart_between_chunks(start_server: StartServer) -> None:
    content = PatternedContent(3 * CHUNK, seed=11)
    server = start_server()
    async with streaming_client(server) as oci:
        location = await oci.start_upload(REPOSITORY)
        await push_range(oci, location, content, 0, CHUNK)
        await push_range(oci, location, content, CHUNK, 2 * CHUNK)
    assert server.stop(signal.SIGTERM) == 0

    async with streaming_client(start_server()) as oci:
        assert await oci.upload_status(location) == 2 * CHUNK
        await assert_nothing_visible(oci, content, 2 * CHUNK)
        await push_range(oci, location, content, 2 * CHUNK, 3 * CHUNK)
        await commit_and_verify(oci, location, content)


@pytest.mark.slow
async def test_upload_resumes_from_the_staged_bytes_after_a_crash_mid_patch(start_server: StartServer) -> None:
    content = PatternedContent(4 * CHUNK, seed=12)
    server = start_server()
    async with streaming_client(server) as oci:
        location = await oci.start_upload(REPOSITORY)
        await push_range(oci, location, content, 0, CHUNK)
        body, patch = paused_patch(oci, location, content, CHUNK, pause_after=CHUNK)
        await asyncio.wait_for(body.paused.wait(), WAIT_TIMEOUT)
        seen_staged = await wait_until_staged_beyond(oci, location, CHUNK)
        assert server.stop(signal.SIGKILL) == -signal.SIGKILL
        with pytest.raises(aiohttp.ClientError):
            await asyncio.wait_for(patch, WAIT_TIMEOUT)
        body.release()

    async with streaming_client(start_server()) as oci:
        staged = await oci.upload_status(location)
        assert seen_staged <= staged <= CHUNK + body.sent
        await assert_nothing_visible(oci, content, staged)
        await push_range(oci, location, content, staged, content.size)
        await commit_and_verify(oci, location, content)


@pytest.mark.slow
async def test_patch_in_flight_at_sigterm_completes_with_202_and_the_upload_resumes_after_restart(
    start_server: StartServer,
) -> None:
    content = PatternedContent(3 * CHUNK, seed=13)
    server = start_server()
    async with streaming_client(server) as oci:
        location = await oci.start_upload(REPOSITORY)
        body = PausingBody(content.pieces(0, 2 * CHUNK), pause_after=CHUNK // 2, timeout=WAIT_TIMEOUT)
        patch = asyncio.create_task(oci.upload_chunk(location, 0, 2 * CHUNK, body.stream()))
        await asyncio.wait_for(body.paused.wait(), WAIT_TIMEOUT)
        await wait_until_staged_beyond(oci, location, 0)
        stopping = asyncio.create_task(asyncio.to_thread(server.stop, signal.SIGTERM))
        await wait_until_refusing(server)
        body.release()
        assert await asyncio.wait_for(patch, WAIT_TIMEOUT) == 2 * CHUNK
        assert await stopping == 0

    async with streaming_client(start_server()) as oci:
        assert await oci.upload_status(location) == 2 * CHUNK
        await assert_nothing_visible(oci, content, 2 * CHUNK)
        await push_range(oci, location, content, 2 * CHUNK, content.size)
        await commit_and_verify(oci, location, content)


@pytest.mark.slow
async def test_patch_outlasting_the_shutdown_timeout_is_cut_and_the_upload_resumes_after_restart(
    start_server: StartServer,
) -> None:
    content = PatternedContent(2 * CHUNK, seed=14)
    server = start_server(["--shutdown-timeout", "1"])
    async with streaming_client(server) as oci:
        location = await oci.start_upload(REPOSITORY)
        body, patch = paused_patch(oci, location, content, 0, pause_after=CHUNK // 2)
        await asyncio.wait_for(body.paused.wait(), WAIT_TIMEOUT)
        await wait_until_staged_beyond(oci, location, 0)
        stopping = asyncio.create_task(asyncio.to_thread(server.stop, signal.SIGTERM))
        with pytest.raises(aiohttp.ClientError):
            await asyncio.wait_for(patch, WAIT_TIMEOUT)
        assert await stopping == 0
        body.release()

    async with streaming_client(start_server()) as oci:
        staged = await oci.upload_status(location)
        assert 0 < staged <= body.sent
        await assert_nothing_visible(oci, content, staged)
        await push_range(oci, location, content, staged, content.size)
        await commit_and_verify(oci, location, content)
