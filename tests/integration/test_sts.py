"""STS AssumeRole over the wire: boto3 and the aws CLI against a live server, asserting AWS's shapes and codes.

One server for the module; each test works on names of its own. Session expiry is shown by moving a session's
expiry into the past in the server's database (AWS's shortest session is 15 minutes; no test waits that long).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from botocore.config import Config

from pullcache.metadata.schema import sts_sessions
from testkit.aws_clients import (
    ACCOUNT,
    ECR_READ_ONLY,
    IAM_READ_ONLY,
    aws_cli,
    client,
    client_error,
    registry_authorization,
    signed_by,
)
from testkit.servers import PullcacheServer
from testkit.sync_client import request

REGION = "us-east-1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    running = PullcacheServer(tmp_path_factory.mktemp("sts") / "data").start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def iam(server: PullcacheServer) -> Any:
    return client(server, "iam")


def _document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _trust(*principals: str, **extra: Any) -> str:
    return _document({"Effect": "Allow", "Principal": {"AWS": list(principals)}, "Action": "sts:AssumeRole", **extra})


def _user(iam: Any, name: str, *allowed_actions: str) -> dict[str, Any]:
    """A user with an access key, allowed `allowed_actions` on every resource."""
    iam.create_user(UserName=name)
    if allowed_actions:
        policy = _document({"Effect": "Allow", "Action": list(allowed_actions), "Resource": "*"})
        iam.put_user_policy(UserName=name, PolicyName="allowed", PolicyDocument=policy)
    key: dict[str, Any] = iam.create_access_key(UserName=name)["AccessKey"]
    return key


def test_a_user_allowed_by_its_policy_and_the_trust_assumes_the_role(iam: Any, server: PullcacheServer) -> None:
    role = iam.create_role(RoleName="deployer", AssumeRolePolicyDocument=_trust(ACCOUNT))["Role"]
    key = _user(iam, "assumer", "sts:AssumeRole")
    before = datetime.now(UTC)

    answer = signed_by(server, "sts", key).assume_role(RoleArn=role["Arn"], RoleSessionName="build-7")

    credentials = answer["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA")
    assert len(credentials["AccessKeyId"]) == 20
    assert len(credentials["SecretAccessKey"]) == 40
    assert credentials["SessionToken"]
    expires_in = credentials["Expiration"] - before
    assert timedelta(minutes=59) < expires_in <= timedelta(hours=1, seconds=1)
    assert answer["AssumedRoleUser"] == {
        "AssumedRoleId": f"{role['RoleId']}:build-7",
        "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/build-7",
    }
    assert "PackedPolicySize" not in answer


def test_session_credentials_sign_get_caller_identity_as_the_assumed_role(iam: Any, server: PullcacheServer) -> None:
    role = iam.create_role(RoleName="identity", Path="/ci/", AssumeRolePolicyDocument=_trust(ACCOUNT))["Role"]
    key = _user(iam, "identity-user", "sts:AssumeRole")
    session = signed_by(server, "sts", key).assume_role(RoleArn=role["Arn"], RoleSessionName="who-am-i")

    identity = signed_by(server, "sts", session["Credentials"]).get_caller_identity()
    from_cli = aws_cli(server, "sts", "get-caller-identity", key=session["Credentials"])

    expected = {
        "UserId": f"{role['RoleId']}:who-am-i",
        "Account": ACCOUNT,
        "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/identity/who-am-i",  # the role's path is not in it
    }
    assert {name: identity[name] for name in expected} == expected
    assert from_cli.returncode == 0, from_cli.stderr
    assert json.loads(from_cli.stdout) == expected


def test_the_aws_cli_assumes_a_role_and_the_session_acts_with_the_roles_policies(
    iam: Any, server: PullcacheServer
) -> None:
    role = iam.create_role(RoleName="auditor", AssumeRolePolicyDocument=_trust(ACCOUNT))["Role"]
    iam.attach_role_policy(RoleName="auditor", PolicyArn=IAM_READ_ONLY)
    key = _user(iam, "cli-assumer", "sts:AssumeRole")

    assumed = aws_cli(
        server,
        "sts",
        "assume-role",
        "--role-arn",
        role["Arn"],
        "--role-session-name",
        "audit",
        "--duration-seconds",
        "900",
        key=key,
    )

    assert assumed.returncode == 0, assumed.stderr
    session = json.loads(assumed.stdout)["Credentials"]
    auditor = signed_by(server, "iam", session)
    assert "Users" in auditor.list_users()
    assert client_error(lambda: auditor.create_user(UserName="not-by-an-auditor")) == (
        403,
        "AccessDenied",
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/auditor/audit is not authorized to perform: iam:CreateUser "
        f"on resource: arn:aws:iam::{ACCOUNT}:user/not-by-an-auditor "
        "because no identity-based policy allows the iam:CreateUser action",
    )


def test_without_an_identity_allow_assume_role_is_access_denied(iam: Any, server: PullcacheServer) -> None:
    role = iam.create_role(RoleName="guarded", AssumeRolePolicyDocument=_trust(ACCOUNT))["Role"]
    key = _user(iam, "no-allow")

    status, code, message = client_error(
        lambda: signed_by(server, "sts", key).assume_role(RoleArn=role["Arn"], RoleSessionName="nope")
    )

    assert (status, code) == (403, "AccessDenied")
    assert message == (
        f"User: arn:aws:iam::{ACCOUNT}:user/no-allow is not authorized to perform: sts:AssumeRole "
        f"on resource: {role['Arn']}"
    )


def test_a_trust_policy_that_does_not_name_the_caller_is_access_denied(iam: Any, server: PullcacheServer) -> None:
    trusted = iam.create_user(UserName="trusted")["User"]
    role = iam.create_role(RoleName="picky", AssumeRolePolicyDocument=_trust(trusted["Arn"]))["Role"]
    key = _user(iam, "untrusted", "sts:AssumeRole")

    status, code, message = client_error(
        lambda: signed_by(server, "sts", key).assume_role(RoleArn=role["Arn"], RoleSessionName="nope")
    )

    assert (status, code) == (403, "AccessDenied")
    assert message.endswith(f"perform: sts:AssumeRole on resource: {role['Arn']}")


def test_a_missing_role_is_refused_like_a_forbidden_one(iam: Any, server: PullcacheServer) -> None:
    key = _user(iam, "seeker", "sts:AssumeRole")
    missing = f"arn:aws:iam::{ACCOUNT}:role/no-such-role"

    assert client_error(lambda: signed_by(server, "sts", key).assume_role(RoleArn=missing, RoleSessionName="s1")) == (
        403,
        "AccessDenied",
        f"User: arn:aws:iam::{ACCOUNT}:user/seeker is not authorized to perform: sts:AssumeRole on resource: {missing}",
    )


def test_the_root_user_may_not_assume_roles(iam: Any, server: PullcacheServer) -> None:
    role = iam.create_role(RoleName="not-for-root", AssumeRolePolicyDocument=_trust(ACCOUNT))["Role"]

    assert client_error(lambda: client(server, "sts").assume_role(RoleArn=role["Arn"], RoleSessionName="root")) == (
        403,
        "AccessDenied",
        "Roles may not be assumed by root accounts.",
    )


def test_a_duration_beyond_the_roles_maximum_is_a_validation_error(iam: Any, server: PullcacheServer) -> None:
    role = iam.create_role(RoleName="short", AssumeRolePolicyDocument=_trust(ACCOUNT))["Role"]
    key = _user(iam, "long-sessions", "sts:AssumeRole")
    sts = signed_by(server, "sts", key)

    too_long = client_error(lambda: sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1", DurationSeconds=3601))
    unchecked = client(server, "sts", config=Config(parameter_validation=False), **_key_options(key))
    too_short = client_error(
        lambda: unchecked.assume_role(RoleArn=role["Arn"], RoleSessionName="s1", DurationSeconds=899)
    )

    assert too_long == (
        400,
        "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    )
    assert too_short == (
        400,
        "ValidationError",
        "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy constraint: "
        "Member must have value greater than or equal to 900",
    )


def test_malformed_role_arns_and_session_names_are_validation_errors(iam: Any, server: PullcacheServer) -> None:
    sts = signed_by(server, "sts", _user(iam, "typo", "sts:AssumeRole"))

    bad_arn = client_error(lambda: sts.assume_role(RoleArn="nothing-valid-in-here", RoleSessionName="s1"))
    bad_name = client_error(
        lambda: sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/x", RoleSessionName="Session1:2")
    )

    assert bad_arn == (400, "ValidationError", "nothing-valid-in-here is invalid")
    assert bad_name == (
        400,
        "ValidationError",
        "1 validation error detected: Value 'Session1:2' at 'roleSessionName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\w+=,.@-]*",
    )


def test_a_session_policy_is_accepted_and_its_packed_size_reported(iam: Any, server: PullcacheServer) -> None:
    role = iam.create_role(RoleName="scoped", AssumeRolePolicyDocument=_trust(ACCOUNT))["Role"]
    sts = signed_by(server, "sts", _user(iam, "scoper", "sts:AssumeRole"))
    policy = _document({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"})

    answer = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="scoped", Policy=policy)
    malformed = client_error(lambda: sts.assume_role(RoleArn=role["Arn"], RoleSessionName="scoped", Policy="{nope"))

    assert 0 < answer["PackedPolicySize"] < 100
    assert malformed[:2] == (400, "MalformedPolicyDocument")


def test_a_wrong_or_missing_session_token_is_invalid_client_token_id(iam: Any, server: PullcacheServer) -> None:
    role = iam.create_role(RoleName="tokens", AssumeRolePolicyDocument=_trust(ACCOUNT))["Role"]
    sts = signed_by(server, "sts", _user(iam, "token-user", "sts:AssumeRole"))
    credentials = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="t1")["Credentials"]
    wrong = {**credentials, "SessionToken": credentials["SessionToken"][:-4] + "AAAA"}
    missing = {name: value for name, value in credentials.items() if name != "SessionToken"}

    assert client_error(signed_by(server, "sts", wrong).get_caller_identity) == (
        403,
        "InvalidClientTokenId",
        "The security token included in the request is invalid",
    )
    assert client_error(signed_by(server, "sts", missing).get_caller_identity)[:2] == (403, "InvalidClientTokenId")


def test_an_expired_session_is_expired_token(iam: Any, server: PullcacheServer) -> None:
    role = iam.create_role(RoleName="brief", AssumeRolePolicyDocument=_trust(ACCOUNT))["Role"]
    sts = signed_by(server, "sts", _user(iam, "brief-user", "sts:AssumeRole"))
    credentials = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="brief", DurationSeconds=900)["Credentials"]
    session = signed_by(server, "sts", credentials)
    assert session.get_caller_identity()["Arn"].endswith("assumed-role/brief/brief")

    _expire(server, credentials["AccessKeyId"])

    assert client_error(session.get_caller_identity) == (
        403,
        "ExpiredToken",
        "The security token included in the request is expired",
    )


def test_assuming_a_role_shows_in_get_roles_role_last_used(iam: Any, server: PullcacheServer) -> None:
    iam.create_role(RoleName="used", AssumeRolePolicyDocument=_trust(ACCOUNT))
    assert iam.get_role(RoleName="used")["Role"]["RoleLastUsed"] == {}
    sts = client(server, "sts", region_name="eu-west-1", **_key_options(_user(iam, "user-of-roles", "sts:AssumeRole")))
    before = datetime.now(UTC).replace(microsecond=0)

    sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/used", RoleSessionName="s1")

    last_used = iam.get_role(RoleName="used")["Role"]["RoleLastUsed"]
    assert last_used["Region"] == "eu-west-1"
    assert before <= last_used["LastUsedDate"] <= datetime.now(UTC)


# -- session policies ----------------------------------------------------------------------------------------


def _reader_role(iam: Any, name: str) -> str:
    """A role anyone in the account may assume (given sts:AssumeRole) that may read IAM and ECR; returns its ARN."""
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=_trust(ACCOUNT))["Role"]
    for policy_arn in (IAM_READ_ONLY, ECR_READ_ONLY):
        iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
    role_arn: str = role["Arn"]
    return role_arn


def _refusal(role: str, session: str, action: str, resource: str, reason: str) -> str:
    who = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}"
    return f"User: {who} is not authorized to perform: {action} on resource: {resource} {reason}"


def test_an_inline_session_policy_limits_the_session_to_what_it_and_the_role_both_allow(
    iam: Any, server: PullcacheServer
) -> None:
    role_arn = _reader_role(iam, "inline-limited")
    sts = signed_by(server, "sts", _user(iam, "inline-assumer", "sts:AssumeRole"))
    only_list_users = _document({"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*"})
    limited = sts.assume_role(RoleArn=role_arn, RoleSessionName="users-only", Policy=only_list_users)["Credentials"]
    unlimited = sts.assume_role(RoleArn=role_arn, RoleSessionName="everything")["Credentials"]
    limited_iam, limited_ecr = signed_by(server, "iam", limited), signed_by(server, "ecr", limited)

    assert "Users" in limited_iam.list_users()
    assert client_error(limited_iam.list_roles) == (
        403,
        "AccessDenied",
        _refusal(
            "inline-limited",
            "users-only",
            "iam:ListRoles",
            f"arn:aws:iam::{ACCOUNT}:role/",
            "because no session policy allows the iam:ListRoles action",
        ),
    )
    assert client_error(limited_ecr.describe_repositories) == (
        400,
        "AccessDeniedException",
        _refusal(
            "inline-limited",
            "users-only",
            "ecr:DescribeRepositories",
            f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/*",
            "because no session policy allows the ecr:DescribeRepositories action",
        ),
    )
    assert client_error(lambda: limited_iam.create_user(UserName="beyond-the-role"))[2].endswith(
        "because no identity-based policy allows the iam:CreateUser action"  # the role itself does not allow it
    )
    # The role's other sessions keep every permission of the role.
    assert "Roles" in signed_by(server, "iam", unlimited).list_roles()
    assert "repositories" in signed_by(server, "ecr", unlimited).describe_repositories()


def test_managed_session_policies_limit_the_session_to_iam_reads(iam: Any, server: PullcacheServer) -> None:
    role_arn = _reader_role(iam, "managed-limited")
    sts = signed_by(server, "sts", _user(iam, "managed-assumer", "sts:AssumeRole"))

    answer = sts.assume_role(RoleArn=role_arn, RoleSessionName="iam-reads", PolicyArns=[{"arn": IAM_READ_ONLY}])
    session_iam = signed_by(server, "iam", answer["Credentials"])
    session_ecr = signed_by(server, "ecr", answer["Credentials"])

    assert "PackedPolicySize" in answer
    assert "Users" in session_iam.list_users()
    assert "Roles" in session_iam.list_roles()
    assert session_iam.get_role(RoleName="managed-limited")["Role"]["Arn"] == role_arn
    assert client_error(session_ecr.describe_repositories) == (
        400,
        "AccessDeniedException",
        _refusal(
            "managed-limited",
            "iam-reads",
            "ecr:DescribeRepositories",
            f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/*",
            "because no session policy allows the ecr:DescribeRepositories action",
        ),
    )


def test_a_deny_in_a_session_policy_is_an_explicit_deny(iam: Any, server: PullcacheServer) -> None:
    role_arn = _reader_role(iam, "deny-limited")
    sts = signed_by(server, "sts", _user(iam, "deny-assumer", "sts:AssumeRole"))
    all_but_list_roles = _document(
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "iam:ListRoles", "Resource": "*"},
    )
    credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName="no-roles", Policy=all_but_list_roles)[
        "Credentials"
    ]
    session_iam = signed_by(server, "iam", credentials)

    assert "Users" in session_iam.list_users()
    assert client_error(session_iam.list_roles) == (
        403,
        "AccessDenied",
        _refusal(
            "deny-limited",
            "no-roles",
            "iam:ListRoles",
            f"arn:aws:iam::{ACCOUNT}:role/",
            "with an explicit deny in a session policy",
        ),
    )


def test_a_registry_token_of_a_session_carries_its_session_policies_to_v2(iam: Any, server: PullcacheServer) -> None:
    repository = "session-policies/app"
    client(server, "ecr").create_repository(repositoryName=repository)
    role_arn = _reader_role(iam, "token-limited")
    sts = signed_by(server, "sts", _user(iam, "token-assumer", "sts:AssumeRole"))
    token_only = _document({"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"})
    limited = sts.assume_role(RoleArn=role_arn, RoleSessionName="token-only", Policy=token_only)["Credentials"]
    unlimited = sts.assume_role(RoleArn=role_arn, RoleSessionName="reader")["Credentials"]

    def list_tags(credentials: dict[str, Any]) -> Any:
        authorization = registry_authorization(server, **_key_options(credentials))
        return request("GET", f"{server.url}/v2/{repository}/tags/list", {"Authorization": authorization})

    refused, listed = list_tags(limited), list_tags(unlimited)

    assert (refused.status, refused.error_codes) == (403, ["DENIED"])
    assert refused.json()["errors"][0]["message"] == _refusal(
        "token-limited",
        "token-only",
        "ecr:ListImages",
        f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{repository}",
        "because no session policy allows the ecr:ListImages action",
    )
    assert listed.status == 200


def _key_options(key: dict[str, Any]) -> dict[str, str]:
    options = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
    if "SessionToken" in key:
        options["aws_session_token"] = key["SessionToken"]
    return options


def _expire(server: PullcacheServer, access_key_id: str) -> None:
    """Move the session's expiry into the past, as the passing of its lifetime would."""
    engine = sa.create_engine(f"sqlite:///{server.data_dir / 'metadata.db'}")
    try:
        with engine.begin() as connection:
            updated = connection.execute(
                sa.update(sts_sessions)
                .where(sts_sessions.c.access_key_id == access_key_id)
                .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
        assert updated.rowcount == 1
    finally:
        engine.dispose()
