"""SecretsService over a migrated SQLite database: tags, version listing and staging labels, resource policies."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pullcache.metadata.engine import create_engine, migrate
from pullcache.metadata.sql_accounts import SqlAccountStore
from pullcache.metadata.sql_keys import SqlSigningKeyStore
from pullcache.metadata.sql_secrets import SqlSecretStore
from pullcache.policy import MalformedPolicyDocument
from pullcache.secrets.cipher import SecretCipher
from pullcache.secrets.errors import InvalidSecretRequest, PublicPolicy
from pullcache.secrets.model import CURRENT, PENDING, PREVIOUS, SecretValue, Tag
from pullcache.secrets.resource_policies import BROAD_ACCESS
from pullcache.secrets.service import Place, SecretsService
from tests.stores import sqlite_url

ACCOUNT = "123456789012"
PLACE = Place(ACCOUNT, "eu-west-1")
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MARKED = "You can't perform this operation on the secret because it was marked for deletion."


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def tick(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


@dataclass
class Fixture:
    service: SecretsService
    clock: Clock


@pytest.fixture
async def fx(tmp_path: Path) -> AsyncIterator[Fixture]:
    engine = create_engine(sqlite_url(tmp_path / "metadata.db"))
    await migrate(engine)
    await SqlAccountStore(engine).ensure_account(ACCOUNT)
    clock = Clock()
    cipher = await SecretCipher.load(SqlSigningKeyStore(engine))
    yield Fixture(SecretsService(SqlSecretStore(engine), cipher, clock), clock)
    await engine.dispose()


def text(value: str) -> SecretValue:
    return SecretValue(string=value)


def policy(principal: object) -> str:
    statement = {"Effect": "Allow", "Principal": principal, "Action": "secretsmanager:GetSecretValue", "Resource": "*"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


async def test_tags_are_added_replaced_and_removed_and_stored(fx: Fixture) -> None:
    await fx.service.create_secret(PLACE, "tagged", text("v"), tags=[Tag("team", "a"), Tag("env", "dev")])
    changed = fx.clock.tick()

    await fx.service.tag_secret(PLACE, "tagged", [Tag("env", "prod"), Tag("owner", "ops")])
    tagged = await fx.service.get_secret(PLACE, "tagged")
    await fx.service.untag_secret(PLACE, "tagged", ["team", "absent"])
    untagged = await fx.service.get_secret(PLACE, "tagged")

    assert set(tagged.tags) == {Tag("team", "a"), Tag("env", "prod"), Tag("owner", "ops")}
    assert tagged.last_changed_at == changed
    assert set(untagged.tags) == {Tag("env", "prod"), Tag("owner", "ops")}


async def test_a_secret_marked_for_deletion_cannot_be_tagged(fx: Fixture) -> None:
    await fx.service.create_secret(PLACE, "doomed", text("v"))
    await fx.service.delete_secret(PLACE, "doomed")

    with pytest.raises(InvalidSecretRequest, match=MARKED):
        await fx.service.tag_secret(PLACE, "doomed", [Tag("k", "v")])


async def test_versions_are_listed_newest_first_and_deprecated_ones_on_request(fx: Fixture) -> None:
    first = await fx.service.create_secret(PLACE, "rotated", text("1"))
    fx.clock.tick()
    second = await fx.service.put_secret_value(PLACE, "rotated", text("2"))
    fx.clock.tick()
    third = await fx.service.put_secret_value(PLACE, "rotated", text("3"))

    _, staged = await fx.service.list_version_ids(PLACE, "rotated")
    _, every = await fx.service.list_version_ids(PLACE, "rotated", include_deprecated=True)

    assert [(v.version_id, v.stages) for v in staged] == [
        (third.version_id, (CURRENT,)),
        (second.version_id, (PREVIOUS,)),
    ]
    assert [v.version_id for v in every] == [third.version_id, second.version_id, first.version_id]
    assert every[2].stages == ()


async def test_a_pending_version_is_promoted_by_moving_awscurrent(fx: Fixture) -> None:
    first = await fx.service.create_secret(PLACE, "rotating", text("old"))
    pending = await fx.service.put_secret_value(PLACE, "rotating", text("new"), stages=[PENDING])
    assert (await fx.service.get_secret_value(PLACE, "rotating")).value == text("old")
    assert pending.version_id is not None
    assert first.version_id is not None

    await fx.service.update_version_stage(PLACE, "rotating", CURRENT, first.version_id, pending.version_id)

    current = await fx.service.get_secret_value(PLACE, "rotating")
    previous = await fx.service.get_secret_value(PLACE, "rotating", stage=PREVIOUS)
    assert (current.value, current.version.stages) == (text("new"), (PENDING, CURRENT))
    assert (previous.value, previous.version.version_id) == (text("old"), first.version_id)


async def test_a_resource_policy_is_put_read_back_and_deleted(fx: Fixture) -> None:
    await fx.service.create_secret(PLACE, "shared", text("v"))
    document = policy({"AWS": "arn:aws:iam::210987654321:root"})

    await fx.service.put_resource_policy(PLACE, "shared", document, block_public=True)
    stored = await fx.service.get_secret(PLACE, "shared")
    await fx.service.delete_resource_policy(PLACE, "shared")
    removed = await fx.service.get_secret(PLACE, "shared")

    assert (stored.resource_policy, removed.resource_policy) == (document, None)


async def test_block_public_policy_refuses_a_policy_for_everyone(fx: Fixture) -> None:
    await fx.service.create_secret(PLACE, "public", text("v"))

    with pytest.raises(PublicPolicy, match=BROAD_ACCESS):
        await fx.service.put_resource_policy(PLACE, "public", policy("*"), block_public=True)
    assert (await fx.service.get_secret(PLACE, "public")).resource_policy is None

    await fx.service.put_resource_policy(PLACE, "public", policy("*"), block_public=False)
    assert (await fx.service.get_secret(PLACE, "public")).resource_policy == policy("*")


async def test_a_malformed_resource_policy_is_refused(fx: Fixture) -> None:
    await fx.service.create_secret(PLACE, "malformed", text("v"))

    with pytest.raises(MalformedPolicyDocument):
        await fx.service.put_resource_policy(PLACE, "malformed", '{"Statement": []}', block_public=False)
