"""The IAM policy simulator's operations: SimulatePrincipalPolicy and SimulateCustomPolicy (simulation.py).

Results come one per action and resource in the order asked (actions first), paged by Marker and MaxItems like
every IAM list. `EvalResourceName` is the simulated resource (`*` when none is named); with named resources a
result also carries ResourceSpecificResults for its resource and an EvalDecisionDetails map (empty, as IAM sends it
within one account). Input policies are named `PolicyInputList.N` and `PermissionsBoundaryPolicyInputList.N`
(from 1) and have no SourcePolicyType, as in IAM's answers; the resource policy is `ResourcePolicy`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pullcache.auth.call_context import CallContext
from pullcache.aws.operations import OperationTable
from pullcache.aws.wire import Params
from pullcache.iam.api.access import IamAccess
from pullcache.iam.api.shapes import page_fields, read_page
from pullcache.iam.errors import InvalidInput
from pullcache.iam.pagination import paginate
from pullcache.iam.service import IamService
from pullcache.iam.simulation import (
    RESOURCE_POLICY_ID,
    InputPolicy,
    MatchedStatement,
    Simulation,
    SimulationResult,
    check_resources,
    simulate,
)
from pullcache.iam.simulation_context import ContextEntry, context_keys
from pullcache.iam.simulation_sources import load_entity_policies, simulated_caller
from pullcache.iam.statement_positions import Position
from pullcache.policy import PolicySourceType, PrincipalType, RequestPrincipal

Output = Mapping[str, Any]

POLICY_INPUT = "PolicyInputList"
BOUNDARY_INPUT = "PermissionsBoundaryPolicyInputList"
CALLER_REQUIRED = "CallerArn is required to simulate a ResourcePolicy with custom policies."
ONE_BOUNDARY = "Only one permissions boundary policy can be simulated."


class SimulationOperations:
    def __init__(self, service: IamService, access: IamAccess) -> None:
        self._service = service
        self._access = access

    def register(self, table: OperationTable[CallContext]) -> None:
        table.register("SimulatePrincipalPolicy", self.simulate_principal_policy)
        table.register("SimulateCustomPolicy", self.simulate_custom_policy)

    async def simulate_principal_policy(self, params: Params, context: CallContext) -> Output:
        source = params["PolicySourceArn"]
        await self._access.authorize(context, "iam:SimulatePrincipalPolicy", source)
        entity = await load_entity_policies(self._service.store, context.account, source)
        caller = await self._caller(params, entity.caller)
        boundary = _boundary_input(params) or entity.permissions_boundary
        identity = [*entity.identity, *_inputs(params, POLICY_INPUT)]
        return self._simulate(params, context, caller, identity, boundary)

    async def simulate_custom_policy(self, params: Params, context: CallContext) -> Output:
        await self._access.authorize(context, "iam:SimulateCustomPolicy", "*")
        # Without CallerArn the caller is an unnamed user of the calling account: conditions on who it is find
        # no values.
        unnamed = RequestPrincipal(PrincipalType.USER, "", context.account)
        caller = await self._caller(params, unnamed)
        return self._simulate(params, context, caller, _inputs(params, POLICY_INPUT), _boundary_input(params))

    async def _caller(self, params: Params, default: RequestPrincipal) -> RequestPrincipal:
        """Raises InvalidInput when a resource policy needs a named caller and there is none."""
        if "CallerArn" in params:
            return await simulated_caller(self._service.store, params["CallerArn"])
        if "ResourcePolicy" in params and not default.arn:
            raise InvalidInput(CALLER_REQUIRED)
        return default

    def _simulate(
        self,
        params: Params,
        context: CallContext,
        caller: RequestPrincipal,
        identity: Sequence[InputPolicy],
        boundary: InputPolicy | None,
    ) -> Output:
        resources = params.get("ResourceArns", [])
        check_resources(resources)
        resource_policy = params.get("ResourcePolicy")
        simulation = Simulation(
            caller=caller,
            identity=identity,
            permissions_boundary=boundary,
            resource_policy=None
            if resource_policy is None
            else InputPolicy(resource_policy, RESOURCE_POLICY_ID, PolicySourceType.RESOURCE),
            resource_owner=_resource_owner(params.get("ResourceOwner")),
            keys=context_keys([_entry(entry) for entry in params.get("ContextEntries", [])]),
        )
        results = list(enumerate(simulate(simulation, params["ActionNames"], resources)))
        page = paginate(results, lambda numbered: f"{numbered[0]:010d}", *read_page(params))
        shapes = [_result_shape(result, named_resources=bool(resources)) for _, result in page.items]
        return {"EvaluationResults": shapes, **page_fields(page)}


def _inputs(params: Params, member: str) -> list[InputPolicy]:
    return [InputPolicy(text, f"{member}.{number}") for number, text in enumerate(params.get(member, []), 1)]


def _boundary_input(params: Params) -> InputPolicy | None:
    """Raises InvalidInput for more than one boundary."""
    boundaries = _inputs(params, BOUNDARY_INPUT)
    if len(boundaries) > 1:
        raise InvalidInput(ONE_BOUNDARY)
    return boundaries[0] if boundaries else None


def _entry(raw: Mapping[str, Any]) -> ContextEntry:
    """Raises InvalidInput for an entry without a key name."""
    name = raw.get("ContextKeyName")
    if not name:
        raise InvalidInput("A context entry must name its key (ContextKeyName).")
    return ContextEntry(name, tuple(raw.get("ContextKeyValues", [])), raw.get("ContextKeyType", "string"))


def _resource_owner(owner: str | None) -> str | None:
    """The account of ResourceOwner: an account id, or its root ARN. Raises InvalidInput (sic, IAM's text)."""
    if owner is None:
        return None
    parts = owner.split(":")
    account = parts[4] if len(parts) == 6 and parts[:4] == ["arn", "aws", "iam", ""] and parts[5] == "root" else owner
    if len(account) != 12 or not account.isdigit():
        raise InvalidInput(f"'{owner}' is not a valid as a Resource Owner.")
    return account


def _result_shape(result: SimulationResult, *, named_resources: bool) -> dict[str, Any]:
    statements = [_statement_shape(match) for match in result.matched_statements]
    boundary = (
        None
        if result.allowed_by_permissions_boundary is None
        else {"AllowedByPermissionsBoundary": result.allowed_by_permissions_boundary}
    )
    shape: dict[str, Any] = {
        "EvalActionName": result.action,
        "EvalResourceName": result.resource,
        "EvalDecision": str(result.decision),
        "MatchedStatements": statements,
        "MissingContextValues": list(result.missing_context_values),
        "PermissionsBoundaryDecisionDetail": boundary,
    }
    if named_resources:
        shape["EvalDecisionDetails"] = {}
        shape["ResourceSpecificResults"] = [
            {
                "EvalResourceName": result.resource,
                "EvalResourceDecision": str(result.decision),
                "MatchedStatements": statements,
                "MissingContextValues": list(result.missing_context_values),
                "EvalDecisionDetails": {},
                "PermissionsBoundaryDecisionDetail": boundary,
            }
        ]
    return shape


def _statement_shape(match: MatchedStatement) -> dict[str, Any]:
    return {
        "SourcePolicyId": match.source_id,
        "SourcePolicyType": None if match.source_type is PolicySourceType.NONE else str(match.source_type),
        "StartPosition": _position(match.start),
        "EndPosition": _position(match.end),
    }


def _position(position: Position | None) -> dict[str, int] | None:
    return None if position is None else {"Line": position.line, "Column": position.column}
