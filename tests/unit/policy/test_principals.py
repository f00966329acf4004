"""How a Principal or NotPrincipal element names the caller (IAM reference: Principal, NotPrincipal)."""

from __future__ import annotations

import pytest

from pullcache.policy.context import PrincipalType, RequestPrincipal
from pullcache.policy.documents import Principals
from pullcache.policy.principals import GrantKind, not_principal_excludes, principal_grant

ACCOUNT = "111122223333"
ALICE_ARN = f"arn:aws:iam::{ACCOUNT}:user/dev/alice"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/builder"
SESSION_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/builder/ci"
ALICE = RequestPrincipal.user(ALICE_ARN, "AIDAALICE")
SESSION = RequestPrincipal.role_session(SESSION_ARN, ROLE_ARN, "AROABUILDER")
ROOT = RequestPrincipal.root(ACCOUNT)
ECS = RequestPrincipal(PrincipalType.SERVICE, "ecs-tasks.amazonaws.com")


@pytest.mark.parametrize(
    ("principals", "caller", "grant"),
    [
        (Principals(everyone=True), ALICE, GrantKind.DIRECT),
        (Principals(aws=("*",)), SESSION, GrantKind.DIRECT),
        (Principals(aws=(ALICE_ARN,)), ALICE, GrantKind.DIRECT),
        (Principals(aws=(SESSION_ARN,)), SESSION, GrantKind.DIRECT),
        (Principals(aws=(ROLE_ARN,)), SESSION, GrantKind.ROLE),
        (Principals(aws=(ACCOUNT,)), ALICE, GrantKind.ACCOUNT),
        (Principals(aws=(f"arn:aws:iam::{ACCOUNT}:root",)), SESSION, GrantKind.ACCOUNT),
        (Principals(aws=(f"arn:aws:iam::{ACCOUNT}:root", ALICE_ARN)), ALICE, GrantKind.DIRECT),  # the most direct
        (Principals(aws=(ACCOUNT,)), ROOT, GrantKind.ACCOUNT),
        (Principals(service=("ecs-tasks.amazonaws.com",)), ECS, GrantKind.DIRECT),
        (Principals(aws=("444455556666",)), ALICE, None),
        (Principals(aws=(f"arn:aws:iam::{ACCOUNT}:user/alice",)), ALICE, None),  # the path is part of the ARN
        (Principals(aws=(f"arn:aws:iam::{ACCOUNT}:user/dev/Alice",)), ALICE, None),  # and its case
        (Principals(aws=(ROLE_ARN,)), ALICE, None),
        (Principals(service=("ecs-tasks.amazonaws.com",)), ALICE, None),
        (Principals(aws=(ACCOUNT,)), ECS, None),
        (Principals(aws=(ACCOUNT,)), RequestPrincipal.anonymous(), None),
    ],
)
def test_principal_element_names_the_caller_as_directly_as_it_can(
    principals: Principals, caller: RequestPrincipal, grant: GrantKind | None
) -> None:
    assert principal_grant(principals, caller) is grant


@pytest.mark.parametrize(
    ("named", "caller", "excluded"),
    [
        ((ALICE_ARN, ACCOUNT), ALICE, True),
        ((ALICE_ARN,), ALICE, False),  # the account is checked too: name it, or the Deny applies
        ((SESSION_ARN, ROLE_ARN, f"arn:aws:iam::{ACCOUNT}:root"), SESSION, True),
        ((SESSION_ARN, f"arn:aws:iam::{ACCOUNT}:root"), SESSION, False),  # the role is a link as well
        ((ACCOUNT,), ROOT, True),
        (("*",), ALICE, True),
        ((ACCOUNT,), RequestPrincipal.anonymous(), False),
    ],
)
def test_not_principal_leaves_out_only_a_caller_whose_every_link_it_names(
    named: tuple[str, ...], caller: RequestPrincipal, excluded: bool
) -> None:
    assert not_principal_excludes(Principals(aws=named), caller) is excluded
