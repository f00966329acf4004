"""RegistryAccess's decisions, before any protocol words them: whom a token stands for, and AccessDenied for a
refusal, whoever the caller (the OCI edge turns an anonymous caller's refusal into 401; tests/unit/registry)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Final

import pytest

from pullcache.auth.authorization import AccessDenied, Authorizer, NoPrincipalPolicies
from pullcache.auth.registry_access import IMPORT, IMPORT_INTO_NEW, KEY_CHECK_SECONDS, Access, RegistryAccess
from pullcache.auth.registry_tokens import (
    ExpiredRegistryToken,
    InvalidRegistryToken,
    RegistryTokens,
    RevokedRegistryToken,
)
from pullcache.core.scopes import RegistryScope
from pullcache.policy import PrincipalType, RequestPrincipal
from tests.access_keys import AccessKeys

SCOPE: Final = RegistryScope("123456789012", "us-east-1")
NOW: Final = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TOKENS: Final = RegistryTokens(b"k" * 32)
USER: Final = RequestPrincipal.user("arn:aws:iam::123456789012:user/dev", "AIDAEXAMPLEEXAMPLE001")
PULL: Final = Access(("ecr:BatchGetImage",))
KEY_ID: Final = "AKIAEXAMPLEEXAMPLE01"


class Policies:
    def __init__(self, repository: str | None = None, registry: str | None = None) -> None:
        self.repository = repository
        self.registry = registry

    async def find_repository_policy(self, scope: RegistryScope, repository: str) -> str | None:
        return self.repository

    async def find_registry_policy(self, scope: RegistryScope) -> str | None:
        return self.registry


def policy(principal: object, *actions: str, resource: str | None = None) -> str:
    statement: dict[str, object] = {"Effect": "Allow", "Principal": principal, "Action": list(actions)}
    if resource is not None:
        statement["Resource"] = resource
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def access(
    policies: Policies | None = None, *, anonymous_is_root: bool = False, keys: AccessKeys | None = None
) -> RegistryAccess:
    if keys is None:
        keys = AccessKeys()
        keys.add(KEY_ID, USER)
    return RegistryAccess(
        TOKENS, Authorizer(NoPrincipalPolicies()), policies or Policies(), keys, anonymous_is_root=anonymous_is_root
    )


def token(principal: RequestPrincipal = USER, issued: datetime = NOW, key_id: str = KEY_ID) -> str:
    return TOKENS.issue(principal, issued, access_key_id=key_id).token


async def test_a_token_stands_for_the_principal_it_was_issued_to() -> None:
    assert await access().authenticate(token(), SCOPE, NOW) == USER


async def test_no_token_is_the_anonymous_caller_or_with_an_anonymous_registry_the_root_user() -> None:
    assert (await access().authenticate(None, SCOPE, NOW)).type is PrincipalType.ANONYMOUS
    root = RequestPrincipal.root(SCOPE.account_id)
    assert await access(anonymous_is_root=True).authenticate(None, SCOPE, NOW) == root


async def test_a_foreign_or_expired_token_is_refused_as_such() -> None:
    with pytest.raises(InvalidRegistryToken):
        await access().authenticate(RegistryTokens(b"o" * 32).issue(USER, NOW, access_key_id=KEY_ID).token, SCOPE, NOW)
    with pytest.raises(ExpiredRegistryToken):
        await access().authenticate(token(issued=NOW - timedelta(hours=13)), SCOPE, NOW)


@pytest.mark.parametrize("change", ["deactivate", "delete"])
async def test_a_token_is_refused_once_the_key_that_obtained_it_is_made_inactive_or_deleted(change: str) -> None:
    keys = AccessKeys()
    keys.add(KEY_ID, USER)
    registry = access(keys=keys)
    assert await registry.authenticate(token(), SCOPE, NOW) == USER

    getattr(keys, change)(KEY_ID)
    await asyncio.sleep(KEY_CHECK_SECONDS * 1.5)  # what each process remembers of a key, at most

    with pytest.raises(RevokedRegistryToken):
        await registry.authenticate(token(), SCOPE, NOW)


async def test_a_token_is_refused_once_the_session_that_obtained_it_is_over() -> None:
    keys = AccessKeys()
    session = RequestPrincipal.role_session(
        "arn:aws:sts::123456789012:assumed-role/ci/run", "arn:aws:iam::123456789012:role/ci", "AROAEX", "ASIAEX"
    )
    keys.add("ASIAEX", session, expires_at=NOW + timedelta(minutes=5))
    # A token minted without the session's expiry (as before tokens were capped by it) still ends with the session.
    session_token = TOKENS.issue(session, NOW, access_key_id="ASIAEX").token

    assert await access(keys=keys).authenticate(session_token, SCOPE, NOW + timedelta(minutes=4)) == session
    with pytest.raises(RevokedRegistryToken):
        await access(keys=keys).authenticate(session_token, SCOPE, NOW + timedelta(minutes=6))


async def test_the_key_is_looked_up_once_a_second_not_once_a_request() -> None:
    keys = AccessKeys()
    keys.add(KEY_ID, USER)
    registry = access(keys=keys)

    for _ in range(50):
        await registry.authenticate(token(), SCOPE, NOW)

    assert keys.lookups == 1


async def test_an_anonymous_callers_refusal_is_an_access_denied_too() -> None:
    with pytest.raises(AccessDenied) as denied:
        await access().authorize(RequestPrincipal.anonymous(), SCOPE, "team/app", PULL)

    assert denied.value.action == "ecr:BatchGetImage"
    assert denied.value.resource == "arn:aws:ecr:us-east-1:123456789012:repository/team/app"


async def test_the_registry_policy_grants_an_import_the_repository_policy_does_not() -> None:
    registry_policy = policy({"AWS": USER.arn}, *IMPORT_INTO_NEW.actions, resource=SCOPE.repository_arn("*"))

    await access(Policies(registry=registry_policy)).authorize_import(USER, SCOPE, "hub/library/alpine", IMPORT)
    with pytest.raises(AccessDenied, match="ecr:BatchImportUpstreamImage"):
        await access().authorize_import(USER, SCOPE, "hub/library/alpine", IMPORT)


async def test_allows_answers_without_raising() -> None:
    granted = Policies(repository=policy({"AWS": USER.arn}, "ecr:GetDownloadUrlForLayer"))

    assert await access(granted).allows(USER, SCOPE, "team/app", "ecr:GetDownloadUrlForLayer")
    assert not await access().allows(USER, SCOPE, "team/app", "ecr:GetDownloadUrlForLayer")


class PoliciesToBe:
    """The policies repositories yet to be created will carry, by name; the names asked for."""

    def __init__(self, **by_name: str) -> None:
        self.by_name = {name.replace("__", "/"): text for name, text in by_name.items()}
        self.asked: list[str] = []

    async def policy_to_be(self, scope: RegistryScope, repository: str) -> str | None:
        self.asked.append(repository)
        return self.by_name.get(repository)


class Refusals:
    def __init__(self) -> None:
        self.actions: list[str] = []

    def token_refused(self, reason: str) -> None:
        pass

    def denied(self, action: str) -> None:
        self.actions.append(action)


def access_to_be(
    to_be: PoliciesToBe, policies: Policies | None = None, refusals: Refusals | None = None
) -> RegistryAccess:
    return RegistryAccess(
        TOKENS,
        Authorizer(NoPrincipalPolicies(), refusals or Refusals()),
        policies or Policies(),
        AccessKeys(),
        to_be=to_be,
    )


async def test_a_repository_yet_to_be_created_is_decided_by_the_policy_it_will_carry() -> None:
    anyone_pulls = policy("*", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
    to_be = PoliciesToBe(hub__library__alpine=anyone_pulls)
    refusals = Refusals()
    registry = access_to_be(to_be, refusals=refusals)

    await registry.authorize(RequestPrincipal.anonymous(), SCOPE, "hub/library/alpine", PULL)
    with pytest.raises(AccessDenied):
        await registry.authorize(RequestPrincipal.anonymous(), SCOPE, "hub/library/other", PULL)
    with pytest.raises(AccessDenied):  # a push is not what the policy to be allows
        await registry.authorize(RequestPrincipal.anonymous(), SCOPE, "hub/library/alpine", Access(("ecr:PutImage",)))

    assert refusals.actions == ["ecr:BatchGetImage", "ecr:PutImage"]  # the pull it allowed counts no refusal


async def test_a_repository_with_a_policy_of_its_own_is_decided_by_that_policy_alone() -> None:
    to_be = PoliciesToBe(team__app=policy("*", "ecr:BatchGetImage"))
    own = Policies(repository=policy({"AWS": USER.arn}, "ecr:BatchGetImage"))

    with pytest.raises(AccessDenied):
        await access_to_be(to_be, own).authorize(RequestPrincipal.anonymous(), SCOPE, "team/app", PULL)
    assert to_be.asked == []


async def test_a_caller_its_own_policies_allow_is_not_asked_about_and_registry_wide_access_never() -> None:
    to_be = PoliciesToBe()
    registry = access_to_be(to_be)
    root = RequestPrincipal.root(SCOPE.account_id)

    await registry.authorize(root, SCOPE, "hub/library/alpine", PULL)
    with pytest.raises(AccessDenied):
        await registry.authorize(USER, SCOPE, None, Access(("ecr:DescribeRepositories",), on_registry=True))

    assert to_be.asked == []


async def test_an_import_into_a_repository_yet_to_be_created_is_decided_by_the_policy_it_will_carry_too() -> None:
    to_be = PoliciesToBe(hub__library__alpine=policy("*", "ecr:BatchImportUpstreamImage"))

    await access_to_be(to_be).authorize_import(RequestPrincipal.anonymous(), SCOPE, "hub/library/alpine", IMPORT)
    with pytest.raises(AccessDenied, match="ecr:BatchImportUpstreamImage"):
        await access_to_be(to_be).authorize_import(RequestPrincipal.anonymous(), SCOPE, "hub/library/other", IMPORT)


async def test_a_push_or_a_repository_creation_is_never_decided_by_the_policy_to_be() -> None:
    """A repository a push creates carries its CREATE_ON_PUSH template's policy, not the pull-through cache's."""
    to_be = PoliciesToBe(open__new=policy("*", "ecr:*"))
    registry = access_to_be(to_be)

    for actions in (("ecr:InitiateLayerUpload",), ("ecr:CreateRepository",), ("ecr:BatchGetImage", "ecr:PutImage")):
        with pytest.raises(AccessDenied):
            await registry.authorize(RequestPrincipal.anonymous(), SCOPE, "open/new", Access(actions))
    await registry.authorize(RequestPrincipal.anonymous(), SCOPE, "open/new", PULL)
