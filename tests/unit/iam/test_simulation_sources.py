"""What SimulatePrincipalPolicy simulates for a user, group or role ARN, over a real SQLite IAM store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pullcache.iam.errors import EntityKind, GroupNotFound, InvalidInput, RoleNotFound, UserNotFound
from pullcache.iam.service import IamService
from pullcache.iam.simulation_sources import (
    EntityArn,
    load_entity_policies,
    parse_entity_arn,
    simulated_caller,
)
from pullcache.metadata.sql_iam import SqlIamStore
from pullcache.policy import PolicySourceType, PrincipalType
from tests.iam_stores import ACCOUNT, OTHER_ACCOUNT, PULL_ONLY_ARN, READ_ONLY_ARN, identity_policy, sqlite_iam
from tests.iam_stores import trust_policy as trust

OWN_ARN = f"arn:aws:iam::{ACCOUNT}:policy/pushers"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlIamStore]:
    async with sqlite_iam(tmp_path) as (iam_store, _):
        yield iam_store


@pytest.fixture
def iam(store: SqlIamStore) -> IamService:
    return IamService.over(store)


def test_entity_arns_name_users_groups_and_roles_with_their_paths() -> None:
    assert parse_entity_arn(f"arn:aws:iam::{ACCOUNT}:user/division/alice") == EntityArn(
        f"arn:aws:iam::{ACCOUNT}:user/division/alice", EntityKind.USER, ACCOUNT, "/division/", "alice"
    )
    assert parse_entity_arn(f"arn:aws:iam::{ACCOUNT}:role/builder").path == "/"


@pytest.mark.parametrize(
    "arn",
    [
        f"arn:aws:sts::{ACCOUNT}:assumed-role/builder/ci",
        f"arn:aws:iam::{ACCOUNT}:policy/pushers",
        f"arn:aws:iam::{ACCOUNT}:root",
        "not-an-arn",
    ],
)
def test_other_arns_are_an_invalid_entity_arn(arn: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_entity_arn(arn)

    assert raised.value.message == f"Invalid Entity Arn: {arn}"


async def test_a_user_is_simulated_with_its_groups_policies_and_its_boundary(
    store: SqlIamStore, iam: IamService
) -> None:
    user = await iam.users.create_user(ACCOUNT, "alice", path="/team/", permissions_boundary=PULL_ONLY_ARN)
    await iam.policies.create_policy(ACCOUNT, "pushers", identity_policy("ecr:PutImage"))
    await iam.permissions.put_inline_policy(ACCOUNT, EntityKind.USER, "alice", "own", identity_policy("ecr:ListImages"))
    await iam.groups.create_group(ACCOUNT, "devs")
    await iam.groups.add_user_to_group(ACCOUNT, "devs", "alice")
    await iam.permissions.attach_policy(ACCOUNT, EntityKind.GROUP, "devs", OWN_ARN)

    loaded = await load_entity_policies(store, ACCOUNT, user.arn)

    assert [(p.source_id, p.source_type) for p in loaded.identity] == [
        ("own", PolicySourceType.USER),
        (OWN_ARN, PolicySourceType.USER_MANAGED),
    ]
    assert loaded.identity[1].text == identity_policy("ecr:PutImage")
    assert loaded.permissions_boundary is not None
    assert loaded.permissions_boundary.source_type is PolicySourceType.AWS_MANAGED
    assert (loaded.caller.arn, loaded.caller.user_id) == (user.arn, user.user_id)


async def test_a_managed_policy_is_simulated_at_its_default_version(store: SqlIamStore, iam: IamService) -> None:
    group = await iam.groups.create_group(ACCOUNT, "pushers")
    await iam.policies.create_policy(ACCOUNT, "pushers", identity_policy("ecr:PutImage"))
    await iam.policies.create_policy_version(ACCOUNT, OWN_ARN, identity_policy("ecr:ListImages"), set_as_default=True)
    await iam.permissions.attach_policy(ACCOUNT, EntityKind.GROUP, "pushers", OWN_ARN)

    loaded = await load_entity_policies(store, ACCOUNT, group.arn)

    assert [p.text for p in loaded.identity] == [identity_policy("ecr:ListImages")]
    assert loaded.permissions_boundary is None


async def test_a_role_is_simulated_as_a_session_of_itself(store: SqlIamStore, iam: IamService) -> None:
    role = await iam.roles.create_role(ACCOUNT, "builder", trust(), permissions_boundary=READ_ONLY_ARN)
    await iam.permissions.attach_policy(ACCOUNT, EntityKind.ROLE, "builder", PULL_ONLY_ARN)

    loaded = await load_entity_policies(store, ACCOUNT, role.arn)

    assert [p.source_id for p in loaded.identity] == [PULL_ONLY_ARN]
    assert (loaded.caller.type, loaded.caller.principal_arn) == (PrincipalType.ASSUMED_ROLE, role.arn)


async def test_missing_entities_wrong_paths_and_other_accounts_are_not_found(
    store: SqlIamStore, iam: IamService
) -> None:
    await iam.users.create_user(ACCOUNT, "alice", path="/team/")
    await iam.users.create_user(OTHER_ACCOUNT, "carol")

    with pytest.raises(UserNotFound):
        await load_entity_policies(store, ACCOUNT, f"arn:aws:iam::{ACCOUNT}:user/alice")  # wrong path
    with pytest.raises(UserNotFound):
        await load_entity_policies(store, ACCOUNT, f"arn:aws:iam::{OTHER_ACCOUNT}:user/carol")
    with pytest.raises(GroupNotFound):
        await load_entity_policies(store, ACCOUNT, f"arn:aws:iam::{ACCOUNT}:group/nobody")
    with pytest.raises(RoleNotFound) as raised:
        await load_entity_policies(store, ACCOUNT, f"arn:aws:iam::{ACCOUNT}:role/nobody")
    assert raised.value.message == "The role with name nobody cannot be found."


async def test_a_caller_arn_need_not_exist_but_gets_its_unique_id_when_it_does(
    store: SqlIamStore, iam: IamService
) -> None:
    user = await iam.users.create_user(ACCOUNT, "alice")

    known = await simulated_caller(store, user.arn)
    unknown = await simulated_caller(store, f"arn:aws:iam::{OTHER_ACCOUNT}:user/bob")

    assert (known.user_name, known.user_id, known.account) == ("alice", user.user_id, ACCOUNT)
    assert (unknown.user_name, unknown.user_id, unknown.account) == ("bob", None, OTHER_ACCOUNT)
