"""SqlSessionStore: role sessions and user sessions round-trip through SQL, and expired ones are purged."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pullcache.metadata.engine import create_engine, migrate
from pullcache.metadata.sql_accounts import SqlAccountStore
from pullcache.metadata.sql_sts import SqlSessionStore
from pullcache.sts.model import RoleSession, SessionTag, UserSession, new_session_keys
from tests.stores import sqlite_url

ACCOUNT = "123456789012"
ISSUED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[SqlSessionStore]:
    engine = create_engine(sqlite_url(tmp_path / "metadata.db"))
    try:
        await migrate(engine)
        await SqlAccountStore(engine).ensure_account(ACCOUNT)
        yield SqlSessionStore(engine)
    finally:
        await engine.dispose()


def session(expires_in: timedelta = timedelta(hours=1), **extra: Any) -> RoleSession:
    key, secret, token = new_session_keys()
    stored = RoleSession(
        access_key_id=key,
        secret_access_key=secret,
        session_token=token,
        account=ACCOUNT,
        role_id="AROAEXAMPLEEXAMPLEEX",
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/ci/deployer",
        session_name="build-7",
        caller_arn=f"arn:aws:iam::{ACCOUNT}:user/alice",
        issued_at=ISSUED,
        expires_at=ISSUED + expires_in,
    )
    return replace(stored, **extra)


async def test_a_session_round_trips_with_its_policies_tags_and_times(sessions: SqlSessionStore) -> None:
    stored = session(
        session_policy='{"Version":"2012-10-17","Statement":[]}',
        policy_arns=("arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",),
        tags=(SessionTag("team", "blue"), SessionTag("env", "ci")),
        transitive_tag_keys=("team",),
        source_identity="alice@example.com",
    )

    await sessions.add_session(stored)

    assert await sessions.find_session(stored.access_key_id) == stored
    assert await sessions.find_session("ASIANOSUCHKEYEXAMPLE") is None


async def test_a_session_without_extras_round_trips(sessions: SqlSessionStore) -> None:
    stored = session()

    await sessions.add_session(stored)

    found = await sessions.find_session(stored.access_key_id)
    assert found == stored
    assert found is not None
    assert found.expires_at.tzinfo is not None


async def test_purging_deletes_only_sessions_that_expired_before_the_instant(sessions: SqlSessionStore) -> None:
    gone, kept = session(timedelta(minutes=15)), session(timedelta(hours=2))
    for stored in (gone, kept):
        await sessions.add_session(stored)

    purged = await sessions.purge_sessions(ISSUED + timedelta(hours=1))

    assert purged == 1
    assert await sessions.find_session(gone.access_key_id) is None
    assert await sessions.find_session(kept.access_key_id) == kept


def user_session(
    user_id: str | None = "AIDAEXAMPLEEXAMPLEEX", expires_in: timedelta = timedelta(hours=12)
) -> UserSession:
    key, secret, token = new_session_keys()
    arn = f"arn:aws:iam::{ACCOUNT}:user/alice" if user_id is not None else f"arn:aws:iam::{ACCOUNT}:root"
    return UserSession(key, secret, token, ACCOUNT, arn, user_id, ISSUED, ISSUED + expires_in)


async def test_user_sessions_round_trip_apart_from_role_sessions(sessions: SqlSessionStore) -> None:
    alice, root = user_session(), user_session(None)

    await sessions.add_user_session(alice)
    await sessions.add_user_session(root)

    assert await sessions.find_user_session(alice.access_key_id) == alice
    assert await sessions.find_user_session(root.access_key_id) == root
    assert await sessions.find_session(alice.access_key_id) is None  # not a role session
    assert await sessions.find_user_session("ASIANOSUCHKEYEXAMPLE") is None


async def test_purging_removes_expired_sessions_of_both_kinds(sessions: SqlSessionStore) -> None:
    old_role, old_user = session(expires_in=timedelta(minutes=15)), user_session(expires_in=timedelta(minutes=15))
    live_user = user_session()
    await sessions.add_session(old_role)
    for stored in (old_user, live_user):
        await sessions.add_user_session(stored)

    purged = await sessions.purge_sessions(ISSUED + timedelta(hours=1))

    assert purged == 2
    assert await sessions.find_user_session(old_user.access_key_id) is None
    assert await sessions.find_user_session(live_user.access_key_id) == live_user
