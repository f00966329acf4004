"""A service-linked role is its service's: every change but its description and tags is UnmodifiableEntity, no
customer role may take its path, and its policy (AWS managed, under /aws-service-role/) attaches to nothing else."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from pullcache.iam.aws_managed import ECR_PULL_THROUGH_CACHE_POLICY_ARN
from pullcache.iam.errors import (
    EntityKind,
    InvalidInput,
    RoleNotFound,
    ServiceRolePolicyNotAttachable,
    UnmodifiableEntity,
)
from pullcache.iam.model import PolicyScope, RoleUsage, Tag
from pullcache.iam.service import IamService
from pullcache.iam.service_linked_roles import ServiceLinkedRoleService
from pullcache.metadata.engine import create_engine, migrate
from pullcache.metadata.sql_accounts import SqlAccountStore
from pullcache.metadata.sql_iam import SqlIamStore
from pullcache.metadata.sql_iam_tasks import SqlRoleDeletionTaskStore
from tests.iam_stores import ACCOUNT, READ_ONLY_ARN, identity_policy, trust_policy
from tests.stores import sqlite_url

SERVICE = "pullthroughcache.ecr.amazonaws.com"
ROLE = "AWSServiceRoleForECRPullThroughCache"
PROTECTED = (
    "Cannot perform the operation on the protected role 'AWSServiceRoleForECRPullThroughCache' - "
    "this role is only modifiable by AWS"
)


class NoUsage:
    async def find_role_usage(self, account_id: str) -> RoleUsage:
        return RoleUsage()


@pytest.fixture
async def iam(tmp_path: Path) -> AsyncIterator[IamService]:
    """IAM over an account whose service-linked role exists."""
    engine = create_engine(sqlite_url(tmp_path / "metadata.db"))
    try:
        await migrate(engine)
        await SqlAccountStore(engine).ensure_account(ACCOUNT)
        store = SqlIamStore(engine)
        roles = ServiceLinkedRoleService(store, SqlRoleDeletionTaskStore(engine), NoUsage())
        await roles.create_service_linked_role(ACCOUNT, SERVICE)
        yield IamService.over(store)
    finally:
        await engine.dispose()


Change = Callable[[IamService], Awaitable[object]]
CHANGES: dict[str, Change] = {
    "DeleteRole": lambda iam: iam.roles.delete_role(ACCOUNT, ROLE),
    "UpdateAssumeRolePolicy": lambda iam: iam.roles.update_assume_role_policy(ACCOUNT, ROLE, trust_policy()),
    "UpdateRole with MaxSessionDuration": lambda iam: iam.roles.update_role(
        ACCOUNT, ROLE, description="d", max_session_duration=7200
    ),
    "AttachRolePolicy": lambda iam: iam.permissions.attach_policy(ACCOUNT, EntityKind.ROLE, ROLE, READ_ONLY_ARN),
    "DetachRolePolicy": lambda iam: iam.permissions.detach_policy(
        ACCOUNT, EntityKind.ROLE, ROLE, ECR_PULL_THROUGH_CACHE_POLICY_ARN
    ),
    "PutRolePolicy": lambda iam: iam.permissions.put_inline_policy(
        ACCOUNT, EntityKind.ROLE, ROLE, "extra", identity_policy("ecr:*")
    ),
    "DeleteRolePolicy": lambda iam: iam.permissions.delete_inline_policy(ACCOUNT, EntityKind.ROLE, ROLE, "extra"),
    "PutRolePermissionsBoundary": lambda iam: iam.permissions.put_permissions_boundary(
        ACCOUNT, EntityKind.ROLE, ROLE, READ_ONLY_ARN
    ),
    "DeleteRolePermissionsBoundary": lambda iam: iam.permissions.delete_permissions_boundary(
        ACCOUNT, EntityKind.ROLE, ROLE
    ),
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
async def test_changing_the_service_linked_role_is_unmodifiable_entity(iam: IamService, change: Change) -> None:
    before = await iam.roles.get_role(ACCOUNT, ROLE)

    with pytest.raises(UnmodifiableEntity) as raised:
        await change(iam)

    assert raised.value.message == PROTECTED
    after = await iam.roles.get_role(ACCOUNT, ROLE)
    assert after == before
    attached = await iam.permissions.list_attached_policies(ACCOUNT, EntityKind.ROLE, ROLE)
    assert [p.arn for p in attached.items] == [ECR_PULL_THROUGH_CACHE_POLICY_ARN]
    assert list((await iam.permissions.list_inline_policies(ACCOUNT, EntityKind.ROLE, ROLE)).items) == []


async def test_the_description_of_the_service_linked_role_may_change(iam: IamService) -> None:
    await iam.roles.update_role(ACCOUNT, ROLE, description="first")
    updated = await iam.roles.update_role(ACCOUNT, ROLE, description="second")

    assert (updated.name, updated.description, updated.max_session_duration) == (ROLE, "second", 3600)
    assert (await iam.roles.get_role(ACCOUNT, ROLE)).description == "second"


async def test_the_service_linked_role_may_be_tagged_and_untagged(iam: IamService) -> None:
    await iam.roles.tag_role(ACCOUNT, ROLE, [Tag("team", "registry"), Tag("env", "dev")])
    await iam.roles.untag_role(ACCOUNT, ROLE, ["env"])

    assert (await iam.roles.get_role(ACCOUNT, ROLE)).tags == (Tag("team", "registry"),)


async def test_a_customer_role_cannot_take_a_service_linked_roles_path(iam: IamService) -> None:
    with pytest.raises(InvalidInput) as raised:
        await iam.roles.create_role(ACCOUNT, "impostor", trust_policy(), path=f"/aws-service-role/{SERVICE}/")

    assert raised.value.message == "Path prefix '/aws-service-role/' can only be used for AWS Service linked Roles"


async def test_a_customer_role_takes_every_one_of_those_changes(iam: IamService) -> None:
    await iam.roles.create_role(ACCOUNT, "customer", trust_policy())

    await iam.roles.update_assume_role_policy(ACCOUNT, "customer", trust_policy("lambda.amazonaws.com"))
    await iam.roles.update_role(ACCOUNT, "customer", max_session_duration=7200)
    await iam.permissions.attach_policy(ACCOUNT, EntityKind.ROLE, "customer", READ_ONLY_ARN)
    await iam.permissions.detach_policy(ACCOUNT, EntityKind.ROLE, "customer", READ_ONLY_ARN)
    await iam.permissions.put_inline_policy(ACCOUNT, EntityKind.ROLE, "customer", "extra", identity_policy("ecr:*"))
    await iam.permissions.delete_inline_policy(ACCOUNT, EntityKind.ROLE, "customer", "extra")
    await iam.permissions.put_permissions_boundary(ACCOUNT, EntityKind.ROLE, "customer", READ_ONLY_ARN)
    await iam.permissions.delete_permissions_boundary(ACCOUNT, EntityKind.ROLE, "customer")
    await iam.roles.delete_role(ACCOUNT, "customer")

    with pytest.raises(RoleNotFound):
        await iam.roles.get_role(ACCOUNT, "customer")


# -- the service-linked role's policy ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "word"), [(EntityKind.USER, "User"), (EntityKind.GROUP, "Group"), (EntityKind.ROLE, "Role")]
)
async def test_the_service_role_policy_attaches_to_no_customer_entity(
    iam: IamService, kind: EntityKind, word: str
) -> None:
    match kind:
        case EntityKind.USER:
            await iam.users.create_user(ACCOUNT, "entity")
        case EntityKind.GROUP:
            await iam.groups.create_group(ACCOUNT, "entity")
        case EntityKind.ROLE:
            await iam.roles.create_role(ACCOUNT, "entity", trust_policy())

    with pytest.raises(ServiceRolePolicyNotAttachable) as raised:
        await iam.permissions.attach_policy(ACCOUNT, kind, "entity", ECR_PULL_THROUGH_CACHE_POLICY_ARN)

    assert raised.value.message == f"Cannot attach a Service Role Policy to a Customer {word}."
    assert list((await iam.permissions.list_attached_policies(ACCOUNT, kind, "entity")).items) == []


async def test_the_service_role_policy_is_listed_among_aws_policies_under_its_path(iam: IamService) -> None:
    page = await iam.policies.list_policies(ACCOUNT, PolicyScope.AWS, path_prefix="/aws-service-role/")

    assert [(p.name, p.path, p.arn, p.attachment_count) for p in page.items] == [
        ("AWSECRPullThroughCache_ServiceRolePolicy", "/aws-service-role/", ECR_PULL_THROUGH_CACHE_POLICY_ARN, 1)
    ]
    root_only = await iam.policies.list_policies(ACCOUNT, PolicyScope.AWS, path_prefix="/")
    assert ECR_PULL_THROUGH_CACHE_POLICY_ARN in [p.arn for p in root_only.items]


async def test_the_service_role_policy_is_v1_of_the_documented_actions(iam: IamService) -> None:
    policy = await iam.policies.get_policy(ACCOUNT, ECR_PULL_THROUGH_CACHE_POLICY_ARN)
    version = await iam.policies.get_policy_version(ACCOUNT, ECR_PULL_THROUGH_CACHE_POLICY_ARN, "v1")

    assert (policy.default_version_id, policy.attachment_count, policy.account) == ("v1", 1, None)
    assert policy.description == (
        "Enables access to AWS services and resources used or managed by AWS ECR pull through cache"
    )
    assert json.loads(version.document) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "ecr:GetAuthorizationToken",
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:InitiateLayerUpload",
                    "ecr:UploadLayerPart",
                    "ecr:CompleteLayerUpload",
                    "ecr:PutImage",
                ],
                "Resource": "*",
            }
        ],
    }
