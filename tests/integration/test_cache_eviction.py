"""The pull-through cache under a size cap (`--cache-max-bytes`): a loop of pulls through a rule goes on without
an error while the cache evicts the least recently pulled images and stays under its cap; an image a user pushed
stays; an evicted image is simply imported again on its next pull.

The upstream is a CNCF Distribution; /v2/ is open to callers without credentials (they act as the root user).
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Final

from testkit.registry_client import RegistryClient, UploadStyle
from testkit.servers import DistributionServer, PullcacheServer
from testkit.small_images import pull_image, push_image, small_image
from tests.integration.cached_images import create_rule

IMAGES: Final = 8
IMAGE_BYTES: Final = 100_000  # a layer's; the config adds a few dozen bytes
CAP: Final = 3 * IMAGE_BYTES + 1_000  # room for three cached images
PULLING: Final = 8.0  # seconds of the pull loop
WAIT: Final = 20.0  # seconds the last eviction may take to show


def blob_bytes(data_dir: Path) -> int:
    return sum(path.stat().st_size for path in (data_dir / "blobs").rglob("*") if path.is_file())


async def test_a_capped_cache_stays_under_its_cap_while_pulls_go_on(
    tmp_path: Path, distribution: DistributionServer
) -> None:
    images = [small_image(500 + n, [IMAGE_BYTES]) for n in range(IMAGES)]
    async with RegistryClient.connect(distribution.url) as origin:
        for n, image in enumerate(images):
            await push_image(origin, f"lib/img-{n}", image, "v1", UploadStyle.POST_PUT)
    server = PullcacheServer(
        tmp_path / "data",
        log_level="info",
        extra_args=["--cache-max-bytes", str(CAP), "--eviction-interval", "0.2", "--gc-interval", "0"],
    ).start()
    try:
        create_rule(server, distribution.url, prefix="mirror")
        mine = small_image(900, [2 * IMAGE_BYTES])  # pushed, outside the cache: over the cap alone
        async with RegistryClient.connect(server.url) as registry:
            await push_image(registry, "team/mine", mine, "v1")
            pulls = 0
            deadline = time.monotonic() + PULLING
            while time.monotonic() < deadline:
                n = pulls % IMAGES
                digest, _ = await pull_image(registry, f"mirror/lib/img-{n}", "v1")  # whole, or it raises
                assert digest == images[n].digest
                pulls += 1
            cap_with_mine = CAP + sum(len(blob.data) for blob in mine.blobs)
            for _ in range(int(WAIT / 0.2)):
                if blob_bytes(server.data_dir) <= cap_with_mine:
                    break
                await asyncio.sleep(0.2)
            assert blob_bytes(server.data_dir) <= cap_with_mine
            assert (await pull_image(registry, "team/mine", "v1"))[0] == mine.digest
            assert (await pull_image(registry, "mirror/lib/img-0", "v1"))[0] == images[0].digest  # imported again
    finally:
        server.stop()
    evictions = [json.loads(line) for line in server.log().splitlines() if "evicted " in line and "{" in line]
    assert pulls > IMAGES, pulls
    assert any(entry.get("evicted", 0) > 0 for entry in evictions), "nothing was evicted: the cap was never reached"
