"""Finding what an operation names, or refusing with IAM's NoSuchEntity: shared by every IAM use case."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from pullcache.iam.arns import PolicyArn, parse_policy_arn
from pullcache.iam.aws_managed import find_aws_managed_policy
from pullcache.iam.errors import (
    EntityKind,
    GroupNotFound,
    NoSuchEntity,
    PolicyNotFound,
    RoleNotFound,
    UserNotFound,
)
from pullcache.iam.model import EntityRef, Group, ManagedPolicy, Role, User
from pullcache.iam.ports import IamSession


async def get_user(session: IamSession, account: str, name: str) -> User:
    user = await session.find_user(account, name)
    if user is None:
        raise UserNotFound(name)
    return user


async def get_group(session: IamSession, account: str, name: str) -> Group:
    group = await session.find_group(account, name)
    if group is None:
        raise GroupNotFound(name)
    return group


async def get_role(session: IamSession, account: str, name: str) -> Role:
    role = await session.find_role(account, name)
    if role is None:
        raise RoleNotFound(name)
    return role


async def get_entity(session: IamSession, kind: EntityKind, account: str, name: str) -> EntityRef:
    """The user, group or role named `name`; raises UserNotFound, GroupNotFound or RoleNotFound."""
    match kind:
        case EntityKind.USER:
            return user_ref(await get_user(session, account, name))
        case EntityKind.GROUP:
            group = await get_group(session, account, name)
            return EntityRef(kind, group.group_id, account, group.name, group.path, group.arn)
        case EntityKind.ROLE:
            return role_ref(await get_role(session, account, name))


def user_ref(user: User) -> EntityRef:
    return EntityRef(EntityKind.USER, user.user_id, user.account, user.name, user.path, user.arn)


def role_ref(role: Role) -> EntityRef:
    return EntityRef(EntityKind.ROLE, role.role_id, role.account, role.name, role.path, role.arn)


MissingPolicy = Callable[[str], NoSuchEntity]


async def find_managed_policy(session: IamSession, account: str, arn: str) -> ManagedPolicy | None:
    """The managed policy `arn` as `account` sees it: one of its own, or an AWS managed one with the account's
    counts. Raises IamValidationError when `arn` is not an ARN."""
    parsed = parse_policy_arn(arn)
    if parsed is None:
        return None
    if parsed.aws_managed:
        entry = find_aws_managed_policy(arn)
        if entry is None:
            return None
        attachments, boundaries = await session.count_policy_uses(account, arn)
        return replace(entry.policy, attachment_count=attachments, permissions_boundary_usage_count=boundaries)
    return await _find_own_policy(session, account, parsed)


async def get_managed_policy(
    session: IamSession, account: str, arn: str, missing: MissingPolicy = PolicyNotFound
) -> ManagedPolicy:
    """Like find_managed_policy; raises `missing(arn)` (PolicyNotFound unless told) when there is none."""
    policy = await find_managed_policy(session, account, arn)
    if policy is None:
        raise missing(arn)
    return policy


async def get_own_policy(session: IamSession, account: str, arn: str) -> ManagedPolicy:
    """One of the account's customer managed policies; AWS managed policies cannot be changed, so for them
    (and for any other ARN) raises PolicyNotFound."""
    parsed = parse_policy_arn(arn)
    policy = None if parsed is None or parsed.aws_managed else await _find_own_policy(session, account, parsed)
    if policy is None:
        raise PolicyNotFound(arn)
    return policy


async def _find_own_policy(session: IamSession, account: str, arn: PolicyArn) -> ManagedPolicy | None:
    if arn.account != account:
        return None
    policy = await session.find_policy(account, arn.name)
    return policy if policy is not None and policy.arn == arn.text else None
