"""What STS needs from storage: the sessions it issued."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pullcache.sts.model import RoleSession


class SessionStore(Protocol):
    async def add_session(self, session: RoleSession) -> None: ...

    async def find_session(self, access_key_id: str) -> RoleSession | None:
        """The session of the temporary key `access_key_id`, expired or not; None when there is none."""
        ...

    async def purge_sessions(self, expired_before: datetime) -> int:
        """Delete the sessions that expired before `expired_before`; returns how many there were."""
        ...
