"""The collector racing pushes, mounts, deletes and re-pushes: no blob a manifest names is ever lost.

Over the real adapters, writers (one ContentGuard, as one process) push images that share layers, upload blobs no
manifest names yet, mount blobs across repositories, move and delete tags and delete manifests, while a collector
(another ContentGuard, as another process) runs again and again with no grace period at all - the harshest
setting: any blob not named by a manifest is fair game the moment it is linked. Pushes may then be refused
(MANIFEST_BLOB_UNKNOWN: the client uploads again); what must never happen is a stored manifest naming a blob the
repository cannot serve whole. Each seed is a different interleaving; every run is bounded in time.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Final

import pytest

from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.metadata.sql_collection import SqlCollectionStore
from pullcache.registry.collection import CollectionReport, GarbageCollector
from pullcache.registry.errors import ManifestBlobUnknown, ManifestUnknown
from pullcache.registry.manifests import parse_manifest
from pullcache.registry.service import BlobMounted, RegistryService
from pullcache.storage.content_guard import FileContentGuard
from pullcache.storage.filesystem import FileBlob, FilesystemBlobStore
from tests.oci_documents import OCI_CONFIG, OCI_LAYER, descriptor, encode, image_manifest
from tests.stores import AnyPusher, chunks, guarded_registry

SCOPE: Final = RegistryScope("123456789012", "us-east-1")
REPOSITORIES: Final = ("race/a", "race/b", "race/c")
TAGS: Final = ("v1", "v2", "latest")
LAYERS: Final = tuple(f"layer {n} ".encode() * (200 + 37 * n) for n in range(12))
WRITERS: Final = 4
SECONDS: Final = float(os.environ.get("PULLCACHE_RACE_SECONDS", "1.5"))
SEEDS: Final = range(int(os.environ.get("PULLCACHE_RACE_SEEDS", "12")))
PUSHER: Final = AnyPusher()


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[tuple[RegistryService, GarbageCollector]]:
    async with guarded_registry(tmp_path, SCOPE, *REPOSITORIES) as registry:
        # The collector as another process: a guard and a blob store of its own over the same data dir.
        collector = GarbageCollector(
            SqlCollectionStore(registry.engine),
            FilesystemBlobStore(registry.data),
            FileContentGuard(registry.data),
            grace=timedelta(0),
        )
        yield registry.service, collector


@pytest.mark.parametrize("seed", SEEDS)
async def test_no_named_blob_is_ever_lost(seed: int, stores: tuple[RegistryService, GarbageCollector]) -> None:
    service, collector = stores
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SECONDS
    reports: list[CollectionReport] = []
    counts = {"pushed": 0, "refused": 0}

    async def write(number: int) -> None:
        draw = random.Random(seed * 100 + number)
        while loop.time() < deadline:
            await _one_write(service, draw, counts)

    async def collect() -> None:
        while loop.time() < deadline:
            reports.append(await collector.collect())
            await asyncio.sleep(0)

    await asyncio.wait_for(asyncio.gather(collect(), *(write(n) for n in range(WRITERS))), SECONDS + 60)

    named = await _check_every_stored_manifest(service)
    assert reports
    assert counts["pushed"] > 0, counts
    assert sum(report.blobs for report in reports) > 0, "the collector never freed anything: the race was not run"
    assert named > 0


async def _one_write(service: RegistryService, draw: random.Random, counts: dict[str, int]) -> None:
    repository = draw.choice(REPOSITORIES)
    action = draw.random()
    try:
        if action < 0.45:
            layers = draw.sample(LAYERS, draw.randint(1, 3))
            config = f"config {draw.random()}".encode()
            for content in (config, *layers):
                await _push_or_mount(service, draw, repository, content)
            manifest = encode(
                image_manifest(descriptor(config, OCI_CONFIG), [descriptor(c, OCI_LAYER) for c in layers])
            )
            await service.put_manifest(SCOPE, repository, draw.choice(TAGS), manifest, None, PUSHER)
            counts["pushed"] += 1
        elif action < 0.6:
            await _push_or_mount(service, draw, repository, draw.choice(LAYERS))  # a push that stops short
        elif action < 0.8:
            await service.delete_manifest(SCOPE, repository, draw.choice(TAGS))
        else:
            found = await service.find_manifest(SCOPE, repository, draw.choice(TAGS))
            if found is not None:
                await service.delete_manifest(SCOPE, repository, str(found.digest))
    except ManifestBlobUnknown:
        counts["refused"] += 1  # collected between its upload and its manifest: refused whole, as it must be
    except ManifestUnknown:
        pass


async def _push_or_mount(service: RegistryService, draw: random.Random, repository: str, content: bytes) -> None:
    digest = str(Digest.of(content))
    if draw.random() < 0.4:
        source = draw.choice(REPOSITORIES)
        if isinstance(await service.start_upload(SCOPE, repository, digest, source, pusher=PUSHER), BlobMounted):
            return
    await service.upload_blob(SCOPE, repository, digest, chunks(content), PUSHER)


async def _check_every_stored_manifest(service: RegistryService) -> int:
    """Every blob every stored manifest names reads back whole from its repository; returns how many were read."""
    read = 0
    for repository in REPOSITORIES:
        for tag in (await service.list_tags(SCOPE, repository, None, None)).items:
            manifest = await service.get_manifest(SCOPE, repository, tag)
            for named in parse_manifest(manifest.content, manifest.media_type).blobs:
                digest, blob = await service.get_blob(SCOPE, repository, str(named.digest))
                assert isinstance(blob, FileBlob)
                assert Digest.of(blob.path.read_bytes()) == digest == named.digest
                read += 1
    return read
