"""SecretsService over a migrated SQLite database: secrets, versions and staging labels, deletion and recovery,
and values that are stored only encrypted."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pullcache.metadata.engine import create_engine, migrate
from pullcache.metadata.sql_accounts import SqlAccountStore
from pullcache.metadata.sql_keys import SqlSigningKeyStore
from pullcache.metadata.sql_secrets import SqlSecretStore
from pullcache.secrets.cipher import SecretCipher
from pullcache.secrets.errors import InvalidSecretParameter, InvalidSecretRequest, SecretExists, SecretNotFound
from pullcache.secrets.model import CURRENT, PREVIOUS, SecretValue, Tag
from pullcache.secrets.service import Place, SecretsService
from tests.stores import sqlite_url

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"
PLACE = Place(ACCOUNT, "eu-west-1")
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TOKEN = "ghp_upstream-token-0123456789"
MARKED = "You can't perform this operation on the secret because it was marked for deletion."


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Fixture:
    service: SecretsService
    clock: Clock
    database: Path


@pytest.fixture
async def fixture(tmp_path: Path) -> AsyncIterator[Fixture]:
    database = tmp_path / "metadata.db"
    engine = create_engine(sqlite_url(database))
    await migrate(engine)
    accounts = SqlAccountStore(engine)
    for account in (ACCOUNT, OTHER_ACCOUNT):
        await accounts.ensure_account(account)
    clock = Clock()
    cipher = await SecretCipher.load(SqlSigningKeyStore(engine))
    yield Fixture(SecretsService(SqlSecretStore(engine), cipher, clock), clock, database)
    await engine.dispose()


def text(value: str) -> SecretValue:
    return SecretValue(string=value)


async def test_created_secret_has_an_arn_with_a_six_character_suffix_and_a_current_version(fixture: Fixture) -> None:
    written = await fixture.service.create_secret(PLACE, "ecr-pullthroughcache/ghcr", text(TOKEN))
    assert re.fullmatch(
        r"arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecr-pullthroughcache/ghcr-[A-Za-z0-9]{6}",
        written.secret.arn,
    )
    found = await fixture.service.get_secret_value(PLACE, written.secret.arn)
    assert found.value == text(TOKEN)
    assert found.version.version_id == written.version_id
    assert found.version.stages == (CURRENT,)


async def test_a_secret_is_found_by_name_only_in_its_own_account_and_region(fixture: Fixture) -> None:
    await fixture.service.create_secret(PLACE, "upstream", text(TOKEN))
    with pytest.raises(SecretNotFound, match=r"^Secrets Manager can't find the specified secret\.$"):
        await fixture.service.get_secret_value(Place(OTHER_ACCOUNT, "eu-west-1"), "upstream")
    with pytest.raises(SecretNotFound):
        await fixture.service.get_secret_value(Place(ACCOUNT, "us-east-1"), "upstream")


async def test_creating_an_existing_name_fails_unless_the_request_is_repeated(fixture: Fixture) -> None:
    first = await fixture.service.create_secret(PLACE, "upstream", text(TOKEN), token="token-1")
    repeated = await fixture.service.create_secret(PLACE, "upstream", text(TOKEN), token="token-1")
    assert (repeated.secret.arn, repeated.version_id) == (first.secret.arn, "token-1")
    with pytest.raises(SecretExists, match=r"^The operation failed because the secret upstream already exists\.$"):
        await fixture.service.create_secret(PLACE, "upstream", text("other"), token="token-1")
    with pytest.raises(SecretExists):
        await fixture.service.create_secret(PLACE, "upstream", text(TOKEN))


async def test_putting_a_value_moves_current_and_previous(fixture: Fixture) -> None:
    first = await fixture.service.create_secret(PLACE, "upstream", text("one"))
    second = await fixture.service.put_secret_value(PLACE, "upstream", text("two"))
    third = await fixture.service.put_secret_value(PLACE, "upstream", text("three"))
    assert (await fixture.service.get_secret_value(PLACE, "upstream")).value == text("three")
    previous = await fixture.service.get_secret_value(PLACE, "upstream", stage=PREVIOUS)
    assert (previous.version.version_id, previous.value) == (second.version_id, text("two"))
    oldest = await fixture.service.get_secret_value(PLACE, "upstream", version_id=first.version_id)
    assert (oldest.value, oldest.version.stages) == (text("one"), ())
    assert third.stages == (CURRENT,)


async def test_a_repeated_put_is_ignored_and_a_changed_one_refused(fixture: Fixture) -> None:
    await fixture.service.create_secret(PLACE, "upstream", text("one"))
    await fixture.service.put_secret_value(PLACE, "upstream", text("two"), token="v2")
    again = await fixture.service.put_secret_value(PLACE, "upstream", text("two"), token="v2")
    assert again.version_id == "v2"
    assert (await fixture.service.get_secret_value(PLACE, "upstream", stage=PREVIOUS)).value == text("one")
    with pytest.raises(SecretExists, match="You can't modify an existing version"):
        await fixture.service.put_secret_value(PLACE, "upstream", text("changed"), token="v2")


async def test_unknown_versions_and_stages_are_not_found_with_aws_messages(fixture: Fixture) -> None:
    await fixture.service.create_secret(PLACE, "upstream", text("one"))
    with pytest.raises(SecretNotFound, match=r"for staging label: AWSPREVIOUS$"):
        await fixture.service.get_secret_value(PLACE, "upstream", stage=PREVIOUS)
    with pytest.raises(SecretNotFound, match=r"for VersionId: nope$"):
        await fixture.service.get_secret_value(PLACE, "upstream", version_id="nope")


async def test_update_changes_the_description_and_makes_a_new_value_current(fixture: Fixture) -> None:
    await fixture.service.create_secret(PLACE, "upstream", text("one"), description="old", tags=[Tag("team", "a")])
    fixture.clock.now = START + timedelta(minutes=5)
    described = await fixture.service.update_secret(PLACE, "upstream", description="new")
    assert described.version_id is None
    assert described.secret.last_changed_at == START + timedelta(minutes=5)
    updated = await fixture.service.update_secret(PLACE, "upstream", value=text("two"))
    secret = await fixture.service.get_secret(PLACE, "upstream")
    assert (secret.description, secret.tags) == ("new", (Tag("team", "a"),))
    assert (await fixture.service.get_secret_value(PLACE, "upstream")).version.version_id == updated.version_id


async def test_a_deleted_secret_refuses_its_value_until_restored(fixture: Fixture) -> None:
    await fixture.service.create_secret(PLACE, "upstream", text("one"))
    secret, deletion = await fixture.service.delete_secret(PLACE, "upstream", recovery_days=7)
    assert deletion == START + timedelta(days=7)
    assert secret.deleted_at == START
    for call in (
        fixture.service.get_secret_value(PLACE, "upstream"),
        fixture.service.put_secret_value(PLACE, "upstream", text("two")),
        fixture.service.update_secret(PLACE, "upstream", description="x"),
        fixture.service.delete_secret(PLACE, "upstream"),
    ):
        with pytest.raises(InvalidSecretRequest, match=f"^{re.escape(MARKED)}$"):
            await call
    assert await fixture.service.list_secrets(PLACE) == []
    assert [s.name for s in await fixture.service.list_secrets(PLACE, include_planned_deletion=True)] == ["upstream"]
    with pytest.raises(InvalidSecretRequest, match="already scheduled for deletion"):
        await fixture.service.create_secret(PLACE, "upstream", text("again"))
    await fixture.service.restore_secret(PLACE, "upstream")
    assert (await fixture.service.get_secret_value(PLACE, "upstream")).value == text("one")


async def test_the_default_recovery_window_is_thirty_days_and_then_the_secret_is_gone(fixture: Fixture) -> None:
    await fixture.service.create_secret(PLACE, "upstream", text("one"))
    _, deletion = await fixture.service.delete_secret(PLACE, "upstream")
    assert deletion == START + timedelta(days=30)
    fixture.clock.now = deletion
    assert await fixture.service.find_secret(PLACE, "upstream") is None
    await fixture.service.create_secret(PLACE, "upstream", text("new"))


async def test_forced_deletion_is_immediate(fixture: Fixture) -> None:
    await fixture.service.create_secret(PLACE, "upstream", text("one"))
    _, deletion = await fixture.service.delete_secret(PLACE, "upstream", force=True)
    assert deletion == START
    with pytest.raises(SecretNotFound):
        await fixture.service.restore_secret(PLACE, "upstream")


@pytest.mark.parametrize("days", [6, 31])
async def test_recovery_windows_outside_7_to_30_days_are_invalid(fixture: Fixture, days: int) -> None:
    await fixture.service.create_secret(PLACE, "upstream", text("one"))
    with pytest.raises(InvalidSecretParameter, match=r"between 7 and 30 days \(inclusive\)\.$"):
        await fixture.service.delete_secret(PLACE, "upstream", recovery_days=days)


async def test_force_and_a_recovery_window_cannot_be_combined(fixture: Fixture) -> None:
    await fixture.service.create_secret(PLACE, "upstream", text("one"))
    with pytest.raises(InvalidSecretParameter, match="in conjunction with RecoveryWindowInDays"):
        await fixture.service.delete_secret(PLACE, "upstream", recovery_days=7, force=True)


async def test_values_are_stored_encrypted(fixture: Fixture) -> None:
    await fixture.service.create_secret(PLACE, "upstream", text(TOKEN))
    await fixture.service.put_secret_value(PLACE, "upstream", SecretValue(binary=b"binary-" + TOKEN.encode()))
    assert (await fixture.service.get_secret_value(PLACE, "upstream")).value.binary == b"binary-" + TOKEN.encode()
    stored = fixture.database.read_bytes() + b"".join(
        path.read_bytes() for path in fixture.database.parent.glob("metadata.db-*")
    )
    assert b"eu-west-1:123456789012:secret:upstream-" in stored
    assert TOKEN.encode() not in stored
