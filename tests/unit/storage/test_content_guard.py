"""FileContentGuard: writers share it, the collector has it alone, and neither starves nor deadlocks the other.

Two guards on one directory stand for two processes (each has its own open file descriptions, so their flocks
conflict as separate processes' do).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pullcache.storage.content_guard import FileContentGuard

STEP = 0.05  # long enough for a poll (5 ms) to have happened several times


async def test_writers_share_the_guard(tmp_path: Path) -> None:
    one, other = FileContentGuard(tmp_path), FileContentGuard(tmp_path)
    async with one.writing(), other.writing(), one.writing():
        pass  # none waited for another: this would hang otherwise (the test's timeout)


async def test_the_collector_waits_for_writers_inside(tmp_path: Path) -> None:
    writers, collector = FileContentGuard(tmp_path), FileContentGuard(tmp_path)
    events: list[str] = []
    inside = asyncio.Event()
    leave = asyncio.Event()

    async def write() -> None:
        async with writers.writing():
            inside.set()
            await leave.wait()
            events.append("writer left")

    async def collect() -> None:
        async with collector.collecting():
            events.append("collected")

    writer = asyncio.create_task(write())
    await inside.wait()
    collecting = asyncio.create_task(collect())
    await asyncio.sleep(STEP)
    assert events == []
    leave.set()
    await asyncio.wait_for(asyncio.gather(writer, collecting), 5)
    assert events == ["writer left", "collected"]


async def test_new_writers_wait_while_the_collector_holds_or_wants_the_guard(tmp_path: Path) -> None:
    writers, collector = FileContentGuard(tmp_path), FileContentGuard(tmp_path)
    events: list[str] = []
    leave = asyncio.Event()
    first_inside = asyncio.Event()

    async def first() -> None:
        async with writers.writing():
            first_inside.set()
            await leave.wait()

    async def late() -> None:
        async with writers.writing():
            events.append("late writer")

    async def collect() -> None:
        async with collector.collecting():
            events.append("collected")

    holder = asyncio.create_task(first())
    await first_inside.wait()
    collecting = asyncio.create_task(collect())
    await asyncio.sleep(STEP)  # the collector announced itself and waits for the first writer
    waiting = asyncio.create_task(late())
    await asyncio.sleep(STEP)
    assert events == []  # the late writer queues behind the collector instead of keeping it out forever
    leave.set()
    await asyncio.wait_for(asyncio.gather(holder, collecting, waiting), 5)
    assert events == ["collected", "late writer"]


async def test_a_writer_nested_in_another_does_not_deadlock_a_waiting_collector(tmp_path: Path) -> None:
    writers, collector = FileContentGuard(tmp_path), FileContentGuard(tmp_path)
    inside = asyncio.Event()
    go_on = asyncio.Event()

    async def write() -> None:
        async with writers.writing():
            inside.set()
            await go_on.wait()
            async with writers.writing():  # a replica's manifest store, inside the replication's own hold
                pass

    writer = asyncio.create_task(write())
    await inside.wait()
    collecting = asyncio.create_task(_hold(collector))
    await asyncio.sleep(STEP)
    go_on.set()
    await asyncio.wait_for(asyncio.gather(writer, collecting), 5)


async def test_a_task_spawned_inside_a_hold_takes_its_own(tmp_path: Path) -> None:
    writers, collector = FileContentGuard(tmp_path), FileContentGuard(tmp_path)
    spawned_inside = asyncio.Event()
    release = asyncio.Event()
    events: list[str] = []

    async def spawned() -> None:
        async with writers.writing():
            spawned_inside.set()
            await release.wait()
            events.append("spawned left")

    async with writers.writing():
        task = asyncio.create_task(spawned())  # inherits the context, but is another task
        await spawned_inside.wait()
    collecting = asyncio.create_task(_hold(collector, events))
    await asyncio.sleep(STEP)
    assert events == []  # the spawned task's hold still keeps the collector out
    release.set()
    await asyncio.wait_for(asyncio.gather(task, collecting), 5)
    assert events == ["spawned left", "collected"]


async def test_a_writer_cancelled_while_waiting_leaves_no_lock_behind(tmp_path: Path) -> None:
    writers, collector = FileContentGuard(tmp_path), FileContentGuard(tmp_path)
    async with collector.collecting():
        waiting = asyncio.create_task(_write(writers))
        await asyncio.sleep(STEP)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
    await asyncio.wait_for(_hold(collector), 5)
    await asyncio.wait_for(_write(writers), 5)


async def _hold(guard: FileContentGuard, events: list[str] | None = None) -> None:
    async with guard.collecting():
        if events is not None:
            events.append("collected")


async def _write(guard: FileContentGuard) -> None:
    async with guard.writing():
        pass
