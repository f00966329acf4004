"""The work a server is killed in the middle of, and what each kind of work must find intact afterwards.

A `Workload` prepares a round (`before_round`), runs its clients until told to stop (`run`, recording in the
Ledger what the server acknowledged), and after the restart checks the server against the ledger (`verify`).
The crash rounds (crash_rounds.py) take any Workload: pushes and pull-through imports are two.

Clients treat every failure alike while the server dies under them (a refused or broken connection, an answer
cut off): they note it, pause, and go on. Whatever the server did answer is in the ledger's statuses.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Awaitable, Callable
from typing import Final, Protocol

import aiohttp

from testkit.aws_clients import client as aws_client
from testkit.content import streamed
from testkit.registry_client import RegistryClient, UploadStyle
from testkit.servers import DistributionServer, PullcacheServer
from testkit.small_images import SmallImage, pull_image, push_image, small_image
from tests.reliability.ledger import AcknowledgedImage, Ledger, OpenUpload
from tests.reliability.store_audit import check_acknowledged, check_listed, finish_open_uploads
from tests.upstreams import FaultyUpstream

KIB: Final = 1024
FAILURE_PAUSE: Final = 0.05  # seconds a client waits after a failure before its next step
FAILURES: Final = (AssertionError, aiohttp.ClientError, OSError, TimeoutError)  # TransferError is an AssertionError
PUSH_CLIENTS: Final = 4
PUSH_REPOSITORIES: Final = 3
CHUNK_BYTES: Final = 192 * KIB
IMPORT_CLIENTS: Final = 4
IMPORTED_PER_ROUND: Final = 4
UPSTREAM_REPOSITORY: Final = "lib/app"
RULE_PREFIX: Final = "up"
IMPORTED_REPOSITORY: Final = f"{RULE_PREFIX}/{UPSTREAM_REPOSITORY}"
UPSTREAM_BYTES_PER_SECOND: Final = 768 * KIB  # slow enough that a kill finds fills under way


class Workload(Protocol):
    name: str  # what the server was doing when killed, as the README's table says it

    async def before_round(self, server: PullcacheServer, round_number: int) -> None: ...

    async def run(self, server: PullcacheServer, ledger: Ledger, stop: asyncio.Event, round_number: int) -> None: ...

    async def verify(self, client: RegistryClient, ledger: Ledger) -> str:
        """Raise AssertionError on anything acknowledged and not intact; return what was checked, for the report."""
        ...


async def _until_stopped(
    server: PullcacheServer, ledger: Ledger, stop: asyncio.Event, step: Callable[[RegistryClient, int], Awaitable[None]]
) -> None:
    """Run `step(client, n)` for n = 0, 1, ... over one client until `stop`; the client's statuses go to the ledger."""
    async with RegistryClient.connect(server.url) as client:
        try:
            for n in itertools.count():
                if stop.is_set():
                    return
                try:
                    await step(client, n)
                except FAILURES:
                    await asyncio.sleep(FAILURE_PAUSE)
        finally:
            ledger.statuses.update(client.statuses)


class Pushes:
    """Clients pushing images of fresh blobs, each blob monolithic (POST with ?digest=), POST then PUT, or in
    chunks (POST, PATCH, PATCH ..., PUT), then its manifest under a tag of its own."""

    name = "pushes (monolithic and chunked uploads, manifest PUTs, 4 clients)"

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._resumed = self._started_over = 0  # interrupted uploads, over every round

    async def before_round(self, server: PullcacheServer, round_number: int) -> None:
        pass

    async def run(self, server: PullcacheServer, ledger: Ledger, stop: asyncio.Event, round_number: int) -> None:
        await asyncio.gather(
            *(self._client(server, ledger, stop, round_number, number) for number in range(PUSH_CLIENTS))
        )

    async def _client(
        self, server: PullcacheServer, ledger: Ledger, stop: asyncio.Event, round_number: int, number: int
    ) -> None:
        draw = random.Random(f"{self._seed}/{round_number}/{number}")
        repository = f"crash/push-{number % PUSH_REPOSITORIES}"

        async def step(client: RegistryClient, n: int) -> None:
            sizes = [draw.randrange(16 * KIB, 1536 * KIB) for _ in range(2)]
            image = small_image(draw.getrandbits(48), sizes)
            await self._push(client, ledger, repository, image, f"r{round_number}-c{number}-{n}", number, draw)

        await _until_stopped(server, ledger, stop, step)

    async def _push(
        self,
        client: RegistryClient,
        ledger: Ledger,
        repository: str,
        image: SmallImage,
        tag: str,
        number: int,
        draw: random.Random,
    ) -> None:
        """Client 0 uploads in chunks (one is under way at almost any moment), 1 monolithically, 2 with POST
        then PUT, the others any way at random."""
        styles = [UploadStyle.CHUNKED, UploadStyle.MONOLITHIC, UploadStyle.POST_PUT]
        for blob in image.blobs:
            style = styles[number] if number < len(styles) else draw.choice(styles)
            if style is UploadStyle.CHUNKED:
                committed = await _push_in_chunks(client, ledger, repository, blob.data)
            else:
                committed = await client.push_blob(repository, blob.data, style)
            ledger.blobs.add((repository, committed))
        stated = await client.push_manifest(repository, image.manifest, tag)
        ledger.images.append(AcknowledgedImage(repository, tag, stated, image.blob_digests))

    async def verify(self, client: RegistryClient, ledger: Ledger) -> str:
        await check_acknowledged(client, ledger)
        uploads = await finish_open_uploads(client, ledger)
        ledger.open_uploads.clear()
        self._resumed += uploads.resumed
        self._started_over += uploads.restarted
        listed = await check_listed(client)
        return (
            f"{len(ledger.blobs)} blobs and {len(ledger.images)} manifests acknowledged, {listed} tagged images "
            f"listed, {self._resumed} interrupted uploads resumed, {self._started_over} started over"
        )


