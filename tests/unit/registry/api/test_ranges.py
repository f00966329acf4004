"""Byte ranges: `Range` on blob GETs (RFC 9110) and `Content-Range` on upload PATCHes (OCI distribution spec)."""

from __future__ import annotations

import pytest

from pullcache.registry.api.ranges import ByteRange, Unsatisfiable, parse_content_range, parse_range

SIZE = 100


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", ByteRange(0, 99)),
        ("bytes=0-0", ByteRange(0, 0)),
        ("bytes=10-19", ByteRange(10, 19)),
        ("bytes=99-99", ByteRange(99, 99)),
        ("bytes=50-", ByteRange(50, 99)),
        ("bytes=0-", ByteRange(0, 99)),
        ("bytes=-10", ByteRange(90, 99)),
        ("bytes=-1", ByteRange(99, 99)),
        (" bytes=1-2 ", ByteRange(1, 2)),
    ],
)
def test_single_byte_range_is_parsed(header: str, expected: ByteRange) -> None:
    assert parse_range(header, SIZE) == expected


@pytest.mark.parametrize(
    ("header", "expected"), [("bytes=90-1000", ByteRange(90, 99)), ("bytes=-1000", ByteRange(0, 99))]
)
def test_range_past_the_end_is_clipped_to_the_content(header: str, expected: ByteRange) -> None:
    assert parse_range(header, SIZE) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=100-200", "bytes=1000-1001", "bytes=-0", "bytes=20-10"])
def test_range_that_selects_nothing_is_unsatisfiable(header: str) -> None:
    with pytest.raises(Unsatisfiable):
        parse_range(header, SIZE)


@pytest.mark.parametrize("header", ["bytes=0-", "bytes=0-0", "bytes=5-9"])
def test_any_range_of_empty_content_is_unsatisfiable(header: str) -> None:
    with pytest.raises(Unsatisfiable):
        parse_range(header, 0)


def test_suffix_range_of_empty_content_sends_everything_rather_than_an_impossible_range() -> None:
    assert parse_range("bytes=-10", 0) is None


@pytest.mark.parametrize(
    "header",
    [None, "", "bytes=-", "bytes=0-1,3-4", "items=0-1", "bytes 0-1", "bytes=a-b", "bytes=1-2-3", "bytes=0x1-2"],
)
def test_range_header_that_is_absent_or_not_one_plain_byte_range_is_ignored(header: str | None) -> None:
    assert parse_range(header, SIZE) is None


def test_byte_range_length_counts_both_ends() -> None:
    assert ByteRange(10, 19).length == 10
    assert ByteRange(7, 7).length == 1


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("0-99", ByteRange(0, 99)),
        ("100-199", ByteRange(100, 199)),
        ("5-5", ByteRange(5, 5)),
        ("bytes=0-99", ByteRange(0, 99)),
        ("bytes 0-99", ByteRange(0, 99)),
        ("bytes 0-99/100", ByteRange(0, 99)),
        ("bytes 0-99/*", ByteRange(0, 99)),
        ("0-99/*", ByteRange(0, 99)),
        (" 0-99 ", ByteRange(0, 99)),
    ],
)
def test_content_range_of_a_chunk_is_parsed(header: str, expected: ByteRange) -> None:
    assert parse_content_range(header) == expected


@pytest.mark.parametrize(
    "header", ["", "0", "-99", "0-", "10-5", "a-b", "0-99/", "0-99/x", "bytes */100", "bytes=-5", "0 - 99", "1-2-3"]
)
def test_malformed_content_range_is_none(header: str) -> None:
    assert parse_content_range(header) is None
