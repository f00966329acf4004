"""PullThroughRuleService: creating, describing, updating, deleting and validating rules, over fakes of its ports."""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

import pytest

from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.ecr.errors import InvalidParameter
from pullcache.iam.model import Role
from pullcache.pullthrough.errors import UpstreamDenied, UpstreamError, UpstreamUnavailable
from pullcache.pullthrough.ports import (
    UpstreamBlob,
    UpstreamEndpoint,
    UpstreamManifest,
    UpstreamManifestHead,
)
from pullcache.pullthrough.rule_errors import (
    InvalidRuleParameter,
    RuleAlreadyExists,
    RuleLimitExceeded,
    RuleNotFound,
    SecretNotFoundForRule,
    UnableToAccessSecret,
    UnsupportedUpstreamRegistry,
)
from pullcache.pullthrough.rules import PullThroughRule
from pullcache.pullthrough.service import (
    AUTHENTICATION_FAILED,
    NOTHING_TO_UPDATE,
    UPSTREAM_UNREACHABLE,
    PullThroughRuleService,
    RuleRequest,
)
from pullcache.secrets.errors import InvalidSecretRequest, SecretNotFound
from pullcache.secrets.model import Secret, SecretValue, SecretVersion
from pullcache.secrets.service import Place, VersionValue

SCOPE: Final = RegistryScope("123456789012", "us-east-1")
OTHER_REGION: Final = RegistryScope("123456789012", "eu-west-1")
NOW: Final = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
SECRET_ARN: Final = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/hub-AbCdEf"
TOKEN: Final = "upstream-token"


class MemoryRules:
    def __init__(self) -> None:
        self.rules: dict[tuple[RegistryScope, str], PullThroughRule] = {}

    async def add_rule(self, rule: PullThroughRule) -> bool:
        if (rule.scope, rule.prefix) in self.rules:
            return False
        self.rules[rule.scope, rule.prefix] = rule
        return True

    async def find_rule(self, scope: RegistryScope, prefix: str) -> PullThroughRule | None:
        return self.rules.get((scope, prefix))

    async def list_rules(self, scope: RegistryScope) -> Sequence[PullThroughRule]:
        return sorted((r for (s, _), r in self.rules.items() if s == scope), key=lambda r: r.prefix)

    async def list_account_rules(self, account_id: str) -> Sequence[PullThroughRule]:
        return [r for (s, _), r in self.rules.items() if s.account_id == account_id]

    async def replace_rule(self, rule: PullThroughRule) -> bool:
        if (rule.scope, rule.prefix) not in self.rules:
            return False
        self.rules[rule.scope, rule.prefix] = rule
        return True

    async def delete_rule(self, scope: RegistryScope, prefix: str) -> PullThroughRule | None:
        return self.rules.pop((scope, prefix), None)

    async def begin_import(self, scope: RegistryScope, repository: str, started_at: datetime) -> str:
        raise NotImplementedError

    async def end_import(self, import_id: str) -> None:
        raise NotImplementedError

    async def count_imports_since(self, account_id: str, since: datetime) -> int:
        raise NotImplementedError


@dataclass
class FakeSecrets:
    values: dict[str, str | None] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)

    async def get_secret_value(
        self, place: Place, secret_id: str, version_id: str | None = None, stage: str | None = None
    ) -> VersionValue:
        if secret_id not in self.values:
            raise SecretNotFound()
        if secret_id in self.deleted:
            raise InvalidSecretRequest("marked for deletion")
        secret = Secret(secret_id, place.account, place.region, "ecr-pullthroughcache/hub", None, (), NOW, NOW)
        version = SecretVersion("v1", b"sealed", ("AWSCURRENT",), NOW)
        return VersionValue(secret, version, SecretValue(string=self.values[secret_id]))


