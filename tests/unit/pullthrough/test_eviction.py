"""CacheEviction over the real adapters: images the cache imported are evicted least recently pulled first until
the cache is under its cap, their bytes freed by the collector at once; images users pushed stay."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

import pytest

from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.metadata.sql import SqlMetadataStore
from pullcache.metadata.sql_collection import SqlCollectionStore
from pullcache.metadata.sql_eviction import SqlEvictionStore
from pullcache.metadata.sql_pullthrough import SqlPullThroughStore
from pullcache.pullthrough.eviction import CacheEviction
from pullcache.pullthrough.rules import PullThroughRule
from pullcache.registry.collection import GarbageCollector
from pullcache.registry.manifest_writes import ManifestWrites
from pullcache.registry.pull_records import ImagePulls
from pullcache.registry.service import RegistryService
from pullcache.storage.filesystem import FilesystemBlobStore
from tests.oci_documents import OCI_CONFIG, OCI_LAYER, descriptor, encode, image_manifest
from tests.stores import AnyPusher, chunks, guarded_registry

SCOPE: Final = RegistryScope("123456789012", "us-east-1")
CACHED: Final = "mirror/library/app"
PUSHED: Final = "team/app"
LAYER_BYTES: Final = 10_000
PUSHER: Final = AnyPusher()


@dataclass
class Cache:
    service: RegistryService
    writes: ManifestWrites
    metadata: SqlMetadataStore
    store: SqlEvictionStore
    collector: GarbageCollector
    blobs: FilesystemBlobStore

    def eviction(self, max_bytes: int = 0, min_free_bytes: int = 0, free: int = 0) -> CacheEviction:
        return CacheEviction(
            self.store,
            self.metadata,
            self.collector,
            max_bytes=max_bytes,
            min_free_bytes=min_free_bytes,
            free_bytes=lambda: free,
        )

    async def image(self, repository: str, n: int, *, cached: bool, pulled_days_ago: int | None = None) -> Digest:
        """An image of one layer of its own; imported (`cached`) or pushed; pulled that many days ago."""
        config, layer = f"config {repository} {n}".encode(), bytes([n]) * LAYER_BYTES
        for content in (config, layer):
            await self.service.upload_blob(SCOPE, repository, str(Digest.of(content)), chunks(content), PUSHER)
        content = encode(image_manifest(descriptor(config, OCI_CONFIG), [descriptor(layer, OCI_LAYER)]))
        digest = Digest.of(content)
        checked = self.writes.check(digest, content, None)
        if cached:
            await self.writes.store_imported(SCOPE, repository, checked, f"t{n}", cached=True)
        else:
            await self.writes.store(SCOPE, repository, checked, f"t{n}")
        if pulled_days_ago is not None:
            pulled_at = datetime.now(UTC) - timedelta(days=pulled_days_ago)
            await self.metadata.record_pulls([ImagePulls(SCOPE, repository, digest, pulled_at, 1)])
        return digest

    async def present(self, repository: str, digest: Digest) -> bool:
        return await self.service.find_manifest(SCOPE, repository, digest) is not None


@pytest.fixture
async def cache(tmp_path: Path) -> AsyncIterator[Cache]:
    async with guarded_registry(tmp_path, SCOPE, CACHED, "mirror/other", PUSHED) as registry:
        now = datetime.now(UTC)
        rule = PullThroughRule(SCOPE, "mirror", "http://127.0.0.1:1", None, now, now)
        await SqlPullThroughStore(registry.engine).add_rule(rule)
        collector = GarbageCollector(SqlCollectionStore(registry.engine), registry.blobs, registry.guard)
        yield Cache(
            registry.service,
            registry.writes,
            registry.metadata,
            SqlEvictionStore(registry.engine),
            collector,
            registry.blobs,
        )


async def test_the_least_recently_pulled_cached_images_go_until_under_the_cap(cache: Cache) -> None:
    stale = await cache.image(CACHED, 1, cached=True, pulled_days_ago=30)
    never_pulled = await cache.image("mirror/other", 2, cached=True)  # counts as pulled when imported: today
    older = await cache.image(CACHED, 3, cached=True, pulled_days_ago=10)
    fresh = await cache.image(CACHED, 4, cached=True, pulled_days_ago=0)
    image_bytes = LAYER_BYTES + len(f"config {CACHED} 1")
    assert await cache.store.cached_bytes() >= 4 * LAYER_BYTES

    report = await cache.eviction(max_bytes=2 * image_bytes + 100).run()

    assert report.images == 2
    assert not await cache.present(CACHED, stale)
    assert not await cache.present(CACHED, older)
    assert await cache.present("mirror/other", never_pulled)
    assert await cache.present(CACHED, fresh)
    assert report.bytes_after == await cache.store.cached_bytes() <= 2 * image_bytes + 100
    assert report.bytes_freed >= 2 * LAYER_BYTES
    assert not cache.blobs.blob_path(Digest.of(bytes([1]) * LAYER_BYTES)).exists()


async def test_images_users_pushed_are_never_evicted(cache: Cache) -> None:
    pushed_into_cache = await cache.image(CACHED, 1, cached=False, pulled_days_ago=100)
    pushed = await cache.image(PUSHED, 2, cached=False, pulled_days_ago=100)
    cached = await cache.image(CACHED, 3, cached=True, pulled_days_ago=0)

    report = await cache.eviction(max_bytes=1).run()

    assert report.images == 1
    assert not await cache.present(CACHED, cached)
    assert await cache.present(CACHED, pushed_into_cache)
    assert await cache.present(PUSHED, pushed)
    assert report.bytes_after > 1  # over the cap still: nothing left it may evict


async def test_a_push_of_what_the_cache_imported_makes_it_pushed(cache: Cache) -> None:
    digest = await cache.image(CACHED, 1, cached=True, pulled_days_ago=5)
    await cache.image(CACHED, 1, cached=False)  # the same image, pushed

    report = await cache.eviction(max_bytes=1).run()

    assert report.images == 0
    assert await cache.present(CACHED, digest)


async def test_free_space_below_the_minimum_evicts_too(cache: Cache) -> None:
    old = await cache.image(CACHED, 1, cached=True, pulled_days_ago=9)
    new = await cache.image(CACHED, 2, cached=True, pulled_days_ago=1)

    assert (await cache.eviction(min_free_bytes=1000, free=5000).run()).images == 0
    report = await cache.eviction(min_free_bytes=1000, free=500).run()

    assert report.images >= 1
    assert not await cache.present(CACHED, old)
    assert report.images == 2 or await cache.present(CACHED, new)


async def test_a_cache_under_its_cap_is_left_alone(cache: Cache) -> None:
    digest = await cache.image(CACHED, 1, cached=True, pulled_days_ago=400)

    report = await cache.eviction(max_bytes=10 * LAYER_BYTES).run()

    assert report.images == 0
    assert await cache.present(CACHED, digest)


async def test_blobs_linked_after_their_image_was_evicted_go_with_the_next_eviction(cache: Cache) -> None:
    await cache.image(CACHED, 1, cached=True, pulled_days_ago=3)
    assert (await cache.eviction(max_bytes=1).run()).images == 1
    layer = bytes([1]) * LAYER_BYTES
    # An import's background fill, under way when the image went, links its layer once the fill ends.
    await cache.service.upload_blob(SCOPE, CACHED, str(Digest.of(layer)), chunks(layer), PUSHER)
    assert await cache.store.cached_bytes() == LAYER_BYTES

    report = await cache.eviction(max_bytes=1).run()

    assert report.images == 0
    assert report.bytes_after == 0
    assert not cache.blobs.blob_path(Digest.of(layer)).exists()
