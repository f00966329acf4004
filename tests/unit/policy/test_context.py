"""Condition keys of a request: given ones by name (ignoring case), principal ones derived as AWS defines them."""

from __future__ import annotations

import pytest

from pullcache.policy.context import RequestContext, RequestPrincipal

ACCOUNT = "111122223333"
ALICE = RequestPrincipal.user(f"arn:aws:iam::{ACCOUNT}:user/dev/alice", "AIDAALICEEXAMPLE")
SESSION = RequestPrincipal.role_session(
    f"arn:aws:sts::{ACCOUNT}:assumed-role/builder/ci", f"arn:aws:iam::{ACCOUNT}:role/builder", "AROABUILDER"
)
ROOT = RequestPrincipal.root(ACCOUNT)
ANONYMOUS = RequestPrincipal.anonymous()


@pytest.mark.parametrize(
    ("principal", "key", "values"),
    [
        (ALICE, "aws:username", ("alice",)),
        (ALICE, "aws:userid", ("AIDAALICEEXAMPLE",)),
        (ALICE, "aws:PrincipalArn", (f"arn:aws:iam::{ACCOUNT}:user/dev/alice",)),
        (ALICE, "aws:PrincipalType", ("User",)),
        (ALICE, "aws:PrincipalAccount", (ACCOUNT,)),
        (SESSION, "aws:username", None),
        (SESSION, "aws:userid", ("AROABUILDER:ci",)),
        (SESSION, "aws:PrincipalArn", (f"arn:aws:iam::{ACCOUNT}:role/builder",)),
        (SESSION, "aws:PrincipalType", ("AssumedRole",)),
        (ROOT, "aws:username", None),
        (ROOT, "aws:userid", (ACCOUNT,)),
        (ROOT, "aws:PrincipalArn", (f"arn:aws:iam::{ACCOUNT}:root",)),
        (ROOT, "aws:PrincipalType", ("Account",)),
        (ANONYMOUS, "aws:PrincipalType", ("Anonymous",)),
        (ANONYMOUS, "aws:PrincipalArn", None),
        (ANONYMOUS, "aws:PrincipalAccount", None),
    ],
)
def test_principal_keys_are_derived_from_the_principal(
    principal: RequestPrincipal, key: str, values: tuple[str, ...] | None
) -> None:
    assert RequestContext(principal, "ecr:BatchGetImage").find_values(key) == values


def test_resource_account_is_present_only_when_known() -> None:
    repository = "arn:aws:ecr:us-east-1:444455556666:repository/x"
    known = RequestContext(ALICE, "ecr:BatchGetImage", repository, resource_account="444455556666")

    assert known.find_values("aws:ResourceAccount") == ("444455556666",)
    assert RequestContext(ALICE, "ecr:GetAuthorizationToken").find_values("aws:ResourceAccount") is None


def test_given_keys_are_found_ignoring_case_and_override_derived_ones() -> None:
    context = RequestContext(
        ALICE,
        "ecr:TagResource",
        keys={"aws:TagKeys": ["team", "owner"], "AWS:SourceIp": "192.0.2.1", "aws:username": "someone-else"},
    )

    assert context.find_values("aws:tagkeys") == ("team", "owner")
    assert context.find_values("aws:SourceIP") == ("192.0.2.1",)
    assert context.find_values("aws:username") == ("someone-else",)
    assert context.find_values("ecr:ResourceTag/team") is None
