"""SqlIamStore's read API for authorization and STS (IamPrincipals), and the credentials of IAM users' keys."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pullcache.iam.errors import EntityKind
from pullcache.iam.model import AccessKeyStatus
from pullcache.iam.ports import IamPrincipals
from pullcache.iam.service import IamService
from pullcache.metadata.sql_accounts import SqlAccountStore
from pullcache.metadata.sql_iam import SqlIamStore
from pullcache.policy import PolicySourceType, PrincipalType
from tests.iam_stores import ACCOUNT, PULL_ONLY_ARN, READ_ONLY_ARN, identity_policy, sqlite_iam, trust_policy

OWN_ARN = f"arn:aws:iam::{ACCOUNT}:policy/pushers"


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[tuple[SqlIamStore, SqlAccountStore, IamService]]:
    async with sqlite_iam(tmp_path) as (store, accounts):
        yield store, accounts, IamService.over(store)


async def test_user_permissions_hold_its_own_and_its_groups_policies_and_its_boundary(
    stores: tuple[SqlIamStore, SqlAccountStore, IamService],
) -> None:
    store, _, iam = stores
    user = await iam.users.create_user(ACCOUNT, "alice", permissions_boundary=PULL_ONLY_ARN)
    await iam.policies.create_policy(ACCOUNT, "pushers", identity_policy("ecr:PutImage"))
    await iam.permissions.put_inline_policy(ACCOUNT, EntityKind.USER, "alice", "own", identity_policy("ecr:ListImages"))
    await iam.permissions.attach_policy(ACCOUNT, EntityKind.USER, "alice", READ_ONLY_ARN)
    await iam.groups.create_group(ACCOUNT, "devs")
    await iam.groups.add_user_to_group(ACCOUNT, "devs", "alice")
    await iam.permissions.attach_policy(ACCOUNT, EntityKind.GROUP, "devs", OWN_ARN)

    principals: IamPrincipals = store  # the read API authorization and STS use

    found = await principals.find_user_permissions(user.user_id)

    assert found is not None
    assert (found.arn, found.account, found.user_name) == (user.arn, ACCOUNT, "alice")
    assert [(p.source_id, p.source_type) for p in found.identity_policies()] == [
        ("own", PolicySourceType.USER),
        (READ_ONLY_ARN, PolicySourceType.AWS_MANAGED),
        (OWN_ARN, PolicySourceType.USER_MANAGED),
    ]
    assert found.groups[0].group_name == "devs"
    assert found.permissions_boundary is not None
    assert found.permissions_boundary.source_id == PULL_ONLY_ARN
    read_only = found.attached[0].sourced()
    assert read_only.document.statements[0].action is not None
    assert "ecr:BatchGetImage" in read_only.document.statements[0].action


async def test_an_attached_policy_contributes_its_default_version(
    stores: tuple[SqlIamStore, SqlAccountStore, IamService],
) -> None:
    store, _, iam = stores
    user = await iam.users.create_user(ACCOUNT, "alice")
    await iam.policies.create_policy(ACCOUNT, "pushers", identity_policy("ecr:PutImage"))
    await iam.policies.create_policy_version(ACCOUNT, OWN_ARN, identity_policy("ecr:ListImages"), set_as_default=True)
    await iam.permissions.attach_policy(ACCOUNT, EntityKind.USER, "alice", OWN_ARN)

    found = await store.find_user_permissions(user.user_id)

    assert found is not None
    assert json.loads(found.attached[0].document)["Statement"][0]["Action"] == ["ecr:ListImages"]


async def test_a_missing_user_or_role_has_no_permissions(
    stores: tuple[SqlIamStore, SqlAccountStore, IamService],
) -> None:
    store, _, _ = stores

    assert await store.find_user_permissions("AIDAAAAAAAAAAAAAAAAAA") is None
    assert await store.find_role_permissions(f"arn:aws:iam::{ACCOUNT}:role/nobody") is None


async def test_role_permissions_are_found_by_the_arn_with_its_path(
    stores: tuple[SqlIamStore, SqlAccountStore, IamService],
) -> None:
    store, _, iam = stores
    document = trust_policy()
    role = await iam.roles.create_role(ACCOUNT, "builder", document, path="/ci/", max_session_duration=7200)
    await iam.permissions.put_inline_policy(ACCOUNT, EntityKind.ROLE, "builder", "own", identity_policy())
    await iam.permissions.put_permissions_boundary(ACCOUNT, EntityKind.ROLE, "builder", READ_ONLY_ARN)

    found = await store.find_role_permissions(role.arn)

    assert found is not None
    assert (found.role_id, found.trust_policy, found.max_session_duration) == (role.role_id, document, 7200)
    assert [p.source_type for p in found.identity_policies()] == [PolicySourceType.ROLE]
    assert found.permissions_boundary is not None
    assert await store.find_role_permissions(f"arn:aws:iam::{ACCOUNT}:role/builder") is None


async def test_a_recorded_role_use_is_the_roles_last_use(
    stores: tuple[SqlIamStore, SqlAccountStore, IamService],
) -> None:
    store, _, iam = stores
    role = await iam.roles.create_role(ACCOUNT, "builder", trust_policy())
    used_at = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)

    await store.record_role_use(role.arn, used_at, "eu-west-1")

    fetched = await iam.roles.get_role(ACCOUNT, "builder")
    assert (fetched.last_used_at, fetched.last_used_region) == (used_at, "eu-west-1")


async def test_a_users_access_key_signs_for_that_user_by_its_current_arn(
    stores: tuple[SqlIamStore, SqlAccountStore, IamService],
) -> None:
    _, accounts, iam = stores
    user = await iam.users.create_user(ACCOUNT, "alice")
    key = await iam.access_keys.create_access_key(ACCOUNT, "alice")
    await iam.users.update_user(ACCOUNT, "alice", new_path="/ops/")

    credentials = await accounts.find_credentials(key.access_key_id)

    assert credentials is not None
    assert credentials.secret_access_key == key.secret_access_key
    assert credentials.active
    principal = credentials.principal
    assert (principal.type, principal.arn, principal.user_id, principal.user_name, principal.account) == (
        PrincipalType.USER,
        f"arn:aws:iam::{ACCOUNT}:user/ops/alice",
        user.user_id,
        "alice",
        ACCOUNT,
    )


async def test_an_inactive_key_is_found_inactive_and_a_deleted_key_is_not_found(
    stores: tuple[SqlIamStore, SqlAccountStore, IamService],
) -> None:
    _, accounts, iam = stores
    await iam.users.create_user(ACCOUNT, "alice")
    inactive = await iam.access_keys.create_access_key(ACCOUNT, "alice")
    deleted = await iam.access_keys.create_access_key(ACCOUNT, "alice")
    await iam.access_keys.update_access_key(ACCOUNT, "alice", inactive.access_key_id, AccessKeyStatus.INACTIVE)
    await iam.access_keys.delete_access_key(ACCOUNT, "alice", deleted.access_key_id)

    found = await accounts.find_credentials(inactive.access_key_id)

    assert found is not None
    assert not found.active
    assert await accounts.find_credentials(deleted.access_key_id) is None
