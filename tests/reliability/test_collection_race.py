"""Garbage collection racing a real server's pushes, deletes, mounts and pull-through imports.

Two workers collect every 0.3 s with no grace period (every blob no manifest names is fair game at once), and
`pullcache gc` runs beside them in a loop, while clients push images that share layers, delete tags and images,
and pull images through a pull-through cache rule from a CNCF Distribution upstream. A push may be refused
(MANIFEST_BLOB_UNKNOWN: its blobs were collected before its manifest came - with no grace period that is the
rule); an import never fails. Afterwards every image the server lists reads back whole, byte for byte, and every
file of the blob store hashes to its name. Each seed is another interleaving; each run is bounded in time.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Final

import pytest

from testkit.mixed_load import RULE_PREFIX, ensure_rule
from testkit.registry_client import Content, RegistryClient, TransferError, UploadStyle
from testkit.servers import DistributionServer, PullcacheServer
from testkit.small_images import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, SmallImage, pull_image, push_image, small_image
from tests.reliability.conftest import Record
from tests.reliability.store_audit import check_listed, hash_blob_store

SECONDS: Final = float(os.environ.get("PULLCACHE_GC_RACE_SECONDS", "8"))
SEEDS: Final = range(int(os.environ.get("PULLCACHE_GC_RACE_SEEDS", "3")))
CLIENTS: Final = 4
REPOSITORIES: Final = ("gc/a", "gc/b")
TAGS: Final = ("v1", "v2", "v3")
UPSTREAM_IMAGES: Final = 6
LAYERS: Final = tuple(Content(OCI_LAYER, random.Random(f"layer {n}").randbytes(20_000 + 3_000 * n)) for n in range(8))


def _image(draw: random.Random) -> SmallImage:
    """An image of 1-3 layers from a small pool (so images share them) and a config of its own."""
    layers = tuple(draw.sample(LAYERS, draw.randint(1, 3)))
    config = Content(OCI_CONFIG, json.dumps({"architecture": "amd64", "os": "linux", "n": draw.random()}).encode())
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [layer.descriptor() for layer in layers],
    }
    return SmallImage((config, *layers), Content(OCI_MANIFEST, json.dumps(document).encode()))


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
async def test_collections_never_lose_what_an_image_names(
    seed: int, tmp_path: Path, distribution: DistributionServer, record: Record
) -> None:
    server = PullcacheServer(
        tmp_path / "data", workers=2, log_level="info", extra_args=["--gc-interval", "0.3", "--gc-grace", "0"]
    ).start()
    try:
        await asyncio.to_thread(ensure_rule, server, distribution.url)
        async with RegistryClient.connect(distribution.url) as origin:
            for n in range(UPSTREAM_IMAGES):
                image = small_image(seed * 100 + n, [30_000, 10_000])
                await push_image(origin, f"lib/img-{n}", image, "v1", UploadStyle.POST_PUT)
        counts = {"pushed": 0, "refused": 0, "imported": 0, "deleted": 0}
        deadline = asyncio.get_running_loop().time() + SECONDS
        async with RegistryClient.connect(server.url) as client:
            beside = asyncio.create_task(_collect_beside(server.data_dir, deadline))
            await asyncio.gather(
                *(_client(client, random.Random(seed * 10 + n), deadline, counts) for n in range(CLIENTS))
            )
            freed_beside = await beside
            listed = await check_listed(client)
            for n in range(UPSTREAM_IMAGES):  # and what was imported still pulls (or is imported again)
                await pull_image(client, f"{RULE_PREFIX}/lib/img-{n}", "v1")
        files = hash_blob_store(server.data_dir)
    finally:
        server.stop()
    freed_by_server = sum(
        json.loads(line).get("bytes_freed", 0) for line in server.log().splitlines() if "garbage collection" in line
    )
    assert min(counts["pushed"], counts["imported"], counts["deleted"]) > 0, counts
    assert freed_by_server > 0, "the server's collections never freed a byte: the race was not run"
    record(
        "garbage collection racing pushes, deletes and imports",
        f"seed {seed}: {SECONDS:g} s, {CLIENTS} clients, 2 workers collecting every 0.3 s with no grace period, "
        "`pullcache gc` beside",
        f"{counts['pushed']} pushes ({counts['refused']} refused whole), {counts['imported']} imports, "
        f"{counts['deleted']} deletes, {freed_beside} blobs freed beside; every listed image ({listed}) and every "
        f"stored file ({files}) intact",
    )


async def _client(client: RegistryClient, draw: random.Random, deadline: float, counts: dict[str, int]) -> None:
    loop = asyncio.get_running_loop()
    while loop.time() < deadline:
        action = draw.random()
        repository = draw.choice(REPOSITORIES)
        if action < 0.4:
            try:
                await push_image(client, repository, _image(draw), draw.choice(TAGS))
                counts["pushed"] += 1
            except TransferError as error:
                if "MANIFEST_BLOB_UNKNOWN" not in str(error):
                    raise
                counts["refused"] += 1
        elif action < 0.55:
            await client.push_blob(repository, draw.choice(LAYERS).data)  # a push that stops short
        elif action < 0.75:
            reply = await client.request("DELETE", f"/v2/{repository}/manifests/{draw.choice(TAGS)}")
            assert reply.status in (202, 404), reply
            counts["deleted"] += reply.status == 202
        else:
            await pull_image(client, f"{RULE_PREFIX}/lib/img-{draw.randrange(UPSTREAM_IMAGES)}", "v1")
            counts["imported"] += 1


async def _collect_beside(data_dir: Path, deadline: float) -> int:
    """`pullcache gc` in a loop until the deadline; returns how many blobs its runs freed."""
    freed = 0
    loop = asyncio.get_running_loop()
    while loop.time() < deadline:
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "pullcache", "gc", "--data-dir", str(data_dir), "--grace", "0", "--wait", "30"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        freed += int(done.stdout.split(" bytes: ")[1].split(" blobs")[0])
    return freed
