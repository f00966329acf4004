"""IamService's rules for managed policies and their versions, inline policies, attachments and
GetAccountAuthorizationDetails, over a real SQLite store."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pullcache.iam.account_details import DetailFilter, GroupDetail, PolicyDetail, RoleDetail, UserDetail
from pullcache.iam.errors import (
    DeleteConflict,
    EntityAlreadyExists,
    EntityKind,
    IamValidationError,
    InlinePolicyNotFound,
    LimitExceeded,
    PolicyNotAttachable,
    PolicyNotFound,
    PolicyVersionNotFound,
)
from pullcache.iam.model import PolicyScope, PolicyUsage, Tag
from pullcache.iam.service import IamService
from pullcache.policy import MalformedPolicyDocument
from tests.iam_stores import (
    ACCOUNT,
    OTHER_ACCOUNT,
    PULL_ONLY_ARN,
    READ_ONLY_ARN,
    identity_policy,
    sqlite_iam,
    trust_policy,
)

POLICY_ARN = f"arn:aws:iam::{ACCOUNT}:policy/pushers"


@pytest.fixture
async def iam(tmp_path: Path) -> AsyncIterator[IamService]:
    async with sqlite_iam(tmp_path) as (store, _):
        yield IamService.over(store)


async def _pushers(iam: IamService) -> None:
    await iam.policies.create_policy(ACCOUNT, "pushers", identity_policy("ecr:PutImage"))


# -- customer managed policies ----------------------------------------------------------------------------------


async def test_a_new_policy_has_version_v1_as_default_and_no_attachments(iam: IamService) -> None:
    policy = await iam.policies.create_policy(
        ACCOUNT, "pushers", identity_policy(), path="/ci/", description="push", tags=[Tag("team", "ci")]
    )

    assert policy.policy_id.startswith("ANPA")
    assert len(policy.policy_id) == 21
    assert policy.arn == f"arn:aws:iam::{ACCOUNT}:policy/ci/pushers"
    fetched = await iam.policies.get_policy(ACCOUNT, policy.arn)
    assert (fetched.default_version_id, fetched.attachment_count, fetched.description) == ("v1", 0, "push")
    assert fetched.tags == (Tag("team", "ci"),)


async def test_policy_names_are_unique_ignoring_case_whatever_the_path(iam: IamService) -> None:
    await _pushers(iam)

    with pytest.raises(EntityAlreadyExists) as raised:
        await iam.policies.create_policy(ACCOUNT, "Pushers", identity_policy(), path="/other/")
    assert raised.value.message == "A policy called Pushers already exists. Duplicate names are not allowed."


async def test_a_managed_policy_must_say_version_2012_10_17(iam: IamService) -> None:
    document = json.dumps({"Statement": [{"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}]})

    with pytest.raises(MalformedPolicyDocument) as raised:
        await iam.policies.create_policy(ACCOUNT, "old", document)
    assert raised.value.message == "Policy document must be version 2012-10-17 or greater."


async def test_a_managed_policy_larger_than_6144_characters_is_over_quota(iam: IamService) -> None:
    actions = [f"ecr:Action{index:04d}" for index in range(400)]

    with pytest.raises(LimitExceeded) as raised:
        await iam.policies.create_policy(ACCOUNT, "huge", identity_policy(*actions))
    assert raised.value.message == "Cannot exceed quota for PolicySize: 6144"


async def test_a_policy_of_another_account_or_path_is_not_found(iam: IamService) -> None:
    await _pushers(iam)

    for arn in (f"arn:aws:iam::{OTHER_ACCOUNT}:policy/pushers", f"arn:aws:iam::{ACCOUNT}:policy/other/pushers"):
        with pytest.raises(PolicyNotFound) as raised:
            await iam.policies.get_policy(ACCOUNT, arn)
        assert raised.value.message == f"Policy {arn} was not found."


async def test_a_policy_arn_that_is_no_arn_is_a_validation_error(iam: IamService) -> None:
    with pytest.raises(IamValidationError) as raised:
        await iam.policies.get_policy(ACCOUNT, "pushers-policy-by-name")
    assert raised.value.message == "Invalid ARN:  Could not be parsed!"


async def test_a_policy_has_at_most_five_versions(iam: IamService) -> None:
    await _pushers(iam)
    for _ in range(4):
        await iam.policies.create_policy_version(ACCOUNT, POLICY_ARN, identity_policy("ecr:ListImages"))

    with pytest.raises(LimitExceeded) as raised:
        await iam.policies.create_policy_version(ACCOUNT, POLICY_ARN, identity_policy())
    assert raised.value.message == (
        "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing "
        "version."
    )


async def test_version_ids_count_up_and_are_never_reused(iam: IamService) -> None:
    await _pushers(iam)
    second = await iam.policies.create_policy_version(ACCOUNT, POLICY_ARN, identity_policy("ecr:ListImages"))
    await iam.policies.delete_policy_version(ACCOUNT, POLICY_ARN, second.version_id)

    third = await iam.policies.create_policy_version(ACCOUNT, POLICY_ARN, identity_policy("ecr:ListImages"))

    assert (second.version_id, third.version_id) == ("v2", "v3")
    versions = await iam.policies.list_policy_versions(ACCOUNT, POLICY_ARN)
    assert [(v.version_id, v.is_default) for v in versions.items] == [("v3", False), ("v1", True)]


async def test_setting_the_default_version_changes_which_document_applies(iam: IamService) -> None:
    await _pushers(iam)
    new = await iam.policies.create_policy_version(ACCOUNT, POLICY_ARN, identity_policy("ecr:ListImages"))

    await iam.policies.set_default_policy_version(ACCOUNT, POLICY_ARN, new.version_id)

    assert (await iam.policies.get_policy(ACCOUNT, POLICY_ARN)).default_version_id == "v2"
    assert (await iam.policies.get_policy_version(ACCOUNT, POLICY_ARN, "v2")).is_default
    assert not (await iam.policies.get_policy_version(ACCOUNT, POLICY_ARN, "v1")).is_default


async def test_a_version_created_as_default_becomes_the_default(iam: IamService) -> None:
    await _pushers(iam)

    version = await iam.policies.create_policy_version(ACCOUNT, POLICY_ARN, identity_policy(), set_as_default=True)

    assert version.is_default
    assert (await iam.policies.get_policy(ACCOUNT, POLICY_ARN)).default_version_id == version.version_id


async def test_the_default_version_cannot_be_deleted(iam: IamService) -> None:
    await _pushers(iam)

    with pytest.raises(DeleteConflict) as raised:
        await iam.policies.delete_policy_version(ACCOUNT, POLICY_ARN, "v1")
    assert raised.value.message == "Cannot delete the default version of a policy."


async def test_a_missing_version_is_no_such_entity(iam: IamService) -> None:
    await _pushers(iam)

    with pytest.raises(PolicyVersionNotFound) as raised:
        await iam.policies.get_policy_version(ACCOUNT, POLICY_ARN, "v9")
    assert raised.value.message == f"Policy {POLICY_ARN} version v9 does not exist or is not attachable."


async def test_a_policy_with_versions_besides_the_default_cannot_be_deleted(iam: IamService) -> None:
    await _pushers(iam)
    await iam.policies.create_policy_version(ACCOUNT, POLICY_ARN, identity_policy())

    with pytest.raises(DeleteConflict) as raised:
        await iam.policies.delete_policy(ACCOUNT, POLICY_ARN)
    assert raised.value.message.startswith("This policy has more than one version.")


@pytest.mark.parametrize("use", ["attached", "boundary"])
async def test_a_policy_in_use_cannot_be_deleted(iam: IamService, use: str) -> None:
    await _pushers(iam)
    if use == "attached":
        await iam.roles.create_role(ACCOUNT, "builder", trust_policy())
        await iam.permissions.attach_policy(ACCOUNT, EntityKind.ROLE, "builder", POLICY_ARN)
    else:
        await iam.users.create_user(ACCOUNT, "alice", permissions_boundary=POLICY_ARN)

    with pytest.raises(DeleteConflict) as raised:
        await iam.policies.delete_policy(ACCOUNT, POLICY_ARN)
    assert raised.value.message == "Cannot delete a policy attached to entities."


async def test_a_deleted_policy_is_not_found_and_its_name_is_free(iam: IamService) -> None:
    await _pushers(iam)

    await iam.policies.delete_policy(ACCOUNT, POLICY_ARN)

    with pytest.raises(PolicyNotFound):
        await iam.policies.get_policy(ACCOUNT, POLICY_ARN)
    await _pushers(iam)


async def test_aws_managed_policies_are_read_only(iam: IamService) -> None:
    with pytest.raises(PolicyNotFound):
        await iam.policies.create_policy_version(ACCOUNT, READ_ONLY_ARN, identity_policy())
    with pytest.raises(PolicyNotFound):
        await iam.policies.delete_policy(ACCOUNT, READ_ONLY_ARN)


async def test_an_aws_managed_policy_shows_its_default_version_and_per_account_counts(iam: IamService) -> None:
    await iam.users.create_user(ACCOUNT, "alice")
    await iam.permissions.attach_policy(ACCOUNT, EntityKind.USER, "alice", READ_ONLY_ARN)

    here = await iam.policies.get_policy(ACCOUNT, READ_ONLY_ARN)
    elsewhere = await iam.policies.get_policy(OTHER_ACCOUNT, READ_ONLY_ARN)
    version = await iam.policies.get_policy_version(ACCOUNT, READ_ONLY_ARN, "v3")

    assert (here.policy_id, here.default_version_id, here.attachment_count) == ("ANPAIFYZPA37OOHVIH7KQ", "v3", 1)
    assert elsewhere.attachment_count == 0
    assert "ecr:BatchGetImage" in json.loads(version.document)["Statement"][0]["Action"]


async def test_list_policies_by_scope_and_attachment(iam: IamService) -> None:
    await _pushers(iam)
    await iam.users.create_user(ACCOUNT, "alice", permissions_boundary=PULL_ONLY_ARN)
    await iam.permissions.attach_policy(ACCOUNT, EntityKind.USER, "alice", READ_ONLY_ARN)

    local = await iam.policies.list_policies(ACCOUNT, PolicyScope.LOCAL)
    aws = await iam.policies.list_policies(ACCOUNT, PolicyScope.AWS)
    attached = await iam.policies.list_policies(ACCOUNT, only_attached=True)
    boundaries = await iam.policies.list_policies(ACCOUNT, only_attached=True, usage=PolicyUsage.PERMISSIONS_BOUNDARY)

    assert [p.name for p in local.items] == ["pushers"]
    assert {p.name for p in aws.items} >= {
        "AmazonEC2ContainerRegistryFullAccess",
        "AmazonEC2ContainerRegistryPowerUser",
        "AmazonEC2ContainerRegistryReadOnly",
        "AmazonEC2ContainerRegistryPullOnly",
        "IAMFullAccess",
        "IAMReadOnlyAccess",
        "AdministratorAccess",
    }
    assert [p.arn for p in attached.items] == [PULL_ONLY_ARN, READ_ONLY_ARN]
    assert [p.arn for p in boundaries.items] == [PULL_ONLY_ARN]


async def test_policy_tags_are_kept_and_removed(iam: IamService) -> None:
    await _pushers(iam)

    await iam.policies.tag_policy(ACCOUNT, POLICY_ARN, [Tag("team", "ci"), Tag("env", "prod")])
    await iam.policies.untag_policy(ACCOUNT, POLICY_ARN, ["env"])

    assert list((await iam.policies.list_policy_tags(ACCOUNT, POLICY_ARN)).items) == [Tag("team", "ci")]


async def test_entities_for_a_policy_are_listed_by_kind_and_use(iam: IamService) -> None:
    await _pushers(iam)
    await iam.users.create_user(ACCOUNT, "alice", permissions_boundary=POLICY_ARN)
    await iam.groups.create_group(ACCOUNT, "devs")
    await iam.roles.create_role(ACCOUNT, "builder", trust_policy())
    await iam.permissions.attach_policy(ACCOUNT, EntityKind.GROUP, "devs", POLICY_ARN)
    await iam.permissions.attach_policy(ACCOUNT, EntityKind.ROLE, "builder", POLICY_ARN)

    everything = await iam.policies.list_entities_for_policy(ACCOUNT, POLICY_ARN)
    roles = await iam.policies.list_entities_for_policy(ACCOUNT, POLICY_ARN, entity_filter="Role")
    boundaries = await iam.policies.list_entities_for_policy(
        ACCOUNT, POLICY_ARN, usage=PolicyUsage.PERMISSIONS_BOUNDARY
    )

    assert [(e.kind, e.name) for e in everything.items] == [
        (EntityKind.USER, "alice"),
        (EntityKind.GROUP, "devs"),
        (EntityKind.ROLE, "builder"),
    ]
    assert [e.name for e in roles.items] == ["builder"]
    assert [e.name for e in boundaries.items] == ["alice"]


# -- attachments ------------------------------------------------------------------------------------------------


async def test_attaching_a_missing_policy_is_not_attachable(iam: IamService) -> None:
    await iam.users.create_user(ACCOUNT, "alice")
    missing = f"arn:aws:iam::{ACCOUNT}:policy/missing"

    with pytest.raises(PolicyNotAttachable) as raised:
        await iam.permissions.attach_policy(ACCOUNT, EntityKind.USER, "alice", missing)
    assert raised.value.message == f"Policy {missing} does not exist or is not attachable."
    with pytest.raises(IamValidationError):
        await iam.permissions.attach_policy(ACCOUNT, EntityKind.USER, "alice", "pushers")


async def test_attaching_twice_attaches_once(iam: IamService) -> None:
    await iam.users.create_user(ACCOUNT, "alice")

    await iam.permissions.attach_policy(ACCOUNT, EntityKind.USER, "alice", READ_ONLY_ARN)
    await iam.permissions.attach_policy(ACCOUNT, EntityKind.USER, "alice", READ_ONLY_ARN)

    attached = await iam.permissions.list_attached_policies(ACCOUNT, EntityKind.USER, "alice")
    assert [(p.name, p.arn) for p in attached.items] == [("AmazonEC2ContainerRegistryReadOnly", READ_ONLY_ARN)]
    assert (await iam.policies.get_policy(ACCOUNT, READ_ONLY_ARN)).attachment_count == 1


async def test_an_entity_has_at_most_ten_attached_policies(iam: IamService) -> None:
    await iam.roles.create_role(ACCOUNT, "builder", trust_policy())
    for index in range(11):
        await iam.policies.create_policy(ACCOUNT, f"policy-{index}", identity_policy())
    for index in range(10):
        arn = f"arn:aws:iam::{ACCOUNT}:policy/policy-{index}"
        await iam.permissions.attach_policy(ACCOUNT, EntityKind.ROLE, "builder", arn)

    with pytest.raises(LimitExceeded) as raised:
        await iam.permissions.attach_policy(
            ACCOUNT, EntityKind.ROLE, "builder", f"arn:aws:iam::{ACCOUNT}:policy/policy-10"
        )
    assert raised.value.message == "Cannot exceed quota for PoliciesPerRole: 10"


async def test_detaching_a_policy_that_is_not_attached_is_not_found(iam: IamService) -> None:
    await iam.groups.create_group(ACCOUNT, "devs")

    with pytest.raises(PolicyNotFound) as raised:
        await iam.permissions.detach_policy(ACCOUNT, EntityKind.GROUP, "devs", READ_ONLY_ARN)
    assert raised.value.message == f"Policy {READ_ONLY_ARN} was not found."


async def test_attached_policies_are_filtered_by_path_prefix(iam: IamService) -> None:
    await iam.users.create_user(ACCOUNT, "alice")
    await iam.policies.create_policy(ACCOUNT, "scoped", identity_policy(), path="/team/")
    await iam.permissions.attach_policy(ACCOUNT, EntityKind.USER, "alice", READ_ONLY_ARN)
    await iam.permissions.attach_policy(ACCOUNT, EntityKind.USER, "alice", f"arn:aws:iam::{ACCOUNT}:policy/team/scoped")

    page = await iam.permissions.list_attached_policies(ACCOUNT, EntityKind.USER, "alice", path_prefix="/team/")

    assert [p.name for p in page.items] == ["scoped"]


# -- inline policies --------------------------------------------------------------------------------------------


async def test_putting_an_inline_policy_again_replaces_it(iam: IamService) -> None:
    await iam.roles.create_role(ACCOUNT, "builder", trust_policy())
    second = identity_policy("ecr:ListImages")

    await iam.permissions.put_inline_policy(ACCOUNT, EntityKind.ROLE, "builder", "inline", identity_policy())
    await iam.permissions.put_inline_policy(ACCOUNT, EntityKind.ROLE, "builder", "inline", second)

    entity, policy = await iam.permissions.get_inline_policy(ACCOUNT, EntityKind.ROLE, "BUILDER", "inline")
    assert (entity.name, policy.document) == ("builder", second)
    assert list((await iam.permissions.list_inline_policies(ACCOUNT, EntityKind.ROLE, "builder")).items) == ["inline"]


async def test_an_inline_policy_naming_a_principal_is_malformed(iam: IamService) -> None:
    await iam.users.create_user(ACCOUNT, "alice")
    document = identity_policy(Principal={"AWS": "*"})

    with pytest.raises(MalformedPolicyDocument) as raised:
        await iam.permissions.put_inline_policy(ACCOUNT, EntityKind.USER, "alice", "inline", document)
    assert raised.value.message == "Policy document should not specify a principal."


async def test_a_users_inline_policies_stay_within_2048_characters_together(iam: IamService) -> None:
    await iam.users.create_user(ACCOUNT, "alice")
    half = identity_policy(*(f"ecr:Action{index:03d}" for index in range(60)))
    await iam.permissions.put_inline_policy(ACCOUNT, EntityKind.USER, "alice", "first", half)

    await iam.permissions.put_inline_policy(ACCOUNT, EntityKind.USER, "alice", "first", half)  # a replacement fits
    with pytest.raises(LimitExceeded) as raised:
        await iam.permissions.put_inline_policy(ACCOUNT, EntityKind.USER, "alice", "second", half)
    assert raised.value.message == "Maximum policy size of 2048 bytes exceeded for user alice"


async def test_a_missing_inline_policy_is_no_such_entity(iam: IamService) -> None:
    await iam.groups.create_group(ACCOUNT, "devs")

    with pytest.raises(InlinePolicyNotFound) as raised:
        await iam.permissions.delete_inline_policy(ACCOUNT, EntityKind.GROUP, "devs", "absent")
    assert raised.value.message == "The group policy with name absent cannot be found."


# -- GetAccountAuthorizationDetails -----------------------------------------------------------------------------


async def test_account_details_list_every_kind_with_its_policies(iam: IamService) -> None:
    await _pushers(iam)
    await iam.users.create_user(ACCOUNT, "alice")
    await iam.groups.create_group(ACCOUNT, "devs")
    await iam.groups.add_user_to_group(ACCOUNT, "devs", "alice")
    await iam.roles.create_role(ACCOUNT, "builder", trust_policy())
    await iam.permissions.put_inline_policy(ACCOUNT, EntityKind.USER, "alice", "inline", identity_policy())
    await iam.permissions.attach_policy(ACCOUNT, EntityKind.ROLE, "builder", READ_ONLY_ARN)

    page = await iam.account_details.get_account_authorization_details(ACCOUNT)

    kinds = [type(detail).__name__ for detail in page.items]
    assert kinds == ["UserDetail", "GroupDetail", "RoleDetail", "PolicyDetail", "PolicyDetail"]
    user = page.items[0]
    assert isinstance(user, UserDetail)
    assert ([p.name for p in user.inline], list(user.group_names)) == (["inline"], ["devs"])
    role = page.items[2]
    assert isinstance(role, RoleDetail)
    assert [p.arn for p in role.attached] == [READ_ONLY_ARN]
    policies = [detail for detail in page.items if isinstance(detail, PolicyDetail)]
    assert sorted(detail.policy.arn for detail in policies) == sorted([READ_ONLY_ARN, POLICY_ARN])


async def test_account_details_filter_and_page(iam: IamService) -> None:
    for index in range(3):
        await iam.groups.create_group(ACCOUNT, f"group-{index}")
    await iam.users.create_user(ACCOUNT, "alice")

    first = await iam.account_details.get_account_authorization_details(ACCOUNT, [DetailFilter.GROUP], max_items=2)
    rest = await iam.account_details.get_account_authorization_details(
        ACCOUNT, [DetailFilter.GROUP], marker=first.marker, max_items=2
    )

    assert all(isinstance(detail, GroupDetail) for detail in [*first.items, *rest.items])
    assert (len(first.items), first.is_truncated, len(rest.items), rest.is_truncated) == (2, True, 1, False)
