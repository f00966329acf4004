"""ECR's lifecycle policy evaluator, on the examples of the ECR user guide ("Examples of lifecycle policies") and
the rules of "Lifecycle policy evaluation rules"; each documented example's repository, policy and result as the
guide gives them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import pytest

from pullcache.ecr.lifecycle import check_lifecycle_policy
from pullcache.ecr.lifecycle_evaluation import evaluate, matches_pattern, parse_rules

NOW: Final = datetime(2025, 6, 1, 12, tzinfo=UTC)


@dataclass(frozen=True, eq=False)
class Image:
    name: str
    tags: tuple[str, ...]
    pushed_at: datetime
    pulled_at: datetime | None = field(default=None)


def image(name: str, *tags: str, days: float, pulled_days: float | None = None) -> Image:
    pulled = None if pulled_days is None else NOW - timedelta(days=pulled_days)
    return Image(name, tags, NOW - timedelta(days=days), pulled)


def rule(priority: int, status: str, count_type: str, number: int, **extra: Any) -> dict[str, Any]:
    selection: dict[str, Any] = {"tagStatus": status, "countType": count_type, "countNumber": number, **extra}
    if count_type != "imageCountMoreThan":
        selection["countUnit"] = "days"
    return {
        "rulePriority": priority,
        "description": f"Rule {priority}",
        "selection": selection,
        "action": {"type": "expire"},
    }


def expired(images: list[Image], *rules: dict[str, Any]) -> list[tuple[str, int]]:
    """(image, rule priority) of each image the policy expires, checked against ECR's grammar first."""
    text = json.dumps({"rules": list(rules)})
    check_lifecycle_policy(text)
    return [(expiry.image.name, expiry.rule_priority) for expiry in evaluate(parse_rules(text), images, NOW)]


def test_filtering_on_image_age_expires_tagged_images_older_than_the_limit() -> None:
    images = [image("A", "prod-1", days=20), image("B", "prod-2", days=13), image("C", "dev-1", days=30)]
    assert expired(images, rule(1, "tagged", "sinceImagePushed", 14, tagPatternList=["prod*"])) == [("A", 1)]


def test_filtering_on_image_count_keeps_only_the_newest_untagged_image() -> None:
    images = [image("A", days=3), image("B", days=2), image("C", days=1), image("T", "v1", days=9)]
    assert expired(images, rule(1, "untagged", "imageCountMoreThan", 1)) == [("A", 1), ("B", 1)]


# Multiple rules, Example A: Rule 2 would mark A and B, but A was seen by Rule 1 and B meets Rule 1's tagging.
MULTIPLE_RULES_REPOSITORY: Final = [
    image("A", "beta-1", "prod-1", days=10),
    image("B", "beta-2", "prod-2", days=9),
    image("C", "beta-3", days=8),
]


@pytest.mark.parametrize("tag_list", ["tagPrefixList", "tagPatternList"])
def test_multiple_rules_example_a_expires_only_image_a(tag_list: str) -> None:
    prod, beta = (["prod"], ["beta"]) if tag_list == "tagPrefixList" else (["prod*"], ["beta*"])
    result = expired(
        MULTIPLE_RULES_REPOSITORY,
        rule(1, "tagged", "imageCountMoreThan", 1, **{tag_list: prod}),
        rule(2, "tagged", "imageCountMoreThan", 1, **{tag_list: beta}),
    )
    assert result == [("A", 1)]


@pytest.mark.parametrize("tag_list", ["tagPrefixList", "tagPatternList"])
def test_multiple_rules_example_b_expires_images_a_and_b_by_the_first_rule(tag_list: str) -> None:
    prod, beta = (["prod"], ["beta"]) if tag_list == "tagPrefixList" else (["prod*"], ["beta*"])
    result = expired(
        MULTIPLE_RULES_REPOSITORY,
        rule(1, "tagged", "imageCountMoreThan", 1, **{tag_list: beta}),
        rule(2, "tagged", "imageCountMoreThan", 1, **{tag_list: prod}),
    )
    assert result == [("A", 1), ("B", 1)]


