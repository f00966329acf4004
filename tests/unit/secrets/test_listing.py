"""ListSecrets' filters, order and pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pullcache.secrets.errors import InvalidNextToken
from pullcache.secrets.listing import filtered, ordered, page
from pullcache.secrets.model import Secret, Tag

START = datetime(2026, 3, 1, tzinfo=UTC)


def secret(name: str, minute: int, description: str | None = None, tags: tuple[Tag, ...] = ()) -> Secret:
    at = START + timedelta(minutes=minute)
    return Secret(f"arn:{name}", "123456789012", "us-east-1", name, description, tags, at, at)


SECRETS = [
    secret("ecr-pullthroughcache/ghcr", 0, "GitHub token", (Tag("team", "build"),)),
    secret("ecr-pullthroughcache/docker-hub", 1),
    secret("database", 2, "github mirror"),
]


def names(secrets: list[Secret]) -> list[str]:
    return [s.name for s in secrets]


def test_name_filters_match_prefixes_case_sensitively() -> None:
    assert names(filtered(SECRETS, [{"Key": "name", "Values": ["ecr-pull"]}])) == names(SECRETS[:2])
    assert filtered(SECRETS, [{"Key": "name", "Values": ["ECR-pull"]}]) == []


def test_a_bang_negates_a_filter_value() -> None:
    assert names(filtered(SECRETS, [{"Key": "name", "Values": ["!ecr-"]}])) == ["database"]


def test_description_filters_ignore_case_and_filters_combine() -> None:
    chosen = filtered(SECRETS, [{"Key": "description", "Values": ["GITHUB"]}, {"Key": "tag-key", "Values": ["te"]}])
    assert names(chosen) == ["ecr-pullthroughcache/ghcr"]


def test_order_is_by_creation_unless_asked_otherwise() -> None:
    assert names(ordered(SECRETS, None, None)) == names(SECRETS)
    assert names(ordered(SECRETS, None, "desc")) == names(SECRETS)[::-1]
    assert names(ordered(SECRETS, "name", "asc"))[0] == "database"


def test_pages_follow_the_next_token_to_the_end() -> None:
    first, token = page(SECRETS, 2, None)
    assert names(first) == names(SECRETS[:2])
    assert token is not None
    rest, last = page(SECRETS, 2, token)
    assert (names(rest), last) == (["database"], None)


def test_a_forged_next_token_is_refused() -> None:
    with pytest.raises(InvalidNextToken):
        page(SECRETS, 2, "not-a-token")
