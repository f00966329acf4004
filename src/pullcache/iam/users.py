"""IAM users: create, read, rename, delete and tag them, and find the account's root identity."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from pullcache.iam.arns import ROOT_PATH, IdPrefix, new_unique_id, user_arn
from pullcache.iam.errors import (
    MUST_DELETE_ACCESS_KEYS,
    MUST_DELETE_POLICIES,
    MUST_DETACH_POLICIES,
    MUST_REMOVE_FROM_GROUPS,
    DeleteConflict,
    EntityAlreadyExists,
    EntityKind,
    PolicyNotAttachable,
    UserNotFound,
)
from pullcache.iam.lookups import get_managed_policy, get_user
from pullcache.iam.model import Account, Clock, Tag, User, name_key, utc_now
from pullcache.iam.pagination import Page, paginate
from pullcache.iam.ports import IamSession, IamStore
from pullcache.iam.tags import check_new_tags, merged_tags, without_tags


class UserService:
    def __init__(self, store: IamStore, clock: Clock = utc_now) -> None:
        self._store = store
        self._clock = clock

    async def create_user(
        self,
        account: str,
        name: str,
        path: str = ROOT_PATH,
        permissions_boundary: str | None = None,
        tags: Sequence[Tag] = (),
    ) -> User:
        """Raises EntityAlreadyExists, InvalidInput (tags), PolicyNotAttachable or IamValidationError (boundary)."""
        check_new_tags(tags)
        async with self._store.writing() as session:
            if await session.find_user(account, name) is not None:
                raise EntityAlreadyExists.named(EntityKind.USER, name)
            if permissions_boundary is not None:
                await get_managed_policy(session, account, permissions_boundary, PolicyNotAttachable)
            user = User(
                user_id=new_unique_id(IdPrefix.USER),
                account=account,
                name=name,
                path=path,
                arn=user_arn(account, path, name),
                created_at=self._clock(),
                permissions_boundary_arn=permissions_boundary,
                tags=tuple(sorted(tags, key=lambda tag: tag.key)),
            )
            await session.add_user(user)
            if tags:
                await session.set_tags(account, user.user_id, user.tags)
        return user

    async def get_user(self, account: str, name: str) -> User:
        """The user with its tags; raises UserNotFound."""
        async with self._store.reading() as session:
            user = await get_user(session, account, name)
            return replace(user, tags=tuple(await session.list_tags(user.user_id)))

    async def get_user_by_id(self, account: str, user_id: str) -> User:
        """The user whose unique id is `user_id` (the caller, for operations that default to it)."""
        async with self._store.reading() as session:
            user = await session.find_user_by_id(user_id)
            if user is None or user.account != account:
                raise UserNotFound(user_id)
            return replace(user, tags=tuple(await session.list_tags(user.user_id)))

    async def find_account(self, account: str) -> Account | None:
        async with self._store.reading() as session:
            return await session.find_account(account)

    async def list_users(
        self, account: str, path_prefix: str = ROOT_PATH, marker: str | None = None, max_items: int | None = None
    ) -> Page[User]:
        async with self._store.reading() as session:
            users = [user for user in await session.list_users(account) if user.path.startswith(path_prefix)]
        return paginate(users, lambda user: name_key(user.name), marker, max_items)

    async def update_user(
        self, account: str, name: str, new_name: str | None = None, new_path: str | None = None
    ) -> None:
        """Rename or move the user; its ARN follows. Raises UserNotFound or EntityAlreadyExists."""
        async with self._store.writing() as session:
            user = await get_user(session, account, name)
            renamed = user.name if new_name is None else new_name
            if name_key(renamed) != name_key(user.name) and await session.find_user(account, renamed) is not None:
                raise EntityAlreadyExists.named(EntityKind.USER, renamed)
            path = new_path if new_path is not None else user.path
            await session.update_user(replace(user, name=renamed, path=path, arn=user_arn(account, path, renamed)))

    async def delete_user(self, account: str, name: str) -> None:
        """Raises UserNotFound, or DeleteConflict while the user has access keys, policies or groups."""
        async with self._store.writing() as session:
            user = await get_user(session, account, name)
            await _check_deletable(session, user)
            await session.delete_user(user.user_id)

    async def tag_user(self, account: str, name: str, tags: Sequence[Tag]) -> None:
        """Raises UserNotFound, InvalidInput or LimitExceeded."""
        async with self._store.writing() as session:
            user = await get_user(session, account, name)
            await session.set_tags(account, user.user_id, merged_tags(await session.list_tags(user.user_id), tags))

    async def untag_user(self, account: str, name: str, keys: Sequence[str]) -> None:
        async with self._store.writing() as session:
            user = await get_user(session, account, name)
            await session.set_tags(account, user.user_id, without_tags(await session.list_tags(user.user_id), keys))

    async def list_user_tags(
        self, account: str, name: str, marker: str | None = None, max_items: int | None = None
    ) -> Page[Tag]:
        async with self._store.reading() as session:
            user = await get_user(session, account, name)
            tags = await session.list_tags(user.user_id)
        return paginate(tags, lambda tag: tag.key, marker, max_items)


async def _check_deletable(session: IamSession, user: User) -> None:
    """In the order AWS documents the steps of deleting a user."""
    if await session.list_access_keys(user.account, user.user_id):
        raise DeleteConflict(MUST_DELETE_ACCESS_KEYS)
    if await session.list_inline_policies(user.user_id):
        raise DeleteConflict(MUST_DELETE_POLICIES)
    if await session.list_attached_policy_arns(user.user_id):
        raise DeleteConflict(MUST_DETACH_POLICIES)
    if await session.list_groups_of_user(user.user_id):
        raise DeleteConflict(MUST_REMOVE_FROM_GROUPS)
