"""An in-memory SessionStore for the STS unit tests, and a role session to put in it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from pullcache.sts.model import RoleSession, UserSession, new_session_keys

ACCOUNT = "123456789012"
EXPIRES = datetime(2026, 3, 1, 13, 0, tzinfo=UTC)


@dataclass
class MemorySessions:
    """Holds sessions by access key id and records which ids were looked up among role sessions."""

    sessions: dict[str, RoleSession] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)
    user_sessions: dict[str, UserSession] = field(default_factory=dict)

    @classmethod
    def of(cls, *sessions: RoleSession) -> MemorySessions:
        return cls({session.access_key_id: session for session in sessions})

    async def add_session(self, session: RoleSession) -> None:
        self.sessions[session.access_key_id] = session

    async def find_session(self, access_key_id: str) -> RoleSession | None:
        self.asked.append(access_key_id)
        return self.sessions.get(access_key_id)

    async def add_user_session(self, session: UserSession) -> None:
        self.user_sessions[session.access_key_id] = session

    async def find_user_session(self, access_key_id: str) -> UserSession | None:
        return self.user_sessions.get(access_key_id)

    async def purge_sessions(self, expired_before: datetime) -> int:
        gone = [key for key, session in self.sessions.items() if session.expires_at < expired_before]
        for key in gone:
            del self.sessions[key]
        gone_users = [key for key, user in self.user_sessions.items() if user.expires_at < expired_before]
        for key in gone_users:
            del self.user_sessions[key]
        return len(gone) + len(gone_users)


def role_session(role_path_and_name: str = "ci/deployer", session_name: str = "build-7") -> RoleSession:
    """A session of `role_path_and_name` in ACCOUNT, assumed by the user alice, expiring at EXPIRES."""
    key, secret, token = new_session_keys()
    return RoleSession(
        access_key_id=key,
        secret_access_key=secret,
        session_token=token,
        account=ACCOUNT,
        role_id="AROAEXAMPLEEXAMPLEEX",
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/{role_path_and_name}",
        session_name=session_name,
        caller_arn=f"arn:aws:iam::{ACCOUNT}:user/alice",
        issued_at=EXPIRES.replace(hour=12),
        expires_at=EXPIRES,
    )
