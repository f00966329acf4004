"""IAM groups and their members. A user belongs to at most ten groups."""

from __future__ import annotations

from pullcache.iam.arns import ROOT_PATH, IdPrefix, group_arn, new_unique_id
from pullcache.iam.errors import (
    MUST_DELETE_POLICIES,
    MUST_DETACH_POLICIES,
    MUST_REMOVE_FROM_GROUPS,
    DeleteConflict,
    EntityAlreadyExists,
    EntityKind,
    LimitExceeded,
)
from pullcache.iam.lookups import get_group, get_user
from pullcache.iam.model import Clock, Group, User, name_key, utc_now
from pullcache.iam.pagination import Page, paginate
from pullcache.iam.ports import IamStore

MAX_GROUPS_PER_USER = 10


class GroupService:
    def __init__(self, store: IamStore, clock: Clock = utc_now) -> None:
        self._store = store
        self._clock = clock

    async def create_group(self, account: str, name: str, path: str = ROOT_PATH) -> Group:
        """Raises EntityAlreadyExists."""
        async with self._store.writing() as session:
            if await session.find_group(account, name) is not None:
                raise EntityAlreadyExists.named(EntityKind.GROUP, name)
            group = Group(
                group_id=new_unique_id(IdPrefix.GROUP),
                account=account,
                name=name,
                path=path,
                arn=group_arn(account, path, name),
                created_at=self._clock(),
            )
            await session.add_group(group)
        return group

    async def get_group(
        self, account: str, name: str, marker: str | None = None, max_items: int | None = None
    ) -> tuple[Group, Page[User]]:
        """The group and a page of its users. Raises GroupNotFound."""
        async with self._store.reading() as session:
            group = await get_group(session, account, name)
            members = await session.list_group_members(group.group_id)
        return group, paginate(members, lambda user: name_key(user.name), marker, max_items)

    async def list_groups(
        self, account: str, path_prefix: str = ROOT_PATH, marker: str | None = None, max_items: int | None = None
    ) -> Page[Group]:
        async with self._store.reading() as session:
            groups = [group for group in await session.list_groups(account) if group.path.startswith(path_prefix)]
        return paginate(groups, lambda group: name_key(group.name), marker, max_items)

    async def delete_group(self, account: str, name: str) -> None:
        """Raises GroupNotFound, or DeleteConflict while the group has members or policies."""
        async with self._store.writing() as session:
            group = await get_group(session, account, name)
            if await session.list_group_members(group.group_id):
                raise DeleteConflict(MUST_REMOVE_FROM_GROUPS)
            if await session.list_inline_policies(group.group_id):
                raise DeleteConflict(MUST_DELETE_POLICIES)
            if await session.list_attached_policy_arns(group.group_id):
                raise DeleteConflict(MUST_DETACH_POLICIES)
            await session.delete_group(group.group_id)

    async def add_user_to_group(self, account: str, group_name: str, user_name: str) -> None:
        """Idempotent. Raises GroupNotFound, UserNotFound or LimitExceeded."""
        async with self._store.writing() as session:
            group = await get_group(session, account, group_name)
            user = await get_user(session, account, user_name)
            groups = await session.list_groups_of_user(user.user_id)
            if any(member.group_id == group.group_id for member in groups):
                return
            if len(groups) >= MAX_GROUPS_PER_USER:
                raise LimitExceeded.quota("GroupsPerUser", MAX_GROUPS_PER_USER)
            await session.add_group_member(group.group_id, user.user_id)

    async def remove_user_from_group(self, account: str, group_name: str, user_name: str) -> None:
        """Removing a user who is not a member is no error, as in IAM. Raises GroupNotFound or UserNotFound."""
        async with self._store.writing() as session:
            group = await get_group(session, account, group_name)
            user = await get_user(session, account, user_name)
            await session.remove_group_member(group.group_id, user.user_id)

    async def list_groups_for_user(
        self, account: str, user_name: str, marker: str | None = None, max_items: int | None = None
    ) -> Page[Group]:
        """Raises UserNotFound."""
        async with self._store.reading() as session:
            user = await get_user(session, account, user_name)
            groups = await session.list_groups_of_user(user.user_id)
        return paginate(groups, lambda group: name_key(group.name), marker, max_items)
