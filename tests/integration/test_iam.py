"""IAM over the wire: boto3 and the aws CLI against a live server, asserting AWS's shapes and exact error codes.

One server for the module; each test works on names of its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from testkit.aws_clients import ACCOUNT, CLI_TIMEOUT, cli_environment, cli_json, client, client_error
from testkit.servers import PullcacheServer
from tests.iam_stores import PULL_ONLY_ARN, READ_ONLY_ARN, identity_policy, trust_policy


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    running = PullcacheServer(tmp_path_factory.mktemp("iam") / "data").start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def iam(server: PullcacheServer) -> Any:
    return client(server, "iam")


def _user_client(server: PullcacheServer, service: str, key: dict[str, Any]) -> Any:
    return client(server, service, aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])


def _raw_bodies(iam: Any, operation: str) -> list[bytes]:
    """The response bodies of `operation` as they come off the wire, before botocore parses them."""
    bodies: list[bytes] = []

    def capture(response_dict: dict[str, Any], **_kwargs: Any) -> None:
        bodies.append(response_dict["body"])

    iam.meta.events.register(f"before-parse.iam.{operation}", capture)
    return bodies


# -- users ------------------------------------------------------------------------------------------------------


def test_user_lifecycle_with_iams_shapes(iam: Any) -> None:
    created = iam.create_user(UserName="lifecycle", Path="/people/", Tags=[{"Key": "team", "Value": "blue"}])["User"]

    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/people/lifecycle"
    assert created["UserId"].startswith("AIDA")
    assert len(created["UserId"]) == 21
    fetched = iam.get_user(UserName="LIFECYCLE")["User"]
    assert (fetched["UserName"], fetched["Tags"]) == ("lifecycle", [{"Key": "team", "Value": "blue"}])
    listed = iam.list_users(PathPrefix="/people/")
    assert [user["UserName"] for user in listed["Users"]] == ["lifecycle"]
    assert "Tags" not in listed["Users"][0]
    assert listed["IsTruncated"] is False

    iam.update_user(UserName="lifecycle", NewUserName="renamed", NewPath="/staff/")
    assert iam.get_user(UserName="renamed")["User"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/staff/renamed"
    iam.delete_user(UserName="renamed")
    assert client_error(lambda: iam.get_user(UserName="renamed")) == (
        404,
        "NoSuchEntity",
        "The user with name renamed cannot be found.",
    )


def test_get_user_without_a_name_is_the_caller_root_included(iam: Any) -> None:
    root = iam.get_user()["User"]

    assert (root["UserId"], root["Arn"]) == (ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root")
    assert "UserName" not in root


def test_a_second_user_of_the_same_name_ignoring_case_is_entity_already_exists(iam: Any) -> None:
    iam.create_user(UserName="twin")

    assert client_error(lambda: iam.create_user(UserName="TWIN")) == (
        409,
        "EntityAlreadyExists",
        "User with name TWIN already exists.",
    )


def test_a_name_outside_the_models_pattern_is_a_validation_error(iam: Any) -> None:
    status, code, message = client_error(lambda: iam.create_user(UserName="no spaces"))

    assert (status, code) == (400, "ValidationError")
    assert message == (
        "1 validation error detected: Value 'no spaces' at 'userName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\w+=,.@-]+"
    )


def test_user_tags_are_listed_replaced_ignoring_case_and_removed(iam: Any) -> None:
    iam.create_user(UserName="tagged", Tags=[{"Key": "Team", "Value": "blue"}])

    iam.tag_user(UserName="tagged", Tags=[{"Key": "team", "Value": "red"}, {"Key": "env", "Value": "dev"}])
    iam.untag_user(UserName="tagged", TagKeys=["ENV"])

    assert iam.list_user_tags(UserName="tagged")["Tags"] == [{"Key": "team", "Value": "red"}]
    duplicate = [{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}]
    assert client_error(lambda: iam.tag_user(UserName="tagged", Tags=duplicate)) == (
        400,
        "InvalidInput",
        "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
    )


def test_a_users_permissions_boundary_is_shown_by_get_user(iam: Any) -> None:
    iam.create_user(UserName="bounded")

    iam.put_user_permissions_boundary(UserName="bounded", PermissionsBoundary=PULL_ONLY_ARN)
    shown = iam.get_user(UserName="bounded")["User"]["PermissionsBoundary"]
    iam.delete_user_permissions_boundary(UserName="bounded")

    assert shown == {"PermissionsBoundaryType": "PermissionsBoundaryPolicy", "PermissionsBoundaryArn": PULL_ONLY_ARN}
    assert "PermissionsBoundary" not in iam.get_user(UserName="bounded")["User"]


def test_paginators_walk_120_users_a_page_at_a_time(iam: Any, server: PullcacheServer) -> None:
    names = [f"bulk-{index:03d}" for index in range(120)]
    for name in names:
        iam.create_user(UserName=name, Path="/bulk/")
    bodies = _raw_bodies(iam, "ListUsers")

    pages = list(iam.get_paginator("list_users").paginate(PathPrefix="/bulk/", PaginationConfig={"PageSize": 50}))

    assert [len(page["Users"]) for page in pages] == [50, 50, 20]
    assert [page["IsTruncated"] for page in pages] == [True, True, False]
    assert [user["UserName"] for page in pages for user in page["Users"]] == names
    assert b"<Marker>" in bodies[0]
    assert b"<Marker>" not in bodies[-1]
    from_cli = cli_json(server, "iam", "list-users", "--path-prefix", "/bulk/", "--page-size", "25")
    assert [user["UserName"] for user in from_cli["Users"]] == names


# -- access keys ------------------------------------------------------------------------------------------------


def test_a_users_access_key_signs_as_that_user_for_the_aws_cli(iam: Any, server: PullcacheServer) -> None:
    user = iam.create_user(UserName="signer")["User"]
    key = iam.create_access_key(UserName="signer")["AccessKey"]
    environment = cli_environment(server)
    environment["AWS_ACCESS_KEY_ID"] = key["AccessKeyId"]
    environment["AWS_SECRET_ACCESS_KEY"] = key["SecretAccessKey"]

    result = subprocess.run(
        [str(Path(sys.executable).with_name("aws")), "sts", "get-caller-identity", "--output", "json"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "UserId": user["UserId"],
        "Account": ACCOUNT,
        "Arn": f"arn:aws:iam::{ACCOUNT}:user/signer",
    }


def test_access_key_lifecycle_and_a_deactivated_key_is_refused(iam: Any, server: PullcacheServer) -> None:
    iam.create_user(UserName="rotator")
    first = iam.create_access_key(UserName="rotator")["AccessKey"]
    second = iam.create_access_key(UserName="rotator")["AccessKey"]
    sts = _user_client(server, "sts", first)
    assert sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/rotator"

    assert client_error(lambda: iam.create_access_key(UserName="rotator")) == (
        409,
        "LimitExceeded",
        "Cannot exceed quota for AccessKeysPerUser: 2",
    )
    iam.update_access_key(UserName="rotator", AccessKeyId=first["AccessKeyId"], Status="Inactive")
    listed = iam.list_access_keys(UserName="rotator")["AccessKeyMetadata"]
    assert {(k["AccessKeyId"], k["Status"]) for k in listed} == {
        (first["AccessKeyId"], "Inactive"),
        (second["AccessKeyId"], "Active"),
    }
    assert all("SecretAccessKey" not in k for k in listed)
    assert client_error(sts.get_caller_identity)[:2] == (403, "InvalidClientTokenId")

    last_used = iam.get_access_key_last_used(AccessKeyId=second["AccessKeyId"])
    assert last_used["UserName"] == "rotator"
    iam.delete_access_key(UserName="rotator", AccessKeyId=first["AccessKeyId"])
    assert client_error(lambda: iam.delete_access_key(UserName="rotator", AccessKeyId=first["AccessKeyId"])) == (
        404,
        "NoSuchEntity",
        f"The Access Key with id {first['AccessKeyId']} cannot be found.",
    )
    assert client_error(lambda: iam.delete_user(UserName="rotator")) == (
        409,
        "DeleteConflict",
        "Cannot delete entity, must delete access keys first.",
    )


def test_an_iam_user_without_policies_is_denied_iam_operations(iam: Any, server: PullcacheServer) -> None:
    iam.create_user(UserName="powerless")
    key = iam.create_access_key(UserName="powerless")["AccessKey"]

    status, code, message = client_error(_user_client(server, "iam", key).list_users)

    assert (status, code) == (403, "AccessDenied")
    assert message == (
        f"User: arn:aws:iam::{ACCOUNT}:user/powerless is not authorized to perform: iam:ListUsers on resource: "
        f"arn:aws:iam::{ACCOUNT}:user/ because no identity-based policy allows the iam:ListUsers action"
    )


# -- groups -----------------------------------------------------------------------------------------------------


def test_group_membership_and_deletion(iam: Any) -> None:
    group = iam.create_group(GroupName="builders", Path="/eng/")["Group"]
    iam.create_user(UserName="member")
    iam.add_user_to_group(GroupName="builders", UserName="member")

    assert group["GroupId"].startswith("AGPA")
    fetched = iam.get_group(GroupName="builders")
    assert [user["UserName"] for user in fetched["Users"]] == ["member"]
    assert [g["GroupName"] for g in iam.list_groups(PathPrefix="/eng/")["Groups"]] == ["builders"]
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName="member")["Groups"]] == ["builders"]
    assert client_error(lambda: iam.delete_group(GroupName="builders")) == (
        409,
        "DeleteConflict",
        "Cannot delete entity, must remove users from group first.",
    )
    iam.remove_user_from_group(GroupName="builders", UserName="member")
    iam.delete_group(GroupName="builders")
    assert client_error(lambda: iam.get_group(GroupName="builders"))[:2] == (404, "NoSuchEntity")


# -- roles ------------------------------------------------------------------------------------------------------


def test_role_lifecycle_with_iams_shapes(iam: Any) -> None:
    document = trust_policy()
    created = iam.create_role(RoleName="deployer", AssumeRolePolicyDocument=document, Description="ships")["Role"]

    assert created["RoleId"].startswith("AROA")
    assert created["AssumeRolePolicyDocument"] == json.loads(document)
    assert "MaxSessionDuration" not in created
    assert "RoleLastUsed" not in created
    fetched = iam.get_role(RoleName="deployer")["Role"]
    assert (fetched["MaxSessionDuration"], fetched["RoleLastUsed"], fetched["Description"]) == (3600, {}, "ships")
    listed = [role for role in iam.list_roles()["Roles"] if role["RoleName"] == "deployer"]
    assert "RoleLastUsed" not in listed[0]

    iam.update_role(RoleName="deployer", MaxSessionDuration=7200)
    updated = iam.update_role_description(RoleName="deployer", Description="ships faster")["Role"]
    assert (updated["MaxSessionDuration"], updated["Description"]) == (7200, "ships faster")
    replacement = trust_policy("ecs-tasks.amazonaws.com")
    iam.update_assume_role_policy(RoleName="deployer", PolicyDocument=replacement)
    assert iam.get_role(RoleName="deployer")["Role"]["AssumeRolePolicyDocument"] == json.loads(replacement)
    iam.delete_role(RoleName="deployer")
    assert client_error(lambda: iam.get_role(RoleName="deployer")) == (
        404,
        "NoSuchEntity",
        "The role with name deployer cannot be found.",
    )


def test_a_malformed_trust_policy_is_malformed_policy_document(iam: Any) -> None:
    assert client_error(lambda: iam.create_role(RoleName="broken", AssumeRolePolicyDocument="{nope")) == (
        400,
        "MalformedPolicyDocument",
        "This policy contains invalid Json",
    )


def test_a_session_duration_beyond_12_hours_is_a_validation_error(iam: Any) -> None:
    status, code, message = client_error(
        lambda: iam.create_role(RoleName="long", AssumeRolePolicyDocument=trust_policy(), MaxSessionDuration=50000)
    )

    assert (status, code) == (400, "ValidationError")
    assert "Member must have value less than or equal to 43200" in message


def test_role_tags_and_permissions_boundary(iam: Any) -> None:
    iam.create_role(RoleName="tagged-role", AssumeRolePolicyDocument=trust_policy())

    iam.tag_role(RoleName="tagged-role", Tags=[{"Key": "team", "Value": "ci"}, {"Key": "env", "Value": "prod"}])
    iam.untag_role(RoleName="tagged-role", TagKeys=["env"])
    iam.put_role_permissions_boundary(RoleName="tagged-role", PermissionsBoundary=READ_ONLY_ARN)

    assert iam.list_role_tags(RoleName="tagged-role")["Tags"] == [{"Key": "team", "Value": "ci"}]
    role = iam.get_role(RoleName="tagged-role")["Role"]
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == READ_ONLY_ARN
    iam.delete_role_permissions_boundary(RoleName="tagged-role")
    assert "PermissionsBoundary" not in iam.get_role(RoleName="tagged-role")["Role"]


# -- managed policies -------------------------------------------------------------------------------------------


def test_managed_policy_versions(iam: Any) -> None:
    policy = iam.create_policy(PolicyName="versioned", PolicyDocument=identity_policy("ecr:PutImage"))["Policy"]
    arn = policy["Arn"]

    assert (policy["PolicyId"][:4], policy["DefaultVersionId"], policy["AttachmentCount"]) == ("ANPA", "v1", 0)
    for _ in range(4):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=identity_policy("ecr:ListImages"))
    assert client_error(lambda: iam.create_policy_version(PolicyArn=arn, PolicyDocument=identity_policy()))[:2] == (
        409,
        "LimitExceeded",
    )
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v5")
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v5"
    version = iam.get_policy_version(PolicyArn=arn, VersionId="v5")["PolicyVersion"]
    assert (version["IsDefaultVersion"], version["Document"]["Statement"][0]["Action"]) == (True, ["ecr:ListImages"])
    listed = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [v["VersionId"] for v in listed] == ["v5", "v4", "v3", "v2", "v1"]
    assert client_error(lambda: iam.delete_policy_version(PolicyArn=arn, VersionId="v5")) == (
        409,
        "DeleteConflict",
        "Cannot delete the default version of a policy.",
    )
    assert client_error(lambda: iam.delete_policy(PolicyArn=arn))[:2] == (409, "DeleteConflict")
    for version_id in ("v1", "v2", "v3", "v4"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=version_id)
    iam.delete_policy(PolicyArn=arn)
    assert client_error(lambda: iam.get_policy(PolicyArn=arn)) == (404, "NoSuchEntity", f"Policy {arn} was not found.")


def test_policy_errors_with_iams_codes(iam: Any) -> None:
    iam.create_policy(PolicyName="unique", PolicyDocument=identity_policy())

    assert client_error(lambda: iam.create_policy(PolicyName="UNIQUE", PolicyDocument=identity_policy())) == (
        409,
        "EntityAlreadyExists",
        "A policy called UNIQUE already exists. Duplicate names are not allowed.",
    )
    assert client_error(
        lambda: iam.create_policy(PolicyName="principal", PolicyDocument=identity_policy(Principal="*"))
    )[:2] == (400, "MalformedPolicyDocument")
    assert client_error(lambda: iam.get_policy(PolicyArn="not-an-arn-at-all-really")) == (
        400,
        "ValidationError",
        "Invalid ARN:  Could not be parsed!",
    )


def test_aws_managed_policies_are_listed_read_and_counted(iam: Any) -> None:
    aws = iam.list_policies(Scope="AWS", MaxItems=1000)["Policies"]
    local = iam.list_policies(Scope="Local", MaxItems=1000)["Policies"]

    assert READ_ONLY_ARN in {policy["Arn"] for policy in aws}
    assert all(not policy["Arn"].startswith("arn:aws:iam::aws:") for policy in local)
    policy = iam.get_policy(PolicyArn=READ_ONLY_ARN)["Policy"]
    assert (policy["PolicyId"], policy["DefaultVersionId"], policy["Path"]) == ("ANPAIFYZPA37OOHVIH7KQ", "v3", "/")
    document = iam.get_policy_version(PolicyArn=READ_ONLY_ARN, VersionId="v3")["PolicyVersion"]["Document"]
    assert "ecr:BatchGetImage" in document["Statement"][0]["Action"]


def test_policy_tags(iam: Any) -> None:
    arn = iam.create_policy(PolicyName="tagged-policy", PolicyDocument=identity_policy())["Policy"]["Arn"]

    iam.tag_policy(PolicyArn=arn, Tags=[{"Key": "team", "Value": "ci"}, {"Key": "env", "Value": "prod"}])
    iam.untag_policy(PolicyArn=arn, TagKeys=["team"])

    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == [{"Key": "env", "Value": "prod"}]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["Tags"] == [{"Key": "env", "Value": "prod"}]


# -- attachments and inline policies, for users, groups and roles -----------------------------------------------


def _make(iam: Any, kind: str, name: str) -> None:
    match kind:
        case "User":
            iam.create_user(UserName=name)
        case "Group":
            iam.create_group(GroupName=name)
        case "Role":
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_policy())


def _call(iam: Any, operation: str, kind: str, name: str, **params: Any) -> Any:
    """iam.<operation> with `kind`'s name member: ("attach_{}_policy", "User") calls attach_user_policy(UserName=)."""
    method = getattr(iam, operation.format(kind.lower()))
    return method(**{f"{kind}Name": name}, **params)


