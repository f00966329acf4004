"""Long-term access keys of IAM users and of the account's root user: at most two each.

An operation names the key's owner by user name, or by None for the root user (operations without UserName
default to the caller, and the caller may be the root user). A key of another owner is not found.
"""

from __future__ import annotations

from pullcache.auth.credentials import new_access_key_id, new_secret_access_key
from pullcache.iam.errors import AccessKeyNotFound, LimitExceeded
from pullcache.iam.lookups import get_user
from pullcache.iam.model import AccessKey, AccessKeyStatus, Clock, utc_now
from pullcache.iam.pagination import Page, paginate
from pullcache.iam.ports import IamSession, IamStore

MAX_ACCESS_KEYS = 2


class AccessKeyService:
    def __init__(self, store: IamStore, clock: Clock = utc_now) -> None:
        self._store = store
        self._clock = clock

    async def create_access_key(self, account: str, user_name: str | None) -> AccessKey:
        """A new active key with its secret, which no later call shows. Raises UserNotFound or LimitExceeded."""
        async with self._store.writing() as session:
            user_id, owner_name = await _owner(session, account, user_name)
            if len(await session.list_access_keys(account, user_id)) >= MAX_ACCESS_KEYS:
                raise LimitExceeded.quota("AccessKeysPerUser", MAX_ACCESS_KEYS)
            key = AccessKey(
                access_key_id=new_access_key_id(),
                account=account,
                user_id=user_id,
                user_name=owner_name,
                status=AccessKeyStatus.ACTIVE,
                created_at=self._clock(),
                secret_access_key=new_secret_access_key(),
            )
            await session.add_access_key(key)
        return key

    async def list_access_keys(
        self, account: str, user_name: str | None, marker: str | None = None, max_items: int | None = None
    ) -> Page[AccessKey]:
        """Oldest first, without secrets. Raises UserNotFound."""
        async with self._store.reading() as session:
            user_id, _ = await _owner(session, account, user_name)
            keys = await session.list_access_keys(account, user_id)
        return paginate(keys, lambda key: f"{key.created_at.isoformat()} {key.access_key_id}", marker, max_items)

    async def update_access_key(self, account: str, user_name: str | None, access_key_id: str, status: str) -> None:
        """Raises UserNotFound or AccessKeyNotFound."""
        async with self._store.writing() as session:
            await _owned_key(session, account, user_name, access_key_id)
            await session.update_access_key_status(access_key_id, status)

    async def delete_access_key(self, account: str, user_name: str | None, access_key_id: str) -> None:
        """Raises UserNotFound or AccessKeyNotFound."""
        async with self._store.writing() as session:
            await _owned_key(session, account, user_name, access_key_id)
            await session.delete_access_key(access_key_id)

    async def get_access_key_last_used(self, account: str, access_key_id: str) -> AccessKey:
        """Any key of the account, with its owner's name and when it was last used. Raises AccessKeyNotFound."""
        async with self._store.reading() as session:
            key = await session.find_access_key(account, access_key_id)
        if key is None:
            raise AccessKeyNotFound(access_key_id)
        return key


async def _owner(session: IamSession, account: str, user_name: str | None) -> tuple[str | None, str | None]:
    """(unique id, name) of the user named `user_name`, or (None, None) for the root user."""
    if user_name is None:
        return None, None
    user = await get_user(session, account, user_name)
    return user.user_id, user.name


async def _owned_key(session: IamSession, account: str, user_name: str | None, access_key_id: str) -> AccessKey:
    user_id, _ = await _owner(session, account, user_name)
    key = await session.find_access_key(account, access_key_id)
    if key is None or key.user_id != user_id:
        raise AccessKeyNotFound(access_key_id)
    return key
