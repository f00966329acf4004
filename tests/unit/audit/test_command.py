"""`pullcache audit`'s --since: ISO-8601 times and ages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pullcache.audit.command import parse_since

NOW = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", NOW - timedelta(seconds=90)),
        ("30m", NOW - timedelta(minutes=30)),
        ("1h", NOW - timedelta(hours=1)),
        ("2d", NOW - timedelta(days=2)),
        ("2026-01-02T03:04:05Z", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2026-01-02T05:04:05+02:00", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2026-01-02", datetime(2026, 1, 2, tzinfo=UTC)),
    ],
)
def test_since_reads_ages_and_times(text: str, expected: datetime) -> None:
    assert parse_since(text, NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "1w", "h1", "", "2026-13-01"])
def test_since_refuses_other_text(text: str) -> None:
    assert parse_since(text, NOW) is None
