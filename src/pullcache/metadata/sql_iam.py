"""IAM in SQL: SqlIamStore is the IAM service's IamStore and the IamPrincipals read API of authorization and STS.

Writing sessions begin with the write lock (`writer(engine)`: BEGIN IMMEDIATE on SQLite), so the rules the
service checks in a session hold until it commits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from pullcache.iam.aws_managed import find_aws_managed_policy
from pullcache.iam.ports import (
    GroupPermissions,
    IamSession,
    RolePermissions,
    StoredPolicy,
    UserPermissions,
)
from pullcache.metadata.engine import writer
from pullcache.metadata.read_cache import ReadCache, cached
from pullcache.metadata.schema import iam_policies, iam_policy_versions, iam_roles
from pullcache.metadata.sql_iam_session import SqlIamSession
from pullcache.policy import PolicySourceType

_INLINE_SOURCE = {"user": PolicySourceType.USER, "group": PolicySourceType.GROUP, "role": PolicySourceType.ROLE}


class SqlIamStore:
    def __init__(self, engine: AsyncEngine, cache: ReadCache | None = None) -> None:
        """`cache`: where what authorization reads of a principal is kept between writes (read_cache.py)."""
        self._cache = cache
        self._reader = engine
        self._writer = writer(engine)
        self._usage = writer(engine, touches=())  # when a role was last used: no cached read includes it
        self._insert: Any = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[IamSession]:
        async with self._reader.connect() as connection:
            yield SqlIamSession(connection, self._insert)

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[IamSession]:
        async with self._writer.begin() as connection:
            yield SqlIamSession(connection, self._insert)

    # -- IamPrincipals ----------------------------------------------------------------------------------------

    async def find_user_permissions(self, user_id: str) -> UserPermissions | None:
        return await cached(
            self._cache, ("find_user_permissions", user_id), lambda: self._read_user_permissions(user_id)
        )

    async def _read_user_permissions(self, user_id: str) -> UserPermissions | None:
        async with self._reader.connect() as connection:
            session = SqlIamSession(connection, self._insert)
            user = await session.find_user_by_id(user_id)
            if user is None:
                return None
            groups = []
            for group in await session.list_groups_of_user(user_id):
                inline, attached = await _policies_of(connection, session, group.group_id, "group")
                groups.append(GroupPermissions(group.name, group.arn, inline, attached))
            inline, attached = await _policies_of(connection, session, user_id, "user")
            boundary = await _managed(connection, user.permissions_boundary_arn)
            return UserPermissions(user_id, user.account, user.name, user.arn, inline, attached, groups, boundary)

    async def find_role_permissions(self, role_arn: str) -> RolePermissions | None:
        return await cached(
            self._cache, ("find_role_permissions", role_arn), lambda: self._read_role_permissions(role_arn)
        )

    async def _read_role_permissions(self, role_arn: str) -> RolePermissions | None:
        async with self._reader.connect() as connection:
            session = SqlIamSession(connection, self._insert)
            row = (
                await connection.execute(
                    sa.select(iam_roles.c.account_id, iam_roles.c.name).where(iam_roles.c.arn == role_arn)
                )
            ).first()
            role = None if row is None else await session.find_role(row.account_id, row.name)
            if role is None:
                return None
            inline, attached = await _policies_of(connection, session, role.role_id, "role")
            return RolePermissions(
                role_id=role.role_id,
                account=role.account,
                role_name=role.name,
                arn=role.arn,
                trust_policy=role.assume_role_policy,
                max_session_duration=role.max_session_duration,
                inline=inline,
                attached=attached,
                permissions_boundary=await _managed(connection, role.permissions_boundary_arn),
            )

    async def record_role_use(self, role_arn: str, at: datetime, region: str) -> None:
        async with self._usage.begin() as connection:
            await connection.execute(
                sa.update(iam_roles).where(iam_roles.c.arn == role_arn).values(last_used_at=at, last_used_region=region)
            )

    async def find_managed_policy(self, arn: str) -> StoredPolicy | None:
        return await cached(self._cache, ("find_managed_policy", arn), lambda: self._read_managed_policy(arn))

    async def _read_managed_policy(self, arn: str) -> StoredPolicy | None:
        async with self._reader.connect() as connection:
            return await _managed(connection, arn)


async def _policies_of(
    connection: AsyncConnection, session: SqlIamSession, entity_id: str, entity_type: str
) -> tuple[list[StoredPolicy], list[StoredPolicy]]:
    inline = [
        StoredPolicy(policy.name, _INLINE_SOURCE[entity_type], policy.document)
        for policy in await session.list_inline_policies(entity_id)
    ]
    attached = []
    for arn in await session.list_attached_policy_arns(entity_id):
        policy = await _managed(connection, arn)
        if policy is not None:
            attached.append(policy)
    return inline, attached


async def _managed(connection: AsyncConnection, arn: str | None) -> StoredPolicy | None:
    """The default version of the managed policy `arn`: from the catalog, or the account's own."""
    if arn is None:
        return None
    entry = find_aws_managed_policy(arn)
    if entry is not None:
        return StoredPolicy(arn, PolicySourceType.AWS_MANAGED, entry.version.document)
    query = (
        sa.select(iam_policy_versions.c.document)
        .select_from(iam_policies.join(iam_policy_versions))
        .where(iam_policies.c.arn == arn, iam_policy_versions.c.version_id == iam_policies.c.default_version_id)
    )
    document = (await connection.execute(query)).scalar()
    return None if document is None else StoredPolicy(arn, PolicySourceType.USER_MANAGED, document)
