"""Secrets Manager's secrets in SQL: SqlSecretStore is the SecretStore of SecretsService."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from pullcache.metadata.engine import writer
from pullcache.metadata.schema import secret_versions, secrets
from pullcache.secrets.errors import SecretExists
from pullcache.secrets.model import Secret, SecretVersion, Tag


class SqlSecretStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._reader = engine
        self._writer = writer(engine)

    async def add_secret(self, secret: Secret, version: SecretVersion | None) -> None:
        try:
            async with self._writer.begin() as connection:
                await connection.execute(sa.insert(secrets).values(**_row(secret)))
                if version is not None:
                    await connection.execute(sa.insert(secret_versions).values(**_version_row(secret.arn, version)))
        except sa.exc.IntegrityError as error:
            raise SecretExists(f"The operation failed because the secret {secret.name} already exists.") from error

    async def find_secret(self, account: str, region: str, name: str | None, arn: str | None) -> Secret | None:
        query = sa.select(secrets).where(secrets.c.account_id == account, secrets.c.region == region)
        query = query.where(secrets.c.arn == arn) if arn is not None else query.where(secrets.c.name == name)
        async with self._reader.connect() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _secret(row._mapping)

    async def list_secrets(self, account: str, region: str) -> Sequence[Secret]:
        query = (
            sa.select(secrets)
            .where(secrets.c.account_id == account, secrets.c.region == region)
            .order_by(secrets.c.created_at, secrets.c.name)
        )
        async with self._reader.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_secret(row._mapping) for row in rows]

    async def list_versions(self, arn: str) -> Sequence[SecretVersion]:
        query = (
            sa.select(secret_versions)
            .where(secret_versions.c.secret_arn == arn)
            .order_by(secret_versions.c.created_at, secret_versions.c.version_id)
        )
        async with self._reader.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [SecretVersion(row.version_id, bytes(row.sealed), tuple(row.stages), row.created_at) for row in rows]

    async def add_version(self, secret: Secret, version: SecretVersion, stages: Mapping[str, tuple[str, ...]]) -> None:
        try:
            async with self._writer.begin() as connection:
                await connection.execute(sa.insert(secret_versions).values(**_version_row(secret.arn, version)))
                for version_id, moved in stages.items():
                    await connection.execute(_stages_update(secret.arn, version_id, moved))
                await connection.execute(_update(secret))
        except sa.exc.IntegrityError as error:
            raise SecretExists("You can't modify an existing version, you can only create a new version.") from error

    async def move_stages(self, secret: Secret, stages: Mapping[str, tuple[str, ...]]) -> None:
        async with self._writer.begin() as connection:
            for version_id, moved in stages.items():
                await connection.execute(_stages_update(secret.arn, version_id, moved))
            await connection.execute(_update(secret))

    async def update_secret(self, secret: Secret) -> None:
        async with self._writer.begin() as connection:
            await connection.execute(_update(secret))

    async def delete_secret(self, arn: str) -> None:
        async with self._writer.begin() as connection:
            await connection.execute(sa.delete(secret_versions).where(secret_versions.c.secret_arn == arn))
            await connection.execute(sa.delete(secrets).where(secrets.c.arn == arn))


def _stages_update(arn: str, version_id: str, stages: tuple[str, ...]) -> Any:
    return (
        sa.update(secret_versions)
        .where(secret_versions.c.secret_arn == arn, secret_versions.c.version_id == version_id)
        .values(stages=list(stages))
    )


def _update(secret: Secret) -> Any:
    return (
        sa.update(secrets)
        .where(secrets.c.arn == secret.arn)
        .values(
            description=secret.description,
            tags=_tags(secret),
            resource_policy=secret.resource_policy,
            last_changed_at=secret.last_changed_at,
            deleted_at=secret.deleted_at,
            deletion_date=secret.deletion_date,
        )
    )


def _tags(secret: Secret) -> list[list[str]] | None:
    return [[tag.key, tag.value] for tag in secret.tags] or None


def _row(secret: Secret) -> dict[str, Any]:
    return {
        "arn": secret.arn,
        "account_id": secret.account,
        "region": secret.region,
        "name": secret.name,
        "description": secret.description,
        "tags": _tags(secret),
        "resource_policy": secret.resource_policy,
        "created_at": secret.created_at,
        "last_changed_at": secret.last_changed_at,
        "deleted_at": secret.deleted_at,
        "deletion_date": secret.deletion_date,
    }


def _version_row(arn: str, version: SecretVersion) -> dict[str, Any]:
    return {
        "secret_arn": arn,
        "version_id": version.version_id,
        "sealed": version.sealed,
        "stages": list(version.stages),
        "created_at": version.created_at,
    }


def _secret(row: Any) -> Secret:
    return Secret(
        arn=row["arn"],
        account=row["account_id"],
        region=row["region"],
        name=row["name"],
        description=row["description"],
        tags=tuple(Tag(key, value) for key, value in row["tags"] or ()),
        created_at=row["created_at"],
        last_changed_at=row["last_changed_at"],
        deleted_at=row["deleted_at"],
        deletion_date=row["deletion_date"],
        resource_policy=row["resource_policy"],
    )