async def _push_in_chunks(client: RegistryClient, ledger: Ledger, repository: str, data: bytes) -> str:
    """POST, PATCH a chunk at a time, PUT; the upload is open in the ledger until the PUT answers 201."""
    location = await client.start_upload(repository)
    upload = OpenUpload(repository, location, data)
    ledger.open_uploads.append(upload)
    for start in range(0, len(data), CHUNK_BYTES):
        piece = data[start : start + CHUNK_BYTES]
        await client.upload_chunk(location, start, len(piece), streamed([piece]))
    committed = await client.complete_upload(location, upload.digest)
    ledger.open_uploads.remove(upload)
    return committed


class Imports:
    """Clients pulling images through a pull-through cache rule, several at once on each, from an upstream that
    serves slowly (so fills are under way when the kill comes): each pull that got every byte right is an
    acknowledged import. Every round imports new tags."""

    name = "pull-through imports (4 pullers, fills under way)"

    def __init__(self, seed: int, upstream: DistributionServer, faulty: FaultyUpstream) -> None:
        self._seed = seed
        self._upstream = upstream
        self._faulty = faulty
        self._tags: list[str] = []

    async def before_round(self, server: PullcacheServer, round_number: int) -> None:
        if round_number == 0:
            await asyncio.to_thread(
                aws_client(server, "ecr").create_pull_through_cache_rule,
                ecrRepositoryPrefix=RULE_PREFIX,
                upstreamRegistryUrl=self._faulty.url,
            )
        draw = random.Random(f"{self._seed}/{round_number}")
        self._tags = []
        async with RegistryClient.connect(self._upstream.url) as upstream:
            for n in range(IMPORTED_PER_ROUND):
                sizes = [draw.randrange(128 * KIB, 1024 * KIB) for _ in range(2)]
                image = small_image(draw.getrandbits(48), sizes)
                tag = f"r{round_number}-{n}"
                await push_image(upstream, UPSTREAM_REPOSITORY, image, tag, UploadStyle.POST_PUT)
                self._tags.append(tag)
        self._faulty.throttle(UPSTREAM_BYTES_PER_SECOND)

    async def run(self, server: PullcacheServer, ledger: Ledger, stop: asyncio.Event, round_number: int) -> None:
        acknowledged: set[str] = set()

        def puller(number: int) -> Callable[[RegistryClient, int], Awaitable[None]]:
            async def step(client: RegistryClient, n: int) -> None:
                tag = self._tags[(number + n) % len(self._tags)]
                digest, blobs = await pull_image(client, IMPORTED_REPOSITORY, tag)
                if tag not in acknowledged:
                    acknowledged.add(tag)
                    ledger.images.append(AcknowledgedImage(IMPORTED_REPOSITORY, tag, digest, blobs))

            return step

        await asyncio.gather(*(_until_stopped(server, ledger, stop, puller(n)) for n in range(IMPORT_CLIENTS)))

    async def verify(self, client: RegistryClient, ledger: Ledger) -> str:
        """What was imported is served from the cache with the upstream answering 503 to everything; then, with
        the upstream back, every tag the cache lists pulls whole (what a cut-short import left, completed)."""
        self._faulty.throttle(None)
        self._faulty.go_down("503")
        try:
            await check_acknowledged(client, ledger)
        finally:
            self._faulty.come_up()
        listed = await check_listed(client)
        return f"{len(ledger.images)} imports acknowledged and served with the upstream down, {listed} images listed"
