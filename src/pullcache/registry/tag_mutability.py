"""Tag mutability: whether pushing a tag may move it to another image, as ECR's repository setting decides.

    MUTABLE                    every tag may move
    IMMUTABLE                  no tag may move
    IMMUTABLE_WITH_EXCLUSION   no tag may move, except those an exclusion filter matches
    MUTABLE_WITH_EXCLUSION     every tag may move, except those an exclusion filter matches

Exclusion filters are ECR's WILDCARD filters: `*` matches any run of characters, everything else itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property


class TagMutability(StrEnum):
    MUTABLE = "MUTABLE"
    IMMUTABLE = "IMMUTABLE"
    IMMUTABLE_WITH_EXCLUSION = "IMMUTABLE_WITH_EXCLUSION"
    MUTABLE_WITH_EXCLUSION = "MUTABLE_WITH_EXCLUSION"

    @property
    def takes_exclusions(self) -> bool:
        return self in (TagMutability.IMMUTABLE_WITH_EXCLUSION, TagMutability.MUTABLE_WITH_EXCLUSION)


@dataclass(frozen=True)
class TagMutabilityRule:
    """A repository's setting and its exclusion filters (wildcards)."""

    mutability: TagMutability = TagMutability.MUTABLE
    exclusion_filters: tuple[str, ...] = ()

    def is_immutable(self, tag: str) -> bool:
        """Whether `tag`, once it names an image, must keep naming it."""
        match self.mutability:
            case TagMutability.MUTABLE:
                return False
            case TagMutability.IMMUTABLE:
                return True
            case TagMutability.IMMUTABLE_WITH_EXCLUSION:
                return not self._excluded(tag)
            case TagMutability.MUTABLE_WITH_EXCLUSION:
                return self._excluded(tag)

    def _excluded(self, tag: str) -> bool:
        return any(pattern.fullmatch(tag) is not None for pattern in self._patterns)

    @cached_property
    def _patterns(self) -> tuple[re.Pattern[str], ...]:
        return tuple(re.compile(".*".join(map(re.escape, f.split("*"))), re.DOTALL) for f in self.exclusion_filters)


MUTABLE = TagMutabilityRule()
