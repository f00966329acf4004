"""What garbage collection (collection.py) needs from the metadata and the blob store, and the rows it reads."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pullcache.core.digests import Digest
from pullcache.registry.ports import ContentGuard


@dataclass(frozen=True, slots=True)
class CollectedManifest:
    digest: str
    media_type: str
    content: bytes
    subject: str | None
    created_at: datetime
    tagged: bool


@dataclass(frozen=True, slots=True)
class Link:
    digest: str
    linked_at: datetime | None  # None: linked before links had times (as old as can be)
    size: int


@dataclass(frozen=True, slots=True)
class StagedUpload:
    upload_id: str
    size: int
    modified_at: datetime


class CollectionStore(Protocol):
    """The metadata the collector reads and deletes; every delete re-checks its condition (see above)."""

    async def list_repositories(self) -> Sequence[int]: ...

    async def read_manifests(self, repository: int) -> Sequence[CollectedManifest]: ...

    async def read_links(self, repository: int) -> Sequence[Link]: ...

    async def delete_links(self, repository: int, digests: Sequence[str], cutoff: datetime) -> int:
        """Delete those of the links that are still older than `cutoff`; returns how many went."""
        ...

    async def delete_untagged_manifests(self, repository: int, digests: Sequence[str]) -> Sequence[str]:
        """Delete those of the manifests no tag names; returns the digests of those that went."""
        ...

    async def list_unlinked_blobs(self, after: str | None, limit: int) -> Sequence[tuple[str, int]]:
        """Up to `limit` blobs (digest, size) no repository links, in digest order after `after`."""
        ...

    async def delete_unlinked_blobs(self, digests: Sequence[str]) -> Sequence[str]:
        """Delete those of the blob rows still linked nowhere; returns their digests."""
        ...

    async def find_blobs(self, digests: Sequence[str]) -> set[str]:
        """Those of the digests that have a blob row."""
        ...

    async def count_links(self, digests: Sequence[str]) -> dict[str, int]:
        """How many repositories link each digest (absent: none)."""
        ...

    async def list_upload_ids(self) -> set[str]:
        """Every upload session's id."""
        ...


class CollectableBlobs(Protocol):
    """The blob store, as the collector sees it."""

    def walk(self) -> AsyncIterator[Sequence[tuple[Digest, int]]]:
        """Every stored blob (digest, size), a batch at a time."""
        ...

    async def delete_blobs(self, digests: Sequence[Digest]) -> tuple[int, int]:
        """Delete the blobs' bytes; returns how many files and bytes were freed (those not there count for none)."""
        ...

    async def list_staged(self) -> Sequence[StagedUpload]: ...

    async def abort(self, upload_id: str) -> None: ...


class CollectionGuard(ContentGuard, Protocol):
    def collecting(self) -> AbstractAsyncContextManager[object]:
        """Hold the guard exclusive: no writer is inside while the block runs."""
        ...
