"""Registry tokens and download grants: what they carry, and everything that makes one fail to verify."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Final

import pytest

from pullcache.auth.registry_tokens import (
    ExpiredRegistryToken,
    InvalidRegistryToken,
    RegistryTokens,
    TokenClaims,
    basic_credentials,
)
from pullcache.core.scopes import RegistryScope
from pullcache.policy import RequestPrincipal

KEY: Final = b"k" * 32
NOW: Final = datetime(2026, 6, 1, 12, 0, 0, 250000, tzinfo=UTC)
USER: Final = RequestPrincipal.user("arn:aws:iam::123456789012:user/ci/builder", "AIDAEXAMPLEEXAMPLE123")
SESSION: Final = RequestPrincipal.role_session(
    "arn:aws:sts::123456789012:assumed-role/deploy/run-7", "arn:aws:iam::123456789012:role/deploy", "AROAEXAMPLE"
)
ISSUED_SESSION: Final = RequestPrincipal.role_session(
    SESSION.arn, "arn:aws:iam::123456789012:role/deploy", "AROAEXAMPLE", session_id="ASIAEXAMPLEEXAMPLE12"
)
SCOPE: Final = RegistryScope("123456789012", "eu-west-1")
KEY_ID: Final = "AKIAEXAMPLEEXAMPLE12"


@pytest.mark.parametrize(
    "principal",
    [RequestPrincipal.root("123456789012"), USER, SESSION, ISSUED_SESSION],
    ids=["root", "user", "role-session", "role-session-with-its-session-id"],
)
def test_a_token_names_the_principal_it_was_issued_to(principal: RequestPrincipal) -> None:
    tokens = RegistryTokens(KEY)

    issued = tokens.issue(principal, NOW, access_key_id=KEY_ID)

    assert tokens.verify(issued.token, NOW + timedelta(hours=11)) == TokenClaims(principal, KEY_ID)


def test_a_token_lasts_twelve_hours_to_the_second() -> None:
    issued = RegistryTokens(KEY).issue(USER, NOW, access_key_id=KEY_ID)

    assert issued.expires_at == datetime(2026, 6, 2, 0, 0, 0, tzinfo=UTC)
    with pytest.raises(ExpiredRegistryToken):
        RegistryTokens(KEY).verify(issued.token, issued.expires_at)


def test_a_token_lasts_no_longer_than_the_credentials_that_obtained_it() -> None:
    session_ends = NOW + timedelta(minutes=15)
    issued = RegistryTokens(KEY).issue(
        ISSUED_SESSION, NOW, access_key_id="ASIAEXAMPLEEXAMPLE12", credentials_expire_at=session_ends
    )

    assert issued.expires_at == session_ends.replace(microsecond=0)
    RegistryTokens(KEY).verify(issued.token, NOW + timedelta(minutes=14))
    with pytest.raises(ExpiredRegistryToken):
        RegistryTokens(KEY).verify(issued.token, session_ends)


def test_credentials_that_outlast_twelve_hours_give_a_token_of_twelve() -> None:
    issued = RegistryTokens(KEY).issue(USER, NOW, access_key_id=KEY_ID, credentials_expire_at=NOW + timedelta(hours=36))

    assert issued.expires_at == datetime(2026, 6, 2, 0, 0, 0, tzinfo=UTC)


def test_a_token_signed_with_another_key_is_refused() -> None:
    issued = RegistryTokens(b"o" * 32).issue(USER, NOW, access_key_id=KEY_ID)

    with pytest.raises(InvalidRegistryToken):
        RegistryTokens(KEY).verify(issued.token, NOW)


def test_a_token_whose_payload_was_changed_is_refused() -> None:
    tokens = RegistryTokens(KEY)
    purpose, payload, signature = tokens.issue(USER, NOW, access_key_id=KEY_ID).token.split(".")
    forged = base64.urlsafe_b64decode(payload + "==").replace(b"ci/builder", b"ci/admin")
    tampered = f"{purpose}.{base64.urlsafe_b64encode(forged).rstrip(b'=').decode()}.{signature}"

    with pytest.raises(InvalidRegistryToken):
        tokens.verify(tampered, NOW)


@pytest.mark.parametrize("token", ["", "r1", "r1.a.b.c", "r1.!!!.sig", "x1.e30.sig"])
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidRegistryToken):
        RegistryTokens(KEY).verify(token, NOW)


def test_a_download_grant_is_no_registry_token_and_the_other_way_round() -> None:
    tokens = RegistryTokens(KEY)
    grant = tokens.grant_download(SCOPE, "team/app", "sha256:" + "a" * 64, NOW)

    with pytest.raises(InvalidRegistryToken):
        tokens.verify(grant, NOW)
    with pytest.raises(InvalidRegistryToken):
        tokens.verify_download(tokens.issue(USER, NOW, access_key_id=KEY_ID).token, NOW)


def test_a_download_grant_names_one_blob_of_one_repository_for_an_hour() -> None:
    tokens = RegistryTokens(KEY)
    grant = tokens.grant_download(SCOPE, "team/app", "sha256:" + "a" * 64, NOW)

    allowed = tokens.verify_download(grant, NOW + timedelta(minutes=59))

    assert (allowed.scope, allowed.repository, allowed.digest) == (SCOPE, "team/app", "sha256:" + "a" * 64)
    with pytest.raises(ExpiredRegistryToken):
        tokens.verify_download(grant, NOW + timedelta(hours=1))


def test_authorization_token_is_base64_of_the_aws_user_and_the_token() -> None:
    assert base64.b64decode(basic_credentials("r1.abc.def")) == b"AWS:r1.abc.def"


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        RegistryTokens(b"short")
