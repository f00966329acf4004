"""IAM's paging: `MaxItems` (default 100) in, `IsTruncated` and an opaque `Marker` out.

A marker names the last item returned, so a page goes on from the right place even when items were added or
removed in between. Lists are ordered by a key the caller gives (names ignoring case, for most lists).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from pullcache.iam.errors import INVALID_MARKER, IamValidationError

T = TypeVar("T")

DEFAULT_MAX_ITEMS = 100


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: Sequence[T]
    marker: str | None = None  # set when there are more items

    @property
    def is_truncated(self) -> bool:
        return self.marker is not None


def paginate(items: Sequence[T], key: Callable[[T], str], marker: str | None, max_items: int | None) -> Page[T]:
    """The page of `items` after `marker`; raises IamValidationError for a marker this function did not make."""
    ordered = sorted(items, key=key)
    if marker is not None:
        after = _decode(marker)
        ordered = [item for item in ordered if key(item) > after]
    limit = max_items or DEFAULT_MAX_ITEMS
    if len(ordered) <= limit:
        return Page(ordered)
    page = ordered[:limit]
    return Page(page, _encode(key(page[-1])))


def _encode(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode()


def _decode(marker: str) -> str:
    try:
        return base64.urlsafe_b64decode(marker.encode("ascii")).decode()
    except (ValueError, binascii.Error, UnicodeError):
        raise IamValidationError(INVALID_MARKER) from None
