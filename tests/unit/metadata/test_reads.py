"""Reads as functions of a synchronous connection: on threads of their own over a SQLite file (ThreadReads), or
through the async engine (EngineReads); either way one snapshot a read, and every committed write seen by the
next read."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from pullcache.metadata.engine import create_engine, migrate, writer
from pullcache.metadata.reads import EngineReads, Reads, ThreadReads, open_reads
from pullcache.metadata.schema import blobs
from tests.stores import sqlite_url

COUNT_BLOBS = sa.select(sa.func.count()).select_from(blobs)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(sqlite_url(tmp_path / "metadata.db"))
    await migrate(engine)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture(params=["threads", "engine"])
async def reads(request: pytest.FixtureRequest, engine: AsyncEngine) -> AsyncIterator[Reads]:
    reads = open_reads(engine) if request.param == "threads" else EngineReads(engine)
    try:
        yield reads
    finally:
        await reads.close()


async def add_blob(engine: AsyncEngine, name: str) -> None:
    async with writer(engine).begin() as connection:
        await connection.execute(sa.insert(blobs).values(digest=name, size=1, created_at=sa.func.now()))


def test_a_sqlite_file_is_read_on_threads_and_anything_else_through_the_engine(engine: AsyncEngine) -> None:
    assert isinstance(open_reads(engine), ThreadReads)
    assert isinstance(open_reads(create_engine("sqlite+aiosqlite:///:memory:")), EngineReads)


async def test_each_read_sees_what_was_committed_before_it(engine: AsyncEngine, reads: Reads) -> None:
    counts = []
    for name in ("a", "b", "c"):
        await add_blob(engine, name)
        counts.append(await reads.run(lambda connection: connection.execute(COUNT_BLOBS).scalar_one()))
    assert counts == [1, 2, 3]


async def test_the_statements_of_one_read_see_one_snapshot(engine: AsyncEngine) -> None:
    reads = open_reads(engine)
    await add_blob(engine, "a")
    loop = asyncio.get_running_loop()

    def read(connection: Connection) -> tuple[int, int]:
        before = connection.execute(COUNT_BLOBS).scalar_one()
        # A write commits between the read's two statements.
        asyncio.run_coroutine_threadsafe(add_blob(engine, "b"), loop).result(timeout=10)
        return before, connection.execute(COUNT_BLOBS).scalar_one()

    try:
        assert await reads.run(read) == (1, 1)
        assert await reads.run(lambda connection: connection.execute(COUNT_BLOBS).scalar_one()) == 2
    finally:
        await reads.close()


async def test_a_read_that_fails_leaves_its_connection_usable(engine: AsyncEngine, reads: Reads) -> None:
    def broken(connection: Connection) -> None:
        connection.execute(sa.text("SELECT * FROM no_such_table"))

    for _ in range(8):  # more than the threads, so that every connection has failed once
        with pytest.raises(sa.exc.OperationalError):
            await reads.run(broken)
    await add_blob(engine, "a")
    assert await reads.run(lambda connection: connection.execute(COUNT_BLOBS).scalar_one()) == 1


async def test_reads_run_off_the_event_loop_on_a_few_threads(engine: AsyncEngine) -> None:
    reads = open_reads(engine)
    try:
        names = await asyncio.gather(*(reads.run(lambda _: threading.current_thread().name) for _ in range(50)))
    finally:
        await reads.close()
    assert threading.current_thread().name not in names
    assert 1 <= len(set(names)) <= 4
