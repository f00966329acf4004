"""CircuitBreaker: an upstream that keeps failing is left alone for a while, and its callers answered at once.

One circuit per upstream origin (scheme, host and port), in each worker process; the transport asks it before
every attempt and tells it every attempt's outcome (transport.py):

    closed      attempts go out. `failures_to_open` failed attempts in a row open it.
    open        no attempt goes out: each fails at once with UpstreamUnavailable naming the upstream, its
                failures and when it will be asked again, so a cached tag is served from the cache at once and a
                miss is answered 503 at once, and the upstream sees no new connection.
    half-open   once `cool_down` seconds have passed, one attempt goes out (the probe) while the others still fail
                at once. A success closes the circuit; a failure opens it for another cool-down; a probe that ends
                without an outcome (its caller went away) lets the next attempt probe.

A failure: a connection refused or broken, a bound exceeded (connect, first byte, idle, the request budget), a
5xx, a token service's 5xx, a blob body that breaks off. Any other answer is a success and resets the count: a
404 or a 401/403 says something about the request, not about the upstream's health, and a 429 comes from an
upstream that is up and says when to come back (its Retry-After governs the wait, retry.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from pullcache.pullthrough.errors import UpstreamUnavailable

log = logging.getLogger(__name__)

DEFAULT_FAILURES_TO_OPEN: Final = 5
DEFAULT_COOL_DOWN: Final = 30.0  # seconds


@dataclass(slots=True)
class _Circuit:
    """An origin that failed lately; closed circuits without failures are not kept."""

    failures: int = 0
    last_failure: str = ""
    opened_at: float | None = None  # clock reading; None while closed
    probing: bool = False


class CircuitBreaker:
    def __init__(
        self,
        *,
        failures_to_open: int = DEFAULT_FAILURES_TO_OPEN,
        cool_down: float = DEFAULT_COOL_DOWN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failures_to_open < 1:
            raise ValueError("a circuit opens after at least one failure")
        if cool_down < 0:
            raise ValueError("a cool-down is not negative")
        self._failures_to_open = failures_to_open
        self._cool_down = cool_down
        self._clock = clock
        self._circuits: dict[str, _Circuit] = {}

    def admit(self, origin: str) -> bool:
        """Whether the attempt about to go to `origin` is the probe of a half-open circuit; raises
        UpstreamUnavailable when no attempt may go out now."""
        circuit = self._circuits.get(origin)
        if circuit is None or circuit.opened_at is None:
            return False
        waited = self._clock() - circuit.opened_at
        if waited >= self._cool_down and not circuit.probing:
            circuit.probing = True
            log.info("upstream %s: its cool-down is over; one request goes out to probe it", origin)
            return True
        when = "once a probe under way answers" if circuit.probing else f"in {self._cool_down - waited:.1f} s"
        raise UpstreamUnavailable(
            f"upstream {origin} is failing ({circuit.failures} failures in a row, the last: {circuit.last_failure});"
            f" it is not asked again until its cool-down ends ({when})"
        )

    def succeeded(self, origin: str) -> None:
        circuit = self._circuits.pop(origin, None)
        if circuit is not None and circuit.opened_at is not None:
            log.warning("upstream %s answers again: requests go out to it again", origin)

    def failed(self, origin: str, reason: str) -> None:
        circuit = self._circuits.setdefault(origin, _Circuit())
        circuit.failures += 1
        circuit.last_failure = reason
        if circuit.probing or (circuit.opened_at is None and circuit.failures >= self._failures_to_open):
            circuit.opened_at = self._clock()
            circuit.probing = False
            log.warning(
                "upstream %s failed %d times in a row (the last: %s): no request goes out to it for %g s",
                origin,
                circuit.failures,
                reason,
                self._cool_down,
            )

    def abandoned(self, origin: str, probe: bool) -> None:
        """An attempt ended without an outcome (its caller went away): a probe's turn passes to the next."""
        circuit = self._circuits.get(origin)
        if probe and circuit is not None:
            circuit.probing = False
