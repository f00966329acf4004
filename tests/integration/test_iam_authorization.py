"""IAM users' requests are decided by their policies: boto3 and the aws CLI against a live server.

Every IAM and ECR call of an IAM user is authorized with the user's inline, attached and group policies within its
permissions boundary; refusals carry AWS's AccessDenied text. One server for the module; each test works on names
of its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testkit.aws_clients import (
    ACCOUNT,
    ADMINISTRATOR,
    CLI_TIMEOUT,
    ECR_FULL,
    ECR_READ_ONLY,
    IAM_READ_ONLY,
    cli_environment,
    client,
    client_error,
)
from testkit.servers import PullcacheServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    running = PullcacheServer(tmp_path_factory.mktemp("authorization") / "data").start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def iam(server: PullcacheServer) -> Any:
    return client(server, "iam")


def _deny(*actions: str, resource: str = "*") -> str:
    statement = {"Effect": "Deny", "Action": list(actions), "Resource": resource}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _user(iam: Any, name: str, *managed: str, boundary: str | None = None) -> dict[str, Any]:
    """A user with the managed policies `managed` attached, and an access key."""
    iam.create_user(UserName=name, **({"PermissionsBoundary": boundary} if boundary else {}))
    for arn in managed:
        iam.attach_user_policy(UserName=name, PolicyArn=arn)
    key: dict[str, Any] = iam.create_access_key(UserName=name)["AccessKey"]
    return key


def _as(server: PullcacheServer, service: str, key: dict[str, Any]) -> Any:
    return client(server, service, aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])


def _denied(user: str, action: str, resource: str, reason: str) -> str:
    who = f"arn:aws:iam::{ACCOUNT}:user/{user}"
    return f"User: {who} is not authorized to perform: {action} on resource: {resource} {reason}"


def test_an_iam_read_only_user_lists_users_but_may_not_create_one(iam: Any, server: PullcacheServer) -> None:
    reader = _as(server, "iam", _user(iam, "reader", IAM_READ_ONLY))

    listed = [user["UserName"] for user in reader.list_users()["Users"]]

    assert "reader" in listed
    assert reader.get_user(UserName="reader")["User"]["UserName"] == "reader"
    assert client_error(lambda: reader.create_user(UserName="by-the-reader")) == (
        403,
        "AccessDenied",
        _denied(
            "reader",
            "iam:CreateUser",
            f"arn:aws:iam::{ACCOUNT}:user/by-the-reader",
            "because no identity-based policy allows the iam:CreateUser action",
        ),
    )


def test_the_aws_cli_acts_with_the_users_policies(iam: Any, server: PullcacheServer) -> None:
    key = _user(iam, "cli-reader", IAM_READ_ONLY)
    environment = cli_environment(server)
    environment["AWS_ACCESS_KEY_ID"] = key["AccessKeyId"]
    environment["AWS_SECRET_ACCESS_KEY"] = key["SecretAccessKey"]

    def aws(*arguments: str) -> subprocess.CompletedProcess[str]:
        command = [str(Path(sys.executable).with_name("aws")), *arguments, "--output", "json"]
        return subprocess.run(
            command, env=environment, capture_output=True, text=True, timeout=CLI_TIMEOUT, check=False
        )

    listed = aws("iam", "list-users")
    refused = aws("iam", "create-user", "--user-name", "by-the-cli-reader")

    assert listed.returncode == 0, listed.stderr
    assert "cli-reader" in [user["UserName"] for user in json.loads(listed.stdout)["Users"]]
    assert refused.returncode != 0
    assert "An error occurred (AccessDenied) when calling the CreateUser operation" in refused.stderr


def test_an_explicit_deny_wins_over_administrator_access(iam: Any, server: PullcacheServer) -> None:
    key = _user(iam, "admin-but", ADMINISTRATOR)
    iam.put_user_policy(UserName="admin-but", PolicyName="no-new-users", PolicyDocument=_deny("iam:CreateUser"))
    admin = _as(server, "iam", key)

    admin.create_group(GroupName="made-by-an-admin")
    assert client_error(lambda: admin.create_user(UserName="by-the-admin")) == (
        403,
        "AccessDenied",
        _denied(
            "admin-but",
            "iam:CreateUser",
            f"arn:aws:iam::{ACCOUNT}:user/by-the-admin",
            "with an explicit deny in an identity-based policy",
        ),
    )


def test_an_explicit_deny_on_one_repository_wins_over_ecr_full_access(iam: Any, server: PullcacheServer) -> None:
    protected = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/protected"
    key = _user(iam, "ecr-admin", ECR_FULL)
    iam.put_user_policy(
        UserName="ecr-admin", PolicyName="keep", PolicyDocument=_deny("ecr:DeleteRepository", resource=protected)
    )
    ecr = _as(server, "ecr", key)
    for name in ("protected", "disposable"):
        ecr.create_repository(repositoryName=name)

    ecr.delete_repository(repositoryName="disposable")
    status, code, message = client_error(lambda: ecr.delete_repository(repositoryName="protected"))

    assert (status, code) == (400, "AccessDeniedException")
    assert message == _denied(
        "ecr-admin", "ecr:DeleteRepository", protected, "with an explicit deny in an identity-based policy"
    )
    assert [r["repositoryName"] for r in ecr.describe_repositories(repositoryNames=["protected"])["repositories"]] == [
        "protected"
    ]


def test_a_permissions_boundary_caps_an_administrator(iam: Any, server: PullcacheServer) -> None:
    capped = _as(server, "iam", _user(iam, "capped-admin", ADMINISTRATOR, boundary=IAM_READ_ONLY))

    assert "Users" in capped.list_users()
    assert client_error(lambda: capped.create_user(UserName="by-the-capped-admin")) == (
        403,
        "AccessDenied",
        _denied(
            "capped-admin",
            "iam:CreateUser",
            f"arn:aws:iam::{ACCOUNT}:user/by-the-capped-admin",
            "because no permissions boundary allows the iam:CreateUser action",
        ),
    )


def test_a_permissions_boundary_caps_ecr_full_access_to_reading(iam: Any, server: PullcacheServer) -> None:
    ecr = _as(server, "ecr", _user(iam, "capped-pusher", ECR_FULL, boundary=ECR_READ_ONLY))

    assert "repositories" in ecr.describe_repositories()
    assert client_error(lambda: ecr.create_repository(repositoryName="by-the-capped-pusher")) == (
        400,
        "AccessDeniedException",
        _denied(
            "capped-pusher",
            "ecr:CreateRepository",
            f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/by-the-capped-pusher",
            "because no permissions boundary allows the ecr:CreateRepository action",
        ),
    )


def test_group_policies_apply_to_their_members_and_stop_when_they_leave(iam: Any, server: PullcacheServer) -> None:
    iam.create_group(GroupName="auditors")
    iam.attach_group_policy(GroupName="auditors", PolicyArn=IAM_READ_ONLY)
    member = _as(server, "iam", _user(iam, "auditor"))
    assert client_error(member.list_users)[:2] == (403, "AccessDenied")

    iam.add_user_to_group(GroupName="auditors", UserName="auditor")
    assert "Users" in member.list_users()

    iam.remove_user_from_group(GroupName="auditors", UserName="auditor")
    assert client_error(member.list_users)[:2] == (403, "AccessDenied")
