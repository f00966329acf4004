"""DestinationGuard: the resolver aiohttp connects through hands on only allowed addresses, refuses a denied name
before any lookup, checks hosts written as addresses, and warns once per destination per while."""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass, field

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from pullcache.pullthrough.destinations import DestinationPolicy
from pullcache.pullthrough.errors import UpstreamRefused
from pullcache.pullthrough.upstream.destination_guard import REFUSAL_LOG_INTERVAL, DestinationGuard

GUARD_LOGGER = "pullcache.pullthrough.upstream.destination_guard"


@dataclass
class StubResolver(AbstractResolver):
    """Names to addresses, from a table; records what it was asked."""

    table: dict[str, list[str]]
    asked: list[str] = field(default_factory=list)
    closed: bool = False

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=0,
            )
            for address in self.table[host]
        ]

    async def close(self) -> None:
        self.closed = True


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def guard(policy: DestinationPolicy, table: dict[str, list[str]], clock: Clock | None = None) -> DestinationGuard:
    return DestinationGuard(policy, StubResolver(table), clock or Clock())


async def test_a_name_resolving_to_a_link_local_address_is_refused() -> None:
    checked = guard(DestinationPolicy(), {"metadata.test": ["169.254.169.254"]})

    with pytest.raises(UpstreamRefused, match=r"metadata\.test"):
        await checked.resolve("metadata.test", 80)


async def test_only_the_allowed_addresses_of_a_name_are_handed_on() -> None:
    checked = guard(DestinationPolicy(), {"mixed.test": ["169.254.169.254", "127.0.0.1", "fe80::1", "::1"]})

    resolved = await checked.resolve("mixed.test", 443)

    assert [result["host"] for result in resolved] == ["127.0.0.1", "::1"]


async def test_a_denied_name_is_refused_before_any_lookup() -> None:
    stub = StubResolver({"internal.test": ["127.0.0.1"]})
    checked = DestinationGuard(DestinationPolicy(deny=["internal.test"]), stub)

    with pytest.raises(UpstreamRefused):
        await checked.resolve("internal.test", 80)

    assert stub.asked == []


async def test_an_allow_list_narrows_what_names_may_resolve_to() -> None:
    checked = guard(
        DestinationPolicy(allow=["127.0.0.2/32"]), {"localhost": ["127.0.0.1", "::1"], "two.test": ["127.0.0.2"]}
    )

    with pytest.raises(UpstreamRefused):
        await checked.resolve("localhost", 80)
    assert [result["host"] for result in await checked.resolve("two.test", 80)] == ["127.0.0.2"]


@pytest.mark.parametrize("host", ["169.254.169.254", "fe80::1", "fe80::1%lo", "::ffff:169.254.169.254", "127.0.0.2"])
def test_a_refused_host_written_as_an_address_is_refused_without_resolving(host: str) -> None:
    checked = guard(DestinationPolicy(deny=["127.0.0.2"]), {})

    with pytest.raises(UpstreamRefused):
        checked.check_literal(host)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "registry.test", "169.254.169.254.nip.test"])
def test_allowed_addresses_and_names_pass_the_literal_check(host: str) -> None:
    guard(DestinationPolicy(), {}).check_literal(host)  # names are the resolver's to judge


async def test_a_refusal_is_warned_once_per_destination_per_while(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    checked = guard(DestinationPolicy(), {"metadata.test": ["169.254.169.254"]}, clock)
    caplog.set_level(logging.WARNING, GUARD_LOGGER)

    for _ in range(3):
        with pytest.raises(UpstreamRefused):
            await checked.resolve("metadata.test", 80)
        with pytest.raises(UpstreamRefused):
            checked.check_literal("169.254.169.254")
    clock.now += REFUSAL_LOG_INTERVAL
    with pytest.raises(UpstreamRefused):
        checked.check_literal("169.254.169.254")

    warnings = [record.getMessage() for record in caplog.records if record.name == GUARD_LOGGER]
    assert warnings == [
        "upstream destination metadata.test (169.254.169.254) refused: 169.254.169.254 is link-local "
        "(denied unless an upstream allow entry names it)",
        "upstream destination 169.254.169.254 refused: 169.254.169.254 is link-local "
        "(denied unless an upstream allow entry names it)",
        "upstream destination 169.254.169.254 refused: 169.254.169.254 is link-local "
        "(denied unless an upstream allow entry names it)",
    ]


async def test_the_refusal_names_the_host_not_the_address_it_resolved_to() -> None:
    checked = guard(DestinationPolicy(), {"metadata.test": ["169.254.169.254"]})

    with pytest.raises(UpstreamRefused) as refused:
        await checked.resolve("metadata.test", 80)

    assert "169.254" not in str(refused.value)


async def test_closing_the_guard_closes_its_resolver() -> None:
    stub = StubResolver({})
    await DestinationGuard(DestinationPolicy(), stub).close()

    assert stub.closed
