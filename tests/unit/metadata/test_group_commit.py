"""GroupCommit: what is asked for while a transaction runs goes into the next one, and each caller waits for its own."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from pullcache.metadata.group_commit import GroupCommit


class Transactions:
    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.failure: Exception | None = None

    async def write(self, items: Sequence[int]) -> None:
        await self.gate.wait()
        if self.failure is not None:
            raise self.failure
        self.batches.append(list(items))


async def test_a_lone_write_goes_at_once() -> None:
    transactions = Transactions()
    await GroupCommit(transactions.write).submit(1)
    assert transactions.batches == [[1]]


async def test_writes_asked_for_during_a_transaction_share_the_next_one() -> None:
    transactions = Transactions()
    group = GroupCommit(transactions.write)
    transactions.gate.clear()
    first = asyncio.ensure_future(group.submit(1))
    await asyncio.sleep(0)
    rest = [asyncio.ensure_future(group.submit(n)) for n in range(2, 6)]
    await asyncio.sleep(0)
    assert not any(task.done() for task in [first, *rest])  # nobody returns before its write is committed
    transactions.gate.set()
    await asyncio.gather(first, *rest)
    assert transactions.batches == [[1], [2, 3, 4, 5]]


async def test_a_failed_transaction_fails_each_of_its_callers_and_the_next_batch_still_goes() -> None:
    transactions = Transactions()
    group = GroupCommit(transactions.write)
    transactions.failure = RuntimeError("disk full")
    with pytest.raises(RuntimeError, match="disk full"):
        await group.submit(1)
    transactions.failure = None
    await group.submit(2)
    assert transactions.batches == [[2]]


async def test_a_batch_is_never_larger_than_asked() -> None:
    transactions = Transactions()
    group = GroupCommit(transactions.write, max_batch=2)
    transactions.gate.clear()
    waiting = [asyncio.ensure_future(group.submit(n)) for n in range(5)]
    await asyncio.sleep(0)
    transactions.gate.set()
    await asyncio.gather(*waiting)
    assert all(len(batch) <= 2 for batch in transactions.batches)
    assert sorted(n for batch in transactions.batches for n in batch) == [0, 1, 2, 3, 4]


async def test_a_cancelled_caller_returns_only_once_its_write_has_ended() -> None:
    transactions = Transactions()
    group = GroupCommit(transactions.write)
    transactions.gate.clear()
    caller = asyncio.ensure_future(group.submit(1))
    await asyncio.sleep(0)
    caller.cancel()
    await asyncio.sleep(0.01)
    assert not caller.done()  # what it holds (the content guard) still covers the write under way
    transactions.gate.set()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert transactions.batches == [[1]]
