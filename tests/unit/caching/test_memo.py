"""TtlMemo: values kept for a while, one load however many callers miss at once, forget() wins over a load."""

from __future__ import annotations

import asyncio

import pytest

from pullcache.caching.memo import TtlMemo
from tests.gated_loads import GatedLoad


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_callers_that_miss_together_share_one_load() -> None:
    memo: TtlMemo[str, int] = TtlMemo(1.0, Clock())
    load = GatedLoad(held=True)
    assert await load.release_after([asyncio.ensure_future(memo.get("k", load)) for _ in range(20)]) == [1] * 20
    assert load.calls == 1


async def test_a_value_is_kept_for_the_ttl_from_when_its_load_began() -> None:
    clock = Clock()
    memo: TtlMemo[str, int] = TtlMemo(1.0, clock)
    load = GatedLoad()
    assert await memo.get("k", load) == 1
    clock.now += 1.0
    assert await memo.get("k", load) == 1
    clock.now += 0.01
    assert await memo.get("k", load) == 2
    assert await memo.get("other", load) == 3  # keys are apart


async def test_a_kept_value_the_caller_cannot_use_is_loaded_again() -> None:
    memo: TtlMemo[str, int] = TtlMemo(60.0, Clock())
    load = GatedLoad()
    assert await memo.get("k", load) == 1
    assert await memo.get("k", load, reuse=lambda value: value > 1) == 2
    assert await memo.get("k", load) == 2  # the new value is the one kept


async def test_a_kept_value_the_caller_cannot_use_is_kept_for_reused_for_seconds_all_the_same() -> None:
    clock = Clock()
    memo: TtlMemo[str, int] = TtlMemo(60.0, clock)
    load = GatedLoad()
    assert await memo.get("k", load) == 1
    clock.now += 0.05
    assert await memo.get("k", load, reuse=lambda value: value > 1, reused_for=0.1) == 1
    clock.now += 0.06
    assert await memo.get("k", load, reuse=lambda value: value > 1, reused_for=0.1) == 2
    assert load.calls == 2


async def test_forget_drops_the_value_and_a_load_already_under_way() -> None:
    memo: TtlMemo[str, int] = TtlMemo(60.0, Clock())
    load = GatedLoad(held=True)
    before = asyncio.ensure_future(memo.get("k", load))
    await asyncio.sleep(0)
    memo.forget("k")  # what that load reads may be older than the change that made us forget
    load.gate.set()
    assert await before == 1
    assert await memo.get("k", load) == 2
    assert load.calls == 2


async def test_a_failed_load_is_not_kept() -> None:
    memo: TtlMemo[str, int] = TtlMemo(60.0, Clock())
    failures = 0

    async def failing() -> int:
        nonlocal failures
        failures += 1
        raise RuntimeError("database gone")

    for _ in range(2):
        with pytest.raises(RuntimeError):
            await memo.get("k", failing)
    assert failures == 2
    assert await memo.get("k", GatedLoad()) == 1
