"""Accounts and their access keys in SQL: the AccountStore of first start and the CredentialStore of SigV4
(root keys and the keys of IAM users)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from pullcache.auth.ports import ACTIVE, Credentials, RootKey
from pullcache.metadata.engine import writer
from pullcache.metadata.schema import access_keys, accounts, iam_users
from pullcache.policy import RequestPrincipal


class SqlAccountStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._reader = engine
        self._writer = writer(engine)
        self._insert: Any = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    async def ensure_account(self, account_id: str) -> None:
        async with self._writer.begin() as connection:
            await connection.execute(
                self._insert(accounts).values(id=account_id, created_at=_now()).on_conflict_do_nothing()
            )

    async def find_root_key(self, account_id: str) -> RootKey | None:
        query = (
            sa.select(access_keys.c.access_key_id, access_keys.c.secret_access_key)
            .where(access_keys.c.account_id == account_id, access_keys.c.user_id.is_(None))
            .order_by(access_keys.c.created_at)
            .limit(1)
        )
        async with self._reader.connect() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else RootKey(row.access_key_id, row.secret_access_key)

    async def add_root_key(self, account_id: str, key: RootKey) -> None:
        async with self._writer.begin() as connection:
            await connection.execute(
                sa.insert(access_keys).values(
                    access_key_id=key.access_key_id,
                    secret_access_key=key.secret_access_key,
                    account_id=account_id,
                    user_id=None,
                    status=ACTIVE,
                    created_at=_now(),
                )
            )

    async def find_credentials(self, access_key_id: str) -> Credentials | None:
        """A root key signs for the account's root user, a user's key for that IAM user (by its current ARN);
        a key whose user no longer exists is no key."""
        query = (
            sa.select(
                access_keys.c.secret_access_key,
                access_keys.c.account_id,
                access_keys.c.user_id,
                access_keys.c.status,
                iam_users.c.arn.label("user_arn"),
            )
            .select_from(access_keys.outerjoin(iam_users, iam_users.c.id == access_keys.c.user_id))
            .where(access_keys.c.access_key_id == access_key_id)
        )
        async with self._reader.connect() as connection:
            row = (await connection.execute(query)).first()
        if row is None:
            return None
        if row.user_id is None:
            principal = RequestPrincipal.root(row.account_id)
        elif row.user_arn is None:
            return None
        else:
            principal = RequestPrincipal.user(row.user_arn, row.user_id)
        return Credentials(access_key_id, row.secret_access_key, principal, row.status == ACTIVE)


def _now() -> datetime:
    return datetime.now(UTC)
