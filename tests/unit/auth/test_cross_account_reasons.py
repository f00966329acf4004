"""The reason an AccessDenied gives across accounts, as AWS words it: when the resource-based policy names the
caller itself, what is missing is the identity-based side; otherwise (nothing allowed, only the identity side, or
only the caller's account named) AWS says no resource-based policy allows the action.

AWS's behaviour as observed with Secrets Manager (dev.classmethod.jp, "access-denied-error-message-vpcendpoint-
crossaccount"): cases #2-#5 of its table are the rows below.
"""

from __future__ import annotations

import json
from typing import Final

import pytest

from pullcache.auth.authorization import AccessDenied, AccessRequest, Authorizer
from pullcache.auth.ports import PrincipalPolicySet
from pullcache.policy import (
    PolicyKind,
    PolicySourceType,
    RequestPrincipal,
    SourcedPolicy,
    parse_policy,
)

CALLER: Final = RequestPrincipal.user("arn:aws:iam::111122223333:user/puller", "AIDAEXAMPLEEXAMPLE001")
RESOURCE: Final = "arn:aws:ecr:us-east-1:000000000000:repository/shared/app"
ACTION: Final = "ecr:BatchGetImage"


def allow_identity(action: str = ACTION) -> SourcedPolicy:
    text = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]})
    return SourcedPolicy(parse_policy(text, PolicyKind.IDENTITY), "inline", PolicySourceType.USER)


def repository_policy(principal: str) -> SourcedPolicy:
    statement = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": ACTION}
    text = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    return SourcedPolicy(parse_policy(text, PolicyKind.RESOURCE), RESOURCE, PolicySourceType.RESOURCE)


class Fixed:
    def __init__(self, policies: PrincipalPolicySet) -> None:
        self.policies = policies

    async def policies_for(self, principal: RequestPrincipal) -> PrincipalPolicySet:
        return self.policies


async def reason(policies: PrincipalPolicySet, resource_policy: SourcedPolicy | None) -> str:
    request = AccessRequest(CALLER, ACTION, RESOURCE, "000000000000", resource_policy)
    with pytest.raises(AccessDenied) as denied:
        await Authorizer(Fixed(policies)).authorize(request)
    prefix = f"User: {CALLER.arn} is not authorized to perform: {ACTION} on resource: {RESOURCE} "
    message = str(denied.value)
    assert message.startswith(prefix)
    return message.removeprefix(prefix)


IDENTITY_SIDE: Final = f"because no identity-based policy allows the {ACTION} action"
RESOURCE_SIDE: Final = f"because no resource-based policy allows the {ACTION} action"


@pytest.mark.parametrize(
    ("identity", "named", "expected"),
    [
        ((), CALLER.arn, IDENTITY_SIDE),  # the repository policy names the user: its own allow is missing
        ((), "arn:aws:iam::111122223333:root", RESOURCE_SIDE),  # only the account named: a delegation
        ((allow_identity(),), None, RESOURCE_SIDE),  # the user may, the repository does not let it
        ((), None, RESOURCE_SIDE),  # neither side allows
        ((allow_identity("ecr:ListImages"),), CALLER.arn, IDENTITY_SIDE),  # its own allow is for another action
    ],
    ids=["names-the-user", "names-the-account", "identity-only", "neither", "identity-for-another-action"],
)
async def test_a_cross_account_refusal_blames_the_side_aws_blames(
    identity: tuple[SourcedPolicy, ...], named: str | None, expected: str
) -> None:
    resource_policy = None if named is None else repository_policy(named)

    assert await reason(PrincipalPolicySet(identity=identity), resource_policy) == expected


async def test_a_boundary_that_leaves_the_action_out_is_named_when_both_sides_allow() -> None:
    policies = PrincipalPolicySet(identity=(allow_identity(),), permissions_boundary=allow_identity("ecr:ListImages"))

    assert await reason(policies, repository_policy(CALLER.arn)) == (
        f"because no permissions boundary allows the {ACTION} action"
    )
