"""StsService.assume_role: who may assume a role, for how long, and what the session is — over a real SQLite IAM
store, the real policy engine, and sessions kept in memory."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pullcache.iam.errors import EntityKind
from pullcache.iam.model import Role, User
from pullcache.iam.principal_policies import IamPrincipalPolicies
from pullcache.iam.service import IamService
from pullcache.metadata.sql_iam import SqlIamStore
from pullcache.policy import ContextValue, RequestPrincipal
from pullcache.sts.errors import AssumeRoleDenied, RootCannotAssumeRoles, StsValidationError
from pullcache.sts.model import RoleSession, SessionTag
from pullcache.sts.requests import AssumeRoleRequest
from pullcache.sts.service import EXPIRED_SESSION_RETENTION, StsService
from pullcache.sts.session_policies import StsSessionPolicies
from tests.iam_stores import ACCOUNT, OTHER_ACCOUNT, identity_policy, sqlite_iam
from tests.unit.sts.memory_sessions import MemorySessions

NOW = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
REGION = "eu-west-1"
KEYS: dict[str, ContextValue] = {"aws:SourceIp": "192.0.2.1"}


@dataclass
class Fixture:
    iam: IamService
    store: SqlIamStore
    sessions: MemorySessions
    sts: StsService

    async def user(self, name: str, *actions: str, account: str = ACCOUNT, resource: str = "*") -> RequestPrincipal:
        user: User = await self.iam.users.create_user(account, name)
        if actions:
            document = identity_policy(*actions, resource=resource)
            await self.iam.permissions.put_inline_policy(account, EntityKind.USER, name, "allow", document)
        return RequestPrincipal.user(user.arn, user.user_id)

    async def role(self, name: str, *principals: str, max_session: int | None = None, **extra: Any) -> Role:
        statement = {"Effect": "Allow", "Principal": {"AWS": list(principals)}, "Action": "sts:AssumeRole", **extra}
        trust = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
        return await self.iam.roles.create_role(ACCOUNT, name, trust, max_session_duration=max_session)


@pytest.fixture
async def fx(tmp_path: Path) -> AsyncIterator[Fixture]:
    async with sqlite_iam(tmp_path) as (store, _):
        sessions = MemorySessions()
        policies = IamPrincipalPolicies(store, StsSessionPolicies(sessions))
        sts = StsService(store, policies, sessions, clock=lambda: NOW)
        yield Fixture(IamService.over(store), store, sessions, sts)


def request(role: Role | str, **extra: Any) -> AssumeRoleRequest:
    return AssumeRoleRequest(role.arn if isinstance(role, Role) else role, "build-7", **extra)


async def test_a_user_allowed_by_its_policy_and_a_trust_in_its_account_gets_a_session(fx: Fixture) -> None:
    role = await fx.role("deployer", ACCOUNT)
    alice = await fx.user("alice", "sts:AssumeRole")

    issued = await fx.sts.assume_role(alice, request(role), KEYS, REGION)

    session = issued.session
    assert session.access_key_id.startswith("ASIA")
    assert len(session.access_key_id) == 20
    assert session.arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/build-7"
    assert session.assumed_role_id == f"{role.role_id}:build-7"
    assert session.expires_at == datetime(2026, 3, 1, 13, 0, 0, tzinfo=UTC)
    assert (session.caller_arn, issued.packed_policy_size) == (alice.arn, None)
    assert fx.sessions.sessions == {session.access_key_id: session}
    principal = session.principal
    assert (principal.arn, principal.user_id, principal.principal_arn) == (
        session.arn,
        session.assumed_role_id,
        role.arn,
    )


async def test_assuming_a_role_records_its_last_use_and_region(fx: Fixture) -> None:
    role = await fx.role("deployer", ACCOUNT)

    await fx.sts.assume_role(await fx.user("alice", "sts:AssumeRole"), request(role), KEYS, REGION)

    used = await fx.iam.roles.get_role(ACCOUNT, "deployer")
    assert (used.last_used_at, used.last_used_region) == (NOW, REGION)


async def test_a_trust_in_the_account_without_an_identity_allow_is_refused_with_awss_message(fx: Fixture) -> None:
    role = await fx.role("deployer", ACCOUNT)
    bob = await fx.user("bob")

    with pytest.raises(AssumeRoleDenied) as raised:
        await fx.sts.assume_role(bob, request(role), KEYS, REGION)

    assert (
        raised.value.message == f"User: {bob.arn} is not authorized to perform: sts:AssumeRole on resource: {role.arn}"
    )
    assert fx.sessions.sessions == {}


async def test_a_trust_naming_the_user_itself_needs_no_identity_allow_in_its_account(fx: Fixture) -> None:
    carol = await fx.user("carol")
    role = await fx.role("deployer", carol.arn)

    issued = await fx.sts.assume_role(carol, request(role), KEYS, REGION)

    assert issued.session.role_arn == role.arn


async def test_an_identity_allow_is_not_enough_when_the_trust_does_not_name_the_caller(fx: Fixture) -> None:
    role = await fx.role("deployer", f"arn:aws:iam::{ACCOUNT}:user/someone-else")
    alice = await fx.user("alice", "sts:AssumeRole")

    with pytest.raises(AssumeRoleDenied):
        await fx.sts.assume_role(alice, request(role), KEYS, REGION)


async def test_another_accounts_user_needs_its_own_allow_and_the_trust(fx: Fixture) -> None:
    role = await fx.role("shared", OTHER_ACCOUNT)
    with_allow = await fx.user("dave", "sts:AssumeRole", account=OTHER_ACCOUNT)
    without_allow = await fx.user("erin", account=OTHER_ACCOUNT)

    issued = await fx.sts.assume_role(with_allow, request(role), KEYS, REGION)
    with pytest.raises(AssumeRoleDenied):
        await fx.sts.assume_role(without_allow, request(role), KEYS, REGION)

    assert issued.session.account == ACCOUNT


async def test_an_explicit_deny_in_the_callers_policies_wins_over_the_trust(fx: Fixture) -> None:
    alice = await fx.user("alice")
    role = await fx.role("deployer", alice.arn)
    deny = identity_policy("sts:AssumeRole", effect="Deny")
    await fx.iam.permissions.put_inline_policy(ACCOUNT, EntityKind.USER, "alice", "deny", deny)

    with pytest.raises(AssumeRoleDenied):
        await fx.sts.assume_role(alice, request(role), KEYS, REGION)


async def test_a_missing_role_is_refused_like_a_forbidden_one(fx: Fixture) -> None:
    alice = await fx.user("alice", "sts:AssumeRole")
    missing = f"arn:aws:iam::{ACCOUNT}:role/missing"

    with pytest.raises(AssumeRoleDenied) as raised:
        await fx.sts.assume_role(alice, request(missing), KEYS, REGION)

    assert raised.value.message.endswith(f"on resource: {missing}")


async def test_the_root_user_may_not_assume_roles(fx: Fixture) -> None:
    role = await fx.role("deployer", ACCOUNT)

    with pytest.raises(RootCannotAssumeRoles) as raised:
        await fx.sts.assume_role(RequestPrincipal.root(ACCOUNT), request(role), KEYS, REGION)

    assert raised.value.message == "Roles may not be assumed by root accounts."


async def test_a_duration_beyond_the_roles_maximum_is_refused_and_within_it_honoured(fx: Fixture) -> None:
    role = await fx.role("deployer", ACCOUNT, max_session=7200)
    alice = await fx.user("alice", "sts:AssumeRole")

    with pytest.raises(StsValidationError) as raised:
        await fx.sts.assume_role(alice, request(role, duration_seconds=7201), KEYS, REGION)
    issued = await fx.sts.assume_role(alice, request(role, duration_seconds=7200), KEYS, REGION)

    assert raised.value.message == "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    assert issued.session.expires_at - issued.session.issued_at.replace(microsecond=0) == timedelta(hours=2)


async def test_a_role_session_may_assume_a_role_for_an_hour_at_most(fx: Fixture) -> None:
    first = await fx.role("first", ACCOUNT, max_session=43200)
    second = await fx.role("second", first.arn, max_session=43200)
    session = (await fx.sts.assume_role(await fx.user("alice", "sts:AssumeRole"), request(first), KEYS, REGION)).session

    chained = await fx.sts.assume_role(session.principal, request(second, duration_seconds=3600), KEYS, REGION)
    with pytest.raises(StsValidationError) as raised:
        await fx.sts.assume_role(session.principal, request(second, duration_seconds=3601), KEYS, REGION)

    assert chained.session.role_arn == second.arn
    assert raised.value.message == (
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
    )


async def test_a_role_sessions_session_policy_limits_the_roles_it_may_assume(fx: Fixture) -> None:
    first = await fx.role("first", ACCOUNT)
    await fx.iam.permissions.put_inline_policy(
        ACCOUNT, EntityKind.ROLE, "first", "chain", identity_policy("sts:AssumeRole")
    )
    second = await fx.role("second", ACCOUNT)
    alice = await fx.user("alice", "sts:AssumeRole")
    limited = await fx.sts.assume_role(alice, request(first, policy=identity_policy("ecr:*")), KEYS, REGION)
    unlimited = await fx.sts.assume_role(alice, request(first), KEYS, REGION)

    with pytest.raises(AssumeRoleDenied):
        await fx.sts.assume_role(limited.session.principal, request(second), KEYS, REGION)
    chained = await fx.sts.assume_role(unlimited.session.principal, request(second), KEYS, REGION)

    assert chained.session.role_arn == second.arn


async def test_the_external_id_is_the_sts_external_id_condition_key(fx: Fixture) -> None:
    condition = {"StringEquals": {"sts:ExternalId": "s3cr3t-id"}}
    role = await fx.role("vendor", ACCOUNT, Condition=condition)
    alice = await fx.user("alice", "sts:AssumeRole")

    issued = await fx.sts.assume_role(alice, request(role, external_id="s3cr3t-id"), KEYS, REGION)
    with pytest.raises(AssumeRoleDenied):
        await fx.sts.assume_role(alice, request(role, external_id="guess"), KEYS, REGION)
    with pytest.raises(AssumeRoleDenied):
        await fx.sts.assume_role(alice, request(role), KEYS, REGION)

    assert issued.session.role_arn == role.arn


async def test_session_tags_need_sts_tag_session(fx: Fixture) -> None:
    role = await fx.role("deployer", ACCOUNT)
    alice = await fx.user("alice", "sts:AssumeRole")
    tagged = request(role, tags=[SessionTag("team", "blue")])

    with pytest.raises(AssumeRoleDenied) as raised:
        await fx.sts.assume_role(alice, tagged, KEYS, REGION)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": ["sts:AssumeRole", "sts:TagSession"]}
        ],
    }
    await fx.iam.roles.update_assume_role_policy(ACCOUNT, "deployer", json.dumps(trust))
    await fx.iam.permissions.put_inline_policy(
        ACCOUNT, EntityKind.USER, "alice", "allow", identity_policy("sts:AssumeRole", "sts:TagSession")
    )
    issued = await fx.sts.assume_role(alice, tagged, KEYS, REGION)

    assert raised.value.message.endswith(f"perform: sts:TagSession on resource: {role.arn}")
    assert issued.session.tags == (SessionTag("team", "blue"),)
    assert issued.packed_policy_size == 1


async def test_issuing_a_session_purges_those_expired_longer_than_the_retention(fx: Fixture) -> None:
    role = await fx.role("deployer", ACCOUNT)
    alice = await fx.user("alice", "sts:AssumeRole")
    old = (await fx.sts.assume_role(alice, request(role), KEYS, REGION)).session
    recent = (await fx.sts.assume_role(alice, request(role), KEYS, REGION)).session
    fx.sessions.sessions[old.access_key_id] = _expired(old, EXPIRED_SESSION_RETENTION + timedelta(seconds=1))
    fx.sessions.sessions[recent.access_key_id] = _expired(recent, EXPIRED_SESSION_RETENTION - timedelta(seconds=1))

    new = (await fx.sts.assume_role(alice, request(role), KEYS, REGION)).session

    assert set(fx.sessions.sessions) == {recent.access_key_id, new.access_key_id}


def _expired(session: RoleSession, ago: timedelta) -> RoleSession:
    return replace(session, expires_at=NOW - ago)
