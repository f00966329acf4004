"""A load for tests of work shared between callers: it counts its calls, answers with the count, and can be held
at a gate so that callers pile up behind it."""

from __future__ import annotations

import asyncio


class GatedLoad:
    def __init__(self, *, held: bool = False) -> None:
        self.calls = 0
        self.gate = asyncio.Event()
        if not held:
            self.gate.set()

    async def __call__(self) -> int:
        self.calls += 1
        value = self.calls
        await self.gate.wait()
        return value

    async def release_after(self, waiting: list[asyncio.Future[int]]) -> list[int]:
        """Let the callers in `waiting` reach the load, open the gate, and collect what each got."""
        await asyncio.sleep(0)
        self.gate.set()
        return list(await asyncio.gather(*waiting))
