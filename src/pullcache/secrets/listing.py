"""ListSecrets' filters, order and pages (pages of ListSecretVersionIds too).

A filter matches a secret when one of its values does (a value starting with `!` matches when the rest does not);
every filter must match. Matching is by prefix: case-sensitive except for `description` and `all`. The next token
is the number of secrets already listed, opaque to the caller. Last access is not tracked: sorting by
`last-accessed-date` sorts by creation.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pullcache.secrets.errors import InvalidNextToken
from pullcache.secrets.model import Secret

T = TypeVar("T")
DEFAULT_PAGE = 100
SORT_KEYS = {
    "created-date": lambda secret: (secret.created_at, secret.name),
    "last-changed-date": lambda secret: (secret.last_changed_at, secret.name),
    "last-accessed-date": lambda secret: (secret.created_at, secret.name),
    "name": lambda secret: (secret.name,),
}


def filtered(secrets: Sequence[Secret], filters: Sequence[Mapping[str, Any]]) -> list[Secret]:
    """A filter without a key or values constrains nothing."""
    kept = list(secrets)
    for entry in filters:
        key = str(entry.get("Key") or "")
        values = [str(value) for value in entry.get("Values") or []]
        if key and values:
            kept = [secret for secret in kept if any(_matches(secret, key, value) for value in values)]
    return kept


def ordered(secrets: Sequence[Secret], sort_by: str | None, sort_order: str | None) -> list[Secret]:
    return sorted(secrets, key=SORT_KEYS[sort_by or "created-date"], reverse=sort_order == "desc")


def page(items: Sequence[T], max_results: int | None, token: str | None) -> tuple[list[T], str | None]:
    """Raises InvalidNextToken."""
    start = _offset(token) if token is not None else 0
    size = max_results or DEFAULT_PAGE
    end = start + size
    more = end < len(items)
    return list(items[start:end]), _token(end) if more else None


def _matches(secret: Secret, key: str, value: str) -> bool:
    if value.startswith("!"):
        return not _matches(secret, key, value[1:])
    if key == "name":
        return secret.name.startswith(value)
    if key == "description":
        return (secret.description or "").lower().startswith(value.lower())
    if key == "tag-key":
        return any(tag.key.startswith(value) for tag in secret.tags)
    if key == "tag-value":
        return any(tag.value.startswith(value) for tag in secret.tags)
    if key == "primary-region":
        return secret.region.startswith(value)
    if key == "owning-service":
        return False
    words = [secret.name, secret.description or "", *(tag.key for tag in secret.tags), *(t.value for t in secret.tags)]
    return all(any(word.lower().startswith(part.lower()) for word in words) for part in value.split())


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o{offset}".encode()).decode()


def _offset(token: str) -> int:
    try:
        decoded = base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise InvalidNextToken() from error
    if not decoded.startswith("o") or not decoded[1:].isdigit():
        raise InvalidNextToken()
    return int(decoded[1:])