@dataclass
class FakeUpstream:
    failure: UpstreamError | None = None
    checked: list[UpstreamEndpoint] = field(default_factory=list)

    async def check(self, endpoint: UpstreamEndpoint, repository: str | None = None) -> None:
        self.checked.append(endpoint)
        if self.failure is not None:
            raise self.failure

    async def head_manifest(
        self, endpoint: UpstreamEndpoint, repository: str, reference: str, *, budget: float | None = None
    ) -> UpstreamManifestHead:
        raise NotImplementedError

    async def get_manifest(self, endpoint: UpstreamEndpoint, repository: str, reference: str) -> UpstreamManifest:
        raise NotImplementedError

    def open_blob(
        self, endpoint: UpstreamEndpoint, repository: str, digest: Digest
    ) -> AbstractAsyncContextManager[UpstreamBlob]:
        raise NotImplementedError

    async def has_blob(self, endpoint: UpstreamEndpoint, repository: str, digest: Digest) -> None:
        raise NotImplementedError


@dataclass
class FakeRoles:
    role: Role | None = None
    ensured: int = 0

    async def find_role(self, account_id: str) -> Role | None:
        return self.role

    async def ensure_role(self, account_id: str) -> Role:
        self.ensured += 1
        self.role = Role("AROAEXAMPLE", account_id, "AWSServiceRoleForECRPullThroughCache", "/", "arn", NOW, "{}")
        return self.role

    async def record_use(self, role: Role, at: datetime, region: str) -> None:
        raise NotImplementedError


class Refused(Exception):
    pass


@dataclass
class Fixture:
    service: PullThroughRuleService
    store: MemoryRules
    secrets: FakeSecrets
    upstream: FakeUpstream
    roles: FakeRoles
    asked: list[str] = field(default_factory=list)

    async def allow(self) -> None:
        self.asked.append("allowed")

    async def refuse(self) -> None:
        self.asked.append("refused")
        raise Refused()

    async def create(self, request: RuleRequest, scope: RegistryScope = SCOPE) -> PullThroughRule:
        return await self.service.create_rule(scope, request, self.allow)


@pytest.fixture
def fx() -> Fixture:
    store, secrets, upstream, roles = MemoryRules(), FakeSecrets(), FakeUpstream(), FakeRoles()
    secrets.values[SECRET_ARN] = json.dumps({"username": "puller", "accessToken": TOKEN})
    return Fixture(
        PullThroughRuleService(store, secrets, upstream, roles, clock=lambda: NOW), store, secrets, upstream, roles
    )


async def test_a_created_rule_keeps_its_upstream_kind_and_url_as_given(fx: Fixture) -> None:
    rule = await fx.create(RuleRequest("hub/", "registry-1.docker.io/", credential_arn=SECRET_ARN))

    assert (rule.prefix, rule.upstream_url, rule.upstream_registry) == ("hub", "registry-1.docker.io", "docker-hub")
    assert (rule.created_at, rule.updated_at, rule.credential_arn) == (NOW, NOW, SECRET_ARN)
    assert await fx.store.find_rule(SCOPE, "hub") == rule


async def test_the_first_rule_asks_leave_and_creates_the_role_once(fx: Fixture) -> None:
    await fx.create(RuleRequest("quay", "quay.io"))
    await fx.create(RuleRequest("k8s", "registry.k8s.io"))

    assert fx.asked == ["allowed"]
    assert fx.roles.ensured == 1


async def test_a_refused_role_creates_nothing(fx: Fixture) -> None:
    with pytest.raises(Refused):
        await fx.service.create_rule(SCOPE, RuleRequest("quay", "quay.io"), fx.refuse)

    assert fx.store.rules == {}
    assert fx.roles.role is None


async def test_a_duplicate_prefix_already_exists(fx: Fixture) -> None:
    await fx.create(RuleRequest("quay", "quay.io"))

    with pytest.raises(RuleAlreadyExists, match="prefix 'quay' already exists in the registry with id '123456789012'"):
        await fx.create(RuleRequest("quay/", "public.ecr.aws"))


async def test_the_fifty_first_rule_exceeds_the_limit_but_another_region_has_its_own(fx: Fixture) -> None:
    for index in range(50):
        await fx.create(RuleRequest(f"p{index:02d}", "quay.io"))

    with pytest.raises(RuleLimitExceeded):
        await fx.create(RuleRequest("p50", "quay.io"))
    assert (await fx.create(RuleRequest("p50", "quay.io"), OTHER_REGION)).scope == OTHER_REGION


