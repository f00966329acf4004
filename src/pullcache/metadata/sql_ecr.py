"""The ECR service's EcrMetadataStore in SQL, over the registry's own repositories, manifests and tags."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.ecr.errors import RepositoryNotEmpty, RepositoryNotFound
from pullcache.ecr.ports import (
    Encryption,
    ImageId,
    ImageRecord,
    RepositoryRecord,
    RepositorySettings,
    TagStatus,
)
from pullcache.metadata.engine import writer
from pullcache.metadata.read_cache import ReadCache, cached
from pullcache.metadata.schema import manifests, registry_policies, repositories, repository_tags, tags
from pullcache.metadata.sql import find_repository_id, in_scope, named
from pullcache.registry.tag_mutability import TagMutability, TagMutabilityRule

_REPOSITORY_COLUMNS = (
    repositories.c.id,
    repositories.c.name,
    repositories.c.created_at,
    repositories.c.tag_mutability,
    repositories.c.tag_mutability_filters,
    repositories.c.scan_on_push,
    repositories.c.encryption_type,
    repositories.c.kms_key,
)


class SqlEcrStore:
    def __init__(self, engine: AsyncEngine, cache: ReadCache | None = None) -> None:
        """`cache`: where the policies every /v2/ request is authorized with are kept between writes."""
        self._cache = cache
        self._reader = engine
        self._writer = writer(engine)
        self._insert: Any = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    # -- repositories --------------------------------------------------------------------------------------

    async def create_repository(
        self,
        scope: RegistryScope,
        name: str,
        settings: RepositorySettings,
        tags: Sequence[tuple[str, str]],
        created_at: datetime,
    ) -> RepositoryRecord | None:
        async with self._writer.begin() as connection:
            result = await connection.execute(
                self._insert(repositories)
                .values(
                    account_id=scope.account_id,
                    region=scope.region,
                    name=name,
                    created_at=created_at,
                    **_settings_columns(settings),
                )
                .on_conflict_do_nothing()
            )
            if result.rowcount == 0:
                return None
            repository_id = await find_repository_id(connection, scope, name)
            assert repository_id is not None
            await _put_tags(connection, self._insert, repository_id, tags)
        return RepositoryRecord(scope, name, created_at, settings)

    async def find_repository(self, scope: RegistryScope, name: str) -> RepositoryRecord | None:
        async with self._reader.connect() as connection:
            row = (await connection.execute(sa.select(*_REPOSITORY_COLUMNS).where(*named(scope, name)))).first()
        return None if row is None else _repository(scope, row)

    async def list_repositories(
        self, scope: RegistryScope, after: str | None, limit: int | None
    ) -> Sequence[RepositoryRecord]:
        query = sa.select(*_REPOSITORY_COLUMNS).where(*in_scope(scope)).order_by(repositories.c.name).limit(limit)
        if after is not None:
            query = query.where(repositories.c.name > after)
        async with self._reader.connect() as connection:
            return [_repository(scope, row) for row in await connection.execute(query)]

    async def delete_repository(self, scope: RegistryScope, name: str, *, force: bool) -> RepositoryRecord:
        async with self._writer.begin() as connection:
            row = (await connection.execute(sa.select(*_REPOSITORY_COLUMNS).where(*named(scope, name)))).first()
            if row is None:
                raise RepositoryNotFound(scope, name)
            if not force:
                image = (
                    await connection.execute(
                        sa.select(manifests.c.digest).where(manifests.c.repository_id == row.id).limit(1)
                    )
                ).first()
                if image is not None:
                    raise RepositoryNotEmpty(scope, name)
            # Links, manifests, tags and resource tags go with the repository (ON DELETE CASCADE).
            await connection.execute(sa.delete(repositories).where(repositories.c.id == row.id))
        return _repository(scope, row)

    async def set_tag_mutability(self, scope: RegistryScope, name: str, rule: TagMutabilityRule) -> bool:
        return await self._update(
            scope,
            name,
            tag_mutability=rule.mutability.value,
            tag_mutability_filters=list(rule.exclusion_filters) or None,
        )

    # -- policies ------------------------------------------------------------------------------------------

    async def find_repository_policy(self, scope: RegistryScope, name: str) -> str | None:
        return await cached(
            self._cache, ("find_repository_policy", scope, name), lambda: self._read_repository_policy(scope, name)
        )

    async def _read_repository_policy(self, scope: RegistryScope, name: str) -> str | None:
        async with self._reader.connect() as connection:
            found = await connection.execute(sa.select(repositories.c.policy).where(*named(scope, name)))
            return found.scalar()

    async def set_repository_policy(self, scope: RegistryScope, name: str, text: str | None) -> bool:
        return await self._update(scope, name, policy=text)

    async def find_registry_policy(self, scope: RegistryScope) -> str | None:
        return await cached(self._cache, ("find_registry_policy", scope), lambda: self._read_registry_policy(scope))

    async def _read_registry_policy(self, scope: RegistryScope) -> str | None:
        query = sa.select(registry_policies.c.policy).where(
            registry_policies.c.account_id == scope.account_id, registry_policies.c.region == scope.region
        )
        async with self._reader.connect() as connection:
            return (await connection.execute(query)).scalar()

    async def set_registry_policy(self, scope: RegistryScope, text: str | None, at: datetime) -> None:
        async with self._writer.begin() as connection:
            if text is None:
                await connection.execute(
                    sa.delete(registry_policies).where(
                        registry_policies.c.account_id == scope.account_id,
                        registry_policies.c.region == scope.region,
                    )
                )
                return
            statement = self._insert(registry_policies).values(
                account_id=scope.account_id, region=scope.region, policy=text, updated_at=at
            )
            await connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[registry_policies.c.account_id, registry_policies.c.region],
                    set_={"policy": statement.excluded.policy, "updated_at": statement.excluded.updated_at},
                )
            )

    # -- resource tags -------------------------------------------------------------------------------------

    async def list_repository_tags(self, scope: RegistryScope, name: str) -> Sequence[tuple[str, str]] | None:
        async with self._reader.connect() as connection:
            repository_id = await find_repository_id(connection, scope, name)
            if repository_id is None:
                return None
            rows = await connection.execute(
                sa.select(repository_tags.c.key, repository_tags.c.value)
                .where(repository_tags.c.repository_id == repository_id)
                .order_by(repository_tags.c.position)
            )
            return [(row.key, row.value) for row in rows]

    async def tag_repository(self, scope: RegistryScope, name: str, tags: Sequence[tuple[str, str]]) -> bool:
        async with self._writer.begin() as connection:
            repository_id = await find_repository_id(connection, scope, name)
            if repository_id is None:
                return False
            await _put_tags(connection, self._insert, repository_id, tags)
            return True

    async def untag_repository(self, scope: RegistryScope, name: str, keys: Sequence[str]) -> bool:
        async with self._writer.begin() as connection:
            repository_id = await find_repository_id(connection, scope, name)
            if repository_id is None:
                return False
            if keys:
                await connection.execute(
                    sa.delete(repository_tags).where(
                        repository_tags.c.repository_id == repository_id, repository_tags.c.key.in_(keys)
                    )
                )
            return True

    # -- images --------------------------------------------------------------------------------------------

    async def list_image_ids(
        self,
        scope: RegistryScope,
        name: str,
        status: TagStatus,
        after: ImageId | None,
        limit: int | None,
    ) -> Sequence[ImageId]:
        tag_order = sa.func.coalesce(tags.c.name, "")
        query = (
            sa.select(manifests.c.digest, tags.c.name)
            .select_from(
                manifests.join(repositories).outerjoin(
                    tags,
                    sa.and_(tags.c.repository_id == manifests.c.repository_id, tags.c.digest == manifests.c.digest),
                )
            )
            .where(*named(scope, name))
            .order_by(manifests.c.digest, tag_order)
            .limit(limit)
        )
        if status is TagStatus.TAGGED:
            query = query.where(tags.c.name.is_not(None))
        elif status is TagStatus.UNTAGGED:
            query = query.where(tags.c.name.is_(None))
        if after is not None:
            last = str(after.digest)
            query = query.where(
                sa.or_(manifests.c.digest > last, sa.and_(manifests.c.digest == last, tag_order > (after.tag or "")))
            )
        async with self._reader.connect() as connection:
            return [ImageId(Digest.parse(row.digest), row.name) for row in await connection.execute(query)]

    async def list_images(
        self, scope: RegistryScope, name: str, status: TagStatus, after: Digest | None, limit: int | None
    ) -> Sequence[ImageRecord]:
        tagged = (
            sa.select(tags.c.name)
            .where(tags.c.repository_id == manifests.c.repository_id, tags.c.digest == manifests.c.digest)
            .exists()
        )
        query = (
            sa.select(*_IMAGE_COLUMNS, manifests.c.repository_id)
            .select_from(manifests.join(repositories))
            .where(*named(scope, name))
            .order_by(manifests.c.digest)
            .limit(limit)
        )
        if status is TagStatus.TAGGED:
            query = query.where(tagged)
        elif status is TagStatus.UNTAGGED:
            query = query.where(~tagged)
        if after is not None:
            query = query.where(manifests.c.digest > str(after))
        async with self._reader.connect() as connection:
            rows = list(await connection.execute(query))
            if not rows:
                return []
            names = await _tags_of(connection, rows[0].repository_id, [row.digest for row in rows])
        return [_image(row, names.get(row.digest, ())) for row in rows]

    async def find_image(self, scope: RegistryScope, name: str, digest: Digest) -> ImageRecord | None:
        query = (
            sa.select(*_IMAGE_COLUMNS, manifests.c.repository_id)
            .select_from(manifests.join(repositories))
            .where(*named(scope, name), manifests.c.digest == str(digest))
        )
        async with self._reader.connect() as connection:
            row = (await connection.execute(query)).first()
            if row is None:
                return None
            names = await _tags_of(connection, row.repository_id, [row.digest])
        return _image(row, names.get(row.digest, ()))

    async def _update(self, scope: RegistryScope, name: str, **values: Any) -> bool:
        async with self._writer.begin() as connection:
            result = await connection.execute(sa.update(repositories).where(*named(scope, name)).values(**values))
            return result.rowcount > 0


_IMAGE_COLUMNS = (
    manifests.c.digest,
    manifests.c.media_type,
    manifests.c.content,
    manifests.c.artifact_type,
    manifests.c.created_at,
    manifests.c.pulled_at,
    manifests.c.subject,
)


async def _tags_of(
    connection: AsyncConnection, repository_id: int, digests: Sequence[str]
) -> dict[str, tuple[str, ...]]:
    rows = await connection.execute(
        sa.select(tags.c.digest, tags.c.name)
        .where(tags.c.repository_id == repository_id, tags.c.digest.in_(digests))
        .order_by(tags.c.updated_at.desc(), tags.c.name)
    )
    found: dict[str, list[str]] = {}
    for row in rows:
        found.setdefault(row.digest, []).append(row.name)
    return {digest: tuple(names) for digest, names in found.items()}


async def _put_tags(
    connection: AsyncConnection, insert: Any, repository_id: int, tags_to_set: Sequence[tuple[str, str]]
) -> None:
    if not tags_to_set:
        return
    position = (
        await connection.execute(
            sa.select(sa.func.coalesce(sa.func.max(repository_tags.c.position), 0)).where(
                repository_tags.c.repository_id == repository_id
            )
        )
    ).scalar_one()
    for offset, (key, value) in enumerate(tags_to_set, start=1):
        statement = insert(repository_tags).values(
            repository_id=repository_id, key=key, value=value, position=position + offset
        )
        await connection.execute(
            statement.on_conflict_do_update(
                index_elements=[repository_tags.c.repository_id, repository_tags.c.key],
                set_={"value": statement.excluded.value},
            )
        )


def _settings_columns(settings: RepositorySettings) -> dict[str, Any]:
    return {
        "tag_mutability": settings.tag_mutability.mutability.value,
        "tag_mutability_filters": list(settings.tag_mutability.exclusion_filters) or None,
        "scan_on_push": settings.scan_on_push,
        "encryption_type": settings.encryption.encryption_type,
        "kms_key": settings.encryption.kms_key,
    }


def _repository(scope: RegistryScope, row: sa.Row[*tuple[Any, ...]]) -> RepositoryRecord:
    settings = RepositorySettings(
        TagMutabilityRule(TagMutability(row.tag_mutability), tuple(row.tag_mutability_filters or ())),
        bool(row.scan_on_push),
        Encryption(row.encryption_type, row.kms_key),
    )
    return RepositoryRecord(scope, row.name, row.created_at, settings)


def _image(row: sa.Row[*tuple[Any, ...]], image_tags: tuple[str, ...]) -> ImageRecord:
    return ImageRecord(
        Digest.parse(row.digest),
        row.media_type,
        row.content,
        row.artifact_type,
        image_tags,
        row.created_at,
        row.pulled_at,
        None if row.subject is None else Digest.parse(row.subject),
    )
