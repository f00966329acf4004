"""How much each repository of a registry is used: its images, the pulls it served and its last recorded pull.

ECR's API has no field for a pull count; `pullcache repositories` (admin.py) shows it. The counts are those the
workers have flushed (registry/pull_records.py): pulls of the last flush interval are not in them yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from pullcache.core.scopes import RegistryScope
from pullcache.metadata.schema import manifests, repositories


@dataclass(frozen=True, slots=True)
class RepositoryUsage:
    name: str
    images: int
    pulls: int
    last_pull: datetime | None  # the latest lastRecordedPullTime of its images


class SqlRepositoryUsage:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def list_usage(self, scope: RegistryScope) -> Sequence[RepositoryUsage]:
        """The repositories of `scope` in order of name."""
        query = (
            sa.select(
                repositories.c.name,
                sa.func.count(manifests.c.digest),
                repositories.c.pull_count,
                sa.func.max(manifests.c.pulled_at),
            )
            .select_from(repositories.outerjoin(manifests))
            .where(repositories.c.account_id == scope.account_id, repositories.c.region == scope.region)
            .group_by(repositories.c.id, repositories.c.name, repositories.c.pull_count)
            .order_by(repositories.c.name)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [RepositoryUsage(name, images, pulls, last_pull) for name, images, pulls, last_pull in rows]
