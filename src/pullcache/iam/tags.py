"""Tags of users, roles and managed policies, with IAM's rules.

Keys ignore case: tagging with `env` replaces a tag `Env` (the new spelling wins), a request naming the same key
twice is refused, and an entity carries at most 50 tags.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pullcache.iam.errors import DUPLICATE_TAG_KEYS, TAGS_LIMIT, InvalidInput, LimitExceeded
from pullcache.iam.model import Tag

MAX_TAGS = 50


def check_new_tags(tags: Sequence[Tag]) -> None:
    """Raises InvalidInput when two of `tags` have the same key ignoring case."""
    keys = {tag.key.lower() for tag in tags}
    if len(keys) != len(tags):
        raise InvalidInput(DUPLICATE_TAG_KEYS)


def merged_tags(existing: Iterable[Tag], new: Sequence[Tag]) -> list[Tag]:
    """`existing` with `new` added or replacing; raises InvalidInput or LimitExceeded."""
    check_new_tags(new)
    by_key = {tag.key.lower(): tag for tag in existing}
    by_key.update((tag.key.lower(), tag) for tag in new)
    if len(by_key) > MAX_TAGS:
        raise LimitExceeded(TAGS_LIMIT)
    return sorted(by_key.values(), key=lambda tag: tag.key)


def without_tags(existing: Iterable[Tag], keys: Iterable[str]) -> list[Tag]:
    """`existing` less the tags whose keys are among `keys` (ignoring case); unknown keys are no error."""
    removed = {key.lower() for key in keys}
    return [tag for tag in existing if tag.key.lower() not in removed]
