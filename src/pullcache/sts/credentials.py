"""The temporary credentials of STS's sessions as a CredentialStore: the gateway's view of STS's sessions.

A role session's key resolves to the role session principal, a GetSessionToken session's key to its user (the
session id set), each with its token and expiry, expired or not: the gateway
refuses a missing or wrong token (InvalidClientTokenId) and an expired session (ExpiredToken) itself.
"""

from __future__ import annotations

from pullcache.auth.credentials import TEMPORARY_PREFIX
from pullcache.auth.ports import Credentials
from pullcache.sts.model import RoleSession, UserSession
from pullcache.sts.ports import SessionStore


class SessionCredentialStore:
    def __init__(self, sessions: SessionStore) -> None:
        self._sessions = sessions

    async def find_credentials(self, access_key_id: str) -> Credentials | None:
        if not access_key_id.startswith(TEMPORARY_PREFIX):
            return None  # only sessions have temporary keys: no need to look
        session: RoleSession | UserSession | None = await self._sessions.find_session(access_key_id)
        if session is None:
            session = await self._sessions.find_user_session(access_key_id)
        if session is None:
            return None
        return Credentials(
            access_key_id=session.access_key_id,
            secret_access_key=session.secret_access_key,
            principal=session.principal,
            session_token=session.session_token,
            expires_at=session.expires_at,
            issued_at=session.issued_at,
        )
