"""Condition operators, with the rules of the IAM reference for Condition, condition operators and multivalued keys."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from pullcache.policy.conditions import Condition, SetOperator, conditions_hold, parse_operator
from pullcache.policy.context import ContextValue, RequestContext, RequestPrincipal

ALICE = RequestPrincipal.user("arn:aws:iam::111122223333:user/alice", "AIDAALICEEXAMPLE")


def condition(operator: str, key: str, *values: str) -> Condition:
    parsed = parse_operator(operator)
    assert parsed is not None, operator
    return Condition(parsed, key, values)


def holds(operator: str, key: str, values: list[str], keys: Mapping[str, ContextValue]) -> bool:
    context = RequestContext(ALICE, "ecr:BatchGetImage", keys=keys)
    return conditions_hold([condition(operator, key, *values)], context, variables=True)


@pytest.mark.parametrize(
    ("operator", "values", "request_value", "expected"),
    [
        ("StringEquals", ["team-a"], "team-a", True),
        ("StringEquals", ["team-a"], "Team-A", False),
        ("StringEquals", ["team-a", "team-b"], "team-b", True),  # values of one key are OR'ed
        ("StringNotEquals", ["team-a"], "team-b", True),
        ("StringNotEquals", ["team-a", "team-b"], "team-b", False),  # a negated operator: no value may match
        ("StringEqualsIgnoreCase", ["JohnDoe"], "johndoe", True),
        ("StringNotEqualsIgnoreCase", ["JohnDoe"], "johndoe", False),
        ("StringLike", ["janedoe/*"], "janedoe/photos/1.jpg", True),
        ("StringLike", ["team-?"], "team-ab", False),
        ("StringLike", ["Team-*"], "team-a", False),  # StringLike keeps case
        ("StringNotLike", ["team-*"], "ops", True),
        ("NumericEquals", ["10"], "10.0", True),
        ("NumericNotEquals", ["10"], "11", True),
        ("NumericLessThan", ["10"], "9", True),
        ("NumericLessThan", ["10"], "10", False),
        ("NumericLessThanEquals", ["10"], "10", True),
        ("NumericGreaterThan", ["3600"], "3601", True),
        ("NumericGreaterThanEquals", ["3600"], "3599", False),
        ("NumericEquals", ["ten"], "10", False),
        ("Bool", ["true"], "true", True),
        ("Bool", ["false"], "true", False),
        ("Bool", ["True"], "true", True),
        ("BinaryEquals", ["QmluYXJ5VmFsdWVJbkJhc2U2NA=="], "QmluYXJ5VmFsdWVJbkJhc2U2NA==", True),
        ("BinaryEquals", ["QmluYXJ5VmFsdWVJbkJhc2U2NA=="], "T3RoZXJWYWx1ZQ==", False),
        ("BinaryEquals", ["not base64!"], "not base64!", False),
        ("ArnLike", ["arn:aws:sns:*:123456789012:my_topic"], "arn:aws:sns:us-east-2:123456789012:my_topic", True),
        ("ArnEquals", ["arn:aws:sns:*:123456789012:my_topic"], "arn:aws:sns:us-east-2:123456789012:my_topic", True),
        ("ArnLike", ["arn:aws:sns:*:123456789012:*"], "arn:aws:sns:us-east-2:999999999999:my_topic", False),
        ("ArnNotLike", ["arn:aws:sns:*:123456789012:*"], "arn:aws:sns:us-east-2:999999999999:my_topic", True),
        ("ArnNotEquals", ["arn:aws:sns:*:123456789012:*"], "arn:aws:sns:us-east-2:123456789012:t", False),
    ],
)
def test_operator_compares_the_request_value_with_the_policy_values(
    operator: str, values: list[str], request_value: str, expected: bool
) -> None:
    assert holds(operator, "test:key", values, {"test:key": request_value}) is expected


@pytest.mark.parametrize(
    ("values", "address", "expected"),
    [
        (["203.0.113.0/24"], "203.0.113.77", True),
        (["203.0.113.0/24"], "203.0.114.1", False),
        (["203.0.113.7"], "203.0.113.7", True),  # a bare address is a /32
        (["203.0.113.7"], "203.0.113.8", False),
        (["2001:DB8:1234:5678::/64"], "2001:db8:1234:5678::1", True),
        (["2001:DB8:1234:5678::/64"], "2001:db8:1234:5679::1", False),
        (["::/0"], "203.0.113.7", False),  # an IPv6 range holds no IPv4 address
        (["0.0.0.0/0"], "::1", False),
        (["203.0.113.0/24", "2001:DB8:1234:5678::/64"], "2001:db8:1234:5678::9", True),
        (["not an address"], "203.0.113.7", False),
    ],
)
def test_ip_address_tests_membership_of_ipv4_and_ipv6_ranges(values: list[str], address: str, expected: bool) -> None:
    assert holds("IpAddress", "aws:SourceIp", values, {"aws:SourceIp": address}) is expected
    assert holds("NotIpAddress", "aws:SourceIp", values, {"aws:SourceIp": address}) is not expected


@pytest.mark.parametrize(
    ("operator", "policy_value", "current_time", "expected"),
    [
        ("DateGreaterThan", "2020-01-01T00:00:00Z", "2020-06-30T12:00:00Z", True),
        ("DateGreaterThan", "2020-01-01T00:00:00Z", "2019-12-31T23:59:59Z", False),
        ("DateLessThan", "2020-01-01", "2019-12-31T23:59:59Z", True),  # a date alone is midnight UTC
        ("DateLessThanEquals", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z", True),
        ("DateGreaterThanEquals", "2020-01-01T00:00:00+02:00", "2019-12-31T22:00:00Z", True),
        ("DateEquals", "2020-01-01T00:00:00Z", "1577836800", True),  # epoch seconds in the request
        ("DateEquals", "1577836800", "2020-01-01T00:00:00Z", True),  # and in the policy
        ("DateNotEquals", "1577836800", "2020-01-01T00:00:01Z", True),
        ("DateLessThan", "2020-01-01T00:00:00.500Z", "2020-01-01T00:00:00.250Z", True),
        ("DateEquals", "not a date", "2020-01-01T00:00:00Z", False),
    ],
)
def test_date_operators_compare_instants_in_iso_8601_or_epoch(
    operator: str, policy_value: str, current_time: str, expected: bool
) -> None:
    assert holds(operator, "aws:CurrentTime", [policy_value], {"aws:CurrentTime": current_time}) is expected


@pytest.mark.parametrize(
    ("operator", "expected"),
    [
        ("StringEquals", False),
        ("StringLike", False),
        ("NumericLessThan", False),
        ("DateGreaterThan", False),
        ("Bool", False),
        ("IpAddress", False),
        ("ArnLike", False),
        ("StringNotEquals", True),  # the key is not there, so it does not equal
        ("StringNotLike", True),
        ("ArnNotLike", True),
        ("NotIpAddress", True),
        ("StringEqualsIfExists", True),
        ("NumericLessThanIfExists", True),
        ("StringNotEqualsIfExists", True),
        ("ForAnyValue:StringEquals", False),
        ("ForAnyValue:StringNotEquals", False),
        ("ForAllValues:StringEquals", True),
        ("ForAllValues:StringNotEquals", True),
        ("ForAnyValue:StringEqualsIfExists", True),
    ],
)
def test_missing_key_is_false_for_plain_operators_and_true_for_negated_and_if_exists(
    operator: str, expected: bool
) -> None:
    assert holds(operator, "aws:PrincipalTag/team", ["1"], {}) is expected


@pytest.mark.parametrize(
    ("operator", "expected"),
    [("ForAllValues:StringEquals", True), ("ForAnyValue:StringEquals", False), ("StringEqualsIfExists", True)],
)
def test_key_with_no_values_is_an_empty_set(operator: str, expected: bool) -> None:
    assert holds(operator, "aws:TagKeys", ["Department"], {"aws:TagKeys": []}) is expected


def test_if_exists_still_tests_a_present_key() -> None:
    assert holds("StringLikeIfExists", "ec2:InstanceType", ["t2.*"], {"ec2:InstanceType": "t2.micro"})
    assert not holds("StringLikeIfExists", "ec2:InstanceType", ["t2.*"], {"ec2:InstanceType": "m5.large"})


@pytest.mark.parametrize(
    ("tag_keys", "for_all", "for_any"),
    [
        (["Department"], True, True),
        (["Department", "CostCenter"], True, True),
        (["Department", "Owner"], False, True),  # Owner is not allowed
        (["Owner"], False, False),
    ],
)
def test_set_operators_test_every_request_value(tag_keys: list[str], for_all: bool, for_any: bool) -> None:
    allowed = ["Department", "CostCenter"]
    keys = {"aws:TagKeys": tag_keys}

    assert holds("ForAllValues:StringEquals", "aws:TagKeys", allowed, keys) is for_all
    assert holds("ForAnyValue:StringEquals", "aws:TagKeys", allowed, keys) is for_any


def test_negated_operator_under_set_operators_negates_each_value() -> None:
    # IAM reference: the DynamoDB attributes example, written with forbidden attributes.
    keys = {"dynamodb:Attributes": ["UserName", "Message"]}
    forbidden = ["ID", "PostDateTime"]

    assert holds("ForAllValues:StringNotEquals", "dynamodb:Attributes", forbidden, keys)
    assert holds("ForAnyValue:StringNotEquals", "dynamodb:Attributes", ["UserName"], keys)
    assert not holds("ForAllValues:StringNotEquals", "dynamodb:Attributes", ["UserName"], keys)


@pytest.mark.parametrize(
    ("keys", "policy_value", "expected"),
    [
        ({}, "true", True),
        ({}, "false", False),
        ({"aws:TokenIssueTime": "2020-01-01T00:00:00Z"}, "true", False),
        ({"aws:TokenIssueTime": "2020-01-01T00:00:00Z"}, "false", True),
        ({"aws:TokenIssueTime": []}, "true", True),
    ],
)
def test_null_tests_whether_the_key_is_absent(
    keys: Mapping[str, ContextValue], policy_value: str, expected: bool
) -> None:
    assert holds("Null", "aws:TokenIssueTime", [policy_value], keys) is expected


def test_condition_key_names_ignore_case() -> None:
    assert holds("IpAddress", "AWS:sourceip", ["203.0.113.0/24"], {"aws:SourceIp": "203.0.113.9"})
    assert holds("StringEquals", "aws:ResourceTag/TagKey1", ["Value1"], {"AWS:RESOURCETAG/tagkey1": "Value1"})


def test_keys_and_operators_are_anded() -> None:
    keys = {"aws:SecureTransport": "true", "aws:SourceIp": "10.0.0.1"}
    context = RequestContext(ALICE, "ecr:BatchGetImage", keys=keys)
    secure = condition("Bool", "aws:SecureTransport", "true")
    inside = condition("IpAddress", "aws:SourceIp", "10.0.0.0/8")
    outside = condition("IpAddress", "aws:SourceIp", "192.168.0.0/16")

    assert conditions_hold([secure, inside], context, variables=True)
    assert not conditions_hold([secure, outside], context, variables=True)
    assert conditions_hold([], context, variables=True)


def test_string_and_arn_values_take_policy_variables() -> None:
    context = RequestContext(ALICE, "s3:ListBucket", keys={"s3:prefix": "home/alice/docs"})
    mine = condition("StringLike", "s3:prefix", "home/${aws:username}/*")

    assert conditions_hold([mine], context, variables=True)
    assert not conditions_hold([mine], context, variables=False)  # Version 2008-10-17: text as written


def test_numeric_values_take_no_policy_variables() -> None:
    context = RequestContext(ALICE, "s3:ListBucket", keys={"s3:max-keys": "10", "limit": "20"})

    assert not conditions_hold([condition("NumericLessThan", "s3:max-keys", "${limit}")], context, variables=True)


@pytest.mark.parametrize(
    ("name", "base", "set_operator", "if_exists"),
    [
        ("StringEquals", "StringEquals", None, False),
        ("StringLikeIfExists", "StringLike", None, True),
        ("ForAnyValue:StringEqualsIfExists", "StringEquals", SetOperator.FOR_ANY_VALUE, True),
        ("ForAllValues:ArnLike", "ArnLike", SetOperator.FOR_ALL_VALUES, False),
        ("Null", "Null", None, False),
    ],
)
def test_operator_name_splits_into_set_operator_base_and_if_exists(
    name: str, base: str, set_operator: SetOperator | None, if_exists: bool
) -> None:
    operator = parse_operator(name)

    assert operator is not None
    assert (operator.base, operator.set_operator, operator.if_exists) == (base, set_operator, if_exists)


@pytest.mark.parametrize(
    "name",
    ["stringequals", "StringEqual", "NullIfExists", "IfExists", "ForAnyValue::StringEquals", "ForSome:StringLike"],
)
def test_unknown_operator_names_are_refused(name: str) -> None:
    assert parse_operator(name) is None
