"""StsSessionPolicies: the session policies of a role session, found by its temporary access key id."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from pullcache.iam.principal_policies import SessionPolicyRefs
from pullcache.sts.session_policies import StsSessionPolicies
from pullcache.sts.sessions import RoleSession, new_session_keys

ACCOUNT = "123456789012"
EXPIRES = datetime(2026, 3, 1, 13, 0, tzinfo=UTC)
SESSION_POLICY = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*"}]}'
IAM_READ_ONLY = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"


class Sessions:
    def __init__(self, *sessions: RoleSession) -> None:
        self._sessions = {session.access_key_id: session for session in sessions}

    async def add_session(self, session: RoleSession) -> None:
        self._sessions[session.access_key_id] = session

    async def find_session(self, access_key_id: str) -> RoleSession | None:
        return self._sessions.get(access_key_id)

    async def purge_sessions(self, expired_before: datetime) -> int:
        return 0


def role_session() -> RoleSession:
    key, secret, token = new_session_keys()
    return RoleSession(
        access_key_id=key,
        secret_access_key=secret,
        session_token=token,
        account=ACCOUNT,
        role_id="AROAEXAMPLEEXAMPLEEX",
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/auditor",
        session_name="audit",
        caller_arn=f"arn:aws:iam::{ACCOUNT}:user/alice",
        issued_at=EXPIRES.replace(hour=12),
        expires_at=EXPIRES,
    )


async def test_a_sessions_policies_are_found_as_they_were_requested() -> None:
    given = replace(role_session(), session_policy=SESSION_POLICY, policy_arns=(IAM_READ_ONLY,))
    plain = role_session()
    source = StsSessionPolicies(Sessions(given, plain))

    assert await source.find_session_policies(given.access_key_id) == SessionPolicyRefs(
        SESSION_POLICY, (IAM_READ_ONLY,)
    )
    assert await source.find_session_policies(plain.access_key_id) == SessionPolicyRefs()


async def test_a_key_that_names_no_session_has_no_session_policies() -> None:
    assert await StsSessionPolicies(Sessions(role_session())).find_session_policies("ASIANOSUCHSESSION000") is None
