"""The registry's MetadataStore over SQLAlchemy Core: SQLite now, PostgreSQL through the same statements.

Every repository is looked up by its scope and name: (account_id, region, name) is its unique key. No write here
creates one (the ECR store does, sql_ecr.py): a manifest written into a repository that does not exist is refused
with NameUnknown, and blob links into one are dropped (it was deleted while a push or a fill ran).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.metadata.engine import DataGroup, writer
from pullcache.metadata.group_commit import GroupCommit
from pullcache.metadata.read_cache import ReadCache, cached
from pullcache.metadata.reads import EngineReads, Reads
from pullcache.metadata.schema import UtcDateTime, blobs, manifests, repositories, repository_blobs, tags, uploads
from pullcache.registry.errors import NameUnknown
from pullcache.registry.ports import ManifestRecord, UploadRecord
from pullcache.registry.pull_records import ImagePulls
from pullcache.registry.tag_mutability import TagMutability, TagMutabilityRule

MANIFEST_COLUMNS = (
    manifests.c.digest,
    manifests.c.media_type,
    manifests.c.content,
    manifests.c.subject,
    manifests.c.artifact_type,
    manifests.c.annotations,
    manifests.c.created_at,
    manifests.c.pulled_at,
)


class SqlMetadataStore:
    def __init__(self, engine: AsyncEngine, cache: ReadCache | None = None, reads: Reads | None = None) -> None:
        """`cache`: where the reads a pull makes (repository, blob link, manifest) are kept between writes.
        `reads`: where reads run (reads.py); by default through `engine`."""
        self._cache = cache
        self._reads = reads or EngineReads(engine)
        self._writer = writer(engine, (DataGroup.CONTENT,))  # no policy or setting changes here
        # A flush of pull counts alone changes nothing a cache keeps (no cached read asks for pull_count): it leaves
        # every worker's read cache alone, where one that moves a pull time makes them read manifests again.
        self._counts_writer = writer(engine, touches=())
        self._insert: Any = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        self._links = GroupCommit(self._write_links)

    # -- repositories --------------------------------------------------------------------------------------

    async def list_repositories(self, scope: RegistryScope, limit: int | None, after: str | None) -> Sequence[str]:
        query = sa.select(repositories.c.name).where(*in_scope(scope)).order_by(repositories.c.name).limit(limit)
        if after is not None:
            query = query.where(repositories.c.name > after)
        return await self._reads.run(lambda connection: list(connection.execute(query).scalars()))

    async def repository_exists(self, scope: RegistryScope, repository: str) -> bool:
        return await cached(
            self._cache,
            ("repository_exists", scope, repository),
            lambda: self._read_repository_exists(scope, repository),
        )

    async def _read_repository_exists(self, scope: RegistryScope, repository: str) -> bool:
        parameters = _repository_parameters(scope, repository)
        found = await self._reads.run(lambda connection: connection.execute(_REPOSITORY_ID, parameters).first())
        return found is not None

    async def find_tag_mutability(self, scope: RegistryScope, repository: str) -> TagMutabilityRule | None:
        return await cached(
            self._cache,
            ("find_tag_mutability", scope, repository),
            lambda: self._read_tag_mutability(scope, repository),
        )

    async def _read_tag_mutability(self, scope: RegistryScope, repository: str) -> TagMutabilityRule | None:
        parameters = _repository_parameters(scope, repository)
        row = await self._reads.run(lambda connection: connection.execute(_TAG_MUTABILITY, parameters).first())
        if row is None:
            return None
        return TagMutabilityRule(TagMutability(row.tag_mutability), tuple(row.tag_mutability_filters or ()))

    # -- blobs ---------------------------------------------------------------------------------------------

    async def link_blob(self, scope: RegistryScope, repository: str, digest: Digest, size: int) -> None:
        await self._links.submit(_Link(scope, repository, digest, size))

    async def _write_links(self, links: Sequence[_Link]) -> None:
        """Links asked for together, in one transaction (group_commit.py); those into repositories that do not
        exist are dropped."""
        now = _now()
        async with self._writer.begin() as connection:
            repository_ids: dict[tuple[RegistryScope, str], int] = {}
            for scope, repository in dict.fromkeys((link.scope, link.repository) for link in links):
                repository_id = await find_repository_id(connection, scope, repository)
                if repository_id is not None:
                    repository_ids[scope, repository] = repository_id
            links = [link for link in links if (link.scope, link.repository) in repository_ids]
            if not links:
                return
            await connection.execute(
                self._insert(blobs).on_conflict_do_nothing(),
                [{"digest": str(link.digest), "size": link.size, "created_at": now} for link in links],
            )
            # A link made again is made now: the grace period of garbage collection counts from the latest.
            statement = self._insert(repository_blobs)
            await connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[repository_blobs.c.repository_id, repository_blobs.c.digest],
                    set_={"linked_at": statement.excluded.linked_at},
                ),
                [
                    {
                        "repository_id": repository_ids[link.scope, link.repository],
                        "digest": str(link.digest),
                        "linked_at": now,
                    }
                    for link in links
                ],
            )

    async def find_blob_size(self, scope: RegistryScope, repository: str, digest: Digest) -> int | None:
        return await cached(
            self._cache,
            ("find_blob_size", scope, repository, digest),
            lambda: self._read_blob_size(scope, repository, digest),
        )

    async def _read_blob_size(self, scope: RegistryScope, repository: str, digest: Digest) -> int | None:
        parameters = {**_repository_parameters(scope, repository), "digest": str(digest)}
        return await self._reads.run(lambda connection: connection.execute(_BLOB_SIZE, parameters).scalar())

    async def find_any_blob_size(self, scope: RegistryScope, digest: Digest) -> int | None:
        query = (
            sa.select(blobs.c.size)
            .select_from(blobs.join(repository_blobs).join(repositories))
            .where(*in_scope(scope), blobs.c.digest == str(digest))
            .limit(1)
        )
        return await self._reads.run(lambda connection: connection.execute(query).scalar())

    async def unlink_blob(self, scope: RegistryScope, repository: str, digest: Digest) -> bool:
        async with self._writer.begin() as connection:
            result = await connection.execute(
                sa.delete(repository_blobs).where(
                    repository_blobs.c.repository_id == repository_id_of(scope, repository),
                    repository_blobs.c.digest == str(digest),
                )
            )
            return result.rowcount > 0

    async def missing_blobs(self, scope: RegistryScope, repository: str, digests: Sequence[Digest]) -> Sequence[Digest]:
        return await self._missing(repository_blobs, repository_blobs.c.digest, scope, repository, digests)

    async def missing_manifests(
        self, scope: RegistryScope, repository: str, digests: Sequence[Digest]
    ) -> Sequence[Digest]:
        return await self._missing(manifests, manifests.c.digest, scope, repository, digests)

    async def _missing(
        self,
        table: sa.Table,
        column: sa.Column[str],
        scope: RegistryScope,
        repository: str,
        digests: Sequence[Digest],
    ) -> Sequence[Digest]:
        if not digests:
            return []
        wanted = {str(d) for d in digests}
        query = sa.select(column).where(
            table.c.repository_id == repository_id_of(scope, repository), column.in_(wanted)
        )
        present = await self._reads.run(lambda connection: set(connection.execute(query).scalars()))
        return [d for d in digests if str(d) not in present]

    # -- manifests and tags --------------------------------------------------------------------------------

    async def put_manifest(
        self,
        scope: RegistryScope,
        repository: str,
        manifest: ManifestRecord,
        tag: str | None,
        *,
        keep_tag: bool = False,
        cached: bool = False,
    ) -> Digest | None:
        now = _now()
        async with self._writer.begin() as connection:
            repository_id = await find_repository_id(connection, scope, repository)
            if repository_id is None:
                raise NameUnknown(repository, scope.account_id)
            previous: str | None = None
            if tag is not None:
                previous = (
                    await connection.execute(
                        sa.select(tags.c.digest).where(tags.c.repository_id == repository_id, tags.c.name == tag)
                    )
                ).scalar()
                if keep_tag and previous is not None and previous != str(manifest.digest):
                    return Digest.parse(previous)
            insert = self._insert(manifests).values(
                repository_id=repository_id,
                digest=str(manifest.digest),
                media_type=manifest.media_type,
                content=manifest.content,
                subject=str(manifest.subject) if manifest.subject else None,
                artifact_type=manifest.artifact_type,
                annotations=manifest.annotations or None,
                created_at=now,
                cached=cached,
            )
            # A push of what the cache imported makes it pushed: never evicted from then on.
            await connection.execute(
                insert.on_conflict_do_nothing()
                if cached
                else insert.on_conflict_do_update(
                    index_elements=[manifests.c.repository_id, manifests.c.digest], set_={"cached": False}
                )
            )
            if tag is not None:
                statement = self._insert(tags).values(
                    repository_id=repository_id, name=tag, digest=str(manifest.digest), updated_at=now
                )
                await connection.execute(
                    statement.on_conflict_do_update(
                        index_elements=[tags.c.repository_id, tags.c.name],
                        set_={
                            "digest": statement.excluded.digest,
                            "updated_at": statement.excluded.updated_at,
                        },
                    )
                )
            return None if previous is None else Digest.parse(previous)

    async def find_manifest(
        self, scope: RegistryScope, repository: str, reference: Digest | str
    ) -> ManifestRecord | None:
        return await cached(
            self._cache,
            ("find_manifest", scope, repository, reference),
            lambda: self._read_manifest(scope, repository, reference),
        )

    async def _read_manifest(
        self, scope: RegistryScope, repository: str, reference: Digest | str
    ) -> ManifestRecord | None:
        by_digest = isinstance(reference, Digest)
        query = _MANIFEST_BY_DIGEST if by_digest else _MANIFEST_BY_TAG
        parameters = {**_repository_parameters(scope, repository), "reference": str(reference)}
        row = await self._reads.run(lambda connection: connection.execute(query, parameters).first())
        if row is None:
            return None
        record = manifest_record(row)
        return record if by_digest else replace(record, tag_checked_at=row.checked_at)

    async def mark_tag_checked(self, scope: RegistryScope, repository: str, tag: str, at: datetime) -> None:
        async with self._writer.begin() as connection:
            await connection.execute(
                sa.update(tags)
                .where(tags.c.repository_id == repository_id_of(scope, repository), tags.c.name == tag)
                .values(checked_at=at)
            )

    async def record_pulls(self, pulls: Sequence[ImagePulls]) -> None:
        """The pulls a worker gathered (registry/pull_records.py), in one transaction: times that only move forward
        (another worker may have written a later one), counts added to what other workers wrote."""
        times = [
            {**_pulled_repository(image.scope, image.repository), "pull_digest": str(image.digest), "pull_at": at}
            for image in pulls
            if (at := image.pulled_at) is not None
        ]
        counts: dict[tuple[RegistryScope, str], int] = {}
        for image in pulls:
            counts[image.scope, image.repository] = counts.get((image.scope, image.repository), 0) + image.count
        added = [
            {**_pulled_repository(scope, repository), "pulls": count}
            for (scope, repository), count in counts.items()
            if count
        ]
        async with (self._writer if times else self._counts_writer).begin() as connection:
            if times:
                await connection.execute(_RECORD_PULL_TIME, times)
            if added:
                await connection.execute(_ADD_PULLS, added)

    async def delete_manifest(self, scope: RegistryScope, repository: str, digest: Digest) -> bool:
        async with self._writer.begin() as connection:
            repository_id = await find_repository_id(connection, scope, repository)
            if repository_id is None:
                return False
            await connection.execute(
                sa.delete(tags).where(tags.c.repository_id == repository_id, tags.c.digest == str(digest))
            )
            result = await connection.execute(
                sa.delete(manifests).where(
                    manifests.c.repository_id == repository_id, manifests.c.digest == str(digest)
                )
            )
            return result.rowcount > 0

    async def delete_tag(self, scope: RegistryScope, repository: str, tag: str) -> bool:
        async with self._writer.begin() as connection:
            result = await connection.execute(
                sa.delete(tags).where(tags.c.repository_id == repository_id_of(scope, repository), tags.c.name == tag)
            )
            return result.rowcount > 0

    async def list_tags(
        self, scope: RegistryScope, repository: str, limit: int | None, after: str | None
    ) -> Sequence[str] | None:
        query = sa.select(tags.c.name).where(tags.c.repository_id == sa.bindparam("repository_id"))
        if after is not None:
            query = query.where(tags.c.name > after)
        query = query.order_by(tags.c.name).limit(limit)
        parameters = _repository_parameters(scope, repository)

        def read(connection: Connection) -> list[str] | None:
            repository_id = connection.execute(_REPOSITORY_ID, parameters).scalar()
            if repository_id is None:
                return None
            return list(connection.execute(query, {"repository_id": repository_id}).scalars())

        return await self._reads.run(read)

    async def list_referrers(self, scope: RegistryScope, repository: str, subject: Digest) -> Sequence[ManifestRecord]:
        query = (
            sa.select(*MANIFEST_COLUMNS)
            .select_from(manifests.join(repositories))
            .where(*named(scope, repository), manifests.c.subject == str(subject))
            .order_by(manifests.c.created_at, manifests.c.digest)
        )
        return await self._reads.run(lambda connection: [manifest_record(row) for row in connection.execute(query)])

    # -- uploads -------------------------------------------------------------------------------------------

    async def create_upload(self, upload: UploadRecord) -> None:
        async with self._writer.begin() as connection:
            await connection.execute(
                sa.insert(uploads).values(
                    id=upload.upload_id,
                    account_id=upload.scope.account_id,
                    region=upload.scope.region,
                    repository=upload.repository,
                    started_at=upload.started_at,
                )
            )

    async def find_upload(self, scope: RegistryScope, upload_id: str) -> UploadRecord | None:
        query = sa.select(uploads.c.id, uploads.c.repository, uploads.c.started_at).where(
            uploads.c.id == upload_id, uploads.c.account_id == scope.account_id, uploads.c.region == scope.region
        )
        row = await self._reads.run(lambda connection: connection.execute(query).first())
        return None if row is None else UploadRecord(row.id, scope, row.repository, row.started_at)

    async def delete_upload(self, upload_id: str) -> None:
        async with self._writer.begin() as connection:
            await connection.execute(sa.delete(uploads).where(uploads.c.id == upload_id))

    async def list_uploads_started_before(self, cutoff: datetime) -> Sequence[str]:
        query = sa.select(uploads.c.id).where(uploads.c.started_at < cutoff).order_by(uploads.c.started_at)
        return await self._reads.run(lambda connection: list(connection.execute(query).scalars()))


@dataclass(frozen=True, slots=True)
class _Link:
    scope: RegistryScope
    repository: str
    digest: Digest
    size: int


def in_scope(scope: RegistryScope) -> tuple[sa.ColumnElement[bool], ...]:
    """The conditions that keep a query on `repositories` to one scope."""
    return repositories.c.account_id == scope.account_id, repositories.c.region == scope.region


def named(scope: RegistryScope, repository: str) -> tuple[sa.ColumnElement[bool], ...]:
    """The conditions that pick one repository from `repositories`."""
    return (*in_scope(scope), repositories.c.name == repository)


def repository_id_of(scope: RegistryScope, repository: str) -> sa.ScalarSelect[int]:
    return sa.select(repositories.c.id).where(*named(scope, repository)).scalar_subquery()


async def find_repository_id(connection: AsyncConnection, scope: RegistryScope, repository: str) -> int | None:
    return (await connection.execute(sa.select(repositories.c.id).where(*named(scope, repository)))).scalar()


# The reads of every pull, built once with bound parameters: building a statement costs more than running it.
_REPOSITORY = (
    repositories.c.account_id == sa.bindparam("account_id"),
    repositories.c.region == sa.bindparam("region"),
    repositories.c.name == sa.bindparam("repository"),
)
_REPOSITORY_ID = sa.select(repositories.c.id).where(*_REPOSITORY)
_TAG_MUTABILITY = sa.select(repositories.c.tag_mutability, repositories.c.tag_mutability_filters).where(*_REPOSITORY)
_BLOB_SIZE = (
    sa.select(blobs.c.size)
    .select_from(blobs.join(repository_blobs).join(repositories))
    .where(*_REPOSITORY, blobs.c.digest == sa.bindparam("digest"))
)
_MANIFEST_BY_DIGEST = (
    sa.select(*MANIFEST_COLUMNS)
    .select_from(manifests.join(repositories))
    .where(*_REPOSITORY, manifests.c.digest == sa.bindparam("reference"))
)
_MANIFEST_BY_TAG = (
    sa.select(*MANIFEST_COLUMNS, tags.c.checked_at)
    .select_from(
        tags.join(repositories).join(
            manifests, sa.and_(manifests.c.repository_id == tags.c.repository_id, manifests.c.digest == tags.c.digest)
        )
    )
    .where(*_REPOSITORY, tags.c.name == sa.bindparam("reference"))
)
# The writes of a flush of pulls, run once per image and per repository (executemany). An UPDATE's parameters
# may not be named as columns of its table.
_PULLED_REPOSITORY = (
    repositories.c.account_id == sa.bindparam("pulled_account_id"),
    repositories.c.region == sa.bindparam("pulled_region"),
    repositories.c.name == sa.bindparam("pulled_repository"),
)
_PULL_AT = sa.bindparam("pull_at", type_=UtcDateTime)
_RECORD_PULL_TIME = (
    sa.update(manifests)
    .where(
        manifests.c.repository_id == sa.select(repositories.c.id).where(*_PULLED_REPOSITORY).scalar_subquery(),
        manifests.c.digest == sa.bindparam("pull_digest"),
        sa.or_(manifests.c.pulled_at.is_(None), manifests.c.pulled_at < _PULL_AT),
    )
    .values(pulled_at=_PULL_AT)
)
_ADD_PULLS = (
    sa.update(repositories)
    .where(*_PULLED_REPOSITORY)
    .values(pull_count=repositories.c.pull_count + sa.bindparam("pulls"))
)


def _repository_parameters(scope: RegistryScope, repository: str) -> dict[str, str]:
    """The parameters of _REPOSITORY."""
    return {"account_id": scope.account_id, "region": scope.region, "repository": repository}


def _pulled_repository(scope: RegistryScope, repository: str) -> dict[str, str]:
    """The parameters of _PULLED_REPOSITORY."""
    return {"pulled_account_id": scope.account_id, "pulled_region": scope.region, "pulled_repository": repository}


def manifest_record(row: sa.Row[*tuple[Any, ...]]) -> ManifestRecord:
    """A ManifestRecord from a row of MANIFEST_COLUMNS."""
    return ManifestRecord(
        Digest.parse(row.digest),
        row.media_type,
        row.content,
        Digest.parse(row.subject) if row.subject else None,
        row.artifact_type,
        row.annotations,
        row.created_at,
        row.pulled_at,
    )


def _now() -> datetime:
    return datetime.now(UTC)
