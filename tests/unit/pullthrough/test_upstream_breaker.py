"""The circuit breaker's policy, on a clock the tests move: failures in a row open it, the cool-down passes, one
probe decides."""

from __future__ import annotations

from typing import Final

import pytest

from pullcache.pullthrough.errors import UpstreamUnavailable
from pullcache.pullthrough.upstream.breaker import CircuitBreaker

HUB: Final = "https://registry.example"
OTHER: Final = "https://other.example"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker(failures_to_open=3, cool_down=30.0, clock=clock)


def fail(breaker: CircuitBreaker, times: int, origin: str = HUB) -> None:
    for _ in range(times):
        breaker.admit(origin)
        breaker.failed(origin, "timed out")


def test_failures_below_the_threshold_let_requests_through(breaker: CircuitBreaker) -> None:
    fail(breaker, 2)

    assert breaker.admit(HUB) is False


def test_failures_in_a_row_open_it_with_a_message_naming_the_upstream(breaker: CircuitBreaker) -> None:
    fail(breaker, 3)

    with pytest.raises(UpstreamUnavailable) as raised:
        breaker.admit(HUB)

    assert str(raised.value) == (
        f"upstream {HUB} is failing (3 failures in a row, the last: timed out); it is not asked again until its "
        "cool-down ends (in 30.0 s)"
    )


def test_a_success_resets_the_count(breaker: CircuitBreaker) -> None:
    fail(breaker, 2)
    breaker.succeeded(HUB)
    fail(breaker, 2)

    assert breaker.admit(HUB) is False


def test_origins_are_kept_apart(breaker: CircuitBreaker) -> None:
    fail(breaker, 3)

    assert breaker.admit(OTHER) is False
    with pytest.raises(UpstreamUnavailable):
        breaker.admit(HUB)


def test_after_the_cool_down_exactly_one_probe_goes_out(breaker: CircuitBreaker, clock: Clock) -> None:
    fail(breaker, 3)
    clock.now += 29.9
    with pytest.raises(UpstreamUnavailable):
        breaker.admit(HUB)
    clock.now += 0.1

    assert breaker.admit(HUB) is True
    with pytest.raises(UpstreamUnavailable, match="once a probe under way answers"):
        breaker.admit(HUB)


def test_a_probe_that_succeeds_closes_it(breaker: CircuitBreaker, clock: Clock) -> None:
    fail(breaker, 3)
    clock.now += 30
    breaker.admit(HUB)
    breaker.succeeded(HUB)

    assert [breaker.admit(HUB) for _ in range(3)] == [False, False, False]
    fail(breaker, 2)
    assert breaker.admit(HUB) is False  # counting starts again from none


def test_a_probe_that_fails_opens_it_for_another_cool_down(breaker: CircuitBreaker, clock: Clock) -> None:
    fail(breaker, 3)
    clock.now += 30
    assert breaker.admit(HUB) is True
    breaker.failed(HUB, "503")

    clock.now += 29
    with pytest.raises(UpstreamUnavailable, match=r"4 failures in a row, the last: 503\).*in 1.0 s"):
        breaker.admit(HUB)
    clock.now += 1
    assert breaker.admit(HUB) is True


def test_an_abandoned_probe_lets_the_next_request_probe(breaker: CircuitBreaker, clock: Clock) -> None:
    fail(breaker, 3)
    clock.now += 30
    probe = breaker.admit(HUB)
    breaker.abandoned(HUB, probe)

    assert breaker.admit(HUB) is True


def test_an_abandoned_request_that_was_not_the_probe_frees_nothing(breaker: CircuitBreaker, clock: Clock) -> None:
    fail(breaker, 3)
    clock.now += 30
    assert breaker.admit(HUB) is True
    breaker.abandoned(HUB, False)

    with pytest.raises(UpstreamUnavailable):
        breaker.admit(HUB)


def test_a_late_success_of_a_request_sent_before_it_opened_closes_it(breaker: CircuitBreaker) -> None:
    fail(breaker, 3)
    breaker.succeeded(HUB)

    assert breaker.admit(HUB) is False


@pytest.mark.parametrize(("failures", "cool_down"), [(0, 1.0), (1, -1.0)])
def test_nonsense_settings_are_refused(failures: int, cool_down: float) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message is the settings' to word
        CircuitBreaker(failures_to_open=failures, cool_down=cool_down)
