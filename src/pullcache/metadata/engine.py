"""Database engines and migrations.

SQLite is opened in WAL mode with a busy timeout so several worker processes share one file safely. Write
transactions start with BEGIN IMMEDIATE: a writer waits for the write lock up front instead of failing when
it upgrades a read lock, so concurrent writers queue rather than lose updates.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, event, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from pullcache.metadata.full_database import storage_full_raised
from pullcache.metadata.read_cache import EPOCH_SUFFIX, ReadCache, bump_epoch

BUSY_TIMEOUT_MS = 30_000
# Connections a worker keeps open, and how many more it opens under a burst: a cold pull of a many-layered image
# runs dozens of requests at once, each reading a few rows, and a request waiting for a connection waits for all.
POOL_SIZE = 16
POOL_OVERFLOW = 16
_IMMEDIATE = "pullcache_immediate"
_WROTE = "pullcache_wrote"
_TOUCHES = "pullcache_touches"


def create_engine(url: str) -> AsyncEngine:
    in_memory = make_url(url).database in (None, "", ":memory:")
    engine = (
        create_async_engine(url)
        if in_memory
        else create_async_engine(url, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW)
    )
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


class DataGroup(StrEnum):
    """What a write may change, so that a cache of reads of one group outlives writes of the other."""

    CONTENT = "content"  # repositories' blobs, manifests, tags and uploads (the registry's MetadataStore)
    SETTINGS = "settings"  # everything else: policies and settings of repositories, IAM, STS, rules, ...


EVERY_GROUP = (DataGroup.CONTENT, DataGroup.SETTINGS)


def read_cache(engine: AsyncEngine, group: DataGroup) -> ReadCache | None:
    """A cache of reads of `group`, or None when writes cannot be seen from here (no local database file)."""
    path = _epoch_path(engine, group)
    return None if path is None else ReadCache(path)


def local_database_file(engine: AsyncEngine) -> Path | None:
    """The SQLite file behind `engine`, or None (another database, or SQLite in memory)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return None
    return Path(database)


def _epoch_path(engine: AsyncEngine, group: DataGroup) -> Path | None:
    database = local_database_file(engine)
    return None if database is None else Path(f"{database}{EPOCH_SUFFIX}-{group}")


class Writer:
    """Write transactions on an engine: each takes the database's write lock when it begins (BEGIN IMMEDIATE on
    SQLite), and within this process they take turns first. SQLite lets one writer in at a time anyway; queueing
    here costs nothing, where a connection refused the lock sleeps in SQLite's busy handler (up to 100 ms a
    try), which under a burst of small writes (a cold pull of many layers) is most of the time spent."""

    def __init__(self, engine: AsyncEngine, touches: tuple[DataGroup, ...] = EVERY_GROUP) -> None:
        """`touches`: what its transactions may change (the caches of other groups keep their reads)."""
        self._engine = engine.execution_options(**{_IMMEDIATE: True, _TOUCHES: touches})
        self._turns = _TURNS.setdefault(engine.sync_engine, asyncio.Lock())

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction, committed on leaving; raises StorageFull when the database has no room left."""
        with storage_full_raised():
            async with self._turns, self._engine.begin() as connection:
                yield connection

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        with storage_full_raised():
            async with self._turns, self._engine.connect() as connection:
                yield connection


# One queue of writers per engine, shared by every store over it.
_TURNS: weakref.WeakKeyDictionary[Engine, asyncio.Lock] = weakref.WeakKeyDictionary()


def writer(engine: AsyncEngine, touches: tuple[DataGroup, ...] = EVERY_GROUP) -> Writer:
    """Write transactions on `engine` (see Writer)."""
    return Writer(engine, touches)


def configure_sqlite_connections(engine: Engine) -> None:
    """WAL, the busy timeout and foreign keys on every connection; transactions begun by pullcache's own BEGIN
    (BEGIN IMMEDIATE for writers)."""

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # pullcache emits BEGIN itself, below
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            f"busy_timeout={BUSY_TIMEOUT_MS}",
            "synchronous=NORMAL",
            "foreign_keys=ON",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _configure_sqlite(engine: AsyncEngine) -> None:
    configure_sqlite_connections(engine.sync_engine)
    epochs = {group: _epoch_path(engine, group) for group in DataGroup}

    @event.listens_for(engine.sync_engine, "commit")
    def on_commit(connection: Connection) -> None:
        options = connection.get_execution_options()
        if options.get(_IMMEDIATE, False):
            connection.info[_WROTE] = set(connection.info.get(_WROTE, ())) | set(options.get(_TOUCHES, EVERY_GROUP))

    @event.listens_for(engine.sync_engine, "checkin")
    def on_checkin(_dbapi_connection: Any, record: Any) -> None:
        # After the commit (the "commit" event comes before it): no reader can keep what the write replaced.
        for group in record.info.pop(_WROTE, ()):
            path = epochs[group]
            if path is not None:
                bump_epoch(path)


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision.

    On SQLite, foreign keys are off while migrations run, as SQLite's procedure for changing a table requires:
    a table is changed by copying it to a new one and dropping the old, and dropping a parent table with foreign
    keys on would delete (ON DELETE CASCADE) every row that references it. The keys are checked before the
    migration commits.
    """
    sqlite = engine.dialect.name == "sqlite"
    async with writer(engine).connect() as connection:
        if sqlite:
            await connection.run_sync(_set_foreign_keys, False)  # outside a transaction, or SQLite ignores it
        try:
            async with connection.begin():
                await connection.run_sync(_upgrade)
                if sqlite:
                    await connection.run_sync(_check_foreign_keys)
        finally:
            if sqlite:
                await connection.run_sync(_set_foreign_keys, True)


def _set_foreign_keys(connection: Connection, on: bool) -> None:
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    finally:
        cursor.close()


def _check_foreign_keys(connection: Connection) -> None:
    violations = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if violations:
        raise RuntimeError(f"a migration left rows whose foreign keys point nowhere: {violations[:5]}")


def _upgrade(connection: Connection) -> None:
    config = _alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def check_database(engine: AsyncEngine) -> None:
    """Raises DatabaseNotReady unless the database answers and its schema is at the newest revision."""
    try:
        async with engine.connect() as connection:
            current = await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())
    except Exception as error:  # any driver's failure to connect or to read: not ready, and why
        raise DatabaseNotReady(f"the database does not answer: {type(error).__name__}") from None
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    if current != head:
        raise DatabaseNotReady(f"the schema is at revision {current}, not {head}: migrations have not run")


class DatabaseNotReady(Exception):
    """The database cannot serve: it does not answer, or its schema is not the newest."""


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("pullcache.metadata") / "migrations"))
    return config
