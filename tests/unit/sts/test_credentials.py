"""Temporary credentials as the gateway sees them, and the chain that asks long-term keys, then sessions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from pullcache.auth.credential_chain import CredentialChain
from pullcache.auth.credentials import Credentials
from pullcache.iam.policy import PrincipalType, RequestPrincipal
from pullcache.sts.credentials import SessionCredentialStore
from pullcache.sts.sessions import RoleSession, new_session_keys

ACCOUNT = "123456789012"
EXPIRES = datetime(2026, 3, 1, 13, 0, tzinfo=UTC)


@dataclass
class Sessions:
    sessions: dict[str, RoleSession] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    async def add_session(self, session: RoleSession) -> None:
        self.sessions[session.access_key_id] = session

    async def find_session(self, access_key_id: str) -> RoleSession | None:
        self.asked.append(access_key_id)
        return self.sessions.get(access_key_id)

    async def purge_sessions(self, expired_before: datetime) -> int:
        return 0


@dataclass
class Keys:
    credentials: dict[str, Credentials] = field(default_factory=dict)

    async def find_credentials(self, access_key_id: str) -> Credentials | None:
        return self.credentials.get(access_key_id)


def role_session() -> RoleSession:
    key, secret, token = new_session_keys()
    return RoleSession(
        access_key_id=key,
        secret_access_key=secret,
        session_token=token,
        account=ACCOUNT,
        role_id="AROAEXAMPLEEXAMPLEEX",
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/ci/deployer",
        session_name="build-7",
        caller_arn=f"arn:aws:iam::{ACCOUNT}:user/alice",
        issued_at=EXPIRES.replace(hour=12),
        expires_at=EXPIRES,
    )


async def test_a_session_key_signs_for_the_role_session_with_its_token_and_expiry() -> None:
    stored = role_session()
    store = SessionCredentialStore(Sessions({stored.access_key_id: stored}))

    found = await store.find_credentials(stored.access_key_id)

    assert found is not None
    assert (found.secret_access_key, found.session_token, found.expires_at) == (
        stored.secret_access_key,
        stored.session_token,
        EXPIRES,
    )
    principal = found.principal
    assert principal.type is PrincipalType.ASSUMED_ROLE
    assert principal.arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/build-7"  # no role path
    assert (principal.user_id, principal.role_arn) == ("AROAEXAMPLEEXAMPLEEX:build-7", stored.role_arn)
    assert principal.session_id == stored.access_key_id  # how its session policies are found


async def test_long_term_keys_are_not_looked_up_among_sessions() -> None:
    sessions = Sessions()
    store = SessionCredentialStore(sessions)

    assert await store.find_credentials("AKIAEXAMPLEEXAMPLEEX") is None
    assert await store.find_credentials("ASIAEXAMPLEEXAMPLEEX") is None
    assert sessions.asked == ["ASIAEXAMPLEEXAMPLEEX"]


async def test_the_chain_answers_with_the_first_store_that_knows_the_key() -> None:
    root = Credentials("AKIAROOTROOTROOTROOT", "secret", RequestPrincipal.root(ACCOUNT))
    stored = role_session()
    chain = CredentialChain(
        Keys({root.access_key_id: root}),
        SessionCredentialStore(Sessions({stored.access_key_id: stored})),
    )

    assert await chain.find_credentials(root.access_key_id) == root
    found = await chain.find_credentials(stored.access_key_id)
    assert found is not None
    assert found.session_token == stored.session_token
    assert await chain.find_credentials("ASIANOSUCHKEYEXAMPLE") is None
