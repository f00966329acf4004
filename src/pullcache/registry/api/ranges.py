"""Byte ranges as OCI clients send them: `Range: bytes=a-b` on blob GETs, `Content-Range: a-b` on PATCH."""

from __future__ import annotations

import re
from dataclasses import dataclass

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_CONTENT_RANGE = re.compile(r"^(?:bytes[= ])?(\d+)-(\d+)(?:/(?:\d+|\*))?$")


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


class Unsatisfiable(ValueError):
    """The range lies outside the content."""


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The single range asked for in a `Range` header, clipped to `size`, or None to send everything.

    Raises Unsatisfiable when the range starts past the end. A header that is not one plain byte range
    (several ranges, another unit) is ignored, as RFC 9110 allows.
    """
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first:
        if not last:
            return None
        suffix = int(last)
        if suffix == 0:
            raise Unsatisfiable(header)
        if size == 0:
            return None  # satisfiable by RFC 9110, but there is no byte to name in a Content-Range
        return ByteRange(max(size - suffix, 0), size - 1)
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        raise Unsatisfiable(header)
    return ByteRange(start, end)


def parse_content_range(header: str) -> ByteRange | None:
    """The `start-end` of an upload chunk, or None when the header is malformed."""
    match = _CONTENT_RANGE.match(header.strip())
    if match is None:
        return None
    start, end = int(match.group(1)), int(match.group(2))
    return ByteRange(start, end) if end >= start else None
