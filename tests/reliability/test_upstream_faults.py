"""An upstream that misbehaves under a pull-through cache rule: it corrupts bytes, truncates a blob, breaks a body
off mid-way, rate-limits with 429 and Retry-After. (One that hangs is test_hung_upstream.py's.)

Each probe seeds an image of its own upstream, turns its fault on and pulls the image through the cache a few
times, then turns the fault off and pulls once more. Throughout:
- a puller gets the right bytes (every manifest and blob checked against its digest) or an error: a status the
  server documents for an upstream that fails (ledger.DOCUMENTED_5XX, code UNSUPPORTED; 429 TOOMANYREQUESTS for
  an upstream's rate limit) or a body cut off;
- every file of the blob store hashes to its name, and what the fault let through is not kept as the image;
- the first pull after the upstream recovers (and the circuit breaker's cool-down) gets the whole image;
- no request, the cache's own background fetches included, was answered with another 5xx (the access log).

What tests/integration covers already: the upstream client's retries, Retry-After and broken-off bodies against
a FaultyUpstream (test_upstream_client.py), and skopeo failing on a corrupting upstream with nothing stored
(test_pull_through.py). These probes add the cache's answers to its pullers and its store, for each fault.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

import aiohttp
import pytest

from pullcache.logs import ACCESS_LOGGER
from testkit.aws_clients import client as aws_client
from testkit.registry_client import RegistryClient, UploadStyle
from testkit.servers import DistributionServer, PullcacheServer
from testkit.small_images import OCI_MANIFEST, SmallImage, pull_image, push_image, small_image
from tests.reliability.conftest import Record
from tests.reliability.ledger import DOCUMENTED_5XX, FAILURE_CODE, THROTTLED
from tests.reliability.store_audit import hash_blob_store
from tests.upstreams import BLOB_PATTERN, MANIFEST_PATTERN
from tests.upstreams.truncating import TruncatingUpstream

pytestmark = pytest.mark.slow

KIB: Final = 1024
TAG: Final = "v1"
LAYER_SIZES: Final = (640 * KIB, 320 * KIB)
FAULTY_PULLS: Final = 3
BREAKER_COOL_DOWN: Final = 1  # seconds: the probes' upstreams fail on purpose, and recover at once
RECOVERY_WAIT: Final = BREAKER_COOL_DOWN + 1.0


@dataclass(frozen=True, slots=True)
class Probe:
    name: str  # what the upstream does, as the README's table says it
    fault: Callable[[TruncatingUpstream], None]


PROBES: Final = (
    Probe("corrupts blob bytes (same length)", lambda upstream: upstream.corrupt(BLOB_PATTERN)),
    Probe("truncates blobs (half the bytes, an honest Content-Length)", lambda u: u.truncate_blobs(160 * KIB)),
    Probe(
        "resets the connection mid-blob (after 100 KB)",
        lambda upstream: upstream.drop_connection(BLOB_PATTERN, after_bytes=100_000, times=None),
    ),
    Probe("corrupts manifest bytes", lambda upstream: upstream.corrupt(MANIFEST_PATTERN)),
    Probe(
        "resets the connection mid-manifest",
        lambda upstream: upstream.drop_connection(MANIFEST_PATTERN, after_bytes=40, times=None),
    ),
    Probe(
        "rate-limits blobs twice (429, Retry-After: 1), then serves",
        lambda upstream: upstream.fail(BLOB_PATTERN, 429, times=2, retry_after=1, method="GET"),
    ),
    Probe(
        "rate-limits everything (429, Retry-After: 1)",
        lambda upstream: upstream.fail("", 429, times=None, retry_after=1),
    ),
    Probe(
        "rate-limits with a Retry-After past the cap (120 s)",
        lambda upstream: upstream.fail("", 429, times=None, retry_after=120),
    ),
)


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DistributionServer]:
    server = DistributionServer(tmp_path_factory.mktemp("faults") / "upstream").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    started = PullcacheServer(
        tmp_path_factory.mktemp("faults") / "data",
        log_level="info",
        extra_args=("--upstream-breaker-cooldown", str(BREAKER_COOL_DOWN)),
    ).start()
    yield started
    started.stop()


async def pull_or_fail(client: RegistryClient, repository: str, image: SmallImage) -> str:
    """Pull the image whole; returns "whole" when every byte was right, else what stopped it. Raises
    AssertionError when a wrong byte was served or a status the server does not document for an upstream's
    failure."""
    reply = await client.request("GET", f"/v2/{repository}/manifests/{TAG}", headers={"Accept": OCI_MANIFEST})
    if reply.status != 200:
        if reply.status == THROTTLED[0]:
            assert reply.error_codes == [THROTTLED[1]], reply
        else:
            assert reply.status in DOCUMENTED_5XX, reply
            assert reply.error_codes == [FAILURE_CODE], reply
        return f"manifest {reply.status}"
    assert reply.body == image.manifest.data, "a manifest other than the upstream's was served"
    for blob in image.blobs:
        try:
            pulled = await client.download(
                f"/v2/{repository}/blobs/{blob.digest}", expect=(200, THROTTLED[0], *DOCUMENTED_5XX)
            )
        except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError):
            return "blob cut off"
        if pulled.status != 200:
            return f"blob {pulled.status}"
        assert pulled.digest == blob.digest, f"{blob.digest} was served as {pulled.digest}"
    return "whole"


def undocumented_5xx(log: str) -> Counter[int]:
    statuses: Counter[int] = Counter()
    for line in log.splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if (
                entry.get("logger") == ACCESS_LOGGER
                and entry["status"] >= 500
                and entry["status"] not in DOCUMENTED_5XX
            ):
                statuses[entry["status"]] += 1
    return statuses


@pytest.mark.parametrize("probe", PROBES, ids=lambda probe: probe.name.split(" (")[0].replace(" ", "-"))
async def test_a_misbehaving_upstream_never_gets_a_wrong_byte_served_or_stored_and_the_cache_recovers(
    probe: Probe, upstream: DistributionServer, server: PullcacheServer, record: Record
) -> None:
    index = PROBES.index(probe)
    prefix, upstream_repository = f"fault{index}", f"lib/fault{index}"
    repository = f"{prefix}/{upstream_repository}"
    image = small_image(7000 + index, LAYER_SIZES)
    with TruncatingUpstream(upstream.url) as faulty:
        async with RegistryClient.connect(upstream.url) as seeding:
            await push_image(seeding, upstream_repository, image, TAG, UploadStyle.POST_PUT)
        await asyncio.to_thread(
            aws_client(server, "ecr").create_pull_through_cache_rule,
            ecrRepositoryPrefix=prefix,
            upstreamRegistryUrl=faulty.url,
        )
        probe.fault(faulty)
        async with RegistryClient.connect(server.url) as client:
            outcomes = Counter([await pull_or_fail(client, repository, image) for _ in range(FAULTY_PULLS)])
            await asyncio.to_thread(hash_blob_store, server.data_dir)

            faulty.clear_faults()
            faulty.truncate_blobs(None)
            await asyncio.sleep(RECOVERY_WAIT)
            assert await pull_image(client, repository, TAG) == (image.digest, image.blob_digests)
        blobs = await asyncio.to_thread(hash_blob_store, server.data_dir)

    assert not undocumented_5xx(server.log()), server.log()[-3000:]
    record(
        f"upstream {probe.name}",
        f"{FAULTY_PULLS} pulls of a {sum(LAYER_SIZES) // KIB} KiB image through the cache, then the upstream recovers",
        f"faulty pulls: {', '.join(f'{n} {what}' for what, n in sorted(outcomes.items()))}; no wrong byte served or "
        f"stored ({blobs} blobs hashed); the pull after recovery whole; no 5xx but 502/503/504",
    )
