"""Deciding requests: every AWS API call and every /v2/ request asks the Authorizer, which asks the policy engine.

The Authorizer gathers what IAM knows about the principal (its identity-based policies and permissions
boundary, through the PrincipalPolicies port) and the resource's own policy (given by the caller: a repository
policy, the registry policy, a role's trust policy) and evaluates them as IAM does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from pullcache.iam.policy import (
    ContextValue,
    Decision,
    EvalDecision,
    PolicySet,
    RequestContext,
    RequestPrincipal,
    SourcedPolicy,
    evaluate,
)


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


@dataclass(frozen=True, slots=True)
class PrincipalPolicySet:
    identity: Sequence[SourcedPolicy] = ()
    permissions_boundary: SourcedPolicy | None = None


class PrincipalPolicies(Protocol):
    async def policies_for(self, principal: RequestPrincipal) -> PrincipalPolicySet:
        """The identity-based policies (inline, attached, through groups) and boundary of `principal`."""
        ...


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
    def __init__(self, principal_policies: PrincipalPolicies) -> None:
        self._principal_policies = principal_policies

    async def decide(self, request: AccessRequest) -> Decision:
        policies = await self._principal_policies.policies_for(request.principal)
        context = RequestContext(
            request.principal, request.action, request.resource, request.resource_account, request.keys
        )
        policy_set = PolicySet(
            identity=policies.identity,
            resource=request.resource_policy,
            permissions_boundary=policies.permissions_boundary,
        )
        return evaluate(policy_set, context)

    async def authorize(self, request: AccessRequest) -> None:
        """Raises AccessDenied unless the policies allow the request."""
        decision = await self.decide(request)
        if decision.allowed:
            return
        raise AccessDenied(request.principal, request.action, request.resource, _reason(request, decision))


def _reason(request: AccessRequest, decision: Decision) -> str:
    if decision.decision == EvalDecision.EXPLICIT_DENY:
        where = "a resource-based policy" if _denied_by_resource(decision, request) else "an identity-based policy"
        return f"with an explicit deny in {where}"
    cross_account = request.resource_account not in (None, request.principal.account)
    if cross_account or request.principal.account is None:
        return f"because no resource-based policy allows the {request.action} action"
    if decision.allowed_by_permissions_boundary is False and _allowed_by_identity(decision, request):
        return f"because no permissions boundary allows the {request.action} action"
    return f"because no identity-based policy allows the {request.action} action"


def _allowed_by_identity(decision: Decision, request: AccessRequest) -> bool:
    """Whether an identity-based policy allowed what the decision refused (so the boundary refused it)."""
    return any(match.policy is not request.resource_policy for match in decision.matched_statements)


def _denied_by_resource(decision: Decision, request: AccessRequest) -> bool:
    resource_policy = request.resource_policy
    return resource_policy is not None and any(m.policy is resource_policy for m in decision.matched_statements)
