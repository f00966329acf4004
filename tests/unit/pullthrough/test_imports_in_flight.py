"""ImportsInFlight: one record per scope for a burst of overlapping imports, ended a moment after the last."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from pullcache.core.scopes import RegistryScope
from pullcache.pullthrough.imports_in_flight import ImportsInFlight

SCOPE = RegistryScope("123456789012", "us-east-1")
OTHER = RegistryScope("123456789012", "eu-west-1")


class Ledger:
    """The import half of PullThroughRuleStore, in memory."""

    def __init__(self) -> None:
        self.begun: list[tuple[RegistryScope, str]] = []
        self.open: set[str] = set()

    async def begin_import(self, scope: RegistryScope, repository: str, started_at: datetime) -> str:
        await asyncio.sleep(0)  # a store write yields to other tasks
        import_id = f"import-{len(self.begun)}"
        self.begun.append((scope, repository))
        self.open.add(import_id)
        return import_id

    async def end_import(self, import_id: str) -> None:
        await asyncio.sleep(0)
        self.open.discard(import_id)


async def run_import(in_flight: ImportsInFlight, scope: RegistryScope, gate: asyncio.Event) -> None:
    async with in_flight.importing(scope, "team/app"):
        await gate.wait()


async def wait_closed(ledger: Ledger) -> None:
    for _ in range(200):
        if not ledger.open:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("records still open")


async def test_overlapping_imports_of_a_scope_write_one_record_ended_after_the_last() -> None:
    ledger = Ledger()
    in_flight = ImportsInFlight(ledger, linger=0.01)
    gate = asyncio.Event()
    running = [asyncio.ensure_future(run_import(in_flight, SCOPE, gate)) for _ in range(20)]
    await asyncio.sleep(0.01)
    assert ledger.begun == [(SCOPE, "team/app")]
    assert len(ledger.open) == 1
    gate.set()
    await asyncio.gather(*running)
    await wait_closed(ledger)
    assert len(ledger.begun) == 1


async def test_each_scope_has_its_own_record() -> None:
    ledger = Ledger()
    in_flight = ImportsInFlight(ledger, linger=0.01)
    gate = asyncio.Event()
    running = [asyncio.ensure_future(run_import(in_flight, scope, gate)) for scope in (SCOPE, OTHER, SCOPE)]
    await asyncio.sleep(0.01)
    assert sorted(scope.region for scope, _ in ledger.begun) == ["eu-west-1", "us-east-1"]
    gate.set()
    await asyncio.gather(*running)
    await wait_closed(ledger)


async def test_a_record_older_than_the_rotation_is_replaced_while_imports_go_on() -> None:
    ledger = Ledger()
    in_flight = ImportsInFlight(ledger, linger=0.01, rotate=timedelta(0))  # every record is at once too old
    gate = asyncio.Event()
    first = asyncio.ensure_future(run_import(in_flight, SCOPE, gate))
    await asyncio.sleep(0.01)
    first_record = next(iter(ledger.open))
    second = asyncio.ensure_future(run_import(in_flight, SCOPE, gate))
    await asyncio.sleep(0.01)
    assert len(ledger.begun) == 2
    assert first_record not in ledger.open
    assert len(ledger.open) == 1  # the import that still runs is covered by the new record
    gate.set()
    await asyncio.gather(first, second)
    await wait_closed(ledger)


async def test_an_import_that_asks_for_it_starts_once_its_record_is_written() -> None:
    ledger = Ledger()
    in_flight = ImportsInFlight(ledger, linger=0.01)
    async with in_flight.importing(SCOPE, "team/app", recorded=True):
        assert ledger.open
    await wait_closed(ledger)


async def test_closing_ends_every_record_at_once() -> None:
    ledger = Ledger()
    in_flight = ImportsInFlight(ledger, linger=60)
    gate = asyncio.Event()
    gate.set()
    await run_import(in_flight, SCOPE, gate)
    await asyncio.sleep(0.01)  # the record is written beside the import
    assert ledger.open  # lingering
    await in_flight.close()
    assert not ledger.open
