"""Read transactions as plain functions of a synchronous Connection, run where they cost least.

Through SQLAlchemy's asyncio layer over aiosqlite, every DBAPI call of a read is a round trip between the event
loop and the connection's own thread (BEGIN, cursor, execute, fetch, close, rollback): about 1 ms of CPU a read,
most of it handing the GIL back and forth. ThreadReads runs the whole read on one of a few threads that each keep
a connection to the SQLite file: one round trip, about a tenth of the CPU (bench/README.md). Other databases, and
SQLite in memory (one connection shared by everything), read through the async engine (EngineReads).

A read runs in a transaction of its own (BEGIN ... ROLLBACK), so all its statements see one snapshot.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from pullcache.metadata.engine import configure_sqlite_connections, local_database_file

T = TypeVar("T")

READ_THREADS = 4


class Reads(Protocol):
    async def run(self, read: Callable[[Connection], T]) -> T:
        """`read(connection)`'s result, run in one read transaction."""
        ...

    async def close(self) -> None: ...


def open_reads(engine: AsyncEngine) -> Reads:
    """ThreadReads for a SQLite file, EngineReads for anything else."""
    if local_database_file(engine) is None:
        return EngineReads(engine)
    return ThreadReads(engine.url.set(drivername="sqlite"))


class EngineReads:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def run(self, read: Callable[[Connection], T]) -> T:
        async with self._engine.connect() as connection:
            return await connection.run_sync(read)

    async def close(self) -> None:
        """The engine is its owner's to dispose."""


class ThreadReads:
    def __init__(self, url: sa.URL, threads: int = READ_THREADS) -> None:
        """`url`: a SQLite file, with a synchronous driver."""
        # Each thread keeps its connection, opened in that thread and closed by close() from another.
        self._engine = sa.create_engine(
            url, pool_size=threads, max_overflow=0, connect_args={"check_same_thread": False}
        )
        configure_sqlite_connections(self._engine)
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="pullcache-reads")
        self._local = threading.local()
        self._connections: list[Connection] = []
        self._opening = threading.Lock()

    async def run(self, read: Callable[[Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._run, read)

    def _run(self, read: Callable[[Connection], T]) -> T:
        connection: Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._engine.connect()
            self._local.connection = connection
            with self._opening:
                self._connections.append(connection)
        try:
            return read(connection)
        finally:
            connection.rollback()

    async def close(self) -> None:
        await asyncio.to_thread(self._executor.shutdown)
        with self._opening:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._engine.dispose()
