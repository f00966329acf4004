"""Policy variables, as the IAM reference "IAM policy elements: Variables and tags" defines them."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from pullcache.policy.context import ContextValue, RequestContext, RequestPrincipal
from pullcache.policy.variables import expand

ALICE = RequestPrincipal.user("arn:aws:iam::111122223333:user/alice", "AIDAALICEEXAMPLE")
SESSION = RequestPrincipal.role_session(
    "arn:aws:sts::111122223333:assumed-role/builder/ci-42", "arn:aws:iam::111122223333:role/builder", "AROABUILDER"
)


def context(principal: RequestPrincipal = ALICE, keys: Mapping[str, ContextValue] | None = None) -> RequestContext:
    return RequestContext(principal, "s3:GetObject", keys=keys or {})


@pytest.mark.parametrize(
    ("template", "principal", "expected"),
    [
        ("arn:aws:s3:::bucket/${aws:username}/*", ALICE, "arn:aws:s3:::bucket/alice/*"),
        ("arn:aws:s3:::bucket/${AWS:UserName}", ALICE, "arn:aws:s3:::bucket/alice"),  # key names ignore case
        ("home/${aws:userid}/", ALICE, "home/AIDAALICEEXAMPLE/"),
        ("home/${aws:userid}/", SESSION, "home/AROABUILDER:ci-42/"),
        ("${aws:PrincipalAccount}", SESSION, "111122223333"),
        ("${aws:PrincipalArn}", SESSION, "arn:aws:iam::111122223333:role/builder"),
        ("${aws:PrincipalType}", SESSION, "AssumedRole"),
        ("no variables", ALICE, "no variables"),
    ],
)
def test_variable_takes_the_value_of_its_key(template: str, principal: RequestPrincipal, expected: str) -> None:
    glob = expand(template, context(principal))

    assert glob is not None
    assert glob.text == expected


def test_default_applies_when_the_key_is_absent() -> None:
    template = "arn:aws:s3:::DOC-EXAMPLE-BUCKET-${aws:PrincipalTag/team, 'company-wide'}"

    absent = expand(template, context())
    present = expand(template, context(keys={"aws:PrincipalTag/team": "yellow"}))

    assert absent is not None
    assert absent.text == "arn:aws:s3:::DOC-EXAMPLE-BUCKET-company-wide"
    assert present is not None
    assert present.text == "arn:aws:s3:::DOC-EXAMPLE-BUCKET-yellow"


def test_variable_without_value_or_default_matches_nothing() -> None:
    assert expand("arn:aws:s3:::bucket/${aws:username}", context(SESSION)) is None  # roles have no aws:username
    assert expand("${aws:TagKeys}", context(keys={"aws:TagKeys": ["a", "b"]})) is None  # many values are not one


def test_special_variables_stand_for_literal_characters() -> None:
    glob = expand("price${$}-${*}-${?}", context())

    assert glob is not None
    assert glob.text == "price$-*-?"
    assert glob.matches("price$-*-?")
    assert not glob.matches("price$-anything-x")  # ${*} and ${?} are not wildcards


def test_substituted_values_are_never_wildcards() -> None:
    glob = expand("team/${aws:PrincipalTag/team}/*", context(keys={"aws:PrincipalTag/team": "*"}))

    assert glob is not None
    assert glob.matches("team/*/app")
    assert not glob.matches("team/ops/app")


def test_text_that_is_not_a_variable_stays_as_written() -> None:
    glob = expand("a ${not a variable} b", context())

    assert glob is not None
    assert glob.text == "a ${not a variable} b"
