"""What eviction (eviction.py) needs of the metadata: the cache's bytes and its images, least recently pulled first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.registry.errors import ManifestInvalid
from pullcache.registry.manifests import parse_manifest


@dataclass(frozen=True, slots=True)
class CachedImage:
    repository_id: int
    scope: RegistryScope
    repository: str
    digest: Digest
    media_type: str
    content: bytes
    last_used: datetime  # last pulled, else imported

    @property
    def named_bytes(self) -> int:
        """What its blobs weigh, as its manifest says (an index names none of its own)."""
        try:
            parsed = parse_manifest(self.content, self.media_type)
        except ManifestInvalid:
            return 0
        return sum(blob.size for blob in parsed.blobs if not blob.external)


class EvictionStore(Protocol):
    async def cached_bytes(self) -> int:
        """The bytes of the blobs linked into repositories under a pull-through rule's prefix."""
        ...

    async def cached_repositories(self) -> Sequence[int]:
        """The repositories under a pull-through rule's prefix."""
        ...

    async def least_recently_pulled(self, limit: int) -> Sequence[CachedImage]:
        """Up to `limit` images the cache imported, least recently pulled (else imported) first."""
        ...
