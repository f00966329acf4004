"""Rows of the IAM tables to IAM's values and back, and the queries the IAM session shares."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa

from pullcache.iam.model import AccessKey, Group, ManagedPolicy, PolicyVersion, Role, User, name_key
from pullcache.metadata.schema import access_keys, iam_attachments, iam_policies, iam_roles, iam_users

Row = sa.Row[Any]


def named_query(table: sa.Table, account: str, name: str) -> sa.Select[Any]:
    return sa.select(table).where(table.c.account_id == account, table.c.name_key == name_key(name))


def user_from_row(row: Row) -> User:
    return User(row.id, row.account_id, row.name, row.path, row.arn, row.created_at, row.permissions_boundary_arn)


class NamedEntity(Protocol):
    """What users, groups, roles and managed policies share: a name and path within an account, and an ARN."""

    @property
    def account(self) -> str | None: ...  # None only for AWS-managed policies, which have no rows
    @property
    def name(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def arn(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...


def identity_values(entity_id: str, entity: NamedEntity) -> dict[str, Any]:
    """The columns every named IAM entity's row has, `name_key` (for case-insensitive uniqueness) included."""
    return {
        "id": entity_id,
        "account_id": entity.account,
        "name": entity.name,
        "name_key": name_key(entity.name),
        "path": entity.path,
        "arn": entity.arn,
        "created_at": entity.created_at,
    }


def user_values(user: User) -> dict[str, Any]:
    """The columns of a user that an update may change."""
    values = identity_values(user.user_id, user)
    del values["id"], values["account_id"]
    return {**values, "permissions_boundary_arn": user.permissions_boundary_arn}


def group_from_row(row: Row) -> Group:
    return Group(row.id, row.account_id, row.name, row.path, row.arn, row.created_at)


def role_from_row(row: Row) -> Role:
    return Role(
        role_id=row.id,
        account=row.account_id,
        name=row.name,
        path=row.path,
        arn=row.arn,
        created_at=row.created_at,
        assume_role_policy=row.assume_role_policy,
        description=row.description,
        max_session_duration=row.max_session_duration,
        permissions_boundary_arn=row.permissions_boundary_arn,
        last_used_at=row.last_used_at,
        last_used_region=row.last_used_region,
    )


def role_values(role: Role) -> dict[str, Any]:
    return {
        "assume_role_policy": role.assume_role_policy,
        "description": role.description,
        "max_session_duration": role.max_session_duration,
        "permissions_boundary_arn": role.permissions_boundary_arn,
    }


def attachment_count(account: Any, arn: Any) -> sa.ScalarSelect[int]:
    return (
        sa.select(sa.func.count())
        .select_from(iam_attachments)
        .where(iam_attachments.c.account_id == account, iam_attachments.c.policy_arn == arn)
        .scalar_subquery()
    )


def boundary_count(account: Any, arn: Any) -> sa.ColumnElement[int]:
    users = (
        sa.select(sa.func.count())
        .select_from(iam_users)
        .where(iam_users.c.account_id == account, iam_users.c.permissions_boundary_arn == arn)
        .scalar_subquery()
    )
    roles = (
        sa.select(sa.func.count())
        .select_from(iam_roles)
        .where(iam_roles.c.account_id == account, iam_roles.c.permissions_boundary_arn == arn)
        .scalar_subquery()
    )
    return users + roles


def policies_with_counts() -> sa.Select[Any]:
    return sa.select(
        iam_policies,
        attachment_count(iam_policies.c.account_id, iam_policies.c.arn).label("attachment_count"),
        boundary_count(iam_policies.c.account_id, iam_policies.c.arn).label("boundary_count"),
    )


def policy_from_row(row: Row) -> ManagedPolicy:
    return ManagedPolicy(
        policy_id=row.id,
        account=row.account_id,
        name=row.name,
        path=row.path,
        arn=row.arn,
        default_version_id=row.default_version_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        description=row.description,
        attachment_count=int(row.attachment_count),
        permissions_boundary_usage_count=int(row.boundary_count),
    )


def version_number(version: PolicyVersion) -> int:
    return int(version.version_id.removeprefix("v").split(".", 1)[0])


def access_keys_query() -> sa.Select[Any]:
    return sa.select(access_keys, iam_users.c.name.label("user_name")).select_from(
        access_keys.outerjoin(iam_users, iam_users.c.id == access_keys.c.user_id)
    )


def access_key_from_row(row: Row) -> AccessKey:
    return AccessKey(
        access_key_id=row.access_key_id,
        account=row.account_id,
        user_id=row.user_id,
        user_name=row.user_name,
        status=row.status,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        last_used_service=row.last_used_service,
        last_used_region=row.last_used_region,
    )
