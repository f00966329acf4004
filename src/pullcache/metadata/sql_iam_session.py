"""SqlIamSession: the IamSession port over one SQLAlchemy connection (one transaction when writing).

Names are looked up by their lower-cased key; managed policies carry counts computed from the attachment rows
and the permissions boundaries of users and roles, so no counter can drift from what it counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from pullcache.iam.errors import EntityKind
from pullcache.iam.model import (
    AccessKey,
    Account,
    EntityRef,
    Group,
    InlinePolicy,
    ManagedPolicy,
    PolicyVersion,
    Role,
    Tag,
    User,
    name_key,
)
from pullcache.metadata.schema import (
    access_keys,
    accounts,
    iam_attachments,
    iam_group_members,
    iam_groups,
    iam_inline_policies,
    iam_policies,
    iam_policy_versions,
    iam_roles,
    iam_tags,
    iam_users,
)
from pullcache.metadata.sql_iam_rows import (
    Row,
    access_key_from_row,
    access_keys_query,
    attachment_count,
    boundary_count,
    group_from_row,
    identity_values,
    named_query,
    policies_with_counts,
    policy_from_row,
    role_from_row,
    role_values,
    user_from_row,
    user_values,
    version_number,
)


class SqlIamSession:
    def __init__(self, connection: AsyncConnection, insert: Any) -> None:
        self._connection = connection
        self._insert = insert  # the dialect's insert, for upserts

    async def _rows(self, query: sa.Executable) -> Sequence[Row]:
        return (await self._connection.execute(query)).all()

    async def _first(self, query: sa.Executable) -> Row | None:
        return (await self._connection.execute(query)).first()

    async def _run(self, statement: sa.Executable) -> int:
        return (await self._connection.execute(statement)).rowcount

    async def find_account(self, account: str) -> Account | None:
        row = await self._first(sa.select(accounts).where(accounts.c.id == account))
        return None if row is None else Account(row.id, row.created_at)

    # -- users ------------------------------------------------------------------------------------------------

    async def find_user(self, account: str, name: str) -> User | None:
        row = await self._first(named_query(iam_users, account, name))
        return None if row is None else user_from_row(row)

    async def find_user_by_id(self, user_id: str) -> User | None:
        row = await self._first(sa.select(iam_users).where(iam_users.c.id == user_id))
        return None if row is None else user_from_row(row)

    async def list_users(self, account: str) -> Sequence[User]:
        return [
            user_from_row(row)
            for row in await self._rows(sa.select(iam_users).where(iam_users.c.account_id == account))
        ]

    async def add_user(self, user: User) -> None:
        await self._run(sa.insert(iam_users).values({**identity_values(user.user_id, user), **user_values(user)}))

    async def update_user(self, user: User) -> None:
        await self._run(sa.update(iam_users).where(iam_users.c.id == user.user_id).values(**user_values(user)))

    async def delete_user(self, user_id: str) -> None:
        await self._run(sa.delete(iam_tags).where(iam_tags.c.entity_id == user_id))
        await self._run(sa.delete(iam_group_members).where(iam_group_members.c.user_id == user_id))
        await self._run(sa.delete(iam_users).where(iam_users.c.id == user_id))

    # -- groups -----------------------------------------------------------------------------------------------

    async def find_group(self, account: str, name: str) -> Group | None:
        row = await self._first(named_query(iam_groups, account, name))
        return None if row is None else group_from_row(row)

    async def list_groups(self, account: str) -> Sequence[Group]:
        query = sa.select(iam_groups).where(iam_groups.c.account_id == account)
        return [group_from_row(row) for row in await self._rows(query)]

    async def add_group(self, group: Group) -> None:
        await self._run(sa.insert(iam_groups).values(**identity_values(group.group_id, group)))

    async def delete_group(self, group_id: str) -> None:
        await self._run(sa.delete(iam_group_members).where(iam_group_members.c.group_id == group_id))
        await self._run(sa.delete(iam_groups).where(iam_groups.c.id == group_id))

    async def list_group_members(self, group_id: str) -> Sequence[User]:
        query = (
            sa.select(iam_users)
            .select_from(iam_users.join(iam_group_members, iam_group_members.c.user_id == iam_users.c.id))
            .where(iam_group_members.c.group_id == group_id)
        )
        return [user_from_row(row) for row in await self._rows(query)]

    async def list_groups_of_user(self, user_id: str) -> Sequence[Group]:
        query = (
            sa.select(iam_groups)
            .select_from(iam_groups.join(iam_group_members, iam_group_members.c.group_id == iam_groups.c.id))
            .where(iam_group_members.c.user_id == user_id)
        )
        return [group_from_row(row) for row in await self._rows(query)]

    async def add_group_member(self, group_id: str, user_id: str) -> None:
        await self._run(
            self._insert(iam_group_members).values(group_id=group_id, user_id=user_id).on_conflict_do_nothing()
        )

    async def remove_group_member(self, group_id: str, user_id: str) -> None:
        await self._run(
            sa.delete(iam_group_members).where(
                iam_group_members.c.group_id == group_id, iam_group_members.c.user_id == user_id
            )
        )

    # -- roles ------------------------------------------------------------------------------------------------

    async def find_role(self, account: str, name: str) -> Role | None:
        row = await self._first(named_query(iam_roles, account, name))
        return None if row is None else role_from_row(row)

    async def list_roles(self, account: str) -> Sequence[Role]:
        return [
            role_from_row(row)
            for row in await self._rows(sa.select(iam_roles).where(iam_roles.c.account_id == account))
        ]

    async def add_role(self, role: Role) -> None:
        await self._run(sa.insert(iam_roles).values(**role_values(role), **identity_values(role.role_id, role)))

    async def update_role(self, role: Role) -> None:
        await self._run(sa.update(iam_roles).where(iam_roles.c.id == role.role_id).values(**role_values(role)))

    async def delete_role(self, role_id: str) -> None:
        await self._run(sa.delete(iam_tags).where(iam_tags.c.entity_id == role_id))
        await self._run(sa.delete(iam_roles).where(iam_roles.c.id == role_id))

    # -- customer managed policies ----------------------------------------------------------------------------

    async def find_policy(self, account: str, name: str) -> ManagedPolicy | None:
        query = policies_with_counts().where(
            iam_policies.c.account_id == account, iam_policies.c.name_key == name_key(name)
        )
        row = await self._first(query)
        return None if row is None else policy_from_row(row)

    async def list_policies(self, account: str) -> Sequence[ManagedPolicy]:
        query = policies_with_counts().where(iam_policies.c.account_id == account)
        return [policy_from_row(row) for row in await self._rows(query)]

    async def add_policy(self, policy: ManagedPolicy, version: PolicyVersion) -> None:
        await self._run(
            sa.insert(iam_policies).values(
                **identity_values(policy.policy_id, policy),
                description=policy.description,
                default_version_id=policy.default_version_id,
                last_version_number=1,
                updated_at=policy.updated_at,
            )
        )
        await self.add_policy_version(policy.policy_id, version)

    async def update_policy(self, policy: ManagedPolicy, last_version_number: int) -> None:
        await self._run(
            sa.update(iam_policies)
            .where(iam_policies.c.id == policy.policy_id)
            .values(
                default_version_id=policy.default_version_id,
                updated_at=policy.updated_at,
                last_version_number=last_version_number,
            )
        )

    async def last_version_number(self, policy_id: str) -> int:
        query = sa.select(iam_policies.c.last_version_number).where(iam_policies.c.id == policy_id)
        return int((await self._connection.execute(query)).scalar_one())

    async def delete_policy(self, policy_id: str) -> None:
        await self._run(sa.delete(iam_tags).where(iam_tags.c.entity_id == policy_id))
        await self._run(sa.delete(iam_policy_versions).where(iam_policy_versions.c.policy_id == policy_id))
        await self._run(sa.delete(iam_policies).where(iam_policies.c.id == policy_id))

    async def list_policy_versions(self, policy_id: str) -> Sequence[PolicyVersion]:
        query = (
            sa.select(iam_policy_versions, iam_policies.c.default_version_id)
            .select_from(iam_policy_versions.join(iam_policies))
            .where(iam_policy_versions.c.policy_id == policy_id)
        )
        versions = [
            PolicyVersion(row.version_id, row.document, row.created_at, row.version_id == row.default_version_id)
            for row in await self._rows(query)
        ]
        return sorted(versions, key=version_number, reverse=True)

    async def add_policy_version(self, policy_id: str, version: PolicyVersion) -> None:
        await self._run(
            sa.insert(iam_policy_versions).values(
                policy_id=policy_id,
                version_id=version.version_id,
                document=version.document,
                created_at=version.created_at,
            )
        )

    async def delete_policy_version(self, policy_id: str, version_id: str) -> None:
        await self._run(
            sa.delete(iam_policy_versions).where(
                iam_policy_versions.c.policy_id == policy_id, iam_policy_versions.c.version_id == version_id
            )
        )

    async def count_policy_uses(self, account: str, arn: str) -> tuple[int, int]:
        row = await self._first(
            sa.select(attachment_count(account, arn).label("attached"), boundary_count(account, arn).label("used"))
        )
        assert row is not None
        return int(row.attached), int(row.used)

    # -- inline policies, attachments, tags -------------------------------------------------------------------

    async def list_inline_policies(self, entity_id: str) -> Sequence[InlinePolicy]:
        query = (
            sa.select(iam_inline_policies.c.name, iam_inline_policies.c.document)
            .where(iam_inline_policies.c.entity_id == entity_id)
            .order_by(iam_inline_policies.c.name)
        )
        return [InlinePolicy(row.name, row.document) for row in await self._rows(query)]

    async def put_inline_policy(self, entity: EntityRef, policy: InlinePolicy) -> None:
        statement = self._insert(iam_inline_policies).values(
            entity_id=entity.entity_id,
            name=policy.name,
            account_id=entity.account,
            entity_type=entity.kind.value,
            document=policy.document,
        )
        await self._run(
            statement.on_conflict_do_update(
                index_elements=[iam_inline_policies.c.entity_id, iam_inline_policies.c.name],
                set_={"document": statement.excluded.document},
            )
        )

    async def delete_inline_policy(self, entity_id: str, name: str) -> bool:
        statement = sa.delete(iam_inline_policies).where(
            iam_inline_policies.c.entity_id == entity_id, iam_inline_policies.c.name == name
        )
        return await self._run(statement) > 0

    async def list_attached_policy_arns(self, entity_id: str) -> Sequence[str]:
        query = (
            sa.select(iam_attachments.c.policy_arn)
            .where(iam_attachments.c.entity_id == entity_id)
            .order_by(iam_attachments.c.attached_at, iam_attachments.c.policy_arn)
        )
        return list((await self._connection.execute(query)).scalars())

    async def attach_policy(self, entity: EntityRef, arn: str, at: datetime) -> None:
        await self._run(
            self._insert(iam_attachments)
            .values(
                entity_id=entity.entity_id,
                policy_arn=arn,
                account_id=entity.account,
                entity_type=entity.kind.value,
                attached_at=at,
            )
            .on_conflict_do_nothing()
        )

    async def detach_policy(self, entity_id: str, arn: str) -> bool:
        statement = sa.delete(iam_attachments).where(
            iam_attachments.c.entity_id == entity_id, iam_attachments.c.policy_arn == arn
        )
        return await self._run(statement) > 0

    async def list_policy_entities(self, account: str, arn: str) -> Sequence[tuple[EntityRef, bool]]:
        attached = set(
            (
                await self._connection.execute(
                    sa.select(iam_attachments.c.entity_id).where(
                        iam_attachments.c.account_id == account, iam_attachments.c.policy_arn == arn
                    )
                )
            ).scalars()
        )
        found: list[tuple[EntityRef, bool]] = []
        for kind, table in ((EntityKind.USER, iam_users), (EntityKind.GROUP, iam_groups), (EntityKind.ROLE, iam_roles)):
            query = sa.select(table.c.id, table.c.name, table.c.path, table.c.arn).where(table.c.account_id == account)
            for row in await self._rows(query):
                entity = EntityRef(kind, row.id, account, row.name, row.path, row.arn)
                if row.id in attached:
                    found.append((entity, True))
            if kind is not EntityKind.GROUP:
                boundary = sa.select(table.c.id, table.c.name, table.c.path, table.c.arn).where(
                    table.c.account_id == account, table.c.permissions_boundary_arn == arn
                )
                found += [
                    (EntityRef(kind, r.id, account, r.name, r.path, r.arn), False) for r in await self._rows(boundary)
                ]
        return found

    async def list_used_aws_policy_arns(self, account: str) -> Sequence[str]:
        prefix = "arn:aws:iam::aws:policy/"
        attached = sa.select(iam_attachments.c.policy_arn.label("arn")).where(
            iam_attachments.c.account_id == account, iam_attachments.c.policy_arn.startswith(prefix)
        )
        boundaries = [
            sa.select(table.c.permissions_boundary_arn.label("arn")).where(
                table.c.account_id == account, table.c.permissions_boundary_arn.startswith(prefix)
            )
            for table in (iam_users, iam_roles)
        ]
        union = sa.union(attached, *boundaries).subquery()
        return sorted((await self._connection.execute(sa.select(union.c.arn))).scalars())

    async def list_tags(self, entity_id: str) -> Sequence[Tag]:
        query = sa.select(iam_tags.c.key, iam_tags.c.value).where(iam_tags.c.entity_id == entity_id)
        return sorted((Tag(row.key, row.value) for row in await self._rows(query)), key=lambda tag: tag.key)

    async def set_tags(self, account: str, entity_id: str, tags: Sequence[Tag]) -> None:
        await self._run(sa.delete(iam_tags).where(iam_tags.c.entity_id == entity_id))
        if tags:
            await self._connection.execute(
                sa.insert(iam_tags),
                [
                    {
                        "entity_id": entity_id,
                        "key_folded": tag.key.lower(),
                        "account_id": account,
                        "key": tag.key,
                        "value": tag.value,
                    }
                    for tag in tags
                ],
            )

    # -- access keys ------------------------------------------------------------------------------------------

    async def find_access_key(self, account: str, access_key_id: str) -> AccessKey | None:
        row = await self._first(
            access_keys_query().where(access_keys.c.account_id == account, access_keys.c.access_key_id == access_key_id)
        )
        return None if row is None else access_key_from_row(row)

    async def list_access_keys(self, account: str, user_id: str | None) -> Sequence[AccessKey]:
        owner = access_keys.c.user_id.is_(None) if user_id is None else access_keys.c.user_id == user_id
        query = access_keys_query().where(access_keys.c.account_id == account, owner)
        query = query.order_by(access_keys.c.created_at, access_keys.c.access_key_id)
        return [access_key_from_row(row) for row in await self._rows(query)]

    async def add_access_key(self, key: AccessKey) -> None:
        await self._run(
            sa.insert(access_keys).values(
                access_key_id=key.access_key_id,
                secret_access_key=key.secret_access_key,
                account_id=key.account,
                user_id=key.user_id,
                status=key.status,
                created_at=key.created_at,
            )
        )

    async def update_access_key_status(self, access_key_id: str, status: str) -> None:
        await self._run(
            sa.update(access_keys).where(access_keys.c.access_key_id == access_key_id).values(status=status)
        )

    async def delete_access_key(self, access_key_id: str) -> None:
        await self._run(sa.delete(access_keys).where(access_keys.c.access_key_id == access_key_id))
