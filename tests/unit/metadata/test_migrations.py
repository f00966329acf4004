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
from alembic import command
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
        await connection.execute(
            sa.insert(repositories).values(
                name="library/kept",
                created_at=sa.func.now(),
                account_id="000000000000",
                region="us-east-1",
                tag_mutability="MUTABLE",
                scan_on_push=False,
                encryption_type="AES256",
            )
        )

    await migrate(engine)

    async with engine.connect() as connection:
        names = (await connection.execute(sa.select(repositories.c.name))).scalars().all()
        assert list(names) == ["library/kept"]
        assert await connection.run_sync(current_revision) == head_revision()
        assert await connection.run_sync(schema_differences) == []


def upgrade_to(revision: str) -> Callable[[sa.Connection], None]:
    def upgrade(connection: sa.Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(resources.files("pullcache.metadata") / "migrations"))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    return upgrade


async def test_registry_scopes_move_existing_repositories_to_the_first_start_account_keeping_their_content(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(upgrade_to("0003"))
        for statement in (
            "INSERT INTO accounts (id, created_at) VALUES ('123456789012', '2026-01-01 00:00:00')",
            "INSERT INTO repositories (id, name, created_at) VALUES (7, 'library/app', '2026-01-01 00:00:00')",
            "INSERT INTO blobs (digest, size, created_at) VALUES ('sha256:aa', 3, '2026-01-01 00:00:00')",
            "INSERT INTO repository_blobs (repository_id, digest) VALUES (7, 'sha256:aa')",
            "INSERT INTO manifests (repository_id, digest, media_type, content, created_at)"
            " VALUES (7, 'sha256:bb', 'application/vnd.oci.image.manifest.v1+json', x'7b7d', '2026-01-01 00:00:00')",
            "INSERT INTO tags (repository_id, name, digest, updated_at)"
            " VALUES (7, 'latest', 'sha256:bb', '2026-01-01 00:00:00')",
            "INSERT INTO uploads (id, repository, started_at) VALUES ('u1', 'library/app', '2026-01-01 00:00:00')",
        ):
            await connection.exec_driver_sql(statement)

    await migrate(engine)

    async with engine.connect() as connection:
        repository = (
            await connection.exec_driver_sql(
                "SELECT id, account_id, region, tag_mutability, scan_on_push, encryption_type FROM repositories"
            )
        ).one()
        assert tuple(repository) == (7, "123456789012", "us-east-1", "MUTABLE", 0, "AES256")
        for table in ("repository_blobs", "manifests", "tags"):
            count = (await connection.exec_driver_sql(f"SELECT count(*) FROM {table}")).scalar()
            assert count == 1, f"{table} lost its rows"
        upload = (await connection.exec_driver_sql("SELECT account_id, region FROM uploads")).one()
        assert tuple(upload) == ("123456789012", "us-east-1")


async def test_the_same_name_may_exist_once_per_account_and_region(engine: AsyncEngine) -> None:
    await migrate(engine)
    repositories = metadata.tables["repositories"]
    row = {
        "name": "library/app",
        "created_at": sa.func.now(),
        "tag_mutability": "MUTABLE",
        "scan_on_push": False,
        "encryption_type": "AES256",
    }

    async with engine.begin() as connection:
        for account, region in (
            ("111111111111", "us-east-1"),
            ("222222222222", "us-east-1"),
            ("111111111111", "eu-west-1"),
        ):
            await connection.execute(sa.insert(repositories).values(account_id=account, region=region, **row))
    with pytest.raises(sa.exc.IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(
                sa.insert(repositories).values(account_id="111111111111", region="us-east-1", **row)
            )


async def test_widening_repository_names_keeps_every_row_the_unique_names_and_the_cascades(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(upgrade_to("0007"))
        for statement in (
            "INSERT INTO repositories (id, name, created_at, account_id, region, tag_mutability, scan_on_push,"
            " encryption_type) VALUES (7, 'library/app', '2026-01-01 00:00:00', '123456789012', 'us-east-1',"
            " 'MUTABLE', 0, 'AES256')",
            "INSERT INTO manifests (repository_id, digest, media_type, content, created_at)"
            " VALUES (7, 'sha256:bb', 'application/vnd.oci.image.manifest.v1+json', x'7b7d', '2026-01-01 00:00:00')",
            "INSERT INTO tags (repository_id, name, digest, updated_at)"
            " VALUES (7, 'latest', 'sha256:bb', '2026-01-01 00:00:00')",
            "INSERT INTO uploads (id, repository, started_at, account_id, region)"
            " VALUES ('u1', 'library/app', '2026-01-01 00:00:00', '123456789012', 'us-east-1')",
            "INSERT INTO pull_through_imports (id, account_id, region, repository, started_at)"
            " VALUES ('i1', '123456789012', 'us-east-1', 'library/app', '2026-01-01 00:00:00')",
        ):
            await connection.exec_driver_sql(statement)

    await migrate(engine)

    repositories = metadata.tables["repositories"]
    async with engine.connect() as connection:
        assert await connection.run_sync(current_revision) == head_revision()
        for table in ("repositories", "manifests", "tags", "uploads", "pull_through_imports"):
            count = (await connection.exec_driver_sql(f"SELECT count(*) FROM {table}")).scalar()
            assert count == 1, f"{table} lost its rows"
    with pytest.raises(sa.exc.IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(
                sa.insert(repositories).values(
                    name="library/app",
                    created_at=sa.func.now(),
                    account_id="123456789012",
                    region="us-east-1",
                    tag_mutability="MUTABLE",
                    scan_on_push=False,
                    encryption_type="AES256",
                )
            )
    async with engine.begin() as connection:
        await connection.execute(sa.delete(repositories).where(repositories.c.id == 7))
    async with engine.connect() as connection:
        for table in ("manifests", "tags"):
            count = (await connection.exec_driver_sql(f"SELECT count(*) FROM {table}")).scalar()
            assert count == 0, f"{table} kept the rows of a deleted repository"
