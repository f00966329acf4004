"""What SimulatePrincipalPolicy simulates: a user's, group's or role's policies, and whom a simulated call is from.

The policies of an entity are those the Authorizer applies to its real requests (IamPrincipals):

    user    its inline and attached policies, then each of its groups'; its permissions boundary
    group   its inline and attached policies (a group has no boundary)
    role    its inline and attached policies; its permissions boundary

Inline policies are named by their name (SourcePolicyType user, group or role), managed policies by their ARN
(aws-managed or user-managed), each attached one at its default version.

A simulated caller is an IAM user by its ARN. A role stands for a session of itself (aws:PrincipalArn is the
role's ARN); a group for an unnamed member. The entity need not exist to be a caller, only to be a policy source.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from pullcache.iam.arns import parse_policy_arn
from pullcache.iam.aws_managed import find_aws_managed_policy
from pullcache.iam.errors import EntityKind, GroupNotFound, InvalidInput, RoleNotFound, UserNotFound
from pullcache.iam.model import Group, Role, User
from pullcache.iam.ports import IamSession, IamStore
from pullcache.iam.simulation import InputPolicy
from pullcache.policy import PolicySourceType, PrincipalType, RequestPrincipal

Entity = TypeVar("Entity", User, Group, Role)

_INLINE_SOURCE = {
    EntityKind.USER: PolicySourceType.USER,
    EntityKind.GROUP: PolicySourceType.GROUP,
    EntityKind.ROLE: PolicySourceType.ROLE,
}


@dataclass(frozen=True, slots=True)
class EntityArn:
    text: str
    kind: EntityKind
    account: str
    path: str
    name: str


@dataclass(frozen=True, slots=True)
class EntityPolicies:
    caller: RequestPrincipal  # the entity as the simulated caller
    identity: Sequence[InputPolicy]
    permissions_boundary: InputPolicy | None


def parse_entity_arn(text: str) -> EntityArn:
    """The user, group or role `text` names; raises InvalidInput for any other ARN (an assumed role's, say)."""
    parts = text.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn" and parts[2] == "iam" and not parts[3] and parts[4].isdigit():
        kind_name, slash, rest = parts[5].partition("/")
        path, _, name = rest.rpartition("/")
        if slash and name and kind_name in EntityKind.__members__.values():
            return EntityArn(text, EntityKind(kind_name), parts[4], f"/{path}/" if path else "/", name)
    raise InvalidInput(f"Invalid Entity Arn: {text}")


async def load_entity_policies(store: IamStore, account: str, arn: str) -> EntityPolicies:
    """The policies of the entity `arn` of `account`. Raises InvalidInput, or UserNotFound, GroupNotFound or
    RoleNotFound when `account` has no such entity (one of another account included)."""
    entity = parse_entity_arn(arn)
    async with store.reading() as session:
        match entity.kind:
            case EntityKind.USER:
                user = await _find(session.find_user, entity, account)
                if user is None:
                    raise UserNotFound(entity.name)
                identity = await _own_policies(session, EntityKind.USER, user.user_id)
                for membership in await session.list_groups_of_user(user.user_id):
                    identity += await _own_policies(session, EntityKind.GROUP, membership.group_id)
                boundary = await _managed(session, user.permissions_boundary_arn)
                return EntityPolicies(RequestPrincipal.user(user.arn, user.user_id), identity, boundary)
            case EntityKind.GROUP:
                group = await _find(session.find_group, entity, account)
                if group is None:
                    raise GroupNotFound(entity.name)
                identity = await _own_policies(session, EntityKind.GROUP, group.group_id)
                return EntityPolicies(_group_caller(group.arn, group.account), identity, None)
            case EntityKind.ROLE:
                role = await _find(session.find_role, entity, account)
                if role is None:
                    raise RoleNotFound(entity.name)
                identity = await _own_policies(session, EntityKind.ROLE, role.role_id)
                boundary = await _managed(session, role.permissions_boundary_arn)
                return EntityPolicies(_role_caller(role.arn, role.account, role.role_id), identity, boundary)


async def simulated_caller(store: IamStore, arn: str) -> RequestPrincipal:
    """The caller a CallerArn names (its unique id filled in when it exists); raises InvalidInput."""
    entity = parse_entity_arn(arn)
    async with store.reading() as session:
        match entity.kind:
            case EntityKind.USER:
                user = await _find(session.find_user, entity, entity.account)
                user_id = None if user is None else user.user_id
                return RequestPrincipal(PrincipalType.USER, arn, entity.account, entity.name, user_id)
            case EntityKind.ROLE:
                role = await _find(session.find_role, entity, entity.account)
                return _role_caller(arn, entity.account, None if role is None else role.role_id)
            case EntityKind.GROUP:
                return _group_caller(arn, entity.account)


async def _find(find: Callable[[str, str], Awaitable[Entity | None]], entity: EntityArn, account: str) -> Entity | None:
    """The entity of `account` with the ARN's name and path, or None."""
    if entity.account != account:
        return None
    found = await find(account, entity.name)
    return found if found is not None and found.arn == entity.text else None


def _role_caller(arn: str, account: str, role_id: str | None) -> RequestPrincipal:
    return RequestPrincipal(PrincipalType.ASSUMED_ROLE, arn, account, user_id=role_id, role_arn=arn)


def _group_caller(arn: str, account: str) -> RequestPrincipal:
    return RequestPrincipal(PrincipalType.USER, arn, account)


async def _own_policies(session: IamSession, kind: EntityKind, entity_id: str) -> list[InputPolicy]:
    policies = [
        InputPolicy(policy.document, policy.name, _INLINE_SOURCE[kind])
        for policy in await session.list_inline_policies(entity_id)
    ]
    for arn in await session.list_attached_policy_arns(entity_id):
        managed = await _managed(session, arn)
        if managed is not None:
            policies.append(managed)
    return policies


async def _managed(session: IamSession, arn: str | None) -> InputPolicy | None:
    """The default version of the managed policy `arn`: AWS's, or one of its account's own."""
    if arn is None:
        return None
    aws_managed = find_aws_managed_policy(arn)
    if aws_managed is not None:
        return InputPolicy(aws_managed.version.document, arn, PolicySourceType.AWS_MANAGED)
    parsed = parse_policy_arn(arn)
    policy = None if parsed is None else await session.find_policy(parsed.account, parsed.name)
    if policy is None or policy.arn != arn:
        return None
    for version in await session.list_policy_versions(policy.policy_id):
        if version.version_id == policy.default_version_id:
            return InputPolicy(version.document, arn, PolicySourceType.USER_MANAGED)
    return None
