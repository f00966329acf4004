"""A database with no room left to write ("database or disk is full") raises the registry's StorageFull from every
write transaction, so each protocol answers it as a full disk; reads go on. The room is capped with SQLite's
max_page_count, which refuses a write exactly as a full disk does (SQLITE_FULL)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from pullcache.core.scopes import RegistryScope
from pullcache.metadata.engine import create_engine, migrate, writer
from pullcache.metadata.sql import SqlMetadataStore
from pullcache.registry.errors import StorageFull
from pullcache.registry.ports import UploadRecord
from tests.stores import sqlite_url

SCOPE: Final = RegistryScope("123456789012", "us-east-1")
# Far more uploads than the free room of a freshly migrated database holds.
ENOUGH_TO_FILL: Final = 5000


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(sqlite_url(tmp_path / "metadata.db"))
    await migrate(engine)
    yield engine
    await engine.dispose()


def cap_at_current_size(engine: AsyncEngine) -> None:
    """Every connection opened from now on may not grow the file (open ones are dropped)."""

    @event.listens_for(engine.sync_engine, "connect")
    def cap(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA page_count")
        pages = cursor.fetchone()[0]
        cursor.execute(f"PRAGMA max_page_count={pages}")
        cursor.close()


async def fill(store: SqlMetadataStore) -> None:
    for _ in range(ENOUGH_TO_FILL):
        await store.create_upload(upload())


def upload() -> UploadRecord:
    return UploadRecord(str(uuid.uuid4()), SCOPE, "team/app", datetime.now(UTC))


async def test_a_write_to_a_full_database_raises_storage_full_and_reads_go_on(engine: AsyncEngine) -> None:
    store = SqlMetadataStore(engine)
    kept = upload()
    await store.create_upload(kept)
    await engine.dispose()
    cap_at_current_size(engine)

    with pytest.raises(StorageFull, match="storage is full"):
        await fill(store)

    assert await store.find_upload(SCOPE, kept.upload_id) == kept


async def test_another_database_error_is_not_storage_full(engine: AsyncEngine) -> None:
    with pytest.raises(sa.exc.OperationalError, match="no such table"):
        async with writer(engine).begin() as connection:
            await connection.exec_driver_sql("INSERT INTO no_such_table VALUES (1)")
