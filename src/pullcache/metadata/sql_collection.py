"""The garbage collector's CollectionStore over SQLAlchemy Core (registry/collection.py says what it is for).

Every delete here re-checks its condition in its own statement - a link still older than the cutoff, a manifest
still untagged, a blob still linked nowhere - so what changed since the collector read is never deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from pullcache.metadata.engine import DataGroup, writer
from pullcache.metadata.reads import EngineReads, Reads
from pullcache.metadata.schema import blobs, manifests, repositories, repository_blobs, tags, uploads
from pullcache.registry.collection_ports import CollectedManifest, Link

# Digests per statement: well under SQLite's limit on bound parameters.
IN_BATCH = 500


class SqlCollectionStore:
    def __init__(self, engine: AsyncEngine, reads: Reads | None = None) -> None:
        self._reads = reads or EngineReads(engine)
        self._writer = writer(engine, (DataGroup.CONTENT,))

    async def list_repositories(self) -> Sequence[int]:
        query = sa.select(repositories.c.id).order_by(repositories.c.id)
        return await self._reads.run(lambda connection: list(connection.execute(query).scalars()))

    async def read_manifests(self, repository: int) -> Sequence[CollectedManifest]:
        tagged = sa.exists().where(
            tags.c.repository_id == manifests.c.repository_id, tags.c.digest == manifests.c.digest
        )
        query = sa.select(
            manifests.c.digest,
            manifests.c.media_type,
            manifests.c.content,
            manifests.c.subject,
            manifests.c.created_at,
            tagged.label("tagged"),
        ).where(manifests.c.repository_id == repository)
        return await self._reads.run(
            lambda connection: [
                CollectedManifest(
                    row.digest, row.media_type, row.content, row.subject, row.created_at, bool(row.tagged)
                )
                for row in connection.execute(query)
            ]
        )

    async def read_links(self, repository: int) -> Sequence[Link]:
        query = (
            sa.select(repository_blobs.c.digest, repository_blobs.c.linked_at, blobs.c.size)
            .join(blobs, blobs.c.digest == repository_blobs.c.digest)
            .where(repository_blobs.c.repository_id == repository)
        )
        return await self._reads.run(
            lambda connection: [Link(row.digest, row.linked_at, row.size) for row in connection.execute(query)]
        )

    async def delete_links(self, repository: int, digests: Sequence[str], cutoff: datetime) -> int:
        deleted = 0
        async with self._writer.begin() as connection:
            for batch in _batches(digests):
                result = await connection.execute(
                    sa.delete(repository_blobs).where(
                        repository_blobs.c.repository_id == repository,
                        repository_blobs.c.digest.in_(batch),
                        sa.or_(repository_blobs.c.linked_at.is_(None), repository_blobs.c.linked_at < cutoff),
                    )
                )
                deleted += result.rowcount
        return deleted

    async def delete_untagged_manifests(self, repository: int, digests: Sequence[str]) -> Sequence[str]:
        deleted: list[str] = []
        async with self._writer.begin() as connection:
            for batch in _batches(digests):
                untagged = ~sa.exists().where(tags.c.repository_id == repository, tags.c.digest == manifests.c.digest)
                result = await connection.execute(
                    sa.delete(manifests)
                    .where(manifests.c.repository_id == repository, manifests.c.digest.in_(batch), untagged)
                    .returning(manifests.c.digest)
                )
                deleted.extend(result.scalars())
        return deleted

    async def list_unlinked_blobs(self, after: str | None, limit: int) -> Sequence[tuple[str, int]]:
        query = sa.select(blobs.c.digest, blobs.c.size).where(~_linked_anywhere()).order_by(blobs.c.digest).limit(limit)
        if after is not None:
            query = query.where(blobs.c.digest > after)
        return await self._reads.run(lambda connection: [(row.digest, row.size) for row in connection.execute(query)])

    async def delete_unlinked_blobs(self, digests: Sequence[str]) -> Sequence[str]:
        deleted: list[str] = []
        async with self._writer.begin() as connection:
            for batch in _batches(digests):
                result = await connection.execute(
                    sa.delete(blobs).where(blobs.c.digest.in_(batch), ~_linked_anywhere()).returning(blobs.c.digest)
                )
                deleted.extend(result.scalars())
        return deleted

    async def find_blobs(self, digests: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for batch in _batches(digests):
            found.update(await self._reads.run(_digests_present(batch)))
        return found

    async def count_links(self, digests: Sequence[str]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for batch in _batches(digests):
            counts.update(await self._reads.run(_link_counts(batch)))
        return counts

    async def list_upload_ids(self) -> set[str]:
        query = sa.select(uploads.c.id)
        return await self._reads.run(lambda connection: set(connection.execute(query).scalars()))


def _digests_present(batch: list[str]) -> Callable[[Connection], list[str]]:
    query = sa.select(blobs.c.digest).where(blobs.c.digest.in_(batch))
    return lambda connection: list(connection.execute(query).scalars())


def _link_counts(batch: list[str]) -> Callable[[Connection], dict[str, int]]:
    query = (
        sa.select(repository_blobs.c.digest, sa.func.count())
        .where(repository_blobs.c.digest.in_(batch))
        .group_by(repository_blobs.c.digest)
    )
    return lambda connection: {digest: count for digest, count in connection.execute(query)}


def _linked_anywhere() -> sa.Exists:
    return sa.exists().where(repository_blobs.c.digest == blobs.c.digest)


def _batches(digests: Sequence[str]) -> list[list[str]]:
    items = list(digests)
    return [items[start : start + IN_BATCH] for start in range(0, len(items), IN_BATCH)]
