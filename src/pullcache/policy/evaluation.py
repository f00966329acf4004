"""The decision: may this principal perform this action on this resource, given the policies that apply?

As the IAM policy evaluation logic describes it:

1. An explicit Deny in any applicable statement - identity-based, resource-based, boundary or session - wins.
2. The root user of an account may do anything in its account (only resource-based policies can deny it);
   identity-based policies, permissions boundaries and session policies do not apply to it.
3. Within one account an Allow in either the identity-based policies or the resource-based policy suffices, where
   a resource-based Allow counts according to how it names the caller (principals.py):
   - the caller itself (user, role session, "*"): allowed whatever the identity-based policies and boundary say;
   - the caller's role: allowed unless the permissions boundary leaves the action out;
   - the caller's account: a delegation - the identity-based policies must allow it.
   An identity-based Allow counts only when the permissions boundary (if any) allows the action too.
   Role trust policies (and KMS key policies) are exceptions: their Allow is required (`resource_policy_required`).
4. Across accounts (the resource's account is not the principal's) both sides must allow: the identity-based
   policies (within the boundary) and the resource-based policy, however it names the caller.
5. Anything else is implicitly denied. A caller without an account (anonymous, or a service or identity provider
   assuming a role) has only what a resource-based policy grants it directly.

Session policies (the `Policy` and `PolicyArns` of AssumeRole) limit a role session as the IAM user guide
describes them ("Session policies" in access_policies.html and the evaluation logic page): when a session has
any, an identity-based Allow counts only when a session policy allows the action too (the session's permissions
are the intersection of the role's, within its boundary, and the session policies'); a resource-based Allow that
names the role is capped the same way, one that names the session itself is not; a Deny in a session policy is
an explicit deny. A session given none is not limited, and an empty set of session policies (say, managed ones
since deleted) allows nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from pullcache.policy.conditions import conditions_hold
from pullcache.policy.context import PrincipalType, RequestContext
from pullcache.policy.documents import Effect, PolicyDocument, Statement
from pullcache.policy.matching import Glob, action_matches
from pullcache.policy.principals import GrantKind, not_principal_excludes, principal_grant
from pullcache.policy.variables import expand


class EvalDecision(StrEnum):
    """The values of SimulatePrincipalPolicy's EvalDecision."""

    ALLOWED = "allowed"
    EXPLICIT_DENY = "explicitDeny"
    IMPLICIT_DENY = "implicitDeny"


class PolicySourceType(StrEnum):
    """The values of SimulatePrincipalPolicy's SourcePolicyType."""

    USER = "user"
    GROUP = "group"
    ROLE = "role"
    AWS_MANAGED = "aws-managed"
    USER_MANAGED = "user-managed"
    RESOURCE = "resource"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class SourcedPolicy:
    """A document and where it comes from, so that a decision can say which statements it rests on."""

    document: PolicyDocument
    source_id: str = ""  # SourcePolicyId: the policy's name or ARN
    source_type: PolicySourceType = PolicySourceType.NONE


@dataclass(frozen=True, slots=True)
class PolicySet:
    """Every policy that applies to a request."""

    identity: Sequence[SourcedPolicy] = ()  # the principal's inline and attached policies, and its groups'
    resource: SourcedPolicy | None = None
    permissions_boundary: SourcedPolicy | None = None
    resource_policy_required: bool = False  # a role trust policy: no access unless it allows
    session_policies: Sequence[SourcedPolicy] | None = None  # a role session's; None when it was given none


@dataclass(frozen=True, slots=True)
class MatchedStatement:
    policy: SourcedPolicy
    index: int  # of the statement in the policy's document

    @property
    def statement(self) -> Statement:
        return self.policy.document.statements[self.index]


@dataclass(frozen=True, slots=True)
class Decision:
    decision: EvalDecision
    # The Deny statements, or the Allow statements found in the identity-based and resource-based policies.
    matched_statements: tuple[MatchedStatement, ...] = ()
    allowed_by_permissions_boundary: bool | None = None  # None when no boundary applies
    allowed_by_session_policy: bool | None = None  # None when no session policies apply

    @property
    def allowed(self) -> bool:
        return self.decision is EvalDecision.ALLOWED


