"""Deciding requests: every AWS API call and every /v2/ request asks the Authorizer, which asks the policy engine.

The Authorizer gathers what IAM knows about the principal (its identity-based policies and permissions
boundary, and a role session's session policies, through the PrincipalPolicies port) and the resource's own
policy (given by the caller: a repository policy, the registry policy, a role's trust policy) and evaluates them
as IAM does.

A refusal names one policy type, as AWS's messages do: an explicit deny names the policy that holds it (resource-
based, session, else identity-based); an implicit deny names the first of identity-based policies, permissions
boundary and session policies (in the order the evaluation logic checks them) that left the action out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pullcache.auth.observations import UNOBSERVED, AccessObserver
from pullcache.auth.ports import PrincipalPolicies, PrincipalPolicySet
from pullcache.policy import (
    ContextValue,
    Decision,
    EvalDecision,
    PolicySet,
    RequestContext,
    RequestPrincipal,
    SourcedPolicy,
    Statement,
    evaluate,
)
from pullcache.policy.principals import GrantKind, principal_grant


class AccessDenied(Exception):
    """The principal may not perform the action on the resource; the message is AWS's."""

    def __init__(self, principal: RequestPrincipal, action: str, resource: str, reason: str) -> None:
        who = "User" if principal.account is not None else "Anonymous user"
        super().__init__(
            f"{who}: {principal.arn} is not authorized to perform: {action} on resource: {resource} {reason}"
        )
        self.principal = principal
        self.action = action
        self.resource = resource


class NoPrincipalPolicies:
    """No IAM identities: only root (and resource policies) can allow anything."""

    async def policies_for(self, principal: RequestPrincipal) -> PrincipalPolicySet:
        return PrincipalPolicySet()


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """One decision to make: `resource` is an ARN or `*`; `keys` are extra condition keys of the request."""

    principal: RequestPrincipal
    action: str
    resource: str = "*"
    resource_account: str | None = None
    resource_policy: SourcedPolicy | None = None
    keys: Mapping[str, ContextValue] = field(default_factory=dict)


class Authorizer:
    def __init__(self, principal_policies: PrincipalPolicies, observer: AccessObserver = UNOBSERVED) -> None:
        """`observer`: told of each refusal `authorize` raises (a `decide` is a question, not a refusal)."""
        self._principal_policies = principal_policies
        self._observer = observer

    async def decide(self, request: AccessRequest) -> Decision:
        return (await self._decide(request))[0]

    async def authorize(self, request: AccessRequest) -> None:
        """Raises AccessDenied unless the policies allow the request."""
        decision, policies = await self._decide(request)
        if decision.allowed:
            return
        self._observer.denied(request.action)
        reason = _reason(request, decision, policies)
        raise AccessDenied(request.principal, request.action, request.resource, reason)

    async def _decide(self, request: AccessRequest) -> tuple[Decision, PrincipalPolicySet]:
        policies = await self._principal_policies.policies_for(request.principal)
        context = RequestContext(
            request.principal, request.action, request.resource, request.resource_account, request.keys
        )
        policy_set = PolicySet(
            identity=policies.identity,
            resource=request.resource_policy,
            permissions_boundary=policies.permissions_boundary,
            session_policies=policies.session_policies,
        )
        return evaluate(policy_set, context), policies


def _reason(request: AccessRequest, decision: Decision, policies: PrincipalPolicySet) -> str:
    if decision.decision == EvalDecision.EXPLICIT_DENY:
        if _denied_by_resource(decision, request):
            where = "a resource-based policy"
        elif _denied_by_session_policy(decision, policies):
            where = "a session policy"
        else:
            where = "an identity-based policy"
        return f"with an explicit deny in {where}"
    cross_account = request.resource_account not in (None, request.principal.account)
    if request.principal.account is None or (cross_account and not _resource_policy_names_caller(decision, request)):
        return f"because no resource-based policy allows the {request.action} action"
    if _allowed_by_identity(decision, request):
        if decision.allowed_by_permissions_boundary is False:
            return f"because no permissions boundary allows the {request.action} action"
        if decision.allowed_by_session_policy is False:
            return f"because no session policy allows the {request.action} action"
    return f"because no identity-based policy allows the {request.action} action"


def _allowed_by_identity(decision: Decision, request: AccessRequest) -> bool:
    """Whether an identity-based policy allowed what the decision refused (so a boundary or session policy did)."""
    return any(match.policy is not request.resource_policy for match in decision.matched_statements)


def _denied_by_resource(decision: Decision, request: AccessRequest) -> bool:
    resource_policy = request.resource_policy
    return resource_policy is not None and any(m.policy is resource_policy for m in decision.matched_statements)


def _denied_by_session_policy(decision: Decision, policies: PrincipalPolicySet) -> bool:
    session_policies = policies.session_policies or ()
    return any(m.policy is policy for m in decision.matched_statements for policy in session_policies)


def _resource_policy_names_caller(decision: Decision, request: AccessRequest) -> bool:
    """Whether the resource-based policy allowed the action to the caller itself (or its role), not just to its
    account. Across accounts AWS then blames the identity-based side; otherwise (nothing allowed, or only the
    account named) it says no resource-based policy allows the action."""
    resource_policy = request.resource_policy
    return resource_policy is not None and any(
        match.policy is resource_policy and _names_caller(match.statement, request.principal)
        for match in decision.matched_statements
    )


def _names_caller(statement: Statement, principal: RequestPrincipal) -> bool:
    if statement.principal is None:
        return statement.not_principal is not None  # NotPrincipal: everyone it does not leave out, by name
    grant = principal_grant(statement.principal, principal)
    return grant is not None and grant > GrantKind.ACCOUNT
