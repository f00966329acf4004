"""StsService.get_session_token: who gets a GetSessionToken session, for how long, and whom it signs for."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from pullcache.iam.principal_policies import IamPrincipalPolicies
from pullcache.policy import PrincipalType, RequestPrincipal
from pullcache.sts.errors import MfaFailed, SessionCredentialsRefused
from pullcache.sts.model import UserSession
from pullcache.sts.service import StsService
from pullcache.sts.session_policies import StsSessionPolicies
from tests.unit.sts.memory_sessions import ACCOUNT, MemorySessions, role_session

NOW = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
ISSUED = NOW.replace(microsecond=0)
ALICE = RequestPrincipal.user(f"arn:aws:iam::{ACCOUNT}:user/team/alice", "AIDAEXAMPLEEXAMPLEEX")
ROOT = RequestPrincipal.root(ACCOUNT)


class NoRoles:
    """GetSessionToken reads no role: any use of the IAM port fails the test."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"GetSessionToken asked IAM for {name}")


def sts(sessions: MemorySessions) -> StsService:
    policies = IamPrincipalPolicies(NoRoles(), StsSessionPolicies(sessions))  # type: ignore[arg-type]
    return StsService(NoRoles(), policies, sessions, clock=lambda: NOW)  # type: ignore[arg-type]


async def test_a_user_gets_a_twelve_hour_session_signing_as_the_user() -> None:
    sessions = MemorySessions()

    session = await sts(sessions).get_session_token(ALICE)

    assert session.access_key_id.startswith("ASIA")
    assert len(session.access_key_id) == 20
    assert session.expires_at == ISSUED + timedelta(hours=12)
    assert sessions.user_sessions == {session.access_key_id: session}
    principal = session.principal
    assert (principal.type, principal.arn, principal.user_id, principal.user_name) == (
        PrincipalType.USER,
        ALICE.arn,
        ALICE.user_id,
        "alice",
    )
    assert principal.session_id == session.access_key_id  # how the session is told from the user's own keys


@pytest.mark.parametrize(("asked", "lasts"), [(900, 900), (129600, 129600), (3600, 3600)])
async def test_a_user_chooses_from_fifteen_minutes_to_thirty_six_hours(asked: int, lasts: int) -> None:
    session = await sts(MemorySessions()).get_session_token(ALICE, asked)

    assert session.expires_at == ISSUED + timedelta(seconds=lasts)


@pytest.mark.parametrize(("asked", "lasts"), [(None, 3600), (900, 900), (3600, 3600), (129600, 3600)])
async def test_the_root_user_gets_an_hour_at_most(asked: int | None, lasts: int) -> None:
    session = await sts(MemorySessions()).get_session_token(ROOT, asked)

    assert session.expires_at == ISSUED + timedelta(seconds=lasts)
    assert session.principal.type is PrincipalType.ACCOUNT
    assert session.principal.arn == f"arn:aws:iam::{ACCOUNT}:root"
    assert session.principal.session_id == session.access_key_id


async def test_session_credentials_cannot_get_a_session_token() -> None:
    sessions = MemorySessions()
    user_session = await sts(sessions).get_session_token(ALICE)

    for caller in (user_session.principal, role_session().principal):
        with pytest.raises(SessionCredentialsRefused) as refused:
            await sts(sessions).get_session_token(caller)
        assert refused.value.message == "Cannot call GetSessionToken with session credentials"
    assert list(sessions.user_sessions) == [user_session.access_key_id]


@pytest.mark.parametrize(
    ("serial", "code"), [("arn:aws:iam::123456789012:mfa/alice", "123456"), ("GAHT12345678", None)]
)
async def test_an_mfa_device_is_never_the_callers(serial: str, code: str | None) -> None:
    sessions = MemorySessions()

    with pytest.raises(MfaFailed) as refused:
        await sts(sessions).get_session_token(ALICE, serial_number=serial, token_code=code)

    assert refused.value.message == (
        "MultiFactorAuthentication failed, unable to validate MFA code. Please verify your MFA serial number is "
        "valid and associated with this user."
    )
    assert sessions.user_sessions == {}


async def test_issuing_a_session_purges_the_ones_expired_a_day_ago() -> None:
    sessions = MemorySessions()
    old = await sts(sessions).get_session_token(ALICE)
    sessions.user_sessions[old.access_key_id] = replace(old, expires_at=NOW - timedelta(days=2))

    fresh = await sts(sessions).get_session_token(ALICE)

    assert list(sessions.user_sessions) == [fresh.access_key_id]


def test_a_root_session_has_the_root_principal_of_its_partition() -> None:
    session = UserSession("ASIAEXAMPLE", "s", "t", ACCOUNT, f"arn:aws-cn:iam::{ACCOUNT}:root", None, NOW, NOW)

    assert session.principal.arn == f"arn:aws-cn:iam::{ACCOUNT}:root"
