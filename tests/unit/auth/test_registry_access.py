"""RegistryAccess's decisions, before any protocol words them: whom a token stands for, and AccessDenied for a
refusal, whoever the caller (the OCI edge turns an anonymous caller's refusal into 401; tests/unit/registry)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Final

import pytest

from pullcache.auth.authorization import AccessDenied, Authorizer, NoPrincipalPolicies
from pullcache.auth.registry_access import IMPORT, IMPORT_INTO_NEW, Access, RegistryAccess
from pullcache.auth.registry_tokens import ExpiredRegistryToken, InvalidRegistryToken, RegistryTokens
from pullcache.core.scopes import RegistryScope
from pullcache.policy import PrincipalType, RequestPrincipal

SCOPE: Final = RegistryScope("123456789012", "us-east-1")
NOW: Final = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TOKENS: Final = RegistryTokens(b"k" * 32)
USER: Final = RequestPrincipal.user("arn:aws:iam::123456789012:user/dev", "AIDAEXAMPLEEXAMPLE001")
PULL: Final = Access(("ecr:BatchGetImage",))


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


def access(policies: Policies | None = None, *, anonymous_is_root: bool = False) -> RegistryAccess:
    return RegistryAccess(
        TOKENS, Authorizer(NoPrincipalPolicies()), policies or Policies(), anonymous_is_root=anonymous_is_root
    )


def test_a_token_stands_for_the_principal_it_was_issued_to() -> None:
    assert access().authenticate(TOKENS.issue(USER, NOW).token, SCOPE, NOW) == USER


def test_no_token_is_the_anonymous_caller_or_with_an_anonymous_registry_the_root_user() -> None:
    assert access().authenticate(None, SCOPE, NOW).type is PrincipalType.ANONYMOUS
    assert access(anonymous_is_root=True).authenticate(None, SCOPE, NOW) == RequestPrincipal.root(SCOPE.account_id)


def test_a_foreign_or_expired_token_is_refused_as_such() -> None:
    with pytest.raises(InvalidRegistryToken):
        access().authenticate(RegistryTokens(b"o" * 32).issue(USER, NOW).token, SCOPE, NOW)
    with pytest.raises(ExpiredRegistryToken):
        access().authenticate(TOKENS.issue(USER, NOW - timedelta(hours=13)).token, SCOPE, NOW)


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
