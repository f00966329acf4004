"""Repository names and tags: the one rule every door applies (/v2/, the ECR API, the pull-through cache).

A name is the OCI distribution spec's grammar, 2 to 256 characters: the limits of ECR's model (its RepositoryName
shape, whose pattern is the same grammar), so that every repository ECR's API may create can be pushed and pulled
over /v2/, and every repository a push creates can be managed over ECR's API. (Distribution allows 1 to 255; a
one-character name would make a repository that ECR's API cannot name, to describe or delete it.) A test holds
these limits equal to botocore's model.
"""

from __future__ import annotations

import re

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
# Matched with fullmatch: `$` would also accept a trailing newline.
_NAME = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_TAG = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
MIN_NAME_LENGTH = 2
MAX_NAME_LENGTH = 256


def is_valid_repository_name(name: str) -> bool:
    return MIN_NAME_LENGTH <= len(name) <= MAX_NAME_LENGTH and _NAME.fullmatch(name) is not None


def is_valid_tag(tag: str) -> bool:
    return _TAG.fullmatch(tag) is not None
