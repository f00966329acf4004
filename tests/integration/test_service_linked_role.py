"""ECR's pull through cache service-linked role over the wire: boto3 and the aws CLI against a live server.

One server for the module. The role is one per account, so the module creates it once; the test that deletes it
creates it again before it ends.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from testkit.aws_clients import ACCOUNT, cli_json, client, client_error
from testkit.servers import PullcacheServer
from tests.iam_stores import identity_policy, trust_policy

SERVICE = "pullthroughcache.ecr.amazonaws.com"
ROLE = "AWSServiceRoleForECRPullThroughCache"
PATH = f"/aws-service-role/{SERVICE}/"
POLICY_ARN = "arn:aws:iam::aws:policy/aws-service-role/AWSECRPullThroughCache_ServiceRolePolicy"
PROTECTED = f"Cannot perform the operation on the protected role '{ROLE}' - this role is only modifiable by AWS"
TASK_ID = re.compile(rf"task/aws-service-role/{re.escape(SERVICE)}/{ROLE}/[0-9a-f-]{{36}}")
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": SERVICE}, "Action": "sts:AssumeRole"}],
}
POLL_ATTEMPTS = 50
POLL_INTERVAL = 0.1


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    running = PullcacheServer(tmp_path_factory.mktemp("slr") / "data").start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def iam(server: PullcacheServer) -> Any:
    return client(server, "iam")


@pytest.fixture(scope="module")
def created(server: PullcacheServer) -> dict[str, Any]:
    """The role as `aws iam create-service-linked-role` printed it."""
    role: dict[str, Any] = cli_json(server, "iam", "create-service-linked-role", "--aws-service-name", SERVICE)["Role"]
    return role


def test_the_cli_creates_the_role_under_the_services_path(created: dict[str, Any]) -> None:
    assert (created["RoleName"], created["Path"]) == (ROLE, PATH)
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/{SERVICE}/{ROLE}"
    assert created["RoleId"].startswith("AROA")
    assert created["AssumeRolePolicyDocument"] == TRUST


def test_a_second_creation_is_invalid_input(iam: Any, created: dict[str, Any]) -> None:
    assert client_error(lambda: iam.create_service_linked_role(AWSServiceName=SERVICE)) == (
        400,
        "InvalidInput",
        f"Service role name {ROLE} has been taken in this account, please try a different suffix.",
    )


def test_get_role_shows_the_trust_policy_session_limit_and_the_attached_policy(
    server: PullcacheServer, created: dict[str, Any]
) -> None:
    role = cli_json(server, "iam", "get-role", "--role-name", ROLE)["Role"]
    attached = cli_json(server, "iam", "list-attached-role-policies", "--role-name", ROLE)["AttachedPolicies"]

    assert (role["Path"], role["RoleId"], role["MaxSessionDuration"]) == (PATH, created["RoleId"], 3600)
    assert role["AssumeRolePolicyDocument"] == TRUST
    assert attached == [{"PolicyName": "AWSECRPullThroughCache_ServiceRolePolicy", "PolicyArn": POLICY_ARN}]


def test_the_roles_policy_is_an_aws_policy_under_the_service_role_path(iam: Any, created: dict[str, Any]) -> None:
    listed = iam.list_policies(Scope="AWS", PathPrefix="/aws-service-role/")["Policies"]
    version = iam.get_policy_version(PolicyArn=POLICY_ARN, VersionId="v1")["PolicyVersion"]

    assert [(p["Arn"], p["Path"], p["AttachmentCount"]) for p in listed] == [(POLICY_ARN, "/aws-service-role/", 1)]
    assert version["Document"]["Statement"][0]["Action"][-1] == "ecr:PutImage"


def test_the_description_may_be_changed(iam: Any, created: dict[str, Any]) -> None:
    updated = iam.update_role_description(RoleName=ROLE, Description="pull through cache, ours")["Role"]
    iam.update_role(RoleName=ROLE, Description="pull through cache")

    assert updated["Description"] == "pull through cache, ours"
    assert iam.get_role(RoleName=ROLE)["Role"]["Description"] == "pull through cache"


def test_deleting_the_role_with_delete_role_is_unmodifiable_entity(iam: Any, created: dict[str, Any]) -> None:
    assert client_error(lambda: iam.delete_role(RoleName=ROLE)) == (400, "UnmodifiableEntity", PROTECTED)
    assert iam.get_role(RoleName=ROLE)["Role"]["RoleId"] == created["RoleId"]


def test_attaching_a_policy_to_the_role_is_unmodifiable_entity(iam: Any, created: dict[str, Any]) -> None:
    arn = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"

    assert client_error(lambda: iam.attach_role_policy(RoleName=ROLE, PolicyArn=arn)) == (
        400,
        "UnmodifiableEntity",
        PROTECTED,
    )
    assert client_error(lambda: iam.update_role(RoleName=ROLE, MaxSessionDuration=7200))[1] == "UnmodifiableEntity"


def test_a_customer_role_cannot_take_the_service_role_path(iam: Any) -> None:
    def create() -> Any:
        return iam.create_role(RoleName="impostor", Path=PATH, AssumeRolePolicyDocument=trust_policy())

    assert client_error(create) == (
        400,
        "InvalidInput",
        "Path prefix '/aws-service-role/' can only be used for AWS Service linked Roles",
    )


def test_a_user_without_iam_create_service_linked_role_is_access_denied(server: PullcacheServer, iam: Any) -> None:
    iam.create_user(UserName="reader")
    iam.put_user_policy(UserName="reader", PolicyName="read", PolicyDocument=identity_policy("iam:GetRole"))
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    reader = client(server, "iam", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])

    status, code, _message = client_error(lambda: reader.create_service_linked_role(AWSServiceName=SERVICE))

    assert (status, code) == (403, "AccessDenied")


def test_an_unknown_deletion_task_is_no_such_entity(iam: Any) -> None:
    task_id = f"task/aws-service-role/{SERVICE}/{ROLE}/00000000-0000-4000-8000-000000000000"

    status, code, _message = client_error(lambda: iam.get_service_linked_role_deletion_status(DeletionTaskId=task_id))

    assert (status, code) == (404, "NoSuchEntity")


def test_delete_service_linked_role_succeeds_and_the_role_can_be_created_again(
    server: PullcacheServer, iam: Any, created: dict[str, Any]
) -> None:
    task_id = iam.delete_service_linked_role(RoleName=ROLE)["DeletionTaskId"]
    assert TASK_ID.fullmatch(task_id)

    for _ in range(POLL_ATTEMPTS):
        status = iam.get_service_linked_role_deletion_status(DeletionTaskId=task_id)
        if status["Status"] not in ("NOT_STARTED", "IN_PROGRESS"):
            break
        time.sleep(POLL_INTERVAL)
    assert status["Status"] == "SUCCEEDED"
    assert "Reason" not in status
    assert client_error(lambda: iam.get_role(RoleName=ROLE))[:2] == (404, "NoSuchEntity")

    again = cli_json(server, "iam", "create-service-linked-role", "--aws-service-name", SERVICE)["Role"]
    assert again["Arn"] == created["Arn"]
    assert again["RoleId"] != created["RoleId"]
