"""registry_error: what an upstream's failure means to a puller when nothing is cached (pullthrough/rule_upstream.py),
its message naming the upstream and the reason."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

import pytest

from pullcache.core.scopes import RegistryScope
from pullcache.pullthrough.errors import (
    UpstreamDenied,
    UpstreamError,
    UpstreamInvalid,
    UpstreamRateLimited,
    UpstreamRefused,
    UpstreamTimedOut,
    UpstreamUnavailable,
)
from pullcache.pullthrough.rule_upstream import registry_error
from pullcache.pullthrough.rules import PullThroughRule
from pullcache.registry.errors import (
    Denied,
    RegistryError,
    SourceAnswerInvalid,
    SourceThrottled,
    SourceTimedOut,
    Unavailable,
)

NOW: Final = datetime(2026, 3, 1, tzinfo=UTC)
RULE: Final = PullThroughRule(RegistryScope("123456789012", "us-east-1"), "quay", "quay.io", "quay", NOW, NOW)


@pytest.mark.parametrize(
    ("failure", "expected", "reason"),
    [
        (UpstreamRateLimited("upstream quay.io failed 429 on GET /v2/x", 30.0), SourceThrottled, "limits its requests"),
        (UpstreamTimedOut("upstream quay.io did not answer GET /v2/x within 3 s"), SourceTimedOut, "in time"),
        (UpstreamUnavailable("upstream quay.io failed 503 on GET /v2/x", 503), SourceAnswerInvalid, "an error"),
        (UpstreamInvalid("upstream quay.io served /v2/x with no media type"), SourceAnswerInvalid, "an error"),
        (UpstreamUnavailable("cannot connect to quay.io:443"), Unavailable, "cannot be reached"),
        (UpstreamRefused("the upstream destination quay.io is refused"), Unavailable, "cannot be reached"),
        (UpstreamDenied("upstream quay.io answered 401", 401), Denied, "refused"),
    ],
    ids=["429", "timeout", "5xx", "invalid", "unreachable", "refused-destination", "denied"],
)
def test_each_upstream_failure_has_its_registry_error(
    failure: UpstreamError, expected: type[RegistryError], reason: str
) -> None:
    error = registry_error(RULE, failure)

    assert type(error) is expected
    assert "quay.io" in error.message
    assert reason in error.message


def test_throttling_keeps_the_upstreams_retry_after() -> None:
    error = registry_error(RULE, UpstreamRateLimited("429", 12.0))

    assert isinstance(error, SourceThrottled)
    assert error.retry_after == 12.0
