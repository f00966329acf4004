"""Which callers are GetSessionToken sessions, refused IAM's API (AWS: InvalidClientTokenId)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pullcache.auth.authorization import AccessDenied
from pullcache.auth.session_credentials import UserSessionRefused, is_user_session, refuse_user_session
from pullcache.policy import RequestPrincipal

ACCOUNT = "123456789012"
USER = RequestPrincipal.user(f"arn:aws:iam::{ACCOUNT}:user/alice", "AIDAEXAMPLEEXAMPLEEX")
ROOT = RequestPrincipal.root(ACCOUNT)
ROLE_SESSION = RequestPrincipal.role_session(
    f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/s", f"arn:aws:iam::{ACCOUNT}:role/deployer", "AROAX", "ASIAROLE"
)


def test_a_user_or_root_with_a_session_id_is_a_user_session() -> None:
    assert is_user_session(replace(USER, session_id="ASIAUSER"))
    assert is_user_session(replace(ROOT, session_id="ASIAROOT"))
    assert not is_user_session(USER)
    assert not is_user_session(ROOT)
    assert not is_user_session(ROLE_SESSION)  # role sessions call IAM with their role's permissions


@pytest.mark.parametrize("principal", [USER, ROOT, ROLE_SESSION])
def test_long_term_keys_and_role_sessions_may_call_iam(principal: RequestPrincipal) -> None:
    refuse_user_session(principal, "iam:ListUsers", "*")


def test_a_user_session_calling_iam_is_refused_as_an_invalid_token() -> None:
    session = replace(USER, session_id="ASIAUSER")

    with pytest.raises(UserSessionRefused) as refused:
        refuse_user_session(session, "iam:ListUsers", "*")

    assert isinstance(refused.value, AccessDenied)
    assert str(refused.value) == "The security token included in the request is invalid"
    assert (refused.value.principal, refused.value.action) == (session, "iam:ListUsers")
