"""The metrics' StorageCensus over SQLAlchemy Core: blobs, their bytes and the uploads in progress, in one read."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from pullcache.metadata.reads import EngineReads, Reads
from pullcache.metadata.schema import blobs, uploads
from pullcache.observability.ports import StorageTotals

_TOTALS = sa.select(
    sa.select(sa.func.count()).select_from(blobs).scalar_subquery(),
    sa.select(sa.func.coalesce(sa.func.sum(blobs.c.size), 0)).scalar_subquery(),
    sa.select(sa.func.count()).select_from(uploads).scalar_subquery(),
)


class SqlStorageCensus:
    def __init__(self, engine: AsyncEngine, reads: Reads | None = None) -> None:
        self._reads = reads or EngineReads(engine)

    async def storage_totals(self) -> StorageTotals:
        def read(connection: sa.Connection) -> StorageTotals:
            count, size, started = connection.execute(_TOTALS).one()
            return StorageTotals(blobs=int(count), blob_bytes=int(size), uploads=int(started))

        return await self._reads.run(read)
