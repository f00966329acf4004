"""CacheEviction: the pull-through cache kept under its size cap by evicting the least recently pulled images.

The cache's bytes are those of the blobs linked into repositories under a pull-through rule's prefix (what the
cache created; a blob a pushed repository links too is counted, though evicting cannot free it). When they pass
`--cache-max-bytes`, or the data dir's disk has less than `--cache-min-free-bytes` free, images the cache
imported are evicted, least recently pulled first (never pulled: by when they were imported), until back under:
the manifest and its tags go, then the collector frees at once, in the cache's repositories, what no manifest
left names (registry/collection.py: collect_repositories says what that costs a push into a cached repository).
Images users pushed are never evicted, even in a cached repository. An evicted image is simply imported again on
its next pull.

A round evicts images until the bytes they name reach what must be freed (an upper bound: layers they share
stay), collects, and measures again; a run makes at most MAX_ROUNDS rounds. It runs every `--eviction-interval`
seconds under the garbage collector's lock (one collection or eviction at a time, across workers).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.pullthrough.eviction_ports import CachedImage, EvictionStore
from pullcache.registry.collection import CollectionReport

log = logging.getLogger(__name__)

MAX_ROUNDS = 20
CANDIDATES = 200  # images read a round, least recently pulled first


class ImageRemover(Protocol):
    async def delete_manifest(self, scope: RegistryScope, repository: str, digest: Digest) -> bool:
        """Delete the manifest and its tags; False when it was gone already."""
        ...


class RepositoryCollector(Protocol):
    async def collect_repositories(self, repositories: Sequence[int], *, grace: timedelta) -> CollectionReport:
        """Free what no manifest of `repositories` names, links younger than `grace` aside."""
        ...


@dataclass(slots=True)
class EvictionReport:
    images: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    bytes_freed: int = 0


class CacheEviction:
    def __init__(
        self,
        store: EvictionStore,
        images: ImageRemover,
        collector: RepositoryCollector,
        *,
        max_bytes: int = 0,
        min_free_bytes: int = 0,
        free_bytes: Callable[[], int] = lambda: 0,
    ) -> None:
        """`max_bytes`: the cache's cap (0: none); `min_free_bytes`: the free space to keep on the data dir's disk,
        as `free_bytes()` measures it (0: none)."""
        self._store = store
        self._images = images
        self._collector = collector
        self._max_bytes = max_bytes
        self._min_free_bytes = min_free_bytes
        self._free_bytes = free_bytes

    @property
    def enabled(self) -> bool:
        return self._max_bytes > 0 or self._min_free_bytes > 0

    async def run(self) -> EvictionReport:
        """Evict until under the cap and above the free space asked (or nothing is left to evict)."""
        report = EvictionReport()
        report.bytes_before = report.bytes_after = await self._store.cached_bytes()
        for _ in range(MAX_ROUNDS):
            excess = self._excess(report.bytes_after)
            if excess <= 0:
                break
            candidates = await self._store.least_recently_pulled(CANDIDATES)
            evicted = await self._evict(candidates, excess, report)
            # Every cached repository, not only those evicted from now: an import may have linked the blobs of an
            # image evicted in an earlier round after that round's collection.
            collected = await self._collector.collect_repositories(
                await self._store.cached_repositories(), grace=timedelta(0)
            )
            report.bytes_freed += collected.bytes_freed
            report.bytes_after = await self._store.cached_bytes()
            if not evicted and not collected.bytes_freed:
                log.warning("the cache is %d bytes over what it may hold, and holds nothing to evict", excess)
                break
        if report.images:
            log.info(
                "evicted %d cached images: %d bytes freed, the cache holds %d bytes",
                report.images,
                report.bytes_freed,
                report.bytes_after,
                extra={"fields": {"evicted": report.images, "bytes_freed": report.bytes_freed}},
            )
        return report

    def _excess(self, cached: int) -> int:
        over_cap = cached - self._max_bytes if self._max_bytes else 0
        short_of_free = self._min_free_bytes - self._free_bytes() if self._min_free_bytes else 0
        return max(over_cap, short_of_free, 0)

    async def _evict(self, candidates: Sequence[CachedImage], excess: int, report: EvictionReport) -> list[CachedImage]:
        evicted: list[CachedImage] = []
        named = 0
        for image in candidates:
            if await self._images.delete_manifest(image.scope, image.repository, image.digest):
                evicted.append(image)
                report.images += 1
                named += image.named_bytes
                log.info(
                    "evicted %s@%s (last pulled or imported %s)",
                    image.repository,
                    image.digest,
                    image.last_used.isoformat(timespec="seconds"),
                    extra={"fields": {"account": image.scope.account_id, "region": image.scope.region}},
                )
            if named >= excess:
                break
        return evicted
