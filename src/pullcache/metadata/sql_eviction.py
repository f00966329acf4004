"""The pull-through cache's EvictionStore over SQLAlchemy Core (pullthrough/eviction.py says what it is for).

A repository is the cache's when its name falls under a pull-through rule's prefix in its registry scope (what
ECR creates there); an image is evictable when the cache imported it (`manifests.cached`).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.metadata.reads import EngineReads, Reads
from pullcache.metadata.schema import blobs, manifests, pull_through_rules, repositories, repository_blobs
from pullcache.pullthrough.eviction_ports import CachedImage

_UNDER_A_RULE = sa.exists().where(
    pull_through_rules.c.account_id == repositories.c.account_id,
    pull_through_rules.c.region == repositories.c.region,
    sa.func.substr(repositories.c.name, 1, sa.func.length(pull_through_rules.c.prefix) + 1)
    == pull_through_rules.c.prefix + "/",
)
_CACHED_BYTES = sa.select(sa.func.coalesce(sa.func.sum(blobs.c.size), 0)).where(
    sa.exists()
    .where(repository_blobs.c.digest == blobs.c.digest, repository_blobs.c.repository_id == repositories.c.id)
    .where(_UNDER_A_RULE)
)
_LAST_USED = sa.func.coalesce(manifests.c.pulled_at, manifests.c.created_at)


class SqlEvictionStore:
    def __init__(self, engine: AsyncEngine, reads: Reads | None = None) -> None:
        self._reads = reads or EngineReads(engine)

    async def cached_bytes(self) -> int:
        return int(await self._reads.run(lambda connection: connection.execute(_CACHED_BYTES).scalar_one()))

    async def cached_repositories(self) -> Sequence[int]:
        query = sa.select(repositories.c.id).where(_UNDER_A_RULE).order_by(repositories.c.id)
        return await self._reads.run(lambda connection: list(connection.execute(query).scalars()))

    async def least_recently_pulled(self, limit: int) -> Sequence[CachedImage]:
        query = (
            sa.select(
                repositories.c.id,
                repositories.c.account_id,
                repositories.c.region,
                repositories.c.name,
                manifests.c.digest,
                manifests.c.media_type,
                manifests.c.content,
                manifests.c.pulled_at,
                manifests.c.created_at,
            )
            .join(repositories, repositories.c.id == manifests.c.repository_id)
            .where(manifests.c.cached.is_(True))
            .order_by(_LAST_USED, manifests.c.digest)
            .limit(limit)
        )
        return await self._reads.run(
            lambda connection: [
                CachedImage(
                    row.id,
                    RegistryScope(row.account_id, row.region),
                    row.name,
                    Digest.parse(row.digest),
                    row.media_type,
                    row.content,
                    row.pulled_at or row.created_at,
                )
                for row in connection.execute(query)
            ]
        )
