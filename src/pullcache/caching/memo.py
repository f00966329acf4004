"""Values kept for a few seconds, loaded once however many callers miss them at the same moment.

A burst of requests (a cold pull of a many-layered image) asks for the same slow-changing fact dozens of times
within a millisecond; a plain "read unless fresh" would send them all to the database before the first answer
lands. Here the first miss loads and the others wait for that load (single_flight.py).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from pullcache.caching.single_flight import SingleFlight

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlMemo(Generic[K, V]):
    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        """`ttl`: seconds a value is kept, counted from when its load began."""
        self._ttl = ttl
        self._clock = clock
        self._kept: dict[K, tuple[float, V]] = {}
        self._loads: SingleFlight[tuple[K, int], tuple[float, V]] = SingleFlight()
        self._generation = 0  # moved by forget(): loads begun before it are neither joined nor kept

    async def get(
        self,
        key: K,
        load: Callable[[], Awaitable[V]],
        reuse: Callable[[V], bool] | None = None,
        *,
        reused_for: float = 0.0,
    ) -> V:
        """The value kept under `key` if younger than the ttl (and `reuse(value)` is true, or the value is younger
        than `reused_for` seconds), else `load()`'s."""
        kept = self._kept.get(key)
        if kept is not None:
            age = self._clock() - kept[0]
            if age <= self._ttl and (reuse is None or age < reused_for or reuse(kept[1])):
                return kept[1]
        generation = self._generation
        loaded = await self._loads.run((key, generation), lambda: self._timed(load))
        if generation == self._generation:
            kept = self._kept.get(key)
            if kept is None or kept[0] <= loaded[0]:
                self._kept[key] = loaded
        return loaded[1]

    async def _timed(self, load: Callable[[], Awaitable[V]]) -> tuple[float, V]:
        started = self._clock()
        return started, await load()

    def forget(self, key: K) -> None:
        """Load `key` again at the next get, even if a load is in flight now (it may have read the old value)."""
        self._kept.pop(key, None)
        self._generation += 1
