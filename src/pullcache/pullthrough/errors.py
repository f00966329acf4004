"""The pull-through cache's errors.

PullThroughError
  UpstreamError             the upstream's answer, its meaning kept (STYLE: upstream failures)
    UpstreamNotFound        404: no such repository, manifest or blob upstream
    UpstreamDenied          401/403 after authenticating: the rule's credentials are wrong or lack access
    UpstreamUnavailable     5xx, refused or broken connections, after the client's retries; an open breaker
      UpstreamRateLimited   429 after the retries (or a Retry-After too long to wait for)
      UpstreamTimedOut      no answer within a bound: the request budget, or each attempt's own
    UpstreamInvalid         an answer that breaks the protocol (a digest that does not match, no size)
    UpstreamRefused         the server's destination policy refuses the address: never connected, never retried
"""

from __future__ import annotations


class PullThroughError(Exception):
    pass


class UpstreamError(PullThroughError):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the upstream's HTTP status, when it answered


class UpstreamNotFound(UpstreamError):
    pass


class UpstreamDenied(UpstreamError):
    pass


class UpstreamUnavailable(UpstreamError):
    pass


class UpstreamRateLimited(UpstreamUnavailable):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message, 429)
        self.retry_after = retry_after  # seconds the upstream asked for (Retry-After), if it said


class UpstreamTimedOut(UpstreamUnavailable):
    pass


class UpstreamInvalid(UpstreamError):
    pass


class UpstreamRefused(UpstreamError):
    pass
