"""DestinationGuard: the DestinationPolicy applied where the upstream client connects, after name resolution.

Checking a rule's URL when it is created is not enough: a name can resolve elsewhere tomorrow (or on the next
lookup), an upstream can redirect, and a 401 names a token realm anywhere. So the check sits in the connection
layer, on every connection of the HttpSession:

    a host name      aiohttp asks its resolver; this one wraps the real one, refuses a denied name before any
                     lookup, and hands on only the addresses the policy allows (none: UpstreamRefused). aiohttp
                     connects to nothing else, and caches only what was handed on.
    an address       aiohttp skips the resolver for a URL whose host is an address (connector.py, _resolve_host),
                     so HttpSession asks `check_literal` before each request: the first and every redirect hop.

A refusal raises UpstreamRefused (never retried: the transport retries only transport errors) and is logged as a
warning, once per destination per REFUSAL_LOG_INTERVAL, naming the host, the address and the reason; the
exception's message names the host alone (a client must not learn what an internal name resolves to).
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from typing import Final

from aiohttp import DefaultResolver
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.helpers import is_ip_address

from pullcache.pullthrough.destinations import DestinationPolicy, literal_address, normalized_host
from pullcache.pullthrough.errors import UpstreamRefused

log = logging.getLogger(__name__)

REFUSAL_LOG_INTERVAL: Final = 300.0  # seconds between two warnings about one destination
MAX_REMEMBERED_REFUSALS: Final = 1024  # destinations whose last warning is kept; past it, the oldest go


class DestinationGuard(AbstractResolver):
    """An aiohttp resolver over `resolver` (aiohttp's default one, made in the loop of the first lookup, when
    None) that only answers with allowed addresses; `check_literal` for hosts written as addresses. Closing it
    closes `resolver`."""

    def __init__(
        self,
        policy: DestinationPolicy,
        resolver: AbstractResolver | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._policy = policy
        self._resolver = resolver
        self._clock = clock
        self._warned: dict[tuple[str, str], float] = {}

    def check_literal(self, host: str) -> None:
        """Raises UpstreamRefused when `host` is written as an address (aiohttp will not resolve it) and the
        policy refuses it, or when it is an address written in a form the policy cannot read."""
        if not is_ip_address(host):
            return
        address = literal_address(host)
        reason = "an address in a form the upstream policy cannot read" if address is None else None
        reason = reason or self._policy.refusal(host, address)
        if reason is not None:
            raise self._refused(host, host, reason)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        reason = self._policy.refusal(host)
        if reason is not None:
            raise self._refused(host, "", reason)
        if self._resolver is None:
            self._resolver = DefaultResolver()
        resolved = await self._resolver.resolve(host, port, family)
        allowed: list[ResolveResult] = []
        refusal: UpstreamRefused | None = None
        for result in resolved:
            address = literal_address(result["host"])
            reason = "an address the upstream policy cannot read" if address is None else None
            reason = reason or self._policy.refusal(host, address)
            if reason is None:
                allowed.append(result)
            else:
                refusal = self._refused(host, result["host"], reason)
        if not allowed:
            raise refusal or UpstreamRefused(f"the upstream destination {host} resolves to no address")
        return allowed

    async def close(self) -> None:
        if self._resolver is not None:
            await self._resolver.close()

    def _refused(self, host: str, address: str, reason: str) -> UpstreamRefused:
        key = (normalized_host(host), address)
        now = self._clock()
        last = self._warned.get(key)
        if last is None or now - last >= REFUSAL_LOG_INTERVAL:
            if len(self._warned) >= MAX_REMEMBERED_REFUSALS:
                del self._warned[next(iter(self._warned))]
            self._warned.pop(key, None)
            self._warned[key] = now
            log.warning(
                "upstream destination %s%s refused: %s",
                host,
                f" ({address})" if address and address != host else "",
                reason,
                extra={"fields": {"destination": host, "address": address or None}},
            )
        return UpstreamRefused(f"the upstream destination {host} is refused by this server's policy")
