"""STS's sessions as IAM's authorization sees them: the session policies each role session was given.

A session is found by its temporary access key id (the principal's session id), expired or not: expiry is the
gateway's to refuse, and a registry token issued to a session names the session the same way.
"""

from __future__ import annotations

from pullcache.iam.ports import SessionPolicyRefs
from pullcache.sts.ports import SessionStore


class StsSessionPolicies:
    def __init__(self, sessions: SessionStore) -> None:
        self._sessions = sessions

    async def find_session_policies(self, session_id: str) -> SessionPolicyRefs | None:
        session = await self._sessions.find_session(session_id)
        if session is None:
            return None
        return SessionPolicyRefs(session.session_policy, session.policy_arns)