@pytest.mark.parametrize("kind", ["User", "Group", "Role"])
def test_managed_policies_attach_detach_and_count(iam: Any, kind: str) -> None:
    name = f"attach-{kind.lower()}"
    _make(iam, kind, name)

    _call(iam, "attach_{}_policy", kind, name, PolicyArn=READ_ONLY_ARN)
    attached = _call(iam, "list_attached_{}_policies", kind, name)["AttachedPolicies"]
    entities = iam.list_entities_for_policy(PolicyArn=READ_ONLY_ARN, EntityFilter=kind)[f"Policy{kind}s"]
    count = iam.get_policy(PolicyArn=READ_ONLY_ARN)["Policy"]["AttachmentCount"]
    _call(iam, "detach_{}_policy", kind, name, PolicyArn=READ_ONLY_ARN)

    assert attached == [{"PolicyName": "AmazonEC2ContainerRegistryReadOnly", "PolicyArn": READ_ONLY_ARN}]
    assert name in [entity[f"{kind}Name"] for entity in entities]
    assert count >= 1
    assert client_error(lambda: _call(iam, "detach_{}_policy", kind, name, PolicyArn=READ_ONLY_ARN)) == (
        404,
        "NoSuchEntity",
        f"Policy {READ_ONLY_ARN} was not found.",
    )
    missing = f"arn:aws:iam::{ACCOUNT}:policy/missing"
    assert client_error(lambda: _call(iam, "attach_{}_policy", kind, name, PolicyArn=missing)) == (
        404,
        "NoSuchEntity",
        f"Policy {missing} does not exist or is not attachable.",
    )


