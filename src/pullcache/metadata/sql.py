"""The registry's MetadataStore over SQLAlchemy Core: SQLite now, PostgreSQL through the same statements."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from pullcache.core.digests import Digest
from pullcache.metadata.engine import writer
from pullcache.metadata.schema import blobs, manifests, repositories, repository_blobs, tags, uploads
from pullcache.registry.ports import ManifestRecord, UploadRecord


class SqlMetadataStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._reader = engine
        self._writer = writer(engine)
        self._insert: Any = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    # -- repositories --------------------------------------------------------------------------------------

    async def list_repositories(self, limit: int | None, after: str | None) -> Sequence[str]:
        query = sa.select(repositories.c.name).order_by(repositories.c.name).limit(limit)
        if after is not None:
            query = query.where(repositories.c.name > after)
        async with self._reader.connect() as connection:
            return list((await connection.execute(query)).scalars())

    async def repository_exists(self, repository: str) -> bool:
        async with self._reader.connect() as connection:
            return await _find_repository_id(connection, repository) is not None

    # -- blobs ---------------------------------------------------------------------------------------------

    async def link_blob(self, repository: str, digest: Digest, size: int) -> None:
        async with self._writer.begin() as connection:
            repository_id = await self._ensure_repository(connection, repository)
            await connection.execute(
                self._insert(blobs).values(digest=str(digest), size=size, created_at=_now()).on_conflict_do_nothing()
            )
            await connection.execute(
                self._insert(repository_blobs)
                .values(repository_id=repository_id, digest=str(digest))
                .on_conflict_do_nothing()
            )

    async def find_blob_size(self, repository: str, digest: Digest) -> int | None:
        query = (
            sa.select(blobs.c.size)
            .select_from(blobs.join(repository_blobs).join(repositories))
            .where(repositories.c.name == repository, blobs.c.digest == str(digest))
        )
        async with self._reader.connect() as connection:
            return (await connection.execute(query)).scalar()

    async def find_any_blob_size(self, digest: Digest) -> int | None:
        query = (
            sa.select(blobs.c.size)
            .select_from(blobs.join(repository_blobs))
            .where(blobs.c.digest == str(digest))
            .limit(1)
        )
        async with self._reader.connect() as connection:
            return (await connection.execute(query)).scalar()

    async def unlink_blob(self, repository: str, digest: Digest) -> bool:
        async with self._writer.begin() as connection:
            result = await connection.execute(
                sa.delete(repository_blobs).where(
                    repository_blobs.c.repository_id == _repository_id(repository),
                    repository_blobs.c.digest == str(digest),
                )
            )
            return result.rowcount > 0

    async def missing_blobs(self, repository: str, digests: Sequence[Digest]) -> Sequence[Digest]:
        return await self._missing(repository_blobs, repository_blobs.c.digest, repository, digests)

    async def missing_manifests(self, repository: str, digests: Sequence[Digest]) -> Sequence[Digest]:
        return await self._missing(manifests, manifests.c.digest, repository, digests)

    async def _missing(
        self, table: sa.Table, column: sa.Column[str], repository: str, digests: Sequence[Digest]
    ) -> Sequence[Digest]:
        if not digests:
            return []
        wanted = {str(d) for d in digests}
        query = sa.select(column).where(table.c.repository_id == _repository_id(repository), column.in_(wanted))
        async with self._reader.connect() as connection:
            present = set((await connection.execute(query)).scalars())
        return [d for d in digests if str(d) not in present]

    # -- manifests and tags --------------------------------------------------------------------------------

    async def put_manifest(self, repository: str, manifest: ManifestRecord, tag: str | None) -> None:
        now = _now()
        async with self._writer.begin() as connection:
            repository_id = await self._ensure_repository(connection, repository)
            await connection.execute(
                self._insert(manifests)
                .values(
                    repository_id=repository_id,
                    digest=str(manifest.digest),
                    media_type=manifest.media_type,
                    content=manifest.content,
                    subject=str(manifest.subject) if manifest.subject else None,
                    artifact_type=manifest.artifact_type,
                    annotations=manifest.annotations or None,
                    created_at=now,
                )
                .on_conflict_do_nothing()
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

    async def find_manifest(self, repository: str, reference: Digest | str) -> ManifestRecord | None:
        columns = (
            manifests.c.digest,
            manifests.c.media_type,
            manifests.c.content,
            manifests.c.subject,
            manifests.c.artifact_type,
            manifests.c.annotations,
        )
        if isinstance(reference, Digest):
            query = (
                sa.select(*columns)
                .select_from(manifests.join(repositories))
                .where(repositories.c.name == repository, manifests.c.digest == str(reference))
            )
        else:
            query = (
                sa.select(*columns)
                .select_from(
                    tags.join(repositories).join(
                        manifests,
                        sa.and_(
                            manifests.c.repository_id == tags.c.repository_id,
                            manifests.c.digest == tags.c.digest,
                        ),
                    )
                )
                .where(repositories.c.name == repository, tags.c.name == reference)
            )
        async with self._reader.connect() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _manifest_record(row)

    async def delete_manifest(self, repository: str, digest: Digest) -> bool:
        async with self._writer.begin() as connection:
            repository_id = await _find_repository_id(connection, repository)
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

    async def delete_tag(self, repository: str, tag: str) -> bool:
        async with self._writer.begin() as connection:
            result = await connection.execute(
                sa.delete(tags).where(tags.c.repository_id == _repository_id(repository), tags.c.name == tag)
            )
            return result.rowcount > 0

    async def list_tags(self, repository: str, limit: int | None, after: str | None) -> Sequence[str] | None:
        async with self._reader.connect() as connection:
            repository_id = await _find_repository_id(connection, repository)
            if repository_id is None:
                return None
            query = sa.select(tags.c.name).where(tags.c.repository_id == repository_id)
            if after is not None:
                query = query.where(tags.c.name > after)
            query = query.order_by(tags.c.name).limit(limit)
            return list((await connection.execute(query)).scalars())

    async def list_referrers(self, repository: str, subject: Digest) -> Sequence[ManifestRecord]:
        query = (
            sa.select(
                manifests.c.digest,
                manifests.c.media_type,
                manifests.c.content,
                manifests.c.subject,
                manifests.c.artifact_type,
                manifests.c.annotations,
            )
            .select_from(manifests.join(repositories))
            .where(repositories.c.name == repository, manifests.c.subject == str(subject))
            .order_by(manifests.c.created_at, manifests.c.digest)
        )
        async with self._reader.connect() as connection:
            return [_manifest_record(row) for row in await connection.execute(query)]

    # -- uploads -------------------------------------------------------------------------------------------

    async def create_upload(self, upload: UploadRecord) -> None:
        async with self._writer.begin() as connection:
            await connection.execute(
                sa.insert(uploads).values(
                    id=upload.upload_id, repository=upload.repository, started_at=upload.started_at
                )
            )

    async def find_upload(self, upload_id: str) -> UploadRecord | None:
        query = sa.select(uploads.c.id, uploads.c.repository, uploads.c.started_at).where(uploads.c.id == upload_id)
        async with self._reader.connect() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else UploadRecord(row.id, row.repository, row.started_at)

    async def delete_upload(self, upload_id: str) -> None:
        async with self._writer.begin() as connection:
            await connection.execute(sa.delete(uploads).where(uploads.c.id == upload_id))

    async def list_uploads_started_before(self, cutoff: datetime) -> Sequence[str]:
        query = sa.select(uploads.c.id).where(uploads.c.started_at < cutoff).order_by(uploads.c.started_at)
        async with self._reader.connect() as connection:
            return list((await connection.execute(query)).scalars())

    async def _ensure_repository(self, connection: AsyncConnection, repository: str) -> int:
        await connection.execute(
            self._insert(repositories).values(name=repository, created_at=_now()).on_conflict_do_nothing()
        )
        repository_id = await _find_repository_id(connection, repository)
        assert repository_id is not None
        return repository_id


def _repository_id(repository: str) -> sa.ScalarSelect[int]:
    return sa.select(repositories.c.id).where(repositories.c.name == repository).scalar_subquery()


async def _find_repository_id(connection: AsyncConnection, repository: str) -> int | None:
    return (await connection.execute(sa.select(repositories.c.id).where(repositories.c.name == repository))).scalar()


def _manifest_record(row: sa.Row[*tuple[Any, ...]]) -> ManifestRecord:
    return ManifestRecord(
        Digest.parse(row.digest),
        row.media_type,
        row.content,
        Digest.parse(row.subject) if row.subject else None,
        row.artifact_type,
        row.annotations,
    )


def _now() -> datetime:
    return datetime.now(UTC)
