"""SingleFlight: one call per key in flight, its result or error shared, untouched by callers going away."""

from __future__ import annotations

import asyncio

import pytest

from pullcache.caching.single_flight import SingleFlight
from tests.gated_loads import GatedLoad


async def test_callers_of_one_key_share_one_call() -> None:
    flight: SingleFlight[str, int] = SingleFlight()
    load = GatedLoad(held=True)
    assert await load.release_after([asyncio.ensure_future(flight.run("k", load)) for _ in range(3)]) == [1, 1, 1]
    assert await flight.run("k", load) == 2  # a call that ended is not remembered


async def test_an_error_reaches_every_caller() -> None:
    flight: SingleFlight[str, int] = SingleFlight()
    gate = asyncio.Event()

    async def call() -> int:
        await gate.wait()
        raise ValueError("upstream said no")

    waiting = [asyncio.ensure_future(flight.run("k", call)) for _ in range(2)]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert [str(result) for result in results] == ["upstream said no", "upstream said no"]


async def test_a_caller_that_goes_away_does_not_cancel_the_call_for_the_others() -> None:
    flight: SingleFlight[str, str] = SingleFlight()
    gate = asyncio.Event()

    async def call() -> str:
        await gate.wait()
        return "done"

    leaving = asyncio.ensure_future(flight.run("k", call))
    staying = asyncio.ensure_future(flight.run("k", call))
    await asyncio.sleep(0)
    leaving.cancel()
    gate.set()
    assert await staying == "done"
    with pytest.raises(asyncio.CancelledError):
        await leaving


async def test_different_keys_run_apart() -> None:
    flight: SingleFlight[str, str] = SingleFlight()

    async def named(value: str) -> str:
        await asyncio.sleep(0)
        return value

    both = await asyncio.gather(flight.run("a", lambda: named("a")), flight.run("b", lambda: named("b")))
    assert list(both) == ["a", "b"]