@pytest.mark.parametrize("kind", ["User", "Group", "Role"])
def test_inline_policies_put_get_list_delete(iam: Any, kind: str) -> None:
    name = f"inline-{kind.lower()}"
    _make(iam, kind, name)
    document = identity_policy("ecr:ListImages", resource="arn:aws:ecr:us-east-1:000000000000:repository/a b")
    bodies = _raw_bodies(iam, f"Get{kind}Policy")

    _call(iam, "put_{}_policy", kind, name, PolicyName="inline", PolicyDocument=document)
    fetched = _call(iam, "get_{}_policy", kind, name, PolicyName="inline")
    names = _call(iam, "list_{}_policies", kind, name)["PolicyNames"]
    _call(iam, "delete_{}_policy", kind, name, PolicyName="inline")

    assert (fetched[f"{kind}Name"], fetched["PolicyName"], fetched["PolicyDocument"]) == (
        name,
        "inline",
        json.loads(document),
    )
    raw = bodies[0].decode()
    encoded = raw.split("<PolicyDocument>")[1].split("</PolicyDocument>")[0]
    assert "{" not in encoded
    assert unquote(encoded) == document
    assert names == ["inline"]
    assert client_error(lambda: _call(iam, "get_{}_policy", kind, name, PolicyName="inline")) == (
        404,
        "NoSuchEntity",
        f"The {kind.lower()} policy with name inline cannot be found.",
    )


# -- the account ------------------------------------------------------------------------------------------------


def test_account_authorization_details_with_a_filter(iam: Any) -> None:
    iam.create_group(GroupName="detailed")
    iam.put_group_policy(GroupName="detailed", PolicyName="inline", PolicyDocument=identity_policy())
    iam.attach_group_policy(GroupName="detailed", PolicyArn=PULL_ONLY_ARN)

    groups_only = iam.get_account_authorization_details(Filter=["Group"])
    everything = iam.get_paginator("get_account_authorization_details").paginate().build_full_result()

    assert groups_only["UserDetailList"] == groups_only["RoleDetailList"] == groups_only["Policies"] == []
    detailed = next(g for g in groups_only["GroupDetailList"] if g["GroupName"] == "detailed")
    assert detailed["GroupPolicyList"] == [{"PolicyName": "inline", "PolicyDocument": json.loads(identity_policy())}]
    assert detailed["AttachedManagedPolicies"] == [
        {"PolicyName": "AmazonEC2ContainerRegistryPullOnly", "PolicyArn": PULL_ONLY_ARN}
    ]
    assert PULL_ONLY_ARN in {policy["Arn"] for policy in everything["Policies"]}
    assert everything["UserDetailList"]
