"""Date values of Date conditions: ISO 8601 (W3C's profile, as loosely as IAM accepts it) or epoch seconds."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

# Any part after the year may be left out. Groups: year, month, day, hour, minute, second, fraction, zone.
_ISO_8601 = re.compile(
    r"(-?\d{1,9})(?:-(\d{1,2})(?:-(\d{1,2}))?)?"
    r"(?:[Tt](\d{1,2})?(?::(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,9}))?)?)?)?"
    r"([Zz]|[+-]\d{2}(?::?\d{2})?)?"
)
_EPOCH = re.compile(r"\d{1,19}")
_MAX_EPOCH = 2**63 - 1
_LIMITS = ((1, 12), (1, 31), (0, 23), (0, 59), (0, 59))  # month, day, hour, minute, second


def is_date_value(text: str) -> bool:
    """Whether IAM accepts `text` as a Date condition value (else the policy fails legacy parsing)."""
    if _EPOCH.fullmatch(text):
        return int(text) <= _MAX_EPOCH
    match = _ISO_8601.fullmatch(text)
    if match is None:
        return False
    fields = match.groups()[1:6]
    for value, (low, high) in zip(fields, _LIMITS, strict=True):
        if value is not None and not low <= int(value) <= high:
            return False
    zone = match.group(8)
    return zone is None or zone in ("Z", "z") or (int(zone[1:3]) <= 23 and (len(zone) == 3 or int(zone[-2:]) <= 59))


def to_datetime(text: str) -> datetime | None:
    """`text` as an aware datetime (a date without a zone is UTC); None when it is no date Python can hold."""
    text = text.strip()
    if _EPOCH.fullmatch(text):
        try:
            return datetime.fromtimestamp(int(text), UTC)
        except (OverflowError, OSError, ValueError):
            return None
    match = _ISO_8601.fullmatch(text) if is_date_value(text) else None
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0").ljust(6, "0")[:6]),
            tzinfo=_zone(zone),
        )
    except ValueError:
        return None
    return moment.astimezone(UTC)


def _zone(text: str | None) -> timezone:
    if text is None or text in ("Z", "z"):
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + int(digits[2:4] or 0)
    return timezone(sign * timedelta(minutes=minutes))
