"""Authentication and authorization of /v2/ requests: registry tokens in, ECR actions decided by the policies."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Final

import pytest

from pullcache.auth.authorization import Authorizer, NoPrincipalPolicies
from pullcache.auth.registry_access import Access, RegistryAccess
from pullcache.auth.registry_tokens import RegistryTokens
from pullcache.core.scopes import RegistryScope
from pullcache.policy import PrincipalType, RequestPrincipal
from pullcache.registry.api.access import EXPIRED_TOKEN_MESSAGE, REVOKED_TOKEN_MESSAGE, AccessControl
from pullcache.registry.api.routes import CHECK_BLOB, PULL_MANIFEST, PUT_MANIFEST
from pullcache.registry.errors import Denied, Unauthorized
from tests.access_keys import AccessKeys

SCOPE: Final = RegistryScope("123456789012", "us-east-1")
NOW: Final = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TOKENS: Final = RegistryTokens(b"k" * 32)
ROOT: Final = RequestPrincipal.root("123456789012")
USER: Final = RequestPrincipal.user("arn:aws:iam::123456789012:user/dev", "AIDAEXAMPLEEXAMPLE001")
STRANGER: Final = RequestPrincipal.root("999999999999")
KEY_ID: Final = "AKIAEXAMPLEEXAMPLE01"


class Policies:
    def __init__(self, by_repository: dict[str, str] | None = None) -> None:
        self.by_repository = by_repository or {}

    async def find_repository_policy(self, scope: RegistryScope, repository: str) -> str | None:
        return self.by_repository.get(repository) if scope == SCOPE else None

    async def find_registry_policy(self, scope: RegistryScope) -> str | None:
        return None


def policy(principal: object, *actions: str) -> str:
    statement = {"Sid": "s", "Effect": "Allow", "Principal": principal, "Action": list(actions)}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def access(
    policies: Policies | None = None, *, anonymous_is_root: bool = False, keys: AccessKeys | None = None
) -> AccessControl:
    if keys is None:
        keys = AccessKeys()
        keys.add(KEY_ID, USER)
    registry = RegistryAccess(
        TOKENS, Authorizer(NoPrincipalPolicies()), policies or Policies(), keys, anonymous_is_root=anonymous_is_root
    )
    return AccessControl(registry)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# -- authentication -----------------------------------------------------------------------------------------


async def test_a_request_with_a_token_is_its_principal() -> None:
    token = TOKENS.issue(USER, NOW, access_key_id=KEY_ID).token

    assert await access().authenticate(basic("AWS", token), SCOPE, NOW) == USER


@pytest.mark.parametrize("header", [None, "", basic("", "")], ids=["absent", "empty", "empty-basic"])
async def test_a_request_without_credentials_is_anonymous(header: str | None) -> None:
    assert (await access().authenticate(header, SCOPE, NOW)).type is PrincipalType.ANONYMOUS


async def test_with_an_anonymous_registry_a_request_without_credentials_is_the_root_user() -> None:
    assert await access(anonymous_is_root=True).authenticate(None, SCOPE, NOW) == ROOT


@pytest.mark.parametrize(
    "header",
    [
        "Bearer abc",
        "Basic !!!not-base64",
        basic("admin", "secret"),
        basic("AWS", "r1.not.valid"),
        basic("AWS", RegistryTokens(b"o" * 32).issue(USER, NOW, access_key_id=KEY_ID).token),
    ],
    ids=["bearer", "bad-base64", "other-user", "garbage-token", "foreign-key"],
)
async def test_credentials_that_are_no_valid_token_are_unauthorized(header: str) -> None:
    with pytest.raises(Unauthorized):
        await access(anonymous_is_root=True).authenticate(header, SCOPE, NOW)


async def test_a_token_whose_key_was_deleted_is_denied_with_a_reason() -> None:
    token = TOKENS.issue(USER, NOW, access_key_id="AKIAEXAMPLEDELETED01").token

    with pytest.raises(Denied) as denied:
        await access().authenticate(basic("AWS", token), SCOPE, NOW)

    assert denied.value.message == REVOKED_TOKEN_MESSAGE


async def test_an_expired_token_is_denied_with_ecrs_words() -> None:
    token = TOKENS.issue(USER, NOW - timedelta(hours=13), access_key_id=KEY_ID).token

    with pytest.raises(Denied) as denied:
        await access().authenticate(basic("AWS", token), SCOPE, NOW)

    assert (
        denied.value.message
        == EXPIRED_TOKEN_MESSAGE
        == ("Your authorization token has expired. Reauthenticate and try again.")
    )


# -- authorization ------------------------------------------------------------------------------------------


async def test_the_root_user_may_do_anything_in_its_account() -> None:
    for needed in (PULL_MANIFEST, PUT_MANIFEST, CHECK_BLOB):
        await access().authorize(ROOT, SCOPE, "team/app", needed)


async def test_an_anonymous_caller_refused_is_asked_to_authenticate() -> None:
    with pytest.raises(Unauthorized):
        await access().authorize(RequestPrincipal.anonymous(), SCOPE, "team/app", PULL_MANIFEST)


async def test_a_repository_policy_for_everyone_lets_anonymous_callers_pull_that_repository_only() -> None:
    policies = Policies({"public/app": policy("*", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")})
    anonymous = RequestPrincipal.anonymous()

    await access(policies).authorize(anonymous, SCOPE, "public/app", PULL_MANIFEST)
    await access(policies).authorize(anonymous, SCOPE, "public/app", CHECK_BLOB)
    with pytest.raises(Unauthorized):
        await access(policies).authorize(anonymous, SCOPE, "public/app", PUT_MANIFEST)
    with pytest.raises(Unauthorized):
        await access(policies).authorize(anonymous, SCOPE, "private/app", PULL_MANIFEST)


async def test_a_user_without_policies_is_denied_with_awss_access_denied_text() -> None:
    with pytest.raises(Denied) as denied:
        await access().authorize(USER, SCOPE, "team/app", PUT_MANIFEST)

    assert denied.value.message == (
        "User: arn:aws:iam::123456789012:user/dev is not authorized to perform: ecr:PutImage on resource: "
        "arn:aws:ecr:us-east-1:123456789012:repository/team/app because no identity-based policy allows the "
        "ecr:PutImage action"
    )


async def test_a_blob_check_needs_only_one_of_its_actions() -> None:
    policies = Policies({"team/app": policy({"AWS": USER.arn}, "ecr:BatchCheckLayerAvailability")})

    await access(policies).authorize(USER, SCOPE, "team/app", CHECK_BLOB)
    with pytest.raises(Denied, match="ecr:GetDownloadUrlForLayer"):
        await access(policies).authorize(USER, SCOPE, "team/app", Access(("ecr:GetDownloadUrlForLayer",)))


async def test_an_upload_in_one_request_needs_every_action() -> None:
    policies = Policies({"team/app": policy({"AWS": USER.arn}, "ecr:InitiateLayerUpload", "ecr:UploadLayerPart")})
    whole_blob = Access(("ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload"))

    with pytest.raises(Denied, match="ecr:CompleteLayerUpload"):
        await access(policies).authorize(USER, SCOPE, "team/app", whole_blob)


async def test_another_accounts_root_needs_the_repository_policy_to_name_its_account() -> None:
    with pytest.raises(Denied, match="because no resource-based policy allows"):
        await access().authorize(STRANGER, SCOPE, "team/app", PULL_MANIFEST)

    granted = Policies({"team/app": policy({"AWS": "arn:aws:iam::999999999999:root"}, "ecr:BatchGetImage")})
    await access(granted).authorize(STRANGER, SCOPE, "team/app", PULL_MANIFEST)


async def test_the_catalog_is_decided_on_every_repository_of_the_registry() -> None:
    catalog = Access(("ecr:DescribeRepositories",), on_registry=True)

    await access().authorize(ROOT, SCOPE, None, catalog)
    with pytest.raises(Denied, match="repository/\\*"):
        await access().authorize(USER, SCOPE, None, catalog)


async def test_the_requests_condition_keys_reach_the_repository_policy() -> None:
    statement = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "ecr:BatchGetImage",
        "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    }
    policies = Policies({"team/app": json.dumps({"Version": "2012-10-17", "Statement": [statement]})})
    anonymous = RequestPrincipal.anonymous()

    await access(policies).authorize(anonymous, SCOPE, "team/app", PULL_MANIFEST, {"aws:SourceIp": "10.1.2.3"})
    with pytest.raises(Unauthorized):
        await access(policies).authorize(anonymous, SCOPE, "team/app", PULL_MANIFEST, {"aws:SourceIp": "192.0.2.1"})
