"""ECR's replication in SQL: SqlReplicationStore is the ReplicationStore of ecr/replication_ports.py.

The configuration is one row per registry (its rules as JSON, spelled as ECR spells them); each image's
replication to each destination is one row, replaced as it moves on. Neither is read by the registry's read
cache, so their writes touch no cached group.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.ecr.replication_ports import (
    ImageReplication,
    ReplicationConfiguration,
    ReplicationDestination,
    ReplicationRule,
    ReplicationState,
    RepositoryFilter,
)
from pullcache.metadata.engine import writer
from pullcache.metadata.schema import image_replications, replication_configurations

_KEY = ("account_id", "region", "repository", "digest", "destination_account_id", "destination_region")


class SqlReplicationStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._reader = engine
        self._writer = writer(engine, ())
        self._insert: Any = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    async def find_configuration(self, scope: RegistryScope) -> ReplicationConfiguration | None:
        table = replication_configurations
        query = sa.select(table.c.rules).where(table.c.account_id == scope.account_id, table.c.region == scope.region)
        async with self._reader.connect() as connection:
            rules = (await connection.execute(query)).scalar_one_or_none()
        return None if rules is None else ReplicationConfiguration(tuple(_rule(rule) for rule in rules))

    async def put_configuration(self, scope: RegistryScope, configuration: ReplicationConfiguration) -> None:
        table = replication_configurations
        rules = [_rule_row(rule) for rule in configuration.rules]
        statement = self._insert(table).values(
            account_id=scope.account_id, region=scope.region, rules=rules, updated_at=datetime.now(UTC)
        )
        async with self._writer.begin() as connection:
            await connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[table.c.account_id, table.c.region],
                    set_={"rules": statement.excluded.rules, "updated_at": statement.excluded.updated_at},
                )
            )

    async def put_replications(self, replications: Sequence[ImageReplication]) -> None:
        if not replications:
            return
        statement = self._insert(image_replications).values([_replication_row(r) for r in replications])
        async with self._writer.begin() as connection:
            await connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[image_replications.c[name] for name in _KEY],
                    set_={name: statement.excluded[name] for name in ("tag", "status", "failure_code", "updated_at")},
                )
            )

    async def list_replications(
        self, scope: RegistryScope, repository: str, digest: Digest
    ) -> Sequence[ImageReplication]:
        table = image_replications
        query = (
            sa.select(table)
            .where(
                table.c.account_id == scope.account_id,
                table.c.region == scope.region,
                table.c.repository == repository,
                table.c.digest == str(digest),
            )
            .order_by(table.c.destination_account_id, table.c.destination_region)
        )
        async with self._reader.connect() as connection:
            return [_replication(row) for row in await connection.execute(query)]

    async def list_in_progress(self) -> Sequence[ImageReplication]:
        query = sa.select(image_replications).where(image_replications.c.status == ReplicationState.IN_PROGRESS)
        async with self._reader.connect() as connection:
            return [_replication(row) for row in await connection.execute(query)]


def _rule_row(rule: ReplicationRule) -> dict[str, Any]:
    row: dict[str, Any] = {
        "destinations": [{"region": d.region, "registryId": d.registry_id} for d in rule.destinations],
        "repositoryFilters": [{"filter": f.filter, "filterType": f.filter_type} for f in rule.repository_filters],
    }
    if rule.delete_replication is not None:
        row["deleteReplication"] = rule.delete_replication
    return row


def _rule(row: dict[str, Any]) -> ReplicationRule:
    return ReplicationRule(
        tuple(ReplicationDestination(d["region"], d["registryId"]) for d in row["destinations"]),
        tuple(RepositoryFilter(f["filter"], f["filterType"]) for f in row["repositoryFilters"]),
        row.get("deleteReplication"),
    )


def _replication_row(replication: ImageReplication) -> dict[str, Any]:
    return {
        "account_id": replication.source.account_id,
        "region": replication.source.region,
        "repository": replication.repository,
        "digest": str(replication.digest),
        "destination_account_id": replication.destination.registry_id,
        "destination_region": replication.destination.region,
        "tag": replication.tag,
        "status": replication.state.value,
        "failure_code": replication.failure_code,
        "updated_at": replication.updated_at or datetime.now(UTC),
    }


def _replication(row: sa.Row[Any]) -> ImageReplication:
    return ImageReplication(
        RegistryScope(row.account_id, row.region),
        row.repository,
        Digest.parse(row.digest),
        ReplicationDestination(row.destination_region, row.destination_account_id),
        ReplicationState(row.status),
        row.tag,
        row.failure_code,
        row.updated_at,
    )
