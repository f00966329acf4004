"""IamService's rules for users, access keys, groups and roles, over a real SQLite store.

Managed and inline policies, attachments and GetAccountAuthorizationDetails are in test_service_policies.py.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pullcache.iam.errors import (
    AccessKeyNotFound,
    DeleteConflict,
    EntityAlreadyExists,
    EntityKind,
    GroupNotFound,
    IamValidationError,
    InvalidInput,
    LimitExceeded,
    PolicyNotAttachable,
    RoleNotFound,
    UserNotFound,
)
from pullcache.iam.model import AccessKeyStatus, Tag
from pullcache.iam.service import IamService
from pullcache.metadata.sql_accounts import SqlAccountStore
from pullcache.policy import MalformedPolicyDocument
from tests.iam_stores import ACCOUNT, OTHER_ACCOUNT, READ_ONLY_ARN, identity_policy, sqlite_iam, trust_policy

UNIQUE_ID = re.compile(r"[A-Z2-7]{17}")


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[tuple[IamService, SqlAccountStore]]:
    async with sqlite_iam(tmp_path) as (store, accounts):
        yield IamService.over(store), accounts


@pytest.fixture
def iam(stores: tuple[IamService, SqlAccountStore]) -> IamService:
    return stores[0]


# -- users ------------------------------------------------------------------------------------------------------


async def test_created_user_has_an_aida_unique_id_of_21_characters_and_an_arn_with_its_path(iam: IamService) -> None:
    user = await iam.users.create_user(ACCOUNT, "alice", path="/division/team/")

    assert user.user_id.startswith("AIDA")
    assert len(user.user_id) == 21
    assert UNIQUE_ID.fullmatch(user.user_id[4:])
    assert user.arn == f"arn:aws:iam::{ACCOUNT}:user/division/team/alice"


async def test_user_names_are_unique_in_an_account_ignoring_case(iam: IamService) -> None:
    await iam.users.create_user(ACCOUNT, "alice")

    with pytest.raises(EntityAlreadyExists) as raised:
        await iam.users.create_user(ACCOUNT, "Alice")
    assert raised.value.message == "User with name Alice already exists."


async def test_the_same_user_name_may_exist_in_another_account(iam: IamService) -> None:
    first = await iam.users.create_user(ACCOUNT, "alice")
    second = await iam.users.create_user(OTHER_ACCOUNT, "alice")

    assert second.arn == f"arn:aws:iam::{OTHER_ACCOUNT}:user/alice"
    assert first.user_id != second.user_id


async def test_user_lookup_ignores_case_and_shows_the_created_spelling(iam: IamService) -> None:
    await iam.users.create_user(ACCOUNT, "Alice", tags=[Tag("team", "blue")])

    found = await iam.users.get_user(ACCOUNT, "ALICE")

    assert found.name == "Alice"
    assert found.tags == (Tag("team", "blue"),)


async def test_a_missing_user_is_no_such_entity_with_iams_message(iam: IamService) -> None:
    with pytest.raises(UserNotFound) as raised:
        await iam.users.get_user(ACCOUNT, "nobody")
    assert raised.value.message == "The user with name nobody cannot be found."


async def test_a_user_of_another_account_is_not_found(iam: IamService) -> None:
    await iam.users.create_user(OTHER_ACCOUNT, "alice")

    with pytest.raises(UserNotFound):
        await iam.users.get_user(ACCOUNT, "alice")


async def test_update_user_renames_and_moves_the_user_and_its_arn_follows(iam: IamService) -> None:
    created = await iam.users.create_user(ACCOUNT, "alice")

    await iam.users.update_user(ACCOUNT, "alice", new_name="alicia", new_path="/ops/")

    moved = await iam.users.get_user(ACCOUNT, "alicia")
    assert moved.user_id == created.user_id
    assert moved.arn == f"arn:aws:iam::{ACCOUNT}:user/ops/alicia"
    with pytest.raises(UserNotFound):
        await iam.users.get_user(ACCOUNT, "alice")


async def test_renaming_a_user_onto_another_users_name_is_refused(iam: IamService) -> None:
    await iam.users.create_user(ACCOUNT, "alice")
    await iam.users.create_user(ACCOUNT, "bob")

    with pytest.raises(EntityAlreadyExists):
        await iam.users.update_user(ACCOUNT, "alice", new_name="BOB")


async def test_renaming_a_user_to_another_case_of_its_own_name_is_allowed(iam: IamService) -> None:
    await iam.users.create_user(ACCOUNT, "alice")

    await iam.users.update_user(ACCOUNT, "alice", new_name="Alice")

    assert (await iam.users.get_user(ACCOUNT, "alice")).name == "Alice"


async def test_list_users_filters_by_path_prefix(iam: IamService) -> None:
    await iam.users.create_user(ACCOUNT, "alice", path="/ops/")
    await iam.users.create_user(ACCOUNT, "bob", path="/dev/")

    page = await iam.users.list_users(ACCOUNT, path_prefix="/ops/")

    assert [user.name for user in page.items] == ["alice"]


async def test_list_users_pages_by_name_with_markers_until_not_truncated(iam: IamService) -> None:
    for index in range(7):
        await iam.users.create_user(ACCOUNT, f"user-{index}")

    names: list[str] = []
    marker = None
    pages = 0
    while True:
        page = await iam.users.list_users(ACCOUNT, marker=marker, max_items=3)
        names += [user.name for user in page.items]
        pages += 1
        if not page.is_truncated:
            break
        marker = page.marker

    assert names == [f"user-{index}" for index in range(7)]
    assert pages == 3


async def test_a_marker_not_made_by_iam_is_a_validation_error(iam: IamService) -> None:
    with pytest.raises(IamValidationError):
        await iam.users.list_users(ACCOUNT, marker="%%%not-base64%%%")


@pytest.mark.parametrize(
    ("subordinate", "message"),
    [
        ("access key", "Cannot delete entity, must delete access keys first."),
        ("inline policy", "Cannot delete entity, must delete policies first."),
        ("attached policy", "Cannot delete entity, must detach all policies first."),
        ("group", "Cannot delete entity, must remove users from group first."),
    ],
)
async def test_a_user_with_subordinates_cannot_be_deleted(iam: IamService, subordinate: str, message: str) -> None:
    await iam.users.create_user(ACCOUNT, "alice")
    match subordinate:
        case "access key":
            await iam.access_keys.create_access_key(ACCOUNT, "alice")
        case "inline policy":
            await iam.permissions.put_inline_policy(ACCOUNT, EntityKind.USER, "alice", "inline", identity_policy())
        case "attached policy":
            await iam.permissions.attach_policy(ACCOUNT, EntityKind.USER, "alice", READ_ONLY_ARN)
        case "group":
            await iam.groups.create_group(ACCOUNT, "devs")
            await iam.groups.add_user_to_group(ACCOUNT, "devs", "alice")

    with pytest.raises(DeleteConflict) as raised:
        await iam.users.delete_user(ACCOUNT, "alice")
    assert raised.value.message == message


async def test_a_deleted_user_is_gone_with_its_tags(iam: IamService) -> None:
    await iam.users.create_user(ACCOUNT, "alice", tags=[Tag("team", "blue")])

    await iam.users.delete_user(ACCOUNT, "alice")
    recreated = await iam.users.create_user(ACCOUNT, "alice")

    assert (await iam.users.get_user(ACCOUNT, "alice")).tags == ()
    assert recreated.name == "alice"


async def test_tagging_with_a_key_of_another_case_replaces_the_tag(iam: IamService) -> None:
    await iam.users.create_user(ACCOUNT, "alice", tags=[Tag("Team", "blue"), Tag("env", "dev")])

    await iam.users.tag_user(ACCOUNT, "alice", [Tag("TEAM", "red")])

    page = await iam.users.list_user_tags(ACCOUNT, "alice")
    assert list(page.items) == [Tag("TEAM", "red"), Tag("env", "dev")]


async def test_tags_naming_a_key_twice_ignoring_case_are_invalid_input(iam: IamService) -> None:
    await iam.users.create_user(ACCOUNT, "alice")

    with pytest.raises(InvalidInput) as raised:
        await iam.users.tag_user(ACCOUNT, "alice", [Tag("team", "a"), Tag("TEAM", "b")])
    assert raised.value.message == "Duplicate tag keys found. Please note that Tag keys are case insensitive."


async def test_a_user_carries_at_most_fifty_tags(iam: IamService) -> None:
    await iam.users.create_user(ACCOUNT, "alice", tags=[Tag(f"k{index}", "v") for index in range(50)])

    with pytest.raises(LimitExceeded):
        await iam.users.tag_user(ACCOUNT, "alice", [Tag("one-more", "v")])
    await iam.users.tag_user(ACCOUNT, "alice", [Tag("K0", "replaced")])  # a replacement adds nothing


async def test_untagging_unknown_keys_is_no_error_and_keys_ignore_case(iam: IamService) -> None:
    await iam.users.create_user(ACCOUNT, "alice", tags=[Tag("team", "blue"), Tag("env", "dev")])

    await iam.users.untag_user(ACCOUNT, "alice", ["TEAM", "absent"])

    assert (await iam.users.get_user(ACCOUNT, "alice")).tags == (Tag("env", "dev"),)


async def test_a_permissions_boundary_must_be_an_existing_managed_policy(iam: IamService) -> None:
    missing = f"arn:aws:iam::{ACCOUNT}:policy/missing"

    with pytest.raises(PolicyNotAttachable) as raised:
        await iam.users.create_user(ACCOUNT, "alice", permissions_boundary=missing)
    assert raised.value.message == f"Policy {missing} does not exist or is not attachable."
    with pytest.raises(UserNotFound):
        await iam.users.get_user(ACCOUNT, "alice")


async def test_a_permissions_boundary_is_set_and_removed(iam: IamService) -> None:
    await iam.users.create_user(ACCOUNT, "alice", permissions_boundary=READ_ONLY_ARN)
    assert (await iam.users.get_user(ACCOUNT, "alice")).permissions_boundary_arn == READ_ONLY_ARN

    await iam.permissions.delete_permissions_boundary(ACCOUNT, EntityKind.USER, "alice")

    assert (await iam.users.get_user(ACCOUNT, "alice")).permissions_boundary_arn is None


# -- access keys ------------------------------------------------------------------------------------------------


async def test_a_user_has_at_most_two_access_keys_active_or_not(iam: IamService) -> None:
    await iam.users.create_user(ACCOUNT, "alice")
    first = await iam.access_keys.create_access_key(ACCOUNT, "alice")
    await iam.access_keys.create_access_key(ACCOUNT, "alice")
    await iam.access_keys.update_access_key(ACCOUNT, "alice", first.access_key_id, AccessKeyStatus.INACTIVE)

    with pytest.raises(LimitExceeded) as raised:
        await iam.access_keys.create_access_key(ACCOUNT, "alice")
    assert raised.value.message == "Cannot exceed quota for AccessKeysPerUser: 2"


async def test_a_new_access_key_is_active_with_a_secret_that_listing_does_not_show(iam: IamService) -> None:
    await iam.users.create_user(ACCOUNT, "alice")

    key = await iam.access_keys.create_access_key(ACCOUNT, "alice")
    listed = await iam.access_keys.list_access_keys(ACCOUNT, "alice")

    assert key.access_key_id.startswith("AKIA")
    assert len(key.access_key_id) == 20
    assert len(key.secret_access_key) == 40
    assert key.status == "Active"
    assert [(k.access_key_id, k.user_name, k.secret_access_key) for k in listed.items] == [
        (key.access_key_id, "alice", "")
    ]


async def test_an_access_key_of_another_user_is_not_found(iam: IamService) -> None:
    await iam.users.create_user(ACCOUNT, "alice")
    await iam.users.create_user(ACCOUNT, "bob")
    key = await iam.access_keys.create_access_key(ACCOUNT, "alice")

    with pytest.raises(AccessKeyNotFound) as raised:
        await iam.access_keys.delete_access_key(ACCOUNT, "bob", key.access_key_id)
    assert raised.value.message == f"The Access Key with id {key.access_key_id} cannot be found."


async def test_root_access_keys_are_the_keys_without_a_user(
    stores: tuple[IamService, SqlAccountStore],
) -> None:
    iam, accounts = stores
    await iam.users.create_user(ACCOUNT, "alice")
    await iam.access_keys.create_access_key(ACCOUNT, "alice")

    created = await iam.access_keys.create_access_key(ACCOUNT, None)

    root_keys = await iam.access_keys.list_access_keys(ACCOUNT, None)
    assert [key.access_key_id for key in root_keys.items] == [created.access_key_id]
    assert created.user_name is None
    root = await accounts.find_root_key(ACCOUNT)
    assert root is not None
    assert root.access_key_id == created.access_key_id


async def test_the_last_used_details_of_a_key_name_its_owner(iam: IamService) -> None:
    await iam.users.create_user(ACCOUNT, "alice")
    key = await iam.access_keys.create_access_key(ACCOUNT, "alice")

    found = await iam.access_keys.get_access_key_last_used(ACCOUNT, key.access_key_id)

    assert found.user_name == "alice"
    assert found.last_used_at is None
    with pytest.raises(AccessKeyNotFound):
        await iam.access_keys.get_access_key_last_used(OTHER_ACCOUNT, key.access_key_id)


# -- groups -----------------------------------------------------------------------------------------------------


async def test_group_names_are_unique_ignoring_case_and_ids_are_agpa(iam: IamService) -> None:
    group = await iam.groups.create_group(ACCOUNT, "Devs", path="/eng/")

    assert group.group_id.startswith("AGPA")
    assert group.arn == f"arn:aws:iam::{ACCOUNT}:group/eng/Devs"
    with pytest.raises(EntityAlreadyExists) as raised:
        await iam.groups.create_group(ACCOUNT, "devs")
    assert raised.value.message == "Group with name devs already exists."


async def test_adding_a_member_twice_and_removing_a_non_member_are_no_errors(iam: IamService) -> None:
    await iam.groups.create_group(ACCOUNT, "devs")
    await iam.users.create_user(ACCOUNT, "alice")
    await iam.users.create_user(ACCOUNT, "bob")

    await iam.groups.add_user_to_group(ACCOUNT, "devs", "alice")
    await iam.groups.add_user_to_group(ACCOUNT, "DEVS", "Alice")
    await iam.groups.remove_user_from_group(ACCOUNT, "devs", "bob")

    group, members = await iam.groups.get_group(ACCOUNT, "devs")
    assert [user.name for user in members.items] == ["alice"]
    assert [g.name for g in (await iam.groups.list_groups_for_user(ACCOUNT, "alice")).items] == [group.name]


async def test_adding_to_a_missing_group_or_a_missing_user_is_no_such_entity(iam: IamService) -> None:
    await iam.groups.create_group(ACCOUNT, "devs")
    await iam.users.create_user(ACCOUNT, "alice")

    with pytest.raises(GroupNotFound) as group_missing:
        await iam.groups.add_user_to_group(ACCOUNT, "ops", "alice")
    with pytest.raises(UserNotFound):
        await iam.groups.add_user_to_group(ACCOUNT, "devs", "bob")
    assert group_missing.value.message == "The group with name ops cannot be found."


async def test_a_user_joins_at_most_ten_groups(iam: IamService) -> None:
    await iam.users.create_user(ACCOUNT, "alice")
    for index in range(11):
        await iam.groups.create_group(ACCOUNT, f"group-{index}")
    for index in range(10):
        await iam.groups.add_user_to_group(ACCOUNT, f"group-{index}", "alice")

    with pytest.raises(LimitExceeded) as raised:
        await iam.groups.add_user_to_group(ACCOUNT, "group-10", "alice")
    assert raised.value.message == "Cannot exceed quota for GroupsPerUser: 10"


@pytest.mark.parametrize(
    ("subordinate", "message"),
    [
        ("member", "Cannot delete entity, must remove users from group first."),
        ("inline policy", "Cannot delete entity, must delete policies first."),
        ("attached policy", "Cannot delete entity, must detach all policies first."),
    ],
)
async def test_a_group_with_subordinates_cannot_be_deleted(iam: IamService, subordinate: str, message: str) -> None:
    await iam.groups.create_group(ACCOUNT, "devs")
    match subordinate:
        case "member":
            await iam.users.create_user(ACCOUNT, "alice")
            await iam.groups.add_user_to_group(ACCOUNT, "devs", "alice")
        case "inline policy":
            await iam.permissions.put_inline_policy(ACCOUNT, EntityKind.GROUP, "devs", "inline", identity_policy())
        case "attached policy":
            await iam.permissions.attach_policy(ACCOUNT, EntityKind.GROUP, "devs", READ_ONLY_ARN)

    with pytest.raises(DeleteConflict) as raised:
        await iam.groups.delete_group(ACCOUNT, "devs")
    assert raised.value.message == message


async def test_an_empty_group_is_deleted(iam: IamService) -> None:
    await iam.groups.create_group(ACCOUNT, "devs")

    await iam.groups.delete_group(ACCOUNT, "devs")

    assert list((await iam.groups.list_groups(ACCOUNT)).items) == []


# -- roles ------------------------------------------------------------------------------------------------------


async def test_a_role_is_created_with_its_trust_policy_and_iams_defaults(iam: IamService) -> None:
    document = trust_policy()

    role = await iam.roles.create_role(ACCOUNT, "builder", document, path="/ci/")

    assert role.role_id.startswith("AROA")
    assert role.arn == f"arn:aws:iam::{ACCOUNT}:role/ci/builder"
    fetched = await iam.roles.get_role(ACCOUNT, "BUILDER")
    assert fetched.assume_role_policy == document
    assert fetched.max_session_duration == 3600
    assert fetched.last_used_at is None


async def test_role_names_are_unique_ignoring_case(iam: IamService) -> None:
    await iam.roles.create_role(ACCOUNT, "builder", trust_policy())

    with pytest.raises(EntityAlreadyExists) as raised:
        await iam.roles.create_role(ACCOUNT, "Builder", trust_policy())
    assert raised.value.message == "Role with name Builder already exists."


async def test_a_trust_policy_without_a_principal_is_malformed(iam: IamService) -> None:
    with pytest.raises(MalformedPolicyDocument) as raised:
        await iam.roles.create_role(ACCOUNT, "builder", identity_policy("sts:AssumeRole"))
    assert raised.value.message == "Has prohibited field Resource"
    with pytest.raises(RoleNotFound) as missing:
        await iam.roles.get_role(ACCOUNT, "builder")
    assert missing.value.message == "The role with name builder cannot be found."


async def test_update_role_changes_only_what_is_given(iam: IamService) -> None:
    await iam.roles.create_role(ACCOUNT, "builder", trust_policy(), description="first", max_session_duration=7200)

    await iam.roles.update_role(ACCOUNT, "builder", max_session_duration=43200)
    updated = await iam.roles.update_role(ACCOUNT, "builder", description="second")

    assert (updated.description, updated.max_session_duration) == ("second", 43200)


async def test_update_assume_role_policy_replaces_the_trust_policy_after_checking_it(iam: IamService) -> None:
    await iam.roles.create_role(ACCOUNT, "builder", trust_policy())
    replacement = trust_policy("ecs-tasks.amazonaws.com")

    with pytest.raises(MalformedPolicyDocument):
        await iam.roles.update_assume_role_policy(ACCOUNT, "builder", "{not json")
    await iam.roles.update_assume_role_policy(ACCOUNT, "builder", replacement)

    assert (await iam.roles.get_role(ACCOUNT, "builder")).assume_role_policy == replacement


@pytest.mark.parametrize(
    ("subordinate", "message"),
    [
        ("inline policy", "Cannot delete entity, must delete policies first."),
        ("attached policy", "Cannot delete entity, must detach all policies first."),
    ],
)
async def test_a_role_with_policies_cannot_be_deleted(iam: IamService, subordinate: str, message: str) -> None:
    await iam.roles.create_role(ACCOUNT, "builder", trust_policy())
    if subordinate == "inline policy":
        await iam.permissions.put_inline_policy(ACCOUNT, EntityKind.ROLE, "builder", "inline", identity_policy())
    else:
        await iam.permissions.attach_policy(ACCOUNT, EntityKind.ROLE, "builder", READ_ONLY_ARN)

    with pytest.raises(DeleteConflict) as raised:
        await iam.roles.delete_role(ACCOUNT, "builder")
    assert raised.value.message == message


async def test_role_tags_are_kept_and_removed(iam: IamService) -> None:
    await iam.roles.create_role(ACCOUNT, "builder", trust_policy(), tags=[Tag("team", "ci")])

    await iam.roles.tag_role(ACCOUNT, "builder", [Tag("env", "prod")])
    await iam.roles.untag_role(ACCOUNT, "builder", ["team"])

    assert list((await iam.roles.list_role_tags(ACCOUNT, "builder")).items) == [Tag("env", "prod")]
