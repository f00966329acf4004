"""ECR's nextToken: opaque to clients, here the key of the last item of a page, signed by nothing (it grants no
access; a forged one only moves where a listing resumes)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import TypeVar

from pullcache.ecr.errors import InvalidParameter

T = TypeVar("T")

DEFAULT_PAGE = 100  # ECR's page when maxResults is not given
INVALID_TOKEN = "Invalid parameter at 'nextToken' failed to satisfy constraint: 'Invalid NextToken'"


def next_token(*key: str | None) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key), separators=(",", ":")).encode()).decode()


def read_token(token: str, size: int) -> tuple[str | None, ...]:
    """The key a nextToken carries; raises InvalidParameter when it is not one of `size` parts."""
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error):
        raise InvalidParameter(INVALID_TOKEN) from None
    if not isinstance(key, list) or len(key) != size or not all(k is None or isinstance(k, str) for k in key):
        raise InvalidParameter(INVALID_TOKEN)
    return tuple(key)


def page_after(
    items: Sequence[T], key: Callable[[T], str], token: str | None, limit: int | None
) -> tuple[list[T], str | None]:
    """A page of at most `limit` (DEFAULT_PAGE) of `items`, resuming after the item `token` names - or, when that
    one is gone, at the first whose key sorts after it - and the token of the next page when there is one.
    Raises InvalidParameter for a token this module did not issue."""
    start = 0
    if token is not None:
        after = read_token(token, 1)[0] or ""
        keys = [key(item) for item in items]
        start = (
            keys.index(after) + 1 if after in keys else next((i for i, k in enumerate(keys) if k > after), len(keys))
        )
    page = limit or DEFAULT_PAGE
    selected = list(items[start : start + page])
    more = start + page < len(items)
    return selected, next_token(key(selected[-1])) if more and selected else None
