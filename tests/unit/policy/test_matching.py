"""Wildcards in actions and ARNs, with the examples of the IAM reference for Action, Resource and ArnLike."""

from __future__ import annotations

import pytest

from pullcache.policy.matching import Glob, action_matches


@pytest.mark.parametrize(
    ("pattern", "action"),
    [
        ("*", "ecr:BatchGetImage"),
        ("ecr:*", "ecr:GetAuthorizationToken"),
        ("ecr:Batch*", "ecr:BatchGetImage"),
        ("ecr:Batch*", "ecr:BatchCheckLayerAvailability"),
        ("ecr:Batch*", "ECR:batchgetimage"),  # prefix and name ignore case
        ("IAM:listaccesskeys", "iam:ListAccessKeys"),
        ("ecr:*Image", "ecr:PutImage"),
        ("ecr:?utImage", "ecr:PutImage"),
        ("s3:*Object", "s3:GetObject"),
    ],
)
def test_action_pattern_names_the_action(pattern: str, action: str) -> None:
    assert action_matches(pattern, action)


@pytest.mark.parametrize(
    ("pattern", "action"),
    [
        ("ecr:Batch*", "ecr:GetDownloadUrlForLayer"),
        ("ecr:Batch*", "iam:BatchThing"),
        ("ecr:?utImage", "ecr:OutputImage"),
        ("ecr:PutImage", "ecr:PutImageScanningConfiguration"),
        ("s3:*Object", "s3:GetObjectAcl"),
    ],
)
def test_action_pattern_does_not_name_other_actions(pattern: str, action: str) -> None:
    assert not action_matches(pattern, action)


REPOSITORY = "arn:aws:ecr:*:123456789012:repository/team/*"
APP = "arn:aws:ecr:us-east-1:123456789012:repository/app"


@pytest.mark.parametrize(
    ("pattern", "arn", "matches"),
    [
        (REPOSITORY, "arn:aws:ecr:us-east-1:123456789012:repository/team/app", True),
        (REPOSITORY, "arn:aws:ecr:eu-west-3:123456789012:repository/team/a/b/c", True),
        (REPOSITORY, "arn:aws:ecr:us-east-1:123456789012:repository/team", False),
        (REPOSITORY, "arn:aws:ecr:us-east-1:999999999999:repository/team/app", False),
        (REPOSITORY, "arn:aws:ecr:us-east-1:123456789012:repository/Team/app", False),  # ARNs keep their case
        (APP, APP, True),
        ("arn:aws:iam::*:user/${x}", "arn:aws:iam::1:user/${x}", True),  # no variables here: plain text
        ("arn:aws:ecr:*", APP, False),  # a wildcard stays in its segment
        ("arn:aws:ecr:us-?ast-1:*:*", APP, True),
    ],
)
def test_arn_pattern_matches_segment_by_segment(pattern: str, arn: str, matches: bool) -> None:
    assert Glob.parse(pattern).matches_arn(arn) is matches


# IAM reference, "Using wildcards in resource ARNs": the pattern and the objects it does and does not cover.
BUCKET = "arn:aws:s3:::DOC-EXAMPLE-BUCKET"


@pytest.mark.parametrize(
    "key",
    [
        "1/test/object.jpg",
        "1/2/test/object.jpg",
        "1/2/test/3/object.jpg",
        "1/2/3/test/4/object.jpg",
        "1///test///object.jpg",
        "1/test/.jpg",
        "/test/object.jpg",
        "1/test/",
    ],
)
def test_asterisk_in_the_resource_segment_spans_slashes(key: str) -> None:
    assert Glob.parse(f"{BUCKET}/*/test/*").matches_arn(f"{BUCKET}/{key}")


@pytest.mark.parametrize("key", ["1-test/object.jpg", "test/object.jpg", "1/2/test.jpg"])
def test_slash_in_the_pattern_still_has_to_match(key: str) -> None:
    assert not Glob.parse(f"{BUCKET}/*/test/*").matches_arn(f"{BUCKET}/{key}")


def test_arn_wildcard_cannot_swallow_colons_where_a_string_wildcard_does() -> None:
    # IAM reference, ARN condition operators: StringLike matches this value, ArnLike does not.
    pattern = Glob.parse("arn:aws:someservice:*:111122223333:finance/*")
    value = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"

    assert pattern.matches(value)
    assert not pattern.matches_arn(value)


def test_resource_segment_may_contain_colons() -> None:
    pattern = Glob.parse("arn:aws:logs:us-east-1:123456789012:log-group:/ecs/*")

    assert pattern.matches_arn("arn:aws:logs:us-east-1:123456789012:log-group:/ecs/app:log-stream:x")


def test_literal_parts_match_wildcard_characters_only_as_themselves() -> None:
    glob = Glob((("team/", False), ("*", True), ("/*", False)))

    assert glob.matches("team/*/app")
    assert not glob.matches("team/x/app")
    assert glob.text == "team/*/*"


def test_only_a_lone_wildcard_matches_everything() -> None:
    assert Glob.parse("*").matches_everything
    assert not Glob.literal("*").matches_everything
    assert not Glob.parse("arn:*").matches_everything


def test_string_match_keeps_case_unless_asked() -> None:
    assert not Glob.parse("Team-*").matches("team-a")
    assert Glob.parse("Team-*").matches("team-a", ignore_case=True)
