"""ECR's nextToken: opaque to clients, here the key of the last item of a page, signed by nothing (it grants no
access; a forged one only moves where a listing resumes)."""

from __future__ import annotations

import base64
import binascii
import json

from pullcache.ecr.errors import InvalidParameter

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
