"""The policy simulator: SimulatePrincipalPolicy and SimulateCustomPolicy ask the engine that decides real requests.

    simulation = Simulation(caller, identity=[InputPolicy(text, "PolicyInputList.1")], keys=context_keys(entries))
    results = simulate(simulation, ["ecr:PutImage"], ["arn:aws:ecr:us-east-1:123456789012:repository/app"])

Each action is decided for each resource (`*` when none is named) with pullcache.policy.evaluate, the
function the Authorizer calls for every request. A result carries IAM's decision, the statements it rests on
(the Deny statements of an explicit deny, the Allow statements of an allow, none for an implicit deny) with where
they stand in their documents, the condition keys the deciding policies use that the simulation did not supply,
and whether the permissions boundary allowed the action.

The resource's account is the one in its ARN, else ResourceOwner, else the caller's. A resource-based policy
given for `sts:AssumeRole*` is a role's trust policy and must allow the caller, as for the real call (IAM's own
simulator is known to leave trust policies out of these decisions).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from pullcache.iam.errors import InvalidInput
from pullcache.iam.statement_positions import Position, statement_spans
from pullcache.policy import (
    ContextValue,
    EvalDecision,
    PolicyKind,
    PolicySet,
    PolicySourceType,
    RequestContext,
    RequestPrincipal,
    SourcedPolicy,
    Statement,
    evaluate,
    parse_policy,
)
from pullcache.policy.matching import action_matches

ALL_RESOURCES = "*"
RESOURCE_POLICY_ID = "ResourcePolicy"
_TRUST_ACTIONS = frozenset({"sts:assumerole", "sts:assumerolewithsaml", "sts:assumerolewithwebidentity"})
_NULL = "Null"


@dataclass(frozen=True, slots=True)
class InputPolicy:
    """A policy document's text and where it comes from (SourcePolicyId and SourcePolicyType)."""

    text: str
    source_id: str
    source_type: PolicySourceType = PolicySourceType.NONE


@dataclass(frozen=True, slots=True)
class Simulation:
    """Who calls, with which policies, and what the requests say.

    `resource_owner` is the account of resources whose ARN names none (and of the resource policy).
    """

    caller: RequestPrincipal
    identity: Sequence[InputPolicy] = ()
    permissions_boundary: InputPolicy | None = None
    resource_policy: InputPolicy | None = None
    resource_owner: str | None = None
    keys: Mapping[str, ContextValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MatchedStatement:
    source_id: str
    source_type: PolicySourceType
    start: Position | None
    end: Position | None


@dataclass(frozen=True, slots=True)
class SimulationResult:
    action: str
    resource: str
    decision: EvalDecision
    matched_statements: tuple[MatchedStatement, ...]
    missing_context_values: tuple[str, ...]
    allowed_by_permissions_boundary: bool | None  # None when no boundary applies
    cross_account: bool


def simulate(simulation: Simulation, actions: Sequence[str], resources: Sequence[str]) -> list[SimulationResult]:
    """One result per action and resource, actions first. Raises MalformedPolicyDocument or InvalidInput."""
    check_resources(resources)
    parsed = _Parsed.of(simulation)
    return [
        _decide(simulation, parsed, action, resource) for action in actions for resource in resources or [ALL_RESOURCES]
    ]


def check_resources(resources: Iterable[str]) -> None:
    """Raises InvalidInput for a resource that is neither `*` nor an ARN."""
    for resource in resources:
        if resource != ALL_RESOURCES and not (resource.startswith("arn:") and resource.count(":") >= 5):
            raise InvalidInput(f"ResourceNames are not in a valid ARN format: {resource}.")


@dataclass(frozen=True, slots=True)
class _Parsed:
    """The simulation's documents parsed once, and the text each came from (for positions)."""

    identity: tuple[SourcedPolicy, ...]
    boundary: SourcedPolicy | None
    resource: SourcedPolicy | None
    texts: Mapping[int, str]  # by id() of the SourcedPolicy

    @classmethod
    def of(cls, simulation: Simulation) -> _Parsed:
        texts: dict[int, str] = {}

        def parsed(policy: InputPolicy, kind: PolicyKind) -> SourcedPolicy:
            sourced = SourcedPolicy(parse_policy(policy.text, kind), policy.source_id, policy.source_type)
            texts[id(sourced)] = policy.text
            return sourced

        identity = tuple(parsed(policy, PolicyKind.IDENTITY) for policy in simulation.identity)
        boundary = simulation.permissions_boundary
        resource = simulation.resource_policy
        return cls(
            identity,
            None if boundary is None else parsed(boundary, PolicyKind.IDENTITY),
            None if resource is None else parsed(resource, PolicyKind.RESOURCE),
            texts,
        )


def _decide(simulation: Simulation, parsed: _Parsed, action: str, resource: str) -> SimulationResult:
    caller = simulation.caller
    resource_account = _resource_account(resource, simulation.resource_owner)
    context = RequestContext(caller, action, resource, resource_account, simulation.keys)
    policy_set = PolicySet(
        identity=parsed.identity,
        resource=parsed.resource,
        permissions_boundary=parsed.boundary,
        resource_policy_required=parsed.resource is not None and action.lower() in _TRUST_ACTIONS,
    )
    decision = evaluate(policy_set, context)
    matched = () if decision.decision is EvalDecision.IMPLICIT_DENY else decision.matched_statements
    deciding = [*parsed.identity, *filter(None, (parsed.boundary, parsed.resource))]
    return SimulationResult(
        action=action,
        resource=resource,
        decision=decision.decision,
        matched_statements=tuple(_located(match.policy, match.index, parsed.texts) for match in matched),
        missing_context_values=tuple(_missing_keys(deciding, context)),
        allowed_by_permissions_boundary=decision.allowed_by_permissions_boundary,
        cross_account=resource_account is not None and resource_account != caller.account,
    )


def _resource_account(resource: str, owner: str | None) -> str | None:
    parts = resource.split(":", 5)
    if len(parts) == 6 and parts[4]:
        return parts[4]
    return owner


def _located(policy: SourcedPolicy, index: int, texts: Mapping[int, str]) -> MatchedStatement:
    spans = statement_spans(texts.get(id(policy), ""))
    span = spans[index] if index < len(spans) else None
    return MatchedStatement(
        policy.source_id, policy.source_type, span.start if span else None, span.end if span else None
    )


def _missing_keys(policies: Iterable[SourcedPolicy], context: RequestContext) -> list[str]:
    """The condition keys of the statements about the action that the request has no value for, in the order the
    policies use them. A Null condition asks whether a key is there, so it needs no value."""
    missing: list[str] = []
    for policy in policies:
        for statement in policy.document.statements:
            if not _names_action(statement, context.action):
                continue
            for condition in statement.conditions:
                key = condition.key
                if condition.operator.base == _NULL or context.find_values(key) is not None:
                    continue
                if key.lower() not in (known.lower() for known in missing):
                    missing.append(key)
    return missing


def _names_action(statement: Statement, action: str) -> bool:
    if statement.action is not None:
        return any(action_matches(pattern, action) for pattern in statement.action)
    return statement.not_action is not None and not any(action_matches(p, action) for p in statement.not_action)
