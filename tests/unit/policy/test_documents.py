"""Parsing policy documents, and refusing malformed ones with the message AWS IAM returns.

The identity-policy messages are those AWS IAM returned to CreatePolicy for these documents, as recorded in the
moto project's tests (tests/test_iam/test_iam_policies.py). The resource and trust policy messages are those
AWS returns to CreateRole / UpdateAssumeRolePolicy and resource policy operations, as reported in public issues
("Has prohibited field Resource", "Unknown field statement", "This policy contains invalid Json",
'Invalid principal in policy: "AWS":"arn:..."', "Missing required field Principal").
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from pullcache.policy import (
    Effect,
    MalformedPolicyDocument,
    PolicyKind,
    Principals,
    SetOperator,
    parse_policy,
)

ACCOUNT = "111122223333"
BUCKET = "arn:aws:s3:::example_bucket"
ALLOW_LIST = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": BUCKET}
TRUST = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "sts:AssumeRole"}


def document(*statements: dict[str, Any], **top: Any) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements), **top})


def refusal(text: str, kind: PolicyKind, *, require_current_version: bool = False) -> str:
    with pytest.raises(MalformedPolicyDocument) as raised:
        parse_policy(text, kind, require_current_version=require_current_version)
    return raised.value.message


def test_single_statement_object_parses_like_a_list_of_one() -> None:
    single = parse_policy(json.dumps({"Version": "2012-10-17", "Statement": ALLOW_LIST}), PolicyKind.IDENTITY)
    listed = parse_policy(document(ALLOW_LIST), PolicyKind.IDENTITY)

    assert single == listed
    assert single.statements[0].effect is Effect.ALLOW
    assert single.statements[0].action == ("s3:ListBucket",)
    assert single.statements[0].resource == (BUCKET,)
    assert single.statements[0].not_action is None


def test_statement_elements_keep_their_values() -> None:
    statement = {
        "Sid": "DenyOthers",
        "Effect": "Deny",
        "NotPrincipal": {"AWS": ["arn:aws:iam::444455556666:user/Bob", "444455556666"], "Service": "ecr.amazonaws.com"},
        "NotAction": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        "NotResource": "arn:aws:ecr:us-east-1:111122223333:repository/public/*",
        "Condition": {
            "ForAnyValue:StringLikeIfExists": {"aws:TagKeys": ["team-*", "owner"]},
            "Bool": {"aws:SecureTransport": False},
            "NumericLessThan": {"aws:MultiFactorAuthAge": 3600},
        },
    }

    parsed = parse_policy(document(statement, Id="repository-policy"), PolicyKind.RESOURCE)

    (only,) = parsed.statements
    assert parsed.id == "repository-policy"
    assert (only.sid, only.effect) == ("DenyOthers", Effect.DENY)
    assert only.not_principal == Principals(
        aws=("arn:aws:iam::444455556666:user/Bob", "444455556666"), service=("ecr.amazonaws.com",)
    )
    assert only.principal is None
    assert only.not_action == ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
    assert only.not_resource == ("arn:aws:ecr:us-east-1:111122223333:repository/public/*",)
    tag_keys, secure, age = only.conditions
    assert (tag_keys.operator.set_operator, tag_keys.operator.base, tag_keys.operator.if_exists) == (
        SetOperator.FOR_ANY_VALUE,
        "StringLike",
        True,
    )
    assert (tag_keys.key, tag_keys.values) == ("aws:TagKeys", ("team-*", "owner"))
    assert secure.values == ("false",)  # JSON booleans and numbers compare as their text
    assert age.values == ("3600",)


def test_principal_star_means_everyone() -> None:
    statement = {"Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage", "Resource": "*"}

    assert parse_policy(document(statement), PolicyKind.RESOURCE).statements[0].principal == Principals(everyone=True)


def test_federated_principal_parses() -> None:
    provider = "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"
    statement = {"Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithWebIdentity"}

    parsed = parse_policy(document(statement), PolicyKind.TRUST)

    assert parsed.statements[0].principal == Principals(federated=(provider,))


def test_unknown_operator_with_an_empty_block_is_accepted_and_ignored() -> None:
    parsed = parse_policy(document({**ALLOW_LIST, "Condition": {"x": {}, "y": {}}}), PolicyKind.IDENTITY)

    assert parsed.statements[0].conditions == ()


def test_only_the_current_version_has_policy_variables() -> None:
    current = parse_policy(document(ALLOW_LIST), PolicyKind.IDENTITY)
    legacy = parse_policy(json.dumps({"Version": "2008-10-17", "Statement": ALLOW_LIST}), PolicyKind.IDENTITY)
    unversioned = parse_policy(json.dumps({"Statement": ALLOW_LIST}), PolicyKind.IDENTITY)

    assert current.has_variables
    assert not legacy.has_variables
    assert (unversioned.version, unversioned.has_variables) == (None, False)


@pytest.mark.parametrize("version", [None, "2008-10-17"])
def test_managed_policy_must_be_of_the_current_version(version: str | None) -> None:
    text = json.dumps({"Statement": ALLOW_LIST} if version is None else {"Version": version, "Statement": ALLOW_LIST})

    assert refusal(text, PolicyKind.IDENTITY, require_current_version=True) == (
        "Policy document must be version 2012-10-17 or greater."
    )


def test_null_entries_in_a_list_are_ignored() -> None:
    statement = {"Effect": "Allow", "Action": "kms:CreateGrant", "Resource": ["arn:aws:kms:*:123456789012:key/*", None]}

    assert parse_policy(document(statement), PolicyKind.IDENTITY).statements[0].resource == (
        "arn:aws:kms:*:123456789012:key/*",
    )


SYNTAX = "Syntax errors in policy."
LEGACY = "The policy failed legacy parsing"
DUPLICATE_SID = "Statement IDs (SID) in a single policy must be unique."
PREFACE = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
IAM_PATHS = (
    "user/, federated-user/, role/, group/, instance-profile/, mfa/, server-certificate/, policy/, sms-mfa/, "
    "saml-provider/, oidc-provider/, report/, access-report/"
)


def listing(**changes: Any) -> str:
    """A policy of one statement: ALLOW_LIST with `changes` (None removes an element)."""
    statement = {key: value for key, value in {**ALLOW_LIST, **changes}.items() if value is not None}
    return document(statement)


def on(resource: str | list[str]) -> str:
    return listing(Resource=resource)


def when(condition: Any) -> str:
    return listing(Condition=condition)


MALFORMED_IDENTITY_POLICIES = [
    ("This is not a json document", SYNTAX),
    ('["a list"]', SYNTAX),
    (json.dumps({"Version": "2013-10-17", "Statement": ALLOW_LIST}), SYNTAX),
    (json.dumps({"Version": "2012-10-17"}), SYNTAX),
    (document(), SYNTAX),
    (json.dumps({"Version": "2012-10-17", "Statement": ["afd"]}), SYNTAX),
    (document(ALLOW_LIST, **{"Extra field": "value"}), SYNTAX),
    (listing(**{"Extra field": "value"}), SYNTAX),
    (document(ALLOW_LIST, Id=["not", "a string"]), SYNTAX),
    (listing(Effect="invalid"), SYNTAX),
    (listing(Effect=None), SYNTAX),
    (listing(Resource={"a": BUCKET}), SYNTAX),
    (listing(Action=[[]]), SYNTAX),
    (listing(NotAction="iam:dsf"), SYNTAX),
    (listing(NotResource="*"), SYNTAX),
    (when([]), SYNTAX),
    (when({"a": "b"}), SYNTAX),
    (when({"DateGreaterThan": {"a": {}}}), SYNTAX),
    (when({"x": {"a": "1"}}), SYNTAX),
    (when({"ForAnyValue::StringEqualsIfExists": {"a": "b"}}), SYNTAX),
    (listing(Sid=[]), SYNTAX),
    (listing(Principal="*"), "Policy document should not specify a principal."),
    (listing(NotPrincipal={"AWS": "*"}), "Policy document should not specify a principal."),
    (listing(Effect="denY"), LEGACY),
    (when({"DateGreaterThan": {"a": "sdfdsf"}}), LEGACY),
    (when({"DateLessThanEquals": {"a": "234-13"}}), LEGACY),
    (on("arn:aws:s3::example_bucket"), LEGACY),
    (on("arn:aws::fdsasf"), LEGACY),
    (document(ALLOW_LIST, {"Sid": "a", "Effect": "Allow"}, {"Sid": "a"}), SYNTAX),  # no Effect comes first
    (document(ALLOW_LIST, {"Sid": "a", "Effect": "Allow"}, {"Sid": "a", "Effect": "Deny"}), DUPLICATE_SID),
    (listing(Action=None), "Policy statement must contain actions."),
    (listing(Action=[]), "Policy statement must contain actions."),
    (listing(Resource=None), "Policy statement must contain resources."),
    (on([]), "Policy statement must contain resources."),
    (on("invalid resource"), 'Resource invalid resource must be in ARN format or "*".'),
    (on(""), 'Resource  must be in ARN format or "*".'),
    (on("a:bsdfdsafsad"), 'Partition "bsdfdsafsad" is not valid for resource "arn:bsdfdsafsad:*:*:*:*".'),
    (on("aws:s3:::example_bucket"), 'Partition "s3" is not valid for resource "arn:s3:::example_bucket:*".'),
    (on(["arn:error:s3:::b", "arn:error:s3::b"]), 'Partition "error" is not valid for resource "arn:error:s3:::b".'),
    (on("arn:aws"), "Resource vendor must be fully qualified and cannot contain regexes."),
    (on("arn:aws:iam:us-east-1::x"), "IAM resource arn:aws:iam:us-east-1::x cannot contain region information."),
    (on("arn:aws:s3:us-east-1::x"), "Resource arn:aws:s3:us-east-1::x can not contain region information."),
    (on("arn:aws:iam:::example_bucket"), f'IAM resource path must either be "*" or start with {IAM_PATHS}.'),
    (listing(Action="invalid"), PREFACE),
    (listing(Action="invalid", Resource=None), PREFACE),  # checked before resources are required
    (listing(Action=None, NotAction=""), PREFACE),
    (listing(Action="s3:List:Bucket"), "Actions/Condition can contain only one colon."),
    (listing(Action="a a:ListBucket"), "Vendor a a is not valid"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), MALFORMED_IDENTITY_POLICIES)
def test_malformed_identity_policy_is_refused_with_the_iam_message(text: str, message: str) -> None:
    assert refusal(text, PolicyKind.IDENTITY, require_current_version=True) == message


@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Allow", "Action": "iam: asdf safdsf af ", "Resource": BUCKET},
        {"Effect": "Allow", "Action": "*", "Resource": [BUCKET, "*"]},
        {"Effect": "Allow", "Action": "s3-s.x:ListBucket", "Resource": "arn:aws:s33:::example_bucket"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:fdsasf"},
        {"Effect": "Allow", "NotAction": "s3:ListBucket", "NotResource": "*"},
        {"Effect": "Allow", "Action": "ec2:*", "Resource": "arn:aws:ec2:us-east-1::example_bucket"},
        {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:us-west-2:123456789012:accesspoint/ap"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": BUCKET, "Condition": {"DateGreaterThan": {"a": []}}},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": BUCKET, "Condition": {"DateLessThan": {"a": "01T"}}},
        {"Effect": "Allow", "Action": "iam:GetUser", "Resource": "arn:aws:iam::*:user/${aws:username}"},
        {"Sid": "", "Effect": "Allow", "Action": ["rds:Describe*"], "Resource": ["*"]},
    ],
)
def test_valid_identity_policy_parses(statement: dict[str, Any]) -> None:
    assert len(parse_policy(document(statement, statement), PolicyKind.IDENTITY).statements) == 2


INVALID_PRINCIPAL = "Invalid principal in policy"
NO_PRINCIPALS = (
    "Invalid principal in policy: com.amazon.balsa.error.InvalidPolicyException: "
    "The passed in policy has a statement with no principals!"
)


def granting(principal: Any, **changes: Any) -> str:
    """A resource policy of one statement that allows `principal` to pull."""
    statement = {"Effect": "Allow", "Principal": principal, "Action": "ecr:BatchGetImage", **changes}
    return document({key: value for key, value in statement.items() if value is not None})


def refused_aws_principal(entry: str) -> tuple[str, str]:
    return granting({"AWS": entry}), f'{INVALID_PRINCIPAL}: "AWS":"{entry}"'


MALFORMED_RESOURCE_POLICIES = [
    ("{not json", "This policy contains invalid Json"),
    ("[]", "This policy contains invalid Json"),
    (granting(None), "Missing required field Principal"),
    (json.dumps({"version": "2012-10-17", "Statement": []}), "Unknown field version"),
    (granting("*", Comment="x"), "Unknown field Comment"),
    (granting("*", Effect=None), "Missing required field Effect"),
    (json.dumps({"Version": "2012-10-17"}), "Missing required field Statement"),
    (granting("*", Action=None), "Missing required field Action"),
    (granting({}), NO_PRINCIPALS),
    (granting({"AWS": []}), NO_PRINCIPALS),
    (granting("someone"), INVALID_PRINCIPAL),
    refused_aws_principal(f"arn:aws::iam::{ACCOUNT}:root"),
    refused_aws_principal(f"arn:aws:iam::{ACCOUNT}:user/*"),  # no wildcards in principals
    refused_aws_principal("arn:aws:iam::123:role/x"),
    (granting({"Group": "admins"}), 'Invalid principal in policy: "Group":"admins"'),
    (granting("*", Action="ecr"), PREFACE),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), MALFORMED_RESOURCE_POLICIES)
def test_malformed_resource_policy_is_refused_with_the_aws_message(text: str, message: str) -> None:
    assert refusal(text, PolicyKind.RESOURCE) == message


@pytest.mark.parametrize(
    "aws",
    [
        "*",
        "111122223333",
        "arn:aws:iam::111122223333:root",
        "arn:aws:iam::111122223333:user/ci/pusher",
        "arn:aws:iam::111122223333:role/service-role/builder",
        "arn:aws:sts::111122223333:assumed-role/builder/session-1",
        "arn:aws:sts::111122223333:federated-user/bob",
        "arn:aws-cn:iam::111122223333:root",
        "AROAEXAMPLEROLEID12345",
    ],
)
def test_resource_policy_accepts_every_form_of_aws_principal(aws: str) -> None:
    parsed = parse_policy(granting({"AWS": [aws]}), PolicyKind.RESOURCE)

    assert parsed.statements[0].principal == Principals(aws=(aws,))
    assert parsed.statements[0].resource is None  # a repository policy is about its repository


def trusting(**changes: Any) -> str:
    """A trust policy of one statement: TRUST with `changes` (None removes an element)."""
    return document({key: value for key, value in {**TRUST, **changes}.items() if value is not None})


MALFORMED_TRUST_POLICIES = [
    ("{invalid", "This policy contains invalid Json"),
    (json.dumps({"Version": "2012-10-17", "statement": [TRUST]}), "Unknown field statement"),
    (trusting(Resource="*"), "Has prohibited field Resource"),
    (trusting(NotResource="*"), "Has prohibited field NotResource"),
    (trusting(Principal=None, NotPrincipal={"AWS": "111122223333"}), "Has prohibited field NotPrincipal"),
    (trusting(Principal=None), "Missing required field Principal"),
    (trusting(Principal={"AWS": "arn:aws:iam::123:role/x"}), f'{INVALID_PRINCIPAL}: "AWS":"arn:aws:iam::123:role/x"'),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), MALFORMED_TRUST_POLICIES)
def test_malformed_trust_policy_is_refused_with_the_aws_message(text: str, message: str) -> None:
    assert refusal(text, PolicyKind.TRUST) == message


def test_trust_policy_needs_no_resource_and_may_be_of_the_old_version() -> None:
    text = json.dumps({"Version": "2008-10-17", "Statement": [TRUST]})

    parsed = parse_policy(text, PolicyKind.TRUST)

    assert parsed.statements[0].resource is None
    assert parsed.version == "2008-10-17"