async def test_an_upstream_prefix_is_refused_under_root(fx: Fixture) -> None:
    with pytest.raises(InvalidRuleParameter, match="upstreamRepositoryPrefix"):
        await fx.create(RuleRequest("ROOT", "quay.io", upstream_repository_prefix="mirror"))
    rule = await fx.create(RuleRequest("team", "quay.io", upstream_repository_prefix="mirror"))
    assert rule.upstream_repository_prefix == "mirror"


async def test_secrets_must_exist_be_live_hold_credentials_and_be_the_rules_own(fx: Fixture) -> None:
    missing = SECRET_ARN.replace("hub-", "gone-")
    elsewhere = SECRET_ARN.replace("us-east-1", "eu-west-1")
    fx.secrets.values[SECRET_ARN + "x"] = json.dumps({"username": "puller"})
    fx.secrets.values[SECRET_ARN + "y"] = "{}"
    fx.secrets.deleted.add(SECRET_ARN + "y")

    with pytest.raises(SecretNotFoundForRule):
        await fx.create(RuleRequest("a1", "ghcr.io", credential_arn=missing))
    with pytest.raises(UnableToAccessSecret, match="username and an accessToken"):
        await fx.create(RuleRequest("a2", "ghcr.io", credential_arn=SECRET_ARN + "x"))
    with pytest.raises(UnableToAccessSecret):
        await fx.create(RuleRequest("a3", "ghcr.io", credential_arn=SECRET_ARN + "y"))
    with pytest.raises(UnableToAccessSecret, match="same account and Region"):
        await fx.create(RuleRequest("a4", "ghcr.io", credential_arn=elsewhere))
    assert fx.store.rules == {}


async def test_a_missing_secret_for_docker_hub_is_unsupported(fx: Fixture) -> None:
    with pytest.raises(UnsupportedUpstreamRegistry):
        await fx.create(RuleRequest("hub", "registry-1.docker.io"))


async def test_describe_filters_by_prefix_and_pages_in_order(fx: Fixture) -> None:
    for name in ("c", "a", "b", "e", "d"):
        await fx.create(RuleRequest(f"{name}{name}", "quay.io"))

    first, token = await fx.service.describe_rules(SCOPE, None, None, 2)
    assert token is not None
    second, token2 = await fx.service.describe_rules(SCOPE, None, token, 2)
    third, token3 = await fx.service.describe_rules(SCOPE, None, token2, 2)
    named, _ = await fx.service.describe_rules(SCOPE, ["dd", "aa"], None, None)

    assert [r.prefix for r in first + second + third] == ["aa", "bb", "cc", "dd", "ee"]
    assert token3 is None
    assert [r.prefix for r in named] == ["dd", "aa"]
    with pytest.raises(RuleNotFound):
        await fx.service.describe_rules(SCOPE, ["aa", "zz"], None, None)
    with pytest.raises(InvalidParameter):
        await fx.service.describe_rules(SCOPE, None, "not-a-token", None)


async def test_update_changes_credentials_only_and_needs_one(fx: Fixture) -> None:
    await fx.create(RuleRequest("other", "http://127.0.0.1:5000"))
    later = datetime(2025, 2, 1, tzinfo=UTC)
    fx.service = PullThroughRuleService(fx.store, fx.secrets, fx.upstream, fx.roles, clock=lambda: later)

    with pytest.raises(InvalidRuleParameter, match=NOTHING_TO_UPDATE):
        await fx.service.update_rule(SCOPE, "other", None, None)
    updated = await fx.service.update_rule(SCOPE, "other", SECRET_ARN, None)

    assert (updated.credential_arn, updated.created_at, updated.updated_at) == (SECRET_ARN, NOW, later)
    with pytest.raises(RuleNotFound):
        await fx.service.update_rule(SCOPE, "missing", SECRET_ARN, None)
    with pytest.raises(UnsupportedUpstreamRegistry):
        await fx.service.update_rule(SCOPE, "other", None, "arn:aws:iam::123456789012:role/r")