def test_multiple_tags_in_one_rule_example_a_selects_images_with_every_prefix() -> None:
    images = [
        image("A", "alpha-1", days=12),
        image("B", "beta-1", days=11),
        image("C", "alpha-2", "beta-2", days=10),
        image("D", "alpha-3", days=4),
        image("E", "beta-3", days=3),
        image("F", "alpha-4", "beta-4", days=2),
    ]
    result = expired(images, rule(1, "tagged", "sinceImagePushed", 5, tagPrefixList=["alpha", "beta"]))
    assert result == [("C", 1)]


def test_multiple_tags_in_one_rule_example_b_tags_are_not_exclusive() -> None:
    images = [
        image("A", "alpha-1", "beta-1", "gamma-1", days=10),
        image("B", "alpha-2", "beta-2", days=9),
        image("C", "alpha-3", "beta-3", "gamma-2", days=8),
    ]
    result = expired(images, rule(1, "tagged", "imageCountMoreThan", 1, tagPrefixList=["alpha", "beta"]))
    assert result == [("A", 1), ("B", 1)]


def test_any_counts_untagged_images_and_never_expires_what_a_higher_rule_selects() -> None:
    images = [
        image("old-release", "release-1", days=50),
        image("untagged-old", days=40),
        image("dev", "dev-1", days=30),
        image("untagged-new", days=1),
    ]
    result = expired(
        images,
        rule(1, "tagged", "imageCountMoreThan", 100, tagPrefixList=["release"]),
        rule(2, "any", "imageCountMoreThan", 1),
    )
    # Rule 2 counts all four and keeps the newest; the release image meets Rule 1's tagging and is kept.
    assert result == [("untagged-old", 2), ("dev", 2)]


def test_an_image_is_expired_by_one_rule_only_the_one_of_highest_priority() -> None:
    images = [image("A", days=30), image("B", days=20), image("C", days=1)]
    result = expired(images, rule(1, "untagged", "sinceImagePushed", 10), rule(2, "any", "imageCountMoreThan", 1))
    assert result == [("A", 1), ("B", 1)]


def test_rules_apply_in_priority_order_whatever_their_order_in_the_policy() -> None:
    images = [image("A", "prod-1", days=10), image("B", "prod-2", days=9)]
    result = expired(
        images,
        rule(5, "any", "imageCountMoreThan", 1),
        rule(2, "tagged", "sinceImagePushed", 9, tagPatternList=["prod-1"]),
    )
    assert result == [("A", 2)]


def test_since_image_pulled_uses_the_last_pull_and_the_push_for_images_never_pulled() -> None:
    images = [
        image("pulled-lately", "a", days=100, pulled_days=2),
        image("pulled-long-ago", "b", days=100, pulled_days=40),
        image("never-pulled-old", "c", days=31),
        image("never-pulled-new", "d", days=29),
    ]
    result = expired(images, rule(1, "any", "sinceImagePulled", 30))
    assert result == [("pulled-long-ago", 1), ("never-pulled-old", 1)]


def test_expiry_is_ordered_oldest_first_within_a_rule() -> None:
    images = [image("new", days=20), image("old", days=40), image("mid", days=30)]
    assert expired(images, rule(1, "untagged", "sinceImagePushed", 10)) == [("old", 1), ("mid", 1), ("new", 1)]


def test_untagged_rules_never_select_tagged_images_nor_tagged_rules_untagged_ones() -> None:
    images = [image("tagged", "x", days=40), image("bare", days=40)]
    assert expired(images, rule(1, "untagged", "sinceImagePushed", 1)) == [("bare", 1)]
    assert expired(images, rule(1, "tagged", "sinceImagePushed", 1, tagPatternList=["*"])) == [("tagged", 1)]


@pytest.mark.parametrize(
    ("pattern", "tag", "matches"),
    [
        ("prod*", "prod", True),
        ("prod*", "prod1", True),
        ("prod*", "preprod", False),
        ("*prod*", "repo-production", True),
        ("prod", "prod1", False),
        ("*test*1*2*3", "my-test-x1y2z3", True),
        ("test*1*2*3*", "test-1-2-3-final", True),
        ("v1.*", "v1x2", False),
        ("v1.*", "v1.2", True),
    ],
)
def test_tag_patterns_match_whole_tags_with_star_as_any_run(pattern: str, tag: str, matches: bool) -> None:
    assert matches_pattern(pattern, tag) is matches
