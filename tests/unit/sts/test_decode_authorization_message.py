"""StsService.decode_authorization_message: who may call it, and that no message of this server's exists to decode
(none of ECR, IAM, STS and Secrets Manager returns an encoded authorization message, on AWS or here)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from pullcache.iam.errors import EntityKind
from pullcache.iam.principal_policies import IamPrincipalPolicies
from pullcache.iam.service import IamService
from pullcache.policy import ContextValue, RequestPrincipal
from pullcache.sts.errors import DecodeDenied, InvalidAuthorizationMessage, SessionCredentialsRefused
from pullcache.sts.service import StsService
from pullcache.sts.session_policies import StsSessionPolicies
from tests.iam_stores import ACCOUNT, identity_policy, sqlite_iam
from tests.unit.sts.memory_sessions import MemorySessions

KEYS: dict[str, ContextValue] = {"aws:SourceIp": "192.0.2.1"}
MESSAGE = "EncodedAuthorizationFailureMessage-0123456789"


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[IamService, StsService]]:
    async with sqlite_iam(tmp_path) as (store, _):
        sessions = MemorySessions()
        sts = StsService(store, IamPrincipalPolicies(store, StsSessionPolicies(sessions)), sessions)
        yield IamService.over(store), sts


async def user(iam: IamService, name: str, *actions: str) -> RequestPrincipal:
    created = await iam.users.create_user(ACCOUNT, name)
    if actions:
        document = identity_policy(*actions)
        await iam.permissions.put_inline_policy(ACCOUNT, EntityKind.USER, name, "allow", document)
    return RequestPrincipal.user(created.arn, created.user_id)


async def test_a_caller_without_the_permission_is_refused(setup: tuple[IamService, StsService]) -> None:
    iam, sts = setup
    bob = await user(iam, "bob")

    with pytest.raises(DecodeDenied) as refused:
        await sts.decode_authorization_message(bob, MESSAGE, KEYS)

    assert refused.value.message == (
        f"User: {bob.arn} is not authorized to perform: sts:DecodeAuthorizationMessage because no identity-based "
        "policy allows the sts:DecodeAuthorizationMessage action"
    )


async def test_an_allowed_caller_hears_that_no_message_of_this_server_exists(
    setup: tuple[IamService, StsService],
) -> None:
    iam, sts = setup
    alice = await user(iam, "alice", "sts:DecodeAuthorizationMessage")

    for caller in (alice, RequestPrincipal.root(ACCOUNT)):
        with pytest.raises(InvalidAuthorizationMessage):
            await sts.decode_authorization_message(caller, MESSAGE, KEYS)


async def test_a_get_session_token_session_cannot_call_it(setup: tuple[IamService, StsService]) -> None:
    iam, sts = setup
    alice = await user(iam, "alice", "sts:DecodeAuthorizationMessage")

    with pytest.raises(SessionCredentialsRefused) as refused:
        await sts.decode_authorization_message(replace(alice, session_id="ASIAEXAMPLE"), MESSAGE, KEYS)

    assert refused.value.message == "Cannot call DecodeAuthorizationMessage with session credentials"