async def test_a_premium_rule_keeps_its_role_pair_and_updates_either_role(fx: Fixture) -> None:
    custom, upstream_role = "arn:aws:iam::123456789012:role/puller", "arn:aws:iam::111122223333:role/reader"
    created = await fx.create(
        RuleRequest("premium", "ecr-premium.aws.com", custom_role_arn=custom, upstream_role_arn=upstream_role)
    )
    other_role = "arn:aws:iam::111122223333:role/other-reader"

    updated = await fx.service.update_rule(SCOPE, "premium", None, None, other_role)

    assert (created.upstream_registry, created.custom_role_arn, created.upstream_role_arn) == (
        "ecr-public-premium",
        custom,
        upstream_role,
    )
    assert (updated.custom_role_arn, updated.upstream_role_arn) == (custom, other_role)
    assert await fx.store.find_rule(SCOPE, "premium") == updated


async def test_an_upstream_role_alone_is_refused_and_nothing_is_created(fx: Fixture) -> None:
    request = RuleRequest("premium", "ecr-premium.aws.com", upstream_role_arn="arn:aws:iam::111122223333:role/r")

    with pytest.raises(InvalidRuleParameter, match="upstreamRoleArn requires customRoleArn"):
        await fx.create(request)
    assert await fx.store.find_rule(SCOPE, "premium") is None


async def test_an_upstream_role_on_a_rule_of_another_kind_is_unsupported(fx: Fixture) -> None:
    await fx.create(RuleRequest("quay", "quay.io"))

    with pytest.raises(UnsupportedUpstreamRegistry, match="upstream IAM role"):
        await fx.service.update_rule(SCOPE, "quay", None, None, "arn:aws:iam::111122223333:role/r")


async def test_delete_returns_the_rule_and_then_it_is_not_found(fx: Fixture) -> None:
    created = await fx.create(RuleRequest("quay", "quay.io"))

    assert await fx.service.delete_rule(SCOPE, "quay") == created
    with pytest.raises(RuleNotFound):
        await fx.service.delete_rule(SCOPE, "quay")


async def test_validate_checks_the_upstream_with_the_secrets_credentials(fx: Fixture) -> None:
    await fx.create(RuleRequest("lab", "http://127.0.0.1:5000", credential_arn=SECRET_ARN))

    validation = await fx.service.validate_rule(SCOPE, "lab")

    assert (validation.is_valid, validation.failure) == (True, None)
    endpoint = fx.upstream.checked[0]
    assert endpoint.base_url == "http://127.0.0.1:5000"
    assert endpoint.credentials is not None
    assert (endpoint.credentials.username, endpoint.credentials.access_token) == ("puller", TOKEN)
    assert TOKEN not in repr(endpoint)


@pytest.mark.parametrize(
    ("failure", "text"),
    [(UpstreamDenied("401", 401), AUTHENTICATION_FAILED), (UpstreamUnavailable("refused"), UPSTREAM_UNREACHABLE)],
)
async def test_validate_reports_an_upstream_failure(fx: Fixture, failure: UpstreamError, text: str) -> None:
    await fx.create(RuleRequest("quay", "quay.io"))
    fx.upstream.failure = failure

    validation = await fx.service.validate_rule(SCOPE, "quay")

    assert (validation.is_valid, validation.failure) == (False, text)
    assert fx.upstream.checked[0].base_url == "https://quay.io"


async def test_validate_reports_a_secret_that_went_away(fx: Fixture) -> None:
    await fx.create(RuleRequest("ghcr", "ghcr.io", credential_arn=SECRET_ARN))
    del fx.secrets.values[SECRET_ARN]

    validation = await fx.service.validate_rule(SCOPE, "ghcr")

    assert validation.is_valid is False
    assert validation.failure is not None
    assert "secret" in validation.failure
    assert fx.upstream.checked == []
