"""Wildcard matching: `*` matches any run of characters, `?` exactly one, everything else itself.

A Glob keeps apart the text a policy author wrote (where `*` and `?` are wildcards) and text that must match
literally (values substituted for policy variables, and the `${*}`, `${?}`, `${$}` escapes).

- Actions match as a whole, ignoring case (`ecr:Batch*` matches `ECR:BatchGetImage`).
- ARNs match segment by segment: the first five colons separate segments a wildcard cannot leave, and the sixth
  segment (the resource) is the rest of the ARN, colons included, where `*` also matches `/`. ARNs match case
  sensitively.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# arn:partition:service:region:account:resource
_ARN_SEGMENTS = 6


@dataclass(frozen=True, slots=True)
class Glob:
    """A pattern: a sequence of (text, is_literal) parts."""

    parts: tuple[tuple[str, bool], ...]

    @classmethod
    def parse(cls, text: str) -> Glob:
        """`text` with `*` and `?` as wildcards."""
        return cls(((text, False),))

    @classmethod
    def literal(cls, text: str) -> Glob:
        return cls(((text, True),))

    @property
    def text(self) -> str:
        """The pattern as plain text, for operators that take no wildcards (StringEquals, NumericEquals, ...)."""
        return "".join(text for text, _ in self.parts)

    @property
    def matches_everything(self) -> bool:
        return self.parts == (("*", False),)

    def matches(self, value: str, *, ignore_case: bool = False) -> bool:
        return _compile(self, arn=False, ignore_case=ignore_case).fullmatch(value) is not None

    def matches_arn(self, value: str) -> bool:
        """Segment-wise, case-sensitive ARN matching (Resource, NotResource, ArnLike and ArnEquals)."""
        return _compile(self, arn=True, ignore_case=False).fullmatch(value) is not None


def action_matches(pattern: str, action: str) -> bool:
    """Whether an Action/NotAction entry names `action` (`service:Name`); both sides ignore case."""
    return Glob.parse(pattern).matches(action, ignore_case=True)


def _compile(glob: Glob, *, arn: bool, ignore_case: bool) -> re.Pattern[str]:
    # Compiled patterns are cached by the re module itself; policies repeat the same few patterns.
    pieces: list[str] = []
    colons = 0
    for text, is_literal in glob.parts:
        for char in text:
            if char == ":":
                colons += 1
            confined = arn and colons < _ARN_SEGMENTS - 1  # still inside the first five segments
            if is_literal or char not in "*?":
                pieces.append(re.escape(char))
            elif char == "*":
                pieces.append("[^:]*" if confined else ".*")
            else:
                pieces.append("[^:]" if confined else ".")
    return re.compile("".join(pieces), re.DOTALL | (re.IGNORECASE if ignore_case else 0))
