"""The checks STS makes of an AssumeRole request before it looks at the role."""

from __future__ import annotations

import json

import pytest

from pullcache.policy import MalformedPolicyDocument
from pullcache.sts.errors import InvalidParameterValue, PackedPolicyTooLarge, StsValidationError
from pullcache.sts.model import SessionTag
from pullcache.sts.requests import AssumeRoleRequest, check_request, check_role_arn, packed_size

ROLE = "arn:aws:iam::123456789012:role/deployer"


def policy_of(*actions: str) -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}]}
    )


# The role ARNs and answers AWS gave (recorded against AWS in LocalStack's test_sts_invalid_parameters).
@pytest.mark.parametrize(
    "arn",
    [
        "nothing-valid-in-here",
        "arn::b:::something/test-role",
        "arn:a::::something/test-role",
        "arn:a:::something/test-role",
        "arn:a:a::aaaaaaaaaa:",
    ],
)
def test_a_role_arn_without_an_arns_parts_is_invalid(arn: str) -> None:
    with pytest.raises(StsValidationError) as raised:
        check_role_arn(arn)

    assert raised.value.message == f"{arn} is invalid"


def test_an_arn_of_any_service_passes_the_format_check() -> None:
    check_role_arn("arn:a:a:::something/test-role")
    check_role_arn(ROLE)


def test_duplicate_tag_keys_ignoring_case_are_refused() -> None:
    request = AssumeRoleRequest(ROLE, "s", tags=[SessionTag("team", "a"), SessionTag("Team", "b")])

    with pytest.raises(InvalidParameterValue) as raised:
        check_request(request)

    assert raised.value.message == "Duplicate tag keys found. Please note that Tag keys are case insensitive."


def test_a_transitive_key_must_be_one_of_the_tags() -> None:
    request = AssumeRoleRequest(ROLE, "s", tags=[SessionTag("team", "a")], transitive_tag_keys=["env"])

    with pytest.raises(InvalidParameterValue) as raised:
        check_request(request)

    assert raised.value.message == "The specified transitive tag key must be included in the requested tags."
    check_request(AssumeRoleRequest(ROLE, "s", tags=[SessionTag("team", "a")], transitive_tag_keys=["TEAM"]))


def test_a_malformed_session_policy_is_malformed_policy_document() -> None:
    with pytest.raises(MalformedPolicyDocument):
        check_request(AssumeRoleRequest(ROLE, "s", policy="{nope"))


def test_the_packed_size_is_reported_only_with_session_policies_or_tags() -> None:
    assert check_request(AssumeRoleRequest(ROLE, "s")) is None
    assert check_request(AssumeRoleRequest(ROLE, "s", policy=policy_of("s3:ListBucket"))) == 10
    assert check_request(AssumeRoleRequest(ROLE, "s", tags=[SessionTag("team", "blue")])) == 1


def test_the_packed_size_ignores_white_space_and_counts_arns_and_tags() -> None:
    compact = policy_of("ecr:BatchGetImage")
    spaced = json.dumps(json.loads(compact), indent=8)

    assert packed_size(spaced, [], []) == packed_size(compact, [], [])
    assert packed_size(None, ["x" * 108], []) == 11  # rounded up
    assert packed_size(None, [], [SessionTag("k" * 100, "v" * 7)]) == 10


def test_a_policy_past_the_packed_space_is_too_large_with_its_percentage() -> None:
    actions = [f"service{number:02d}:SomeLongishActionName{number:02d}" for number in range(42)]
    request = AssumeRoleRequest(ROLE, "s", policy=policy_of(*actions))

    with pytest.raises(PackedPolicyTooLarge) as raised:
        check_request(request)

    assert raised.value.percent > 100
    assert raised.value.message == f"Packed policy consumes {raised.value.percent}% of allotted space"
