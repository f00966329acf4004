"""STS's sessions in SQL: SqlSessionStore is the SessionStore of AssumeRole, GetSessionToken and of the gateway's
credentials. Role sessions and user sessions have a table each (sts_sessions, sts_user_sessions)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from pullcache.metadata.engine import writer
from pullcache.metadata.schema import sts_sessions, sts_user_sessions
from pullcache.sts.model import RoleSession, SessionTag, UserSession


class SqlSessionStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._reader = engine
        self._writer = writer(engine)

    async def add_session(self, session: RoleSession) -> None:
        async with self._writer.begin() as connection:
            await connection.execute(sa.insert(sts_sessions).values(**_row(session)))

    async def find_session(self, access_key_id: str) -> RoleSession | None:
        query = sa.select(sts_sessions).where(sts_sessions.c.access_key_id == access_key_id)
        async with self._reader.connect() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _session(row._mapping)

    async def add_user_session(self, session: UserSession) -> None:
        async with self._writer.begin() as connection:
            await connection.execute(sa.insert(sts_user_sessions).values(**_user_row(session)))

    async def find_user_session(self, access_key_id: str) -> UserSession | None:
        query = sa.select(sts_user_sessions).where(sts_user_sessions.c.access_key_id == access_key_id)
        async with self._reader.connect() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _user_session(row._mapping)

    async def purge_sessions(self, expired_before: datetime) -> int:
        purged = 0
        async with self._writer.begin() as connection:
            for table in (sts_sessions, sts_user_sessions):
                result = await connection.execute(sa.delete(table).where(table.c.expires_at < expired_before))
                purged += result.rowcount
        return purged


def _user_row(session: UserSession) -> dict[str, Any]:
    return {
        "access_key_id": session.access_key_id,
        "secret_access_key": session.secret_access_key,
        "session_token": session.session_token,
        "account_id": session.account,
        "user_arn": session.user_arn,
        "user_id": session.user_id,
        "issued_at": session.issued_at,
        "expires_at": session.expires_at,
    }


def _user_session(row: Any) -> UserSession:
    return UserSession(
        access_key_id=row["access_key_id"],
        secret_access_key=row["secret_access_key"],
        session_token=row["session_token"],
        account=row["account_id"],
        user_arn=row["user_arn"],
        user_id=row["user_id"],
        issued_at=row["issued_at"],
        expires_at=row["expires_at"],
    )


def _row(session: RoleSession) -> dict[str, Any]:
    return {
        "access_key_id": session.access_key_id,
        "secret_access_key": session.secret_access_key,
        "session_token": session.session_token,
        "account_id": session.account,
        "role_id": session.role_id,
        "role_arn": session.role_arn,
        "session_name": session.session_name,
        "caller_arn": session.caller_arn,
        "session_policy": session.session_policy,
        "policy_arns": list(session.policy_arns) or None,
        "tags": [[tag.key, tag.value] for tag in session.tags] or None,
        "transitive_tag_keys": list(session.transitive_tag_keys) or None,
        "source_identity": session.source_identity,
        "issued_at": session.issued_at,
        "expires_at": session.expires_at,
    }


def _session(row: Any) -> RoleSession:
    return RoleSession(
        access_key_id=row["access_key_id"],
        secret_access_key=row["secret_access_key"],
        session_token=row["session_token"],
        account=row["account_id"],
        role_id=row["role_id"],
        role_arn=row["role_arn"],
        session_name=row["session_name"],
        caller_arn=row["caller_arn"],
        issued_at=row["issued_at"],
        expires_at=row["expires_at"],
        session_policy=row["session_policy"],
        policy_arns=tuple(row["policy_arns"] or ()),
        tags=tuple(SessionTag(key, value) for key, value in row["tags"] or ()),
        transitive_tag_keys=tuple(row["transitive_tag_keys"] or ()),
        source_identity=row["source_identity"],
    )
