"""Lifecycle policies of repositories in SQL: SqlLifecyclePolicyStore is the LifecyclePolicyStore of ECR's
lifecycle policies, and lists them all for lifecycle expiry. A policy goes with its repository (ON DELETE
CASCADE)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from pullcache.core.scopes import RegistryScope
from pullcache.ecr.ports import LifecyclePolicy, RepositoryLifecyclePolicy
from pullcache.metadata.engine import writer
from pullcache.metadata.schema import lifecycle_policies, repositories
from pullcache.metadata.sql import find_repository_id, named

# The order of list_lifecycle_policies, and the key its pages continue after.
_REPOSITORY_KEY = (repositories.c.account_id, repositories.c.region, repositories.c.name)


class SqlLifecyclePolicyStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._reader = engine
        self._writer = writer(engine)
        self._insert: Any = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    async def find_lifecycle_policy(self, scope: RegistryScope, name: str) -> LifecyclePolicy | None:
        query = (
            sa.select(lifecycle_policies.c.policy, lifecycle_policies.c.updated_at)
            .select_from(lifecycle_policies.join(repositories))
            .where(*named(scope, name))
        )
        async with self._reader.connect() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else LifecyclePolicy(row.policy, row.updated_at)

    async def set_lifecycle_policy(self, scope: RegistryScope, name: str, text: str, at: datetime) -> bool:
        async with self._writer.begin() as connection:
            repository_id = await find_repository_id(connection, scope, name)
            if repository_id is None:
                return False
            statement = self._insert(lifecycle_policies).values(repository_id=repository_id, policy=text, updated_at=at)
            await connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[lifecycle_policies.c.repository_id],
                    set_={"policy": statement.excluded.policy, "updated_at": statement.excluded.updated_at},
                )
            )
        return True

    async def delete_lifecycle_policy(self, scope: RegistryScope, name: str) -> LifecyclePolicy | None:
        async with self._writer.begin() as connection:
            repository_id = await find_repository_id(connection, scope, name)
            if repository_id is None:
                return None
            where = lifecycle_policies.c.repository_id == repository_id
            row = (
                await connection.execute(
                    sa.select(lifecycle_policies.c.policy, lifecycle_policies.c.updated_at).where(where)
                )
            ).first()
            if row is None:
                return None
            await connection.execute(sa.delete(lifecycle_policies).where(where))
        return LifecyclePolicy(row.policy, row.updated_at)

    async def list_lifecycle_policies(
        self, after: RepositoryLifecyclePolicy | None, limit: int
    ) -> Sequence[RepositoryLifecyclePolicy]:
        """Up to `limit` policies of every registry, in order of account, region and repository name, after the
        repository of `after`."""
        query = (
            sa.select(*_REPOSITORY_KEY, lifecycle_policies.c.policy)
            .select_from(lifecycle_policies.join(repositories))
            .order_by(*_REPOSITORY_KEY)
            .limit(limit)
        )
        if after is not None:
            query = query.where(
                sa.tuple_(*_REPOSITORY_KEY) > sa.tuple_(after.scope.account_id, after.scope.region, after.name)
            )
        async with self._reader.connect() as connection:
            rows = list(await connection.execute(query))
        return [
            RepositoryLifecyclePolicy(RegistryScope(row.account_id, row.region), row.name, row.policy) for row in rows
        ]
