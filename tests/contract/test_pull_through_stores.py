"""The pull-through cache's stores: PullThroughRuleStore (rules, imports in flight), TemplateStore and the
lifecycle policies of repositories, over every SQL adapter."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from pullcache.core.scopes import RegistryScope
from pullcache.ecr.ports import Encryption, LifecyclePolicy, LifecyclePolicyStore, RepositorySettings
from pullcache.metadata.engine import create_engine, migrate
from pullcache.metadata.sql_ecr import SqlEcrStore
from pullcache.metadata.sql_lifecycle import SqlLifecyclePolicyStore
from pullcache.metadata.sql_pullthrough import SqlPullThroughStore
from pullcache.pullthrough.model import AppliedFor, Template, TemplateSettings
from pullcache.pullthrough.ports import PullThroughRuleStore, TemplateStore
from pullcache.pullthrough.rules import PullThroughRule
from pullcache.registry.tag_mutability import TagMutability, TagMutabilityRule
from tests.stores import sqlite_url

SCOPE: Final = RegistryScope("123456789012", "us-east-1")
OTHER_REGION: Final = RegistryScope("123456789012", "eu-west-1")
OTHER_ACCOUNT: Final = RegistryScope("210987654321", "us-east-1")
NOW: Final = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
COVERED: Final = {
    PullThroughRuleStore: {
        "add_rule",
        "find_rule",
        "list_rules",
        "list_account_rules",
        "replace_rule",
        "delete_rule",
        "begin_import",
        "end_import",
        "count_imports_since",
    },
    TemplateStore: {"add_template", "find_template", "list_templates", "replace_template", "delete_template"},
    LifecyclePolicyStore: {"find_lifecycle_policy", "set_lifecycle_policy", "delete_lifecycle_policy"},
}


async def sqlite_engine(scratch: Path) -> AsyncEngine:
    engine = create_engine(sqlite_url(scratch / "metadata.db"))
    await migrate(engine)
    return engine


ENGINES = [pytest.param(sqlite_engine, id="sqlite")]


@pytest.fixture(params=ENGINES)
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    opened: AsyncEngine = await request.param(tmp_path)
    yield opened
    await opened.dispose()


@pytest.fixture
def store(engine: AsyncEngine) -> SqlPullThroughStore:
    return SqlPullThroughStore(engine)


def rule(prefix: str, scope: RegistryScope = SCOPE, **fields: object) -> PullThroughRule:
    base = PullThroughRule(scope, prefix, "quay.io", "quay", NOW, NOW)
    return replace(base, **fields)  # type: ignore[arg-type]


def template(prefix: str, scope: RegistryScope = SCOPE) -> Template:
    settings = TemplateSettings(
        applied_for=(AppliedFor.PULL_THROUGH_CACHE, AppliedFor.REPLICATION),
        description="cached",
        encryption=Encryption("KMS", "arn:aws:kms:us-east-1:123456789012:key/k"),
        resource_tags=(("team", "platform"), ("cost", "")),
        tag_mutability=TagMutabilityRule(TagMutability.IMMUTABLE_WITH_EXCLUSION, ("latest", "dev-*")),
        repository_policy='{"Version":"2012-10-17","Statement":[]}',
        lifecycle_policy='{"rules":[]}',
        custom_role_arn="arn:aws:iam::123456789012:role/templates",
    )
    return Template(scope, prefix, settings, NOW, NOW)


def test_the_suite_covers_every_method_of_the_ports() -> None:
    for port, covered in COVERED.items():
        methods = {name for name, _ in inspect.getmembers(port, inspect.isfunction) if not name.startswith("_")}
        assert methods == covered, port


# -- rules ----------------------------------------------------------------------------------------------------


async def test_a_rule_round_trips_with_every_field(store: SqlPullThroughStore) -> None:
    full = rule(
        "lab/team",
        upstream_url="http://127.0.0.1:5000",
        upstream_registry=None,
        credential_arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/x-AbCdEf",
        custom_role_arn="arn:aws:iam::123456789012:role/r",
        upstream_repository_prefix="mirror",
        upstream_role_arn="arn:aws:iam::111122223333:role/premium-reader",
        tag_ttl=timedelta(minutes=5),
    )

    assert await store.add_rule(full) is True
    assert await store.find_rule(SCOPE, "lab/team") == full


async def test_a_second_rule_of_a_prefix_is_not_added(store: SqlPullThroughStore) -> None:
    assert await store.add_rule(rule("quay")) is True
    assert await store.add_rule(rule("quay", upstream_url="public.ecr.aws")) is False
    assert (await store.find_rule(SCOPE, "quay")) == rule("quay")


async def test_rules_are_kept_per_account_and_region(store: SqlPullThroughStore) -> None:
    for scope in (SCOPE, OTHER_REGION, OTHER_ACCOUNT):
        await store.add_rule(rule("quay", scope))
    await store.add_rule(rule("hub", SCOPE))

    assert [r.prefix for r in await store.list_rules(SCOPE)] == ["hub", "quay"]
    assert [r.scope for r in await store.list_rules(OTHER_REGION)] == [OTHER_REGION]
    listed = await store.list_account_rules(SCOPE.account_id)
    assert [(r.scope.region, r.prefix) for r in listed] == [
        ("eu-west-1", "quay"),
        ("us-east-1", "hub"),
        ("us-east-1", "quay"),
    ]
    assert await store.find_rule(OTHER_ACCOUNT, "hub") is None


async def test_replacing_a_rule_keeps_its_creation_time(store: SqlPullThroughStore) -> None:
    await store.add_rule(rule("quay"))
    later = NOW + timedelta(days=1)
    changed = rule("quay", credential_arn="arn:x", updated_at=later)

    assert await store.replace_rule(changed) is True
    assert await store.find_rule(SCOPE, "quay") == changed
    assert await store.replace_rule(rule("missing")) is False


async def test_deleting_a_rule_returns_it_once(store: SqlPullThroughStore) -> None:
    await store.add_rule(rule("quay"))
    await store.add_rule(rule("quay", OTHER_REGION))

    assert await store.delete_rule(SCOPE, "quay") == rule("quay")
    assert await store.delete_rule(SCOPE, "quay") is None
    assert await store.find_rule(OTHER_REGION, "quay") is not None


async def test_imports_in_flight_are_counted_per_account_since_a_time(store: SqlPullThroughStore) -> None:
    old = await store.begin_import(SCOPE, "quay/a", NOW - timedelta(hours=2))
    recent = await store.begin_import(OTHER_REGION, "quay/b", NOW)
    await store.begin_import(OTHER_ACCOUNT, "quay/c", NOW)

    assert old != recent
    assert await store.count_imports_since(SCOPE.account_id, NOW - timedelta(hours=1)) == 1
    assert await store.count_imports_since(SCOPE.account_id, NOW - timedelta(hours=3)) == 2
    await store.end_import(recent)
    await store.end_import(recent)  # idempotent
    assert await store.count_imports_since(SCOPE.account_id, NOW - timedelta(hours=1)) == 0


# -- templates ------------------------------------------------------------------------------------------------


async def test_a_template_round_trips_with_every_setting(store: SqlPullThroughStore) -> None:
    assert await store.add_template(template("hub")) is True
    assert await store.add_template(template("hub")) is False
    assert await store.find_template(SCOPE, "hub") == template("hub")


async def test_templates_are_listed_per_scope_in_order_and_replaced_and_deleted(store: SqlPullThroughStore) -> None:
    for prefix in ("quay", "ROOT", "hub"):
        await store.add_template(template(prefix))
    await store.add_template(template("hub", OTHER_REGION))
    plain = replace(
        template("hub"), settings=TemplateSettings((AppliedFor.CREATE_ON_PUSH,)), updated_at=NOW + timedelta(1)
    )

    assert [t.prefix for t in await store.list_templates(SCOPE)] == ["ROOT", "hub", "quay"]
    assert await store.replace_template(plain) is True
    assert await store.find_template(SCOPE, "hub") == plain
    assert await store.replace_template(template("none")) is False
    assert await store.delete_template(SCOPE, "hub") == plain
    assert await store.delete_template(SCOPE, "hub") is None
    assert await store.find_template(OTHER_REGION, "hub") == template("hub", OTHER_REGION)


# -- lifecycle policies ---------------------------------------------------------------------------------------


async def test_a_lifecycle_policy_is_set_replaced_and_deleted_with_its_repository(engine: AsyncEngine) -> None:
    repositories, policies = SqlEcrStore(engine), SqlLifecyclePolicyStore(engine)
    await repositories.create_repository(SCOPE, "team/app", RepositorySettings(), [], NOW)

    assert await policies.set_lifecycle_policy(SCOPE, "team/none", "{}", NOW) is False
    assert await policies.find_lifecycle_policy(SCOPE, "team/app") is None
    assert await policies.set_lifecycle_policy(SCOPE, "team/app", "first", NOW) is True
    assert await policies.set_lifecycle_policy(SCOPE, "team/app", "second", NOW + timedelta(1)) is True
    assert await policies.find_lifecycle_policy(SCOPE, "team/app") == LifecyclePolicy("second", NOW + timedelta(1))
    assert await policies.find_lifecycle_policy(OTHER_REGION, "team/app") is None
    assert await policies.delete_lifecycle_policy(SCOPE, "team/app") == LifecyclePolicy("second", NOW + timedelta(1))
    assert await policies.delete_lifecycle_policy(SCOPE, "team/app") is None

    await policies.set_lifecycle_policy(SCOPE, "team/app", "third", NOW)
    await repositories.delete_repository(SCOPE, "team/app", force=True)
    await repositories.create_repository(SCOPE, "team/app", RepositorySettings(), [], NOW)
    assert await policies.find_lifecycle_policy(SCOPE, "team/app") is None
