"""Which secret policies grant broad access (BlockPublicPolicy, ValidateResourcePolicy)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pullcache.policy import MalformedPolicyDocument
from pullcache.secrets.resource_policies import grants_broad_access, parse_secret_policy

ACCOUNT = "123456789012"


def policy(principal: Any = None, effect: str = "Allow", **extra: Any) -> str:
    statement = {"Effect": effect, "Action": "secretsmanager:GetSecretValue", "Resource": "*", **extra}
    if principal is not None:
        statement["Principal"] = principal
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}, {"AWS": ["*", ACCOUNT]}])
def test_an_allow_to_every_principal_is_broad(principal: Any) -> None:
    assert grants_broad_access(parse_secret_policy(policy(principal)))


def test_not_principal_in_an_allow_is_broad() -> None:
    assert grants_broad_access(parse_secret_policy(policy(NotPrincipal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"})))


@pytest.mark.parametrize(
    "text",
    [
        policy({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}),
        policy({"AWS": "210987654321"}),
        policy("*", effect="Deny"),
        policy("*", Condition={"StringEquals": {"aws:PrincipalAccount": ACCOUNT}}),
        policy("*", Condition={"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}),
    ],
)
def test_named_principals_denies_and_account_conditions_are_not_broad(text: str) -> None:
    assert not grants_broad_access(parse_secret_policy(text))


def test_a_condition_that_does_not_narrow_the_principal_leaves_it_broad() -> None:
    text = policy("*", Condition={"Bool": {"aws:SecureTransport": "true"}})
    assert grants_broad_access(parse_secret_policy(text))


def test_a_statement_without_principal_is_malformed() -> None:
    with pytest.raises(MalformedPolicyDocument):
        parse_secret_policy(policy())
