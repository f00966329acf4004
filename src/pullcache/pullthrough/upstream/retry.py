"""When the upstream client asks again, and how long it waits first.

A request is retried on a 5xx, a 429, a refused or broken connection and a timeout, and only while nothing of
its body has reached the caller. The wait doubles from `backoff_base` each attempt (capped at `backoff_cap`),
scaled by a jitter in [0.5, 1) so that many clients that failed together do not come back together. A
`Retry-After` the upstream sends replaces the backoff; one longer than `retry_after_cap` ends the retries at
once: asking again sooner than the upstream allows would only earn another 429, and the caller can serve from
its cache or answer 503 right away instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

TOO_MANY_REQUESTS = 429


class Transient(Exception):
    """A failure worth asking again about: a retryable status, or none when the connection failed."""

    def __init__(
        self, reason: str, status: int | None = None, retry_after: float | None = None, *, timed_out: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after  # seconds the upstream asked for (Retry-After), if it did
        self.timed_out = timed_out  # an attempt's own bound ran out (connect, first byte, silence)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    retries: int = 3  # attempts after the first
    backoff_base: float = 0.2
    backoff_cap: float = 10.0
    retry_after_cap: float = 30.0

    def delay(self, attempt: int, retry_after: float | None, jitter: float) -> float | None:
        """Seconds to wait before asking again after failed attempt number `attempt` (0 for the first), or None
        when no retry is left. `jitter` is a number in [0, 1)."""
        if attempt >= self.retries:
            return None
        if retry_after is not None:
            return None if retry_after > self.retry_after_cap else retry_after
        backoff = min(self.backoff_cap, self.backoff_base * 2.0**attempt)
        return backoff * (0.5 + jitter / 2)


def is_retryable(status: int) -> bool:
    """Statuses that say "not now" rather than "no"."""
    return status == TOO_MANY_REQUESTS or 500 <= status <= 599


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """The seconds a `Retry-After` header asks for (delta-seconds or an HTTP-date, RFC 9110 10.2.3); None when
    there is none or it cannot be read. A date in the past asks for no wait."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
