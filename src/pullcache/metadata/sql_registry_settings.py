"""ECR's registry settings and lifecycle policy previews in SQL.

SqlRegistrySettingsStore is the RegistrySettingsStore (scanning configuration, account settings and pull time
update exclusions per registry scope, and a repository's scanOnPush flag) and the PullTimeExclusionStore (every
scope's exclusions in one read, for the record of pulls); SqlLifecyclePreviewStore the LifecyclePreviewStore (a
repository's latest preview, which goes with it: ON DELETE CASCADE). Writers bump the read cache's epochs
(engine.writer), so cached repository reads see a changed scanOnPush.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.ecr.errors import LimitExceeded
from pullcache.ecr.ports import (
    LifecyclePolicyPreview,
    PreviewResult,
    PreviewStart,
    PreviewStatus,
    PullTimeExclusion,
    ScanningConfiguration,
    ScanningRule,
)
from pullcache.metadata.engine import writer
from pullcache.metadata.schema import (
    ecr_account_settings,
    lifecycle_policy_previews,
    pull_time_update_exclusions,
    registry_scanning_configurations,
    repositories,
)
from pullcache.metadata.sql import find_repository_id, named


class SqlRegistrySettingsStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._reader = engine
        self._writer = writer(engine)
        self._insert: Any = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    # -- scanning ------------------------------------------------------------------------------------------

    async def find_scanning_configuration(self, scope: RegistryScope) -> ScanningConfiguration | None:
        table = registry_scanning_configurations
        query = sa.select(table.c.scan_type, table.c.rules).where(*_in_scope(table, scope))
        async with self._reader.connect() as connection:
            row = (await connection.execute(query)).first()
        if row is None:
            return None
        rules = tuple(ScanningRule(rule["scanFrequency"], tuple(rule["repositoryFilters"])) for rule in row.rules)
        return ScanningConfiguration(row.scan_type, rules)

    async def set_scanning_configuration(
        self, scope: RegistryScope, configuration: ScanningConfiguration, at: datetime
    ) -> None:
        rules = [{"scanFrequency": r.frequency, "repositoryFilters": list(r.filters)} for r in configuration.rules]
        await self._upsert(
            registry_scanning_configurations,
            {"account_id": scope.account_id, "region": scope.region},
            {"scan_type": configuration.scan_type, "rules": rules, "updated_at": at},
        )

    async def set_scan_on_push(self, scope: RegistryScope, name: str, scan_on_push: bool) -> bool:
        async with self._writer.begin() as connection:
            statement = sa.update(repositories).where(*named(scope, name)).values(scan_on_push=scan_on_push)
            return (await connection.execute(statement)).rowcount > 0

    # -- account settings ----------------------------------------------------------------------------------

    async def find_account_setting(self, scope: RegistryScope, name: str) -> str | None:
        table = ecr_account_settings
        query = sa.select(table.c.value).where(*_in_scope(table, scope), table.c.name == name)
        async with self._reader.connect() as connection:
            value: str | None = (await connection.execute(query)).scalar()
        return value

    async def set_account_setting(self, scope: RegistryScope, name: str, value: str, at: datetime) -> None:
        await self._upsert(
            ecr_account_settings,
            {"account_id": scope.account_id, "region": scope.region, "name": name},
            {"value": value, "updated_at": at},
        )

    # -- pull time update exclusions -----------------------------------------------------------------------

    async def add_pull_time_exclusion(
        self, scope: RegistryScope, principal_arn: str, at: datetime, limit: int
    ) -> PullTimeExclusion | None:
        table = pull_time_update_exclusions
        async with self._writer.begin() as connection:
            arns = set(
                (await connection.execute(sa.select(table.c.principal_arn).where(*_in_scope(table, scope)))).scalars()
            )
            if principal_arn in arns:
                return None
            if len(arns) >= limit:
                # Reasoned: ECR's LimitExceededException, worded with the limit.
                raise LimitExceeded(
                    f"The pull time update exclusion list of the registry with id '{scope.account_id}' already has "
                    f"the maximum of {limit} principals"
                )
            await connection.execute(
                sa.insert(table).values(
                    account_id=scope.account_id, region=scope.region, principal_arn=principal_arn, created_at=at
                )
            )
        return PullTimeExclusion(principal_arn, at)

    async def remove_pull_time_exclusion(self, scope: RegistryScope, principal_arn: str) -> bool:
        table = pull_time_update_exclusions
        async with self._writer.begin() as connection:
            statement = sa.delete(table).where(*_in_scope(table, scope), table.c.principal_arn == principal_arn)
            return (await connection.execute(statement)).rowcount > 0

    async def list_pull_time_exclusions(self, scope: RegistryScope) -> Sequence[PullTimeExclusion]:
        table = pull_time_update_exclusions
        query = (
            sa.select(table.c.principal_arn, table.c.created_at)
            .where(*_in_scope(table, scope))
            .order_by(table.c.principal_arn)
        )
        async with self._reader.connect() as connection:
            return [PullTimeExclusion(row.principal_arn, row.created_at) for row in await connection.execute(query)]

    async def list_all_pull_time_exclusions(self) -> Sequence[tuple[RegistryScope, str]]:
        """Every scope's excluded principal ARNs: what the record of pulls (registry/pull_records.py) reads at
        each flush."""
        table = pull_time_update_exclusions
        query = sa.select(table.c.account_id, table.c.region, table.c.principal_arn)
        async with self._reader.connect() as connection:
            rows = await connection.execute(query)
            return [(RegistryScope(row.account_id, row.region), row.principal_arn) for row in rows]

    async def _upsert(self, table: sa.Table, key: dict[str, Any], values: dict[str, Any]) -> None:
        statement = self._insert(table).values(**key, **values)
        async with self._writer.begin() as connection:
            await connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[table.c[column] for column in key],
                    set_={column: statement.excluded[column] for column in values},
                )
            )


class SqlLifecyclePreviewStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._reader = engine
        self._writer = writer(engine)

    async def begin_preview(
        self, scope: RegistryScope, name: str, text: str, at: datetime, stale_before: datetime
    ) -> PreviewStart:
        table = lifecycle_policy_previews
        async with self._writer.begin() as connection:
            repository_id = await find_repository_id(connection, scope, name)
            if repository_id is None:
                return PreviewStart.NO_REPOSITORY
            where = table.c.repository_id == repository_id
            current = (await connection.execute(sa.select(table.c.status, table.c.started_at).where(where))).first()
            if (
                current is not None
                and current.status == PreviewStatus.IN_PROGRESS
                and current.started_at >= stale_before
            ):
                return PreviewStart.IN_PROGRESS
            await connection.execute(sa.delete(table).where(where))
            await connection.execute(
                sa.insert(table).values(
                    repository_id=repository_id,
                    policy=text,
                    status=PreviewStatus.IN_PROGRESS.value,
                    started_at=at,
                    results=None,
                )
            )
        return PreviewStart.STARTED

    async def finish_preview(
        self,
        scope: RegistryScope,
        name: str,
        started_at: datetime,
        status: PreviewStatus,
        results: Sequence[PreviewResult],
    ) -> None:
        table = lifecycle_policy_previews
        async with self._writer.begin() as connection:
            repository_id = await find_repository_id(connection, scope, name)
            if repository_id is None:
                return
            await connection.execute(
                sa.update(table)
                .where(table.c.repository_id == repository_id, table.c.started_at == started_at)
                .values(status=status.value, results=[_result_row(result) for result in results])
            )

    async def find_preview(self, scope: RegistryScope, name: str) -> LifecyclePolicyPreview | None:
        table = lifecycle_policy_previews
        query = (
            sa.select(table.c.policy, table.c.status, table.c.started_at, table.c.results)
            .select_from(table.join(repositories))
            .where(*named(scope, name))
        )
        async with self._reader.connect() as connection:
            row = (await connection.execute(query)).first()
        if row is None:
            return None
        results = tuple(_result(item) for item in row.results or ())
        return LifecyclePolicyPreview(row.policy, PreviewStatus(row.status), row.started_at, results)


def _in_scope(table: sa.Table, scope: RegistryScope) -> tuple[sa.ColumnElement[bool], ...]:
    return (table.c.account_id == scope.account_id, table.c.region == scope.region)


def _result_row(result: PreviewResult) -> dict[str, Any]:
    return {
        "digest": str(result.digest),
        "tags": list(result.tags),
        "pushed_at": result.pushed_at.isoformat(),
        "rule_priority": result.rule_priority,
        "action": result.action,
    }


def _result(item: dict[str, Any]) -> PreviewResult:
    return PreviewResult(
        Digest.parse(item["digest"]),
        tuple(item["tags"]),
        datetime.fromisoformat(item["pushed_at"]),
        item["rule_priority"],
        item["action"],
    )
