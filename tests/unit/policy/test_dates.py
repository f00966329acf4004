"""Date condition values: what IAM accepts, and the instants they name."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pullcache.policy.dates import is_date_value, to_datetime


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("2019-07-01T13:20:15Z", True),
        ("2016-12-13T21:20:37.593194+00:00", True),
        ("2016-12-13t2:00:00.593194+23", True),
        ("01T", True),
        ("-292275054", True),
        ("1577836800", True),
        ("9223372036854775807", True),
        ("9223372036854775808", False),
        ("234-13", False),
        ("2016-12-13t2:00:00.593194+1", False),
        ("2016-12-13t2:00:00.1999999999+10:59", False),
        ("sdfdsf", False),
    ],
)
def test_date_values_iam_accepts(text: str, valid: bool) -> None:
    # As recorded against AWS IAM: CreatePolicy accepts or refuses ("The policy failed legacy parsing") these.
    assert is_date_value(text) is valid


def test_date_text_converts_to_utc() -> None:
    assert to_datetime("2020-01-01T02:00:00+02:00") == datetime(2020, 1, 1, tzinfo=UTC)
    assert to_datetime("1577836800") == datetime(2020, 1, 1, tzinfo=UTC)
    assert to_datetime("2020-07") == datetime(2020, 7, 1, tzinfo=UTC)
    assert to_datetime("-292275054") is None  # valid in a policy, but no datetime can hold it
