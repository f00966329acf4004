"""The `X-Cache` header of manifest and blob answers: whether the content came from a pull-through rule's
upstream for this very request (`MISS`) or was already held by the registry (`HIT`).

A client warming the cache (`pullcache warm`) reads it to tell bytes the upstream sent from bytes already cached.
It costs nothing to work out: a manifest says so from the pull (ServedManifest.fetched), a blob from how it is
sent (one still arriving from its fill is a miss; a committed one, even if another repository's pull fetched it
a moment ago, is a hit).
"""

from __future__ import annotations

from typing import Final

from pullcache.registry.ports import Blob, LocalFile

CACHE_STATUS: Final = "X-Cache"
HIT: Final = "HIT"
MISS: Final = "MISS"


def manifest_cache_status(fetched: bool) -> str:
    return MISS if fetched else HIT


def blob_cache_status(blob: Blob) -> str:
    """MISS for a blob still arriving from the upstream (a growing file), HIT for one the registry holds."""
    file = blob.local_file()
    return MISS if file is not None and not isinstance(file, LocalFile) else HIT
