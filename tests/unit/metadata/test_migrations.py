"""The Alembic migrations build exactly the schema pullcache.metadata.schema declares, once and for all.

A change to schema.py without a migration (or the other way round) fails here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from pullcache.metadata.engine import create_engine, migrate
from pullcache.metadata.schema import metadata
from tests.stores import sqlite_url


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(sqlite_url(tmp_path / "metadata.db"))
    yield engine
    await engine.dispose()


def head_revision() -> str:
    config = Config()
    config.set_main_option("script_location", str(resources.files("pullcache.metadata") / "migrations"))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def differences_from(declared: sa.MetaData) -> Callable[[sa.Connection], list[Any]]:
    def compare(connection: sa.Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, declared))

    return compare


schema_differences = differences_from(metadata)


def current_revision(connection: sa.Connection) -> str | None:
    revision: str | None = MigrationContext.configure(connection).get_current_revision()
    return revision


async def test_migrated_database_matches_the_declared_schema(engine: AsyncEngine) -> None:
    await migrate(engine)

    async with engine.connect() as connection:
        differences = await connection.run_sync(schema_differences)

    assert differences == []


async def test_empty_database_differs_from_the_declared_schema(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        differences = await connection.run_sync(schema_differences)

    added_tables = {diff[1].name for diff in differences if diff[0] == "add_table"}
    assert added_tables == set(metadata.tables)


async def test_a_column_declared_without_a_migration_is_a_difference(engine: AsyncEngine) -> None:
    declared = sa.MetaData()
    for table in metadata.tables.values():
        table.to_metadata(declared)
    declared.tables["tags"].append_column(sa.Column("pinned", sa.Boolean, nullable=True))
    await migrate(engine)

    async with engine.connect() as connection:
        differences = await connection.run_sync(differences_from(declared))

    assert [(diff[0], diff[2], diff[3].name) for diff in differences] == [("add_column", "tags", "pinned")]


async def test_migration_reaches_the_head_revision(engine: AsyncEngine) -> None:
    await migrate(engine)

    async with engine.connect() as connection:
        assert await connection.run_sync(current_revision) == head_revision()


async def test_migrating_twice_changes_nothing_and_keeps_the_data(engine: AsyncEngine) -> None:
    repositories = metadata.tables["repositories"]
    await migrate(engine)
    async with engine.begin() as connection:
        await connection.execute(sa.insert(repositories).values(name="library/kept", created_at=sa.func.now()))

    await migrate(engine)

    async with engine.connect() as connection:
        names = (await connection.execute(sa.select(repositories.c.name))).scalars().all()
        assert list(names) == ["library/kept"]
        assert await connection.run_sync(current_revision) == head_revision()
        assert await connection.run_sync(schema_differences) == []
