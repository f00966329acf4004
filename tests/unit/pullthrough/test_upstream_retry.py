"""When the upstream client asks again and how long it waits: the statuses, the backoff, Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from pullcache.pullthrough.upstream.retry import RetryPolicy, is_retryable, parse_retry_after


@pytest.mark.parametrize(("status", "retryable"), [(429, True), (500, True), (502, True), (503, True), (504, True)])
def test_server_errors_and_too_many_requests_are_retried(status: int, retryable: bool) -> None:
    assert is_retryable(status) is retryable


@pytest.mark.parametrize("status", [200, 301, 400, 401, 403, 404, 405, 416])
def test_other_statuses_are_not_retried(status: int) -> None:
    assert not is_retryable(status)


POLICY = RetryPolicy(retries=3, backoff_base=0.2, backoff_cap=1.0, retry_after_cap=30.0)


@pytest.mark.parametrize(("attempt", "full"), [(0, 0.2), (1, 0.4), (2, 0.8)])
def test_backoff_doubles_each_attempt_within_its_jitter(attempt: int, full: float) -> None:
    assert POLICY.delay(attempt, None, jitter=0.0) == pytest.approx(full / 2)
    assert POLICY.delay(attempt, None, jitter=0.999999) == pytest.approx(full, rel=1e-5)


def test_backoff_stops_growing_at_its_cap() -> None:
    policy = RetryPolicy(retries=10, backoff_base=0.2, backoff_cap=1.0)

    assert policy.delay(8, None, jitter=0.999999) == pytest.approx(1.0, rel=1e-5)


def test_no_retry_is_left_after_the_last_attempt() -> None:
    assert POLICY.delay(2, None, jitter=0.5) is not None
    assert POLICY.delay(3, None, jitter=0.5) is None
    assert RetryPolicy(retries=0).delay(0, None, jitter=0.5) is None


def test_retry_after_replaces_the_backoff() -> None:
    assert POLICY.delay(0, 7.0, jitter=0.5) == 7.0


def test_retry_after_beyond_its_cap_ends_the_retries() -> None:
    assert POLICY.delay(0, 30.0, jitter=0.5) == 30.0
    assert POLICY.delay(0, 31.0, jitter=0.5) is None


NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("0", 0.0),
        ("2", 2.0),
        (" 120 ", 120.0),
        (format_datetime(NOW + timedelta(seconds=45), usegmt=True), 45.0),
        (format_datetime(NOW - timedelta(seconds=45), usegmt=True), 0.0),
    ],
)
def test_retry_after_is_read_as_seconds_or_a_date(header: str, seconds: float) -> None:
    assert parse_retry_after(header, NOW) == seconds


@pytest.mark.parametrize("header", [None, "", "soon", "-1", "1.5"])
def test_unreadable_retry_after_asks_for_nothing(header: str | None) -> None:
    assert parse_retry_after(header, NOW) is None
