"""Which tags may move to another image, under each of ECR's four settings."""

from __future__ import annotations

import pytest

from pullcache.registry.tag_mutability import TagMutability, TagMutabilityRule

FILTERS = ("dev-*", "latest", "*-rc*")


@pytest.mark.parametrize(
    ("mutability", "tag", "immutable"),
    [
        (TagMutability.MUTABLE, "1.0", False),
        (TagMutability.IMMUTABLE, "1.0", True),
        (TagMutability.IMMUTABLE, "latest", True),
        (TagMutability.IMMUTABLE_WITH_EXCLUSION, "1.0", True),
        (TagMutability.IMMUTABLE_WITH_EXCLUSION, "dev-42", False),
        (TagMutability.IMMUTABLE_WITH_EXCLUSION, "latest", False),
        (TagMutability.IMMUTABLE_WITH_EXCLUSION, "2.0-rc1", False),
        (TagMutability.IMMUTABLE_WITH_EXCLUSION, "latest2", True),
        (TagMutability.IMMUTABLE_WITH_EXCLUSION, "xdev-1", True),
        (TagMutability.MUTABLE_WITH_EXCLUSION, "1.0", False),
        (TagMutability.MUTABLE_WITH_EXCLUSION, "dev-", True),
        (TagMutability.MUTABLE_WITH_EXCLUSION, "latest", True),
    ],
)
def test_a_tag_is_immutable_as_the_setting_and_its_exclusions_say(
    mutability: TagMutability, tag: str, immutable: bool
) -> None:
    filters = FILTERS if mutability.takes_exclusions else ()

    assert TagMutabilityRule(mutability, filters).is_immutable(tag) is immutable


def test_a_wildcard_filter_treats_every_other_character_literally() -> None:
    rule = TagMutabilityRule(TagMutability.MUTABLE_WITH_EXCLUSION, ("v1.0",))

    assert rule.is_immutable("v1.0")
    assert not rule.is_immutable("v1x0")


def test_only_the_exclusion_settings_take_filters() -> None:
    assert {m for m in TagMutability if m.takes_exclusions} == {
        TagMutability.IMMUTABLE_WITH_EXCLUSION,
        TagMutability.MUTABLE_WITH_EXCLUSION,
    }
