"""What STS needs from storage: the sessions it issued (AssumeRole's role sessions, GetSessionToken's user sessions)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pullcache.sts.model import RoleSession, UserSession


class SessionStore(Protocol):
    async def add_session(self, session: RoleSession) -> None: ...

    async def find_session(self, access_key_id: str) -> RoleSession | None:
        """The role session of the temporary key `access_key_id`, expired or not; None when there is none."""
        ...

    async def add_user_session(self, session: UserSession) -> None: ...

    async def find_user_session(self, access_key_id: str) -> UserSession | None:
        """The GetSessionToken session of the temporary key `access_key_id`, expired or not; None when there is
        none."""
        ...

    async def purge_sessions(self, expired_before: datetime) -> int:
        """Delete the sessions of both kinds that expired before `expired_before`; returns how many there were."""
        ...
