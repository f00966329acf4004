"""A 1 GiB blob through a real server: pushed in chunks and pulled back, both streamed, with server memory flat.

The blob is generated as it is sent and hashed as it is generated; the pull hashes as it reads. The server's
resident memory is sampled throughout: an implementation that buffered a single chunk, let alone the blob,
would rise by at least RSS_GROWTH_BOUND.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from testkit.content import MIB, PatternedContent, streamed
from testkit.hashing import Sha256Tap
from testkit.registry_client import TRANSFER_TIMEOUT, RegistryClient
from testkit.rss import RssSampler
from testkit.servers import PullcacheServer

pytestmark = pytest.mark.slow

GIB = 1 << 30
CHUNK = 64 * MIB
RSS_GROWTH_BOUND = CHUNK // 2  # holding one chunk would exceed it; holding the blob, by far
REPOSITORY = "large/blob"


@dataclass(frozen=True, slots=True)
class PushedBlob:
    server: PullcacheServer
    content: PatternedContent
    generated: Sha256Tap  # what the client generated and sent
    committed: str  # the digest the registry answered on PUT
    rss: RssSampler  # sampled from the POST to the PUT's answer
    seconds: float


@pytest.fixture
async def client(pushed_gib: PushedBlob) -> AsyncIterator[RegistryClient]:
    async with RegistryClient.connect(pushed_gib.server.url, request_timeout=TRANSFER_TIMEOUT) as client:
        yield client


@pytest.fixture(scope="module")
def pushed_gib(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PushedBlob]:
    """One server holding a 1 GiB blob pushed in CHUNK-sized PATCHes, shared by the tests of this module."""
    root = tmp_path_factory.mktemp("large-blobs")
    server = PullcacheServer(root / "data", anonymous_registry=True).start()
    try:
        yield asyncio.run(_push_gib(server, PatternedContent(GIB, seed=1)))
    finally:
        server.stop()
        shutil.rmtree(root / "data", ignore_errors=True)  # a gibibyte is too much to leave behind


async def _push_gib(server: PullcacheServer, content: PatternedContent) -> PushedBlob:
    assert server.process is not None
    async with RegistryClient.connect(server.url, request_timeout=TRANSFER_TIMEOUT) as client:
        await _warm_up(client)
        generated = Sha256Tap()
        started = time.perf_counter()
        with RssSampler(server.process.pid) as rss:
            location = await client.start_upload(REPOSITORY)
            for start in range(0, content.size, CHUNK):
                stop = min(start + CHUNK, content.size)
                body = streamed(generated.through(content.pieces(start, stop)))
                staged = await client.upload_chunk(location, start, stop - start, body)
                assert staged == stop
            committed = await client.complete_upload(location, generated.digest)
        seconds = time.perf_counter() - started
    print(f"\npush of 1 GiB in {CHUNK // MIB} MiB chunks: {seconds:.1f} s; server RSS {rss.describe()}")
    return PushedBlob(server, content, generated, committed, rss, seconds)


async def _warm_up(client: RegistryClient) -> None:
    """One small chunked push and pull, so the first request's one-off allocations (code paths, thread pool,
    database connections) are in the baseline rather than counted as growth."""
    small = PatternedContent(3 * MIB, seed=2)
    location = await client.start_upload(REPOSITORY)
    await client.upload_chunk(location, 0, small.size, streamed(small.pieces()))
    digest = await client.complete_upload(location, small.digest())
    await client.pull_blob(REPOSITORY, digest)


async def test_gib_blob_pushed_in_chunks_is_committed_under_the_digest_of_the_generated_bytes(
    pushed_gib: PushedBlob,
) -> None:
    assert pushed_gib.generated.size == GIB
    assert pushed_gib.committed == pushed_gib.generated.digest


def assert_flat(rss: RssSampler) -> None:
    assert rss.samples > 10, f"too few samples to trust: {rss.describe()}"
    assert rss.growth < RSS_GROWTH_BOUND, rss.describe()


async def test_server_memory_stays_flat_while_a_gib_blob_is_pushed(pushed_gib: PushedBlob) -> None:
    assert_flat(pushed_gib.rss)


async def test_gib_blob_pulled_back_streamed_has_its_digest_and_server_memory_stays_flat(
    pushed_gib: PushedBlob, client: RegistryClient
) -> None:
    assert pushed_gib.server.process is not None
    started = time.perf_counter()
    with RssSampler(pushed_gib.server.process.pid) as rss:
        pulled = await client.pull_blob(REPOSITORY, pushed_gib.committed)
    print(f"\npull of 1 GiB: {time.perf_counter() - started:.1f} s; server RSS {rss.describe()}")
    assert pulled.size == GIB
    assert pulled.digest == pushed_gib.generated.digest
    assert pulled.headers["Docker-Content-Digest"] == pushed_gib.committed
    assert_flat(rss)


async def test_range_from_the_middle_of_a_gib_blob_returns_exactly_those_bytes(
    pushed_gib: PushedBlob, client: RegistryClient
) -> None:
    start = GIB // 2 - 12_345  # across a chunk boundary, aligned to nothing
    stop = start + 8 * MIB
    pulled = await client.pull_blob(REPOSITORY, pushed_gib.committed, f"bytes={start}-{stop - 1}")
    assert pulled.headers["Content-Range"] == f"bytes {start}-{stop - 1}/{GIB}"
    assert pulled.size == stop - start
    assert pulled.digest == pushed_gib.content.digest(start, stop)
