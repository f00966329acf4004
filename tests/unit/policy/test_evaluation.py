"""The decision, case by case as the IAM policy evaluation logic and permissions boundary pages describe it.

Accounts: 111122223333 owns the repository and its users; 444455556666 is another account.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from pullcache.policy import (
    ContextValue,
    EvalDecision,
    PolicyKind,
    PolicySet,
    PolicySourceType,
    RequestContext,
    RequestPrincipal,
    SourcedPolicy,
    evaluate,
    parse_policy,
)

ACCOUNT = "111122223333"
OTHER = "444455556666"
REPO = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/team/app"
PULL = "ecr:BatchGetImage"

ALICE_ARN = f"arn:aws:iam::{ACCOUNT}:user/alice"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/builder"
SESSION_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/builder/ci"
BOB_ARN = f"arn:aws:iam::{OTHER}:user/bob"

ALICE = RequestPrincipal.user(ALICE_ARN, "AIDAALICEEXAMPLE")
SESSION = RequestPrincipal.role_session(SESSION_ARN, ROLE_ARN, "AROABUILDEREXAMPLE")
ROOT = RequestPrincipal.root(ACCOUNT)
BOB = RequestPrincipal.user(BOB_ARN, "AIDABOBEXAMPLE")
CAROL = RequestPrincipal.user(f"arn:aws:iam::{OTHER}:user/carol", "AIDACAROLEXAMPLE")


def policy(
    *statements: dict[str, Any],
    kind: PolicyKind = PolicyKind.IDENTITY,
    version: str | None = "2012-10-17",
    source_id: str = "policy",
) -> SourcedPolicy:
    body: dict[str, Any] = {"Statement": list(statements)}
    if version is not None:
        body["Version"] = version
    source_type = PolicySourceType.RESOURCE if kind is PolicyKind.RESOURCE else PolicySourceType.USER
    return SourcedPolicy(parse_policy(json.dumps(body), kind), source_id, source_type)


def allow(action: str | list[str] = PULL, resource: str | list[str] = REPO, **more: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **more}


def deny(action: str | list[str] = PULL, resource: str | list[str] = REPO, **more: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **more}


def repository_policy(*statements: dict[str, Any]) -> SourcedPolicy:
    """A resource policy as ECR keeps them: statements name principals and no Resource."""
    bare = [{key: value for key, value in statement.items() if key != "Resource"} for statement in statements]
    return policy(*bare, kind=PolicyKind.RESOURCE, source_id="repository")


def request(
    principal: RequestPrincipal = ALICE,
    action: str = PULL,
    resource: str = REPO,
    keys: Mapping[str, ContextValue] | None = None,
) -> RequestContext:
    """A request; the resource's account is the one in its ARN (none in an S3 ARN: the caller's)."""
    account = (resource.split(":")[4] or None) if resource.startswith("arn:") else None
    return RequestContext(principal, action, resource, account, keys or {})


def decide(policies: PolicySet, context: RequestContext) -> EvalDecision:
    return evaluate(policies, context).decision


ALLOWED, EXPLICIT_DENY, IMPLICIT_DENY = EvalDecision.ALLOWED, EvalDecision.EXPLICIT_DENY, EvalDecision.IMPLICIT_DENY


def test_request_is_implicitly_denied_when_nothing_allows_it() -> None:
    decision = evaluate(PolicySet(), request())

    assert decision.decision is IMPLICIT_DENY
    assert not decision.allowed
    assert decision.matched_statements == ()


def test_identity_allow_grants_and_names_the_statement() -> None:
    user_policy = policy({"Sid": "Other", **allow("ecr:PutImage")}, {"Sid": "Pull", **allow()}, source_id="pull")

    decision = evaluate(PolicySet(identity=[user_policy]), request())

    assert decision.allowed
    (matched,) = decision.matched_statements
    assert (matched.policy.source_id, matched.policy.source_type, matched.index) == ("pull", PolicySourceType.USER, 1)
    assert matched.statement.sid == "Pull"


def test_explicit_deny_in_any_policy_overrides_every_allow() -> None:
    policies = PolicySet(
        identity=[policy(allow("ecr:*", "*")), policy({"Sid": "NoPull", **deny()}, source_id="guard")],
        resource=repository_policy({**allow(), "Principal": {"AWS": ALICE_ARN}}),
    )

    decision = evaluate(policies, request())

    assert decision.decision is EXPLICIT_DENY
    assert [m.statement.sid for m in decision.matched_statements] == ["NoPull"]


# IAM reference, "Example identity-based and resource-based policy evaluation" (the carlossalazar example).
CARLOS_ARN = f"arn:aws:iam::{ACCOUNT}:user/carlossalazar"
CARLOS_POLICY = policy(
    {"Sid": "AllowS3ListRead", **allow(["s3:GetBucketLocation", "s3:ListAllMyBuckets"], "arn:aws:s3:::*")},
    {"Sid": "AllowS3Self", **allow("s3:*", ["arn:aws:s3:::carlossalazar/*", "arn:aws:s3:::carlossalazar"])},
    {"Sid": "DenyS3Logs", **deny("s3:*", "arn:aws:s3:::*log*")},
)
CARLOS_BUCKET_POLICY = policy(
    allow("s3:*", ["arn:aws:s3:::carlossalazar/*", "arn:aws:s3:::carlossalazar"], Principal={"AWS": CARLOS_ARN}),
    kind=PolicyKind.RESOURCE,
)


@pytest.mark.parametrize(
    ("action", "resource", "expected"),
    [
        ("s3:PutObject", "arn:aws:s3:::carlossalazar-logs/file.txt", EXPLICIT_DENY),
        ("s3:PutObject", "arn:aws:s3:::carlossalazar/file.txt", ALLOWED),
        ("s3:ListAllMyBuckets", "arn:aws:s3:::other", ALLOWED),
        ("s3:PutObject", "arn:aws:s3:::other/file.txt", IMPLICIT_DENY),
    ],
)
def test_documented_example_of_identity_and_bucket_policy(action: str, resource: str, expected: EvalDecision) -> None:
    carlos = RequestPrincipal.user(CARLOS_ARN, "AIDACARLOS")
    context = RequestContext(carlos, action, resource, ACCOUNT)
    policies = PolicySet(identity=[CARLOS_POLICY], resource=CARLOS_BUCKET_POLICY)

    assert decide(policies, context) is expected


BOUNDARY_WITHOUT_ECR = policy(allow("s3:*", "*"), source_id="boundary")
BOUNDARY_WITH_ECR = policy(allow("ecr:*", "*"), source_id="boundary")
IDENTITY_ALLOW = policy(allow())


@pytest.mark.parametrize(
    ("caller", "principal", "identity", "boundary", "expected"),
    [
        # Within one account an Allow on either side suffices...
        (ALICE, ALICE_ARN, None, None, ALLOWED),
        (SESSION, SESSION_ARN, None, None, ALLOWED),
        (SESSION, ROLE_ARN, None, None, ALLOWED),
        # ...but naming the account delegates to the identity-based policies.
        (ALICE, f"arn:aws:iam::{ACCOUNT}:root", None, None, IMPLICIT_DENY),
        (ALICE, ACCOUNT, IDENTITY_ALLOW, None, ALLOWED),
        # A boundary does not limit what a resource policy grants to a user or a session directly...
        (ALICE, ALICE_ARN, None, BOUNDARY_WITHOUT_ECR, ALLOWED),
        (SESSION, SESSION_ARN, None, BOUNDARY_WITHOUT_ECR, ALLOWED),
        # ...but does limit what it grants to the role, and what identity-based policies grant.
        (SESSION, ROLE_ARN, None, BOUNDARY_WITHOUT_ECR, IMPLICIT_DENY),
        (SESSION, ROLE_ARN, None, BOUNDARY_WITH_ECR, ALLOWED),
        (ALICE, ACCOUNT, IDENTITY_ALLOW, BOUNDARY_WITHOUT_ECR, IMPLICIT_DENY),
        (ALICE, ACCOUNT, IDENTITY_ALLOW, BOUNDARY_WITH_ECR, ALLOWED),
    ],
)
def test_same_account_resource_policy_counts_by_how_it_names_the_caller(
    caller: RequestPrincipal,
    principal: str,
    identity: SourcedPolicy | None,
    boundary: SourcedPolicy | None,
    expected: EvalDecision,
) -> None:
    policies = PolicySet(
        identity=[identity] if identity else [],
        resource=repository_policy({**allow(), "Principal": {"AWS": principal}}),
        permissions_boundary=boundary,
    )

    assert decide(policies, request(caller)) is expected


@pytest.mark.parametrize(
    ("boundary", "allowed_by_boundary", "expected"),
    [(None, None, ALLOWED), (BOUNDARY_WITH_ECR, True, ALLOWED), (BOUNDARY_WITHOUT_ECR, False, IMPLICIT_DENY)],
)
def test_permissions_boundary_caps_identity_based_allows(
    boundary: SourcedPolicy | None, allowed_by_boundary: bool | None, expected: EvalDecision
) -> None:
    decision = evaluate(PolicySet(identity=[IDENTITY_ALLOW], permissions_boundary=boundary), request())

    assert decision.decision is expected
    assert decision.allowed_by_permissions_boundary is allowed_by_boundary


def test_deny_in_a_permissions_boundary_is_explicit() -> None:
    policies = PolicySet(
        resource=repository_policy({**allow(), "Principal": {"AWS": ALICE_ARN}}),
        permissions_boundary=policy(allow("ecr:*", "*"), deny()),
    )

    assert decide(policies, request()) is EXPLICIT_DENY


@pytest.mark.parametrize(
    ("identity", "principal", "expected"),
    [
        (None, BOB_ARN, IMPLICIT_DENY),  # the resource side alone is not enough across accounts
        (IDENTITY_ALLOW, None, IMPLICIT_DENY),  # nor the identity side alone
        (IDENTITY_ALLOW, BOB_ARN, ALLOWED),
        (IDENTITY_ALLOW, OTHER, ALLOWED),  # naming the account suffices once its own policies allow
        (IDENTITY_ALLOW, "*", ALLOWED),
        (IDENTITY_ALLOW, CAROL.arn, IMPLICIT_DENY),
    ],
)
def test_cross_account_access_needs_an_allow_on_both_sides(
    identity: SourcedPolicy | None, principal: str | None, expected: EvalDecision
) -> None:
    resource = repository_policy({**allow(), "Principal": {"AWS": principal}}) if principal else None
    policies = PolicySet(identity=[identity] if identity else [], resource=resource)

    assert decide(policies, request(BOB)) is expected


def test_cross_account_deny_in_the_resource_policy_wins() -> None:
    policies = PolicySet(
        identity=[IDENTITY_ALLOW],
        resource=repository_policy({**allow(), "Principal": {"AWS": OTHER}}, {**deny(), "Principal": {"AWS": BOB_ARN}}),
    )

    assert decide(policies, request(BOB)) is EXPLICIT_DENY
    assert decide(policies, request(CAROL)) is ALLOWED


@pytest.mark.parametrize(
    ("resource_policy", "expected"),
    [
        (None, ALLOWED),
        (repository_policy({**deny(), "Principal": {"AWS": ACCOUNT}}), EXPLICIT_DENY),
        (repository_policy({**allow(), "Principal": {"AWS": BOB_ARN}}), ALLOWED),
    ],
)
def test_root_may_do_anything_in_its_account_unless_a_resource_policy_denies_it(
    resource_policy: SourcedPolicy | None, expected: EvalDecision
) -> None:
    # Identity-based policies and boundaries are never attached to the root user, so they do not apply to it.
    policies = PolicySet(identity=[policy(deny())], resource=resource_policy, permissions_boundary=policy(deny()))

    assert decide(policies, request(ROOT)) is expected


def test_root_of_another_account_needs_the_resource_policy() -> None:
    other_root = RequestPrincipal.root(OTHER)
    granted = PolicySet(resource=repository_policy({**allow(), "Principal": {"AWS": OTHER}}))

    assert decide(PolicySet(), request(other_root)) is IMPLICIT_DENY
    assert decide(granted, request(other_root)) is ALLOWED


@pytest.mark.parametrize(
    ("action", "expected"),
    [("ecr:BatchGetImage", ALLOWED), ("iam:CreateUser", IMPLICIT_DENY), ("IAM:createuser", IMPLICIT_DENY)],
)
def test_not_action_with_allow_grants_everything_else(action: str, expected: EvalDecision) -> None:
    policies = PolicySet(identity=[policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})])

    assert decide(policies, request(action=action)) is expected


@pytest.mark.parametrize(
    ("action", "expected"),
    [("iam:ChangePassword", ALLOWED), ("iam:GetUser", ALLOWED), ("ecr:BatchGetImage", EXPLICIT_DENY)],
)
def test_not_action_with_deny_denies_everything_else(action: str, expected: EvalDecision) -> None:
    user_policy = policy(
        allow("*", "*"),
        {"Effect": "Deny", "NotAction": ["iam:ChangePassword", "iam:Get*"], "Resource": "*"},
    )

    assert decide(PolicySet(identity=[user_policy]), request(action=action)) is expected


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ("arn:aws:s3:::HRBucket/Payroll", ALLOWED),
        ("arn:aws:s3:::HRBucket/Payroll/2024.csv", ALLOWED),
        ("arn:aws:s3:::HRBucket/Other", EXPLICIT_DENY),
    ],
)
def test_not_resource_with_deny_denies_every_other_resource(resource: str, expected: EvalDecision) -> None:
    # IAM reference, NotResource: deny everything outside the Payroll folder.
    payroll = ["arn:aws:s3:::HRBucket/Payroll", "arn:aws:s3:::HRBucket/Payroll/*"]
    user_policy = policy(allow("s3:*", "*"), {"Effect": "Deny", "Action": "s3:*", "NotResource": payroll})

    assert decide(PolicySet(identity=[user_policy]), request(action="s3:GetObject", resource=resource)) is expected


@pytest.mark.parametrize(
    ("not_principal", "caller", "expected"),
    [
        ([BOB_ARN, f"arn:aws:iam::{OTHER}:root"], BOB, ALLOWED),
        ([BOB_ARN, f"arn:aws:iam::{OTHER}:root"], CAROL, EXPLICIT_DENY),
        ([BOB_ARN], BOB, EXPLICIT_DENY),  # without the account, Bob's account is denied and Bob with it
    ],
)
def test_not_principal_with_deny_denies_everyone_not_named(
    not_principal: list[str], caller: RequestPrincipal, expected: EvalDecision
) -> None:
    policies = PolicySet(
        identity=[IDENTITY_ALLOW],
        resource=repository_policy(
            {**allow(), "Principal": {"AWS": OTHER}},
            {**deny(), "NotPrincipal": {"AWS": not_principal}},
        ),
    )

    assert decide(policies, request(caller)) is expected


ASSUME = "sts:AssumeRole"
ASSUMABLE = f"arn:aws:iam::{ACCOUNT}:role/deployer"


@pytest.mark.parametrize(
    ("trusted", "identity", "expected"),
    [
        (ALICE_ARN, None, ALLOWED),  # trusted by name: no identity-based Allow needed
        (ACCOUNT, policy(allow(ASSUME, ASSUMABLE)), ALLOWED),  # trusting the account delegates to it
        (ACCOUNT, None, IMPLICIT_DENY),
        (f"arn:aws:iam::{ACCOUNT}:user/someone-else", policy(allow(ASSUME, ASSUMABLE)), IMPLICIT_DENY),
    ],
)
def test_role_trust_policy_must_allow_even_within_the_account(
    trusted: str, identity: SourcedPolicy | None, expected: EvalDecision
) -> None:
    trust = policy({"Effect": "Allow", "Principal": {"AWS": trusted}, "Action": ASSUME}, kind=PolicyKind.TRUST)
    policies = PolicySet(identity=[identity] if identity else [], resource=trust, resource_policy_required=True)

    assert decide(policies, request(action=ASSUME, resource=ASSUMABLE)) is expected


def test_anonymous_caller_has_only_what_a_resource_policy_grants_everyone() -> None:
    public = PolicySet(resource=repository_policy({**allow(), "Principal": "*"}))
    account_only = PolicySet(resource=repository_policy({**allow(), "Principal": {"AWS": ACCOUNT}}))

    assert decide(public, request(RequestPrincipal.anonymous())) is ALLOWED
    assert decide(account_only, request(RequestPrincipal.anonymous())) is IMPLICIT_DENY


@pytest.mark.parametrize(
    ("action", "resource", "expected"),
    [
        ("ecr:BatchGetImage", REPO, ALLOWED),
        ("ecr:BatchCheckLayerAvailability", f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/team/x/y", ALLOWED),
        ("ecr:GetDownloadUrlForLayer", REPO, IMPLICIT_DENY),
        ("ecr:BatchGetImage", f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/other/app", IMPLICIT_DENY),
        ("ecr:BatchGetImage", f"arn:aws:ecr:us-east-1:{OTHER}:repository/team/app", IMPLICIT_DENY),
    ],
)
def test_action_and_resource_wildcards(action: str, resource: str, expected: EvalDecision) -> None:
    user_policy = policy(allow("ecr:Batch*", f"arn:aws:ecr:*:{ACCOUNT}:repository/team/*"))

    assert decide(PolicySet(identity=[user_policy]), request(action=action, resource=resource)) is expected


def test_action_without_a_resource_matches_only_statements_for_every_resource() -> None:
    repository_only = PolicySet(identity=[policy(allow("ecr:*", f"arn:aws:ecr:*:{ACCOUNT}:repository/*"))])
    everything = PolicySet(identity=[policy(allow("ecr:GetAuthorizationToken", "*"))])
    token = RequestContext(ALICE, "ecr:GetAuthorizationToken")

    assert decide(repository_only, token) is IMPLICIT_DENY
    assert decide(everything, token) is ALLOWED


@pytest.mark.parametrize(
    ("version", "repository", "expected"),
    [
        ("2012-10-17", "alice/app", ALLOWED),
        ("2012-10-17", "bob/app", IMPLICIT_DENY),
        ("2008-10-17", "alice/app", IMPLICIT_DENY),  # no variables before 2012-10-17: the text is literal
        (None, "alice/app", IMPLICIT_DENY),
    ],
)
def test_resource_variables_follow_the_policy_version(
    version: str | None, repository: str, expected: EvalDecision
) -> None:
    user_policy = policy(allow("ecr:*", f"arn:aws:ecr:*:{ACCOUNT}:repository/${{aws:username}}/*"), version=version)
    resource = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/{repository}"

    assert decide(PolicySet(identity=[user_policy]), request(resource=resource)) is expected


@pytest.mark.parametrize(
    ("team", "repository", "expected"),
    [(None, "shared/app", ALLOWED), ("blue", "blue/app", ALLOWED), ("blue", "shared/app", IMPLICIT_DENY)],
)
def test_variable_default_applies_when_the_key_is_absent(
    team: str | None, repository: str, expected: EvalDecision
) -> None:
    pattern = f"arn:aws:ecr:*:{ACCOUNT}:repository/${{aws:PrincipalTag/team, 'shared'}}/*"
    keys = {"aws:PrincipalTag/team": team} if team else {}
    context = request(resource=f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/{repository}", keys=keys)

    assert decide(PolicySet(identity=[policy(allow("ecr:*", pattern))]), context) is expected


@pytest.mark.parametrize(
    ("source_ip", "expected"),
    [("192.0.2.10", ALLOWED), ("2001:db8::10", ALLOWED), ("198.51.100.1", EXPLICIT_DENY)],
)
def test_condition_decides_whether_a_deny_applies(source_ip: str, expected: EvalDecision) -> None:
    office = ["192.0.2.0/24", "2001:db8::/32"]
    user_policy = policy(allow(), deny("*", "*", Condition={"NotIpAddress": {"aws:SourceIp": office}}))

    assert decide(PolicySet(identity=[user_policy]), request(keys={"aws:SourceIp": source_ip})) is expected


@pytest.mark.parametrize(
    ("tag_keys", "expected"),
    [(["team"], ALLOWED), (["team", "owner"], IMPLICIT_DENY), ([], ALLOWED), (None, ALLOWED)],
)
def test_for_all_values_allows_requests_with_no_tags(tag_keys: list[str] | None, expected: EvalDecision) -> None:
    # IAM reference warns: ForAllValues is true when the request has no values for the key.
    condition = {"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "cost-center"]}}
    keys = {} if tag_keys is None else {"aws:TagKeys": tag_keys}
    context = request(action="ecr:TagResource", keys=keys)

    assert decide(PolicySet(identity=[policy(allow("ecr:TagResource", Condition=condition))]), context) is expected


def test_session_is_matched_by_principal_conditions_on_its_role() -> None:
    condition = {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/build*"}}
    policies = PolicySet(resource=repository_policy({**allow(), "Principal": "*", "Condition": condition}))

    assert decide(policies, request(SESSION)) is ALLOWED
    assert decide(policies, request(ALICE)) is IMPLICIT_DENY


# IAM user guide, "Session policies" (access_policies.html) and the evaluation logic page: a role session's
# permissions are the intersection of its role's (within the boundary) and its session policies'; a resource-based
# policy naming the role is capped by the session policies, one naming the session itself is not.
SESSION_ALLOWS_PULL = policy(allow(), source_id="session")
SESSION_ALLOWS_S3 = policy(allow("s3:*", "*"), source_id="session")
NO_SESSION_POLICIES = None


@pytest.mark.parametrize(
    ("identity", "boundary", "session", "principal", "expected", "allowed_by_session"),
    [
        # Without session policies the role's policies alone decide.
        (IDENTITY_ALLOW, None, NO_SESSION_POLICIES, None, ALLOWED, None),
        # The intersection: both the role's policies and a session policy must allow...
        (IDENTITY_ALLOW, None, [SESSION_ALLOWS_PULL], None, ALLOWED, True),
        (IDENTITY_ALLOW, None, [SESSION_ALLOWS_S3], None, IMPLICIT_DENY, False),
        # ...a session policy grants nothing the role's policies do not...
        (None, None, [SESSION_ALLOWS_PULL], None, IMPLICIT_DENY, True),
        # ...any one of the session policies (inline or managed) may allow...
        (IDENTITY_ALLOW, None, [SESSION_ALLOWS_S3, SESSION_ALLOWS_PULL], None, ALLOWED, True),
        # ...and with a permissions boundary all three must allow.
        (IDENTITY_ALLOW, BOUNDARY_WITHOUT_ECR, [SESSION_ALLOWS_PULL], None, IMPLICIT_DENY, True),
        (IDENTITY_ALLOW, BOUNDARY_WITH_ECR, [SESSION_ALLOWS_PULL], None, ALLOWED, True),
        # Session policies passed but none left (an empty set) allow nothing.
        (IDENTITY_ALLOW, None, [], None, IMPLICIT_DENY, False),
        # A resource-based policy naming the session's ARN grants regardless of the session policies...
        (None, None, [SESSION_ALLOWS_S3], SESSION_ARN, ALLOWED, False),
        (None, BOUNDARY_WITHOUT_ECR, [SESSION_ALLOWS_S3], SESSION_ARN, ALLOWED, False),
        # ...one naming the role is capped by them (and by the boundary)...
        (None, None, [SESSION_ALLOWS_S3], ROLE_ARN, IMPLICIT_DENY, False),
        (None, None, [SESSION_ALLOWS_PULL], ROLE_ARN, ALLOWED, True),
        (None, BOUNDARY_WITHOUT_ECR, [SESSION_ALLOWS_PULL], ROLE_ARN, IMPLICIT_DENY, True),
        # ...and one naming the account delegates to the role's policies within the session policies.
        (IDENTITY_ALLOW, None, [SESSION_ALLOWS_S3], ACCOUNT, IMPLICIT_DENY, False),
        (IDENTITY_ALLOW, None, [SESSION_ALLOWS_PULL], ACCOUNT, ALLOWED, True),
    ],
)
def test_session_policies_limit_a_role_session_as_documented(
    identity: SourcedPolicy | None,
    boundary: SourcedPolicy | None,
    session: list[SourcedPolicy] | None,
    principal: str | None,
    expected: EvalDecision,
    allowed_by_session: bool | None,
) -> None:
    resource = repository_policy({**allow(), "Principal": {"AWS": principal}}) if principal else None
    policies = PolicySet(
        identity=[identity] if identity else [],
        resource=resource,
        permissions_boundary=boundary,
        session_policies=session,
    )

    decision = evaluate(policies, request(SESSION))

    assert decision.decision is expected
    assert decision.allowed_by_session_policy is allowed_by_session


@pytest.mark.parametrize("principal", [None, SESSION_ARN, ROLE_ARN, ACCOUNT])
def test_a_deny_in_a_session_policy_is_explicit_however_the_resource_policy_names_the_caller(
    principal: str | None,
) -> None:
    guard = policy(allow("ecr:*", "*"), {"Sid": "NoPull", **deny()}, source_id="session")
    resource = repository_policy({**allow(), "Principal": {"AWS": principal}}) if principal else None
    policies = PolicySet(identity=[IDENTITY_ALLOW], resource=resource, session_policies=[guard])

    decision = evaluate(policies, request(SESSION))

    assert decision.decision is EXPLICIT_DENY
    assert [(m.policy.source_id, m.statement.sid) for m in decision.matched_statements] == [("session", "NoPull")]


def test_across_accounts_the_identity_side_counts_only_within_the_session_policies() -> None:
    bobs_session = RequestPrincipal.role_session(
        f"arn:aws:sts::{OTHER}:assumed-role/reader/s1", f"arn:aws:iam::{OTHER}:role/reader", "AROAREADEREXAMPLE"
    )
    resource = repository_policy({**allow(), "Principal": {"AWS": bobs_session.arn}})

    def decide_with(session: list[SourcedPolicy]) -> EvalDecision:
        policies = PolicySet(identity=[IDENTITY_ALLOW], resource=resource, session_policies=session)
        return decide(policies, request(bobs_session))

    assert decide_with([SESSION_ALLOWS_PULL]) is ALLOWED
    assert decide_with([SESSION_ALLOWS_S3]) is IMPLICIT_DENY


@pytest.mark.parametrize(
    ("session", "expected"),
    [(None, ALLOWED), ([policy(allow(ASSUME, "*"))], ALLOWED), ([SESSION_ALLOWS_S3], IMPLICIT_DENY)],
)
def test_session_policies_limit_a_role_session_assuming_another_role(
    session: list[SourcedPolicy] | None, expected: EvalDecision
) -> None:
    trust = policy({"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": ASSUME}, kind=PolicyKind.TRUST)
    policies = PolicySet(
        identity=[policy(allow(ASSUME, ASSUMABLE))],
        resource=trust,
        resource_policy_required=True,
        session_policies=session,
    )

    assert decide(policies, request(SESSION, action=ASSUME, resource=ASSUMABLE)) is expected
