"""Temporary credentials as the gateway sees them, and the chain that asks long-term keys, then sessions."""

from __future__ import annotations

from dataclasses import dataclass, field

from pullcache.auth.credential_chain import CredentialChain
from pullcache.auth.ports import Credentials
from pullcache.policy import PrincipalType, RequestPrincipal
from pullcache.sts.credentials import SessionCredentialStore
from pullcache.sts.model import UserSession, new_session_keys
from tests.unit.sts.memory_sessions import ACCOUNT, EXPIRES, MemorySessions, role_session


@dataclass
class Keys:
    credentials: dict[str, Credentials] = field(default_factory=dict)

    async def find_credentials(self, access_key_id: str) -> Credentials | None:
        return self.credentials.get(access_key_id)


async def test_a_session_key_signs_for_the_role_session_with_its_token_and_expiry() -> None:
    stored = role_session()
    store = SessionCredentialStore(MemorySessions.of(stored))

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
    sessions = MemorySessions.of()
    store = SessionCredentialStore(sessions)

    assert await store.find_credentials("AKIAEXAMPLEEXAMPLEEX") is None
    assert await store.find_credentials("ASIAEXAMPLEEXAMPLEEX") is None
    assert sessions.asked == ["ASIAEXAMPLEEXAMPLEEX"]


async def test_the_chain_answers_with_the_first_store_that_knows_the_key() -> None:
    root = Credentials("AKIAROOTROOTROOTROOT", "secret", RequestPrincipal.root(ACCOUNT))
    stored = role_session()
    chain = CredentialChain(
        Keys({root.access_key_id: root}),
        SessionCredentialStore(MemorySessions.of(stored)),
    )

    assert await chain.find_credentials(root.access_key_id) == root
    found = await chain.find_credentials(stored.access_key_id)
    assert found is not None
    assert found.session_token == stored.session_token
    assert await chain.find_credentials("ASIANOSUCHKEYEXAMPLE") is None


async def test_a_get_session_token_key_signs_for_its_user_with_the_session_marked() -> None:
    key, secret, token = new_session_keys()
    user_arn = f"arn:aws:iam::{ACCOUNT}:user/alice"
    stored = UserSession(key, secret, token, ACCOUNT, user_arn, "AIDAEXAMPLEEXAMPLEEX", EXPIRES, EXPIRES)
    sessions = MemorySessions()
    sessions.user_sessions[key] = stored

    found = await SessionCredentialStore(sessions).find_credentials(key)

    assert found is not None
    assert (found.secret_access_key, found.session_token, found.expires_at) == (secret, token, EXPIRES)
    principal = found.principal
    assert (principal.type, principal.arn, principal.user_id) == (PrincipalType.USER, user_arn, "AIDAEXAMPLEEXAMPLEEX")
    assert principal.session_id == key
