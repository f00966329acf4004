"""GetAccountAuthorizationDetails: every user, group, role and managed policy of an account with the policies
that grant their permissions, in one paged list (users, then groups, roles and policies, each by name).

AWS managed policies appear when the account uses them (attached, or as a permissions boundary).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from pullcache.iam.arns import parse_policy_arn
from pullcache.iam.aws_managed import find_aws_managed_policy
from pullcache.iam.model import AttachedPolicy, Group, InlinePolicy, ManagedPolicy, PolicyVersion, Role, User, name_key
from pullcache.iam.pagination import Page, paginate
from pullcache.iam.ports import IamSession, IamStore


class DetailFilter(StrEnum):
    """The values of the operation's Filter parameter."""

    USER = "User"
    ROLE = "Role"
    GROUP = "Group"
    LOCAL_MANAGED_POLICY = "LocalManagedPolicy"
    AWS_MANAGED_POLICY = "AWSManagedPolicy"


@dataclass(frozen=True, slots=True)
class UserDetail:
    user: User
    inline: Sequence[InlinePolicy]
    attached: Sequence[AttachedPolicy]
    group_names: Sequence[str]


@dataclass(frozen=True, slots=True)
class GroupDetail:
    group: Group
    inline: Sequence[InlinePolicy]
    attached: Sequence[AttachedPolicy]


@dataclass(frozen=True, slots=True)
class RoleDetail:
    role: Role
    inline: Sequence[InlinePolicy]
    attached: Sequence[AttachedPolicy]


@dataclass(frozen=True, slots=True)
class PolicyDetail:
    policy: ManagedPolicy
    versions: Sequence[PolicyVersion]


Detail = UserDetail | GroupDetail | RoleDetail | PolicyDetail


class AccountDetailsService:
    def __init__(self, store: IamStore) -> None:
        self._store = store

    async def get_account_authorization_details(
        self,
        account: str,
        filters: Collection[DetailFilter] = (),
        marker: str | None = None,
        max_items: int | None = None,
    ) -> Page[Detail]:
        """Everything of the kinds in `filters`, or of every kind when it is empty."""
        wanted = set(filters) or set(DetailFilter)
        details: list[tuple[str, Detail]] = []
        async with self._store.reading() as session:
            if DetailFilter.USER in wanted:
                for user in await session.list_users(account):
                    details.append((f"0 {name_key(user.name)}", await _user_detail(session, user)))
            if DetailFilter.GROUP in wanted:
                for group in await session.list_groups(account):
                    inline, attached = await _policies_of(session, group.group_id)
                    details.append((f"1 {name_key(group.name)}", GroupDetail(group, inline, attached)))
            if DetailFilter.ROLE in wanted:
                for role in await session.list_roles(account):
                    inline, attached = await _policies_of(session, role.role_id)
                    tagged = replace(role, tags=tuple(await session.list_tags(role.role_id)))
                    details.append((f"2 {name_key(role.name)}", RoleDetail(tagged, inline, attached)))
            for detail in await _policy_details(session, account, wanted):
                details.append((f"3 {name_key(detail.policy.name)} {detail.policy.arn}", detail))
        page = paginate(details, lambda entry: entry[0], marker, max_items)
        return Page([detail for _, detail in page.items], page.marker)


async def _user_detail(session: IamSession, user: User) -> UserDetail:
    inline, attached = await _policies_of(session, user.user_id)
    groups = [group.name for group in await session.list_groups_of_user(user.user_id)]
    tagged = replace(user, tags=tuple(await session.list_tags(user.user_id)))
    return UserDetail(tagged, inline, attached, groups)


async def _policies_of(session: IamSession, entity_id: str) -> tuple[list[InlinePolicy], list[AttachedPolicy]]:
    inline = list(await session.list_inline_policies(entity_id))
    attached = []
    for arn in await session.list_attached_policy_arns(entity_id):
        parsed = parse_policy_arn(arn)
        if parsed is not None:
            attached.append(AttachedPolicy(parsed.name, arn))
    return inline, attached


async def _policy_details(session: IamSession, account: str, wanted: set[DetailFilter]) -> list[PolicyDetail]:
    details = []
    if DetailFilter.LOCAL_MANAGED_POLICY in wanted:
        for policy in await session.list_policies(account):
            details.append(PolicyDetail(policy, await session.list_policy_versions(policy.policy_id)))
    if DetailFilter.AWS_MANAGED_POLICY in wanted:
        for arn in await session.list_used_aws_policy_arns(account):
            entry = find_aws_managed_policy(arn)
            if entry is not None:
                attachments, boundaries = await session.count_policy_uses(account, arn)
                policy = replace(
                    entry.policy, attachment_count=attachments, permissions_boundary_usage_count=boundaries
                )
                details.append(PolicyDetail(policy, [entry.version]))
    return details