def evaluate(policies: PolicySet, context: RequestContext) -> Decision:
    """Decide `context` against `policies`."""
    caller = context.principal
    is_root = caller.type is PrincipalType.ACCOUNT
    identity = () if is_root else tuple(policies.identity)
    boundary = None if is_root else policies.permissions_boundary
    session = None if is_root or policies.session_policies is None else tuple(policies.session_policies)

    identity_matches = [match for policy in identity for match in _matches(policy, context)]
    boundary_matches = _matches(boundary, context) if boundary is not None else []
    session_matches = [match for policy in session or () for match in _matches(policy, context)]
    resource_matches = _resource_matches(policies.resource, context) if policies.resource is not None else []

    denies = [
        match
        for match in [
            *identity_matches,
            *boundary_matches,
            *session_matches,
            *(match for match, _ in resource_matches),
        ]
        if match.statement.effect is Effect.DENY
    ]
    boundary_allows = boundary is None or any(m.statement.effect is Effect.ALLOW for m in boundary_matches)
    boundary_detail = None if boundary is None else boundary_allows
    session_allows = session is None or any(m.statement.effect is Effect.ALLOW for m in session_matches)
    session_detail = None if session is None else session_allows
    if denies:
        return Decision(EvalDecision.EXPLICIT_DENY, tuple(denies), boundary_detail, session_detail)

    identity_allows = [match for match in identity_matches if match.statement.effect is Effect.ALLOW]
    resource_allows = [(match, kind) for match, kind in resource_matches if match.statement.effect is Effect.ALLOW]
    grant = max((kind for _, kind in resource_allows), default=None)
    within_limits = boundary_allows and session_allows  # what caps the role's own permissions
    identity_allowed = is_root or (bool(identity_allows) and within_limits)
    resource_account = context.resource_account or caller.account

    if caller.account is None:  # 5
        allowed = grant is GrantKind.DIRECT
    elif caller.account != resource_account:  # 4
        allowed = identity_allowed and grant is not None
    elif is_root or grant is GrantKind.DIRECT or (grant is GrantKind.ROLE and within_limits):  # 2, 3
        allowed = True
    elif policies.resource_policy_required and grant is None:  # 3: trust policies
        allowed = False
    else:
        allowed = identity_allowed  # 3: alone, or with the account named in the resource-based policy
    matched = (*identity_allows, *(match for match, _ in resource_allows))
    decision = EvalDecision.ALLOWED if allowed else EvalDecision.IMPLICIT_DENY
    return Decision(decision, matched, boundary_detail, session_detail)


def _matches(policy: SourcedPolicy, context: RequestContext) -> list[MatchedStatement]:
    """The statements of an identity-based policy or a boundary that apply to the request."""
    document = policy.document
    return [
        MatchedStatement(policy, index)
        for index, statement in enumerate(document.statements)
        if _applies(statement, document, context)
    ]


def _resource_matches(policy: SourcedPolicy, context: RequestContext) -> list[tuple[MatchedStatement, GrantKind]]:
    """The statements of a resource-based policy that apply to the request and its principal."""
    document = policy.document
    matches = []
    for index, statement in enumerate(document.statements):
        grant = _grant(statement, context)
        if grant is not None and _applies(statement, document, context):
            matches.append((MatchedStatement(policy, index), grant))
    return matches


def _grant(statement: Statement, context: RequestContext) -> GrantKind | None:
    if statement.principal is not None:
        return principal_grant(statement.principal, context.principal)
    if statement.not_principal is not None and not not_principal_excludes(statement.not_principal, context.principal):
        return GrantKind.DIRECT
    return None


def _applies(statement: Statement, document: PolicyDocument, context: RequestContext) -> bool:
    """Whether the statement's action, resource and conditions match the request (its principal aside)."""
    if statement.action is not None and not any(action_matches(a, context.action) for a in statement.action):
        return False
    if statement.not_action is not None and any(action_matches(a, context.action) for a in statement.not_action):
        return False
    if statement.resource is not None and not _names_resource(statement.resource, document, context):
        return False
    if statement.not_resource is not None and _names_resource(statement.not_resource, document, context):
        return False
    return conditions_hold(statement.conditions, context, variables=document.has_variables)


def _names_resource(patterns: tuple[str, ...], document: PolicyDocument, context: RequestContext) -> bool:
    for pattern in patterns:
        glob = expand(pattern, context) if document.has_variables else Glob.parse(pattern)
        if glob is not None and (glob.matches_everything or glob.matches_arn(context.resource)):
            return True
    return False
