"""Taking managed policy ARNs apart, and IAM's unique ids."""

from __future__ import annotations

import pytest

from pullcache.iam.arns import IdPrefix, PolicyArn, new_unique_id, parse_policy_arn
from pullcache.iam.errors import IamValidationError


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        (
            "arn:aws:iam::123456789012:policy/pushers",
            PolicyArn("arn:aws:iam::123456789012:policy/pushers", "123456789012", "/", "pushers"),
        ),
        (
            "arn:aws:iam::123456789012:policy/team/ci/pushers",
            PolicyArn("arn:aws:iam::123456789012:policy/team/ci/pushers", "123456789012", "/team/ci/", "pushers"),
        ),
        (
            "arn:aws:iam::aws:policy/AdministratorAccess",
            PolicyArn("arn:aws:iam::aws:policy/AdministratorAccess", "aws", "/", "AdministratorAccess"),
        ),
    ],
)
def test_a_policy_arn_gives_its_account_path_and_name(text: str, parsed: PolicyArn) -> None:
    assert parse_policy_arn(text) == parsed


@pytest.mark.parametrize(
    "text",
    [
        "arn:aws:iam::123456789012:role/pushers",
        "arn:aws:s3:::bucket/policy/x",
        "arn:aws:iam::123456789012:policy/",
        "arn:aws-cn:iam::123456789012:policy/pushers",
    ],
)
def test_an_arn_of_something_else_is_no_policy_arn(text: str) -> None:
    assert parse_policy_arn(text) is None


@pytest.mark.parametrize("text", ["pushers", "arn:aws:iam::123456789012", "arn:aws:iam:"])
def test_text_that_is_no_arn_is_a_validation_error(text: str) -> None:
    with pytest.raises(IamValidationError):
        parse_policy_arn(text)


def test_aws_managed_policy_arns_are_recognised() -> None:
    parsed = parse_policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")

    assert parsed is not None
    assert parsed.aws_managed


@pytest.mark.parametrize("prefix", list(IdPrefix))
def test_unique_ids_are_21_characters_of_base32_after_the_kind_prefix(prefix: IdPrefix) -> None:
    ids = {new_unique_id(prefix) for _ in range(50)}

    assert len(ids) == 50
    for unique_id in ids:
        assert unique_id.startswith(prefix.value)
        assert len(unique_id) == 21
        assert set(unique_id[4:]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
