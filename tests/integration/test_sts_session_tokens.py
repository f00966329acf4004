"""STS GetSessionToken (and DecodeAuthorizationMessage) over the wire: boto3 and the aws CLI against a live server.

Sourced from AWS's GetSessionToken reference: 900 to 129,600 seconds for an IAM user (43,200 by default), at most
3,600 for the root user; the session has its user's permissions, cannot call IAM without MFA and cannot call STS
but AssumeRole and GetCallerIdentity. Reasoned (AWS documents the rules, not these errors; they are what AWS sends):
InvalidClientTokenId for IAM calls, "Cannot call GetSessionToken with session credentials", and the MFA refusal.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from pullcache.metadata.schema import sts_user_sessions
from testkit.aws_clients import (
    ACCOUNT,
    aws_cli,
    client,
    client_error,
    registry_authorization,
    signed_by,
)
from testkit.servers import PullcacheServer
from testkit.sync_client import request

REGION = "us-east-1"
REVOKED = "The credentials that obtained your authorization token are no longer valid. Reauthenticate and try again."
INVALID_TOKEN = "The security token included in the request is invalid"
MFA_FAILED = (
    "MultiFactorAuthentication failed, unable to validate MFA code. Please verify your MFA serial number is valid "
    "and associated with this user."
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    running = PullcacheServer(tmp_path_factory.mktemp("session-tokens") / "data").start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def iam(server: PullcacheServer) -> Any:
    return client(server, "iam")


def _document(*actions: str) -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}]}
    )


def _user(iam: Any, name: str, *allowed_actions: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the user, an access key of it), allowed `allowed_actions` on every resource."""
    user = iam.create_user(UserName=name)["User"]
    if allowed_actions:
        iam.put_user_policy(UserName=name, PolicyName="allowed", PolicyDocument=_document(*allowed_actions))
    return user, iam.create_access_key(UserName=name)["AccessKey"]


def test_a_user_gets_a_twelve_hour_session_that_signs_as_the_user(iam: Any, server: PullcacheServer) -> None:
    user, key = _user(iam, "session-user")
    before = datetime.now(UTC)

    credentials = signed_by(server, "sts", key).get_session_token()["Credentials"]
    after = datetime.now(UTC)
    identity = signed_by(server, "sts", credentials).get_caller_identity()

    assert credentials["AccessKeyId"].startswith("ASIA")
    assert len(credentials["SecretAccessKey"]) == 40
    assert credentials["SessionToken"]
    assert before + timedelta(hours=12, seconds=-1) <= credentials["Expiration"] <= after + timedelta(hours=12)
    assert (identity["UserId"], identity["Account"], identity["Arn"]) == (user["UserId"], ACCOUNT, user["Arn"])


def test_the_aws_cli_gets_a_session_token_of_the_asked_duration(iam: Any, server: PullcacheServer) -> None:
    _, key = _user(iam, "cli-session-user")
    before = datetime.now(UTC)

    answer = aws_cli(server, "sts", "get-session-token", "--duration-seconds", "900", key=key)
    after = datetime.now(UTC)

    assert answer.returncode == 0, answer.stderr
    credentials = json.loads(answer.stdout)["Credentials"]
    expiration = datetime.fromisoformat(credentials["Expiration"])
    assert before + timedelta(seconds=899) <= expiration <= after + timedelta(seconds=900)
    who = aws_cli(server, "sts", "get-caller-identity", key=credentials)
    assert who.returncode == 0, who.stderr
    assert json.loads(who.stdout)["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/cli-session-user"


def test_the_root_user_gets_an_hour_at_most(server: PullcacheServer) -> None:
    before = datetime.now(UTC)

    credentials = client(server, "sts").get_session_token(DurationSeconds=7200)["Credentials"]
    after = datetime.now(UTC)
    identity = signed_by(server, "sts", credentials).get_caller_identity()

    assert before + timedelta(hours=1, seconds=-1) <= credentials["Expiration"] <= after + timedelta(hours=1)
    assert identity["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"


def test_a_duration_beyond_thirty_six_hours_is_a_validation_error(iam: Any, server: PullcacheServer) -> None:
    _, key = _user(iam, "long-session-user")

    status, code, message = client_error(
        lambda: signed_by(server, "sts", key).get_session_token(DurationSeconds=129601)
    )

    assert (status, code) == (400, "ValidationError")
    assert "129601" in message
    assert "durationSeconds" in message


def test_an_mfa_device_that_is_not_the_users_is_access_denied(iam: Any, server: PullcacheServer) -> None:
    _, key = _user(iam, "mfa-user")
    sts = signed_by(server, "sts", key)

    refused = client_error(
        lambda: sts.get_session_token(SerialNumber=f"arn:aws:iam::{ACCOUNT}:mfa/mfa-user", TokenCode="123456")
    )

    assert refused == (403, "AccessDenied", MFA_FAILED)


def test_session_credentials_cannot_get_another_session_token(iam: Any, server: PullcacheServer) -> None:
    _, key = _user(iam, "nested-session-user")
    credentials = signed_by(server, "sts", key).get_session_token()["Credentials"]

    refused = client_error(lambda: signed_by(server, "sts", credentials).get_session_token())

    assert refused == (403, "AccessDenied", "Cannot call GetSessionToken with session credentials")


def test_the_session_has_the_users_permissions_but_cannot_call_iam(iam: Any, server: PullcacheServer) -> None:
    user, key = _user(iam, "session-admin", "iam:*", "ecr:DescribeRepositories")
    credentials = signed_by(server, "sts", key).get_session_token()["Credentials"]

    listed_with_key = signed_by(server, "iam", key).list_users()
    refused = client_error(lambda: signed_by(server, "iam", credentials).list_users())
    from_cli = aws_cli(server, "iam", "get-user", key=credentials)
    described = signed_by(server, "ecr", credentials).describe_repositories()
    denied = client_error(lambda: signed_by(server, "ecr", credentials).create_repository(repositoryName="nope"))

    assert listed_with_key["Users"]
    assert refused == (403, "InvalidClientTokenId", INVALID_TOKEN)
    assert from_cli.returncode != 0
    assert "InvalidClientTokenId" in from_cli.stderr
    assert "repositories" in described
    assert denied[:2] == (400, "AccessDeniedException")
    assert denied[2].startswith(f"User: {user['Arn']} is not authorized to perform: ecr:CreateRepository")


def test_the_session_may_assume_a_role(iam: Any, server: PullcacheServer) -> None:
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}],
        }
    )
    role = iam.create_role(RoleName="session-target", AssumeRolePolicyDocument=trust)["Role"]
    _, key = _user(iam, "session-assumer", "sts:AssumeRole")
    credentials = signed_by(server, "sts", key).get_session_token()["Credentials"]

    assumed = signed_by(server, "sts", credentials).assume_role(RoleArn=role["Arn"], RoleSessionName="from-token")

    assert assumed["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/session-target/from-token"


def test_a_registry_token_lasts_no_longer_than_the_session_and_ends_with_it(iam: Any, server: PullcacheServer) -> None:
    repository = "session-tokens/app"
    client(server, "ecr").create_repository(repositoryName=repository)
    _, key = _user(iam, "session-puller", "ecr:GetAuthorizationToken", "ecr:ListImages")
    credentials = signed_by(server, "sts", key).get_session_token(DurationSeconds=900)["Credentials"]
    options = {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }

    data = client(server, "ecr", **options).get_authorization_token()["authorizationData"][0]
    authorization = registry_authorization(server, **options)
    listed = request("GET", f"{server.url}/v2/{repository}/tags/list", {"Authorization": authorization})
    _expire(server, credentials["AccessKeyId"])
    after = _refused_within(f"{server.url}/v2/{repository}/tags/list", authorization, seconds=10)

    assert data["expiresAt"] == credentials["Expiration"]
    assert listed.status == 200
    assert (after.status, after.error_codes) == (403, ["DENIED"])
    assert after.json()["errors"][0]["message"] == REVOKED


def _refused_within(url: str, authorization: str, seconds: float) -> Any:
    """The first refusal of `url` within `seconds` (a worker re-reads a token's key once a second)."""
    deadline = time.monotonic() + seconds
    while True:
        reply = request("GET", url, {"Authorization": authorization})
        if reply.status != 200 or time.monotonic() > deadline:
            return reply
        time.sleep(0.2)


def test_expired_session_credentials_are_expired_token(iam: Any, server: PullcacheServer) -> None:
    _, key = _user(iam, "expiring-session-user")
    credentials = signed_by(server, "sts", key).get_session_token()["Credentials"]
    session = signed_by(server, "sts", credentials)
    assert session.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/expiring-session-user"

    _expire(server, credentials["AccessKeyId"])

    assert client_error(session.get_caller_identity) == (
        403,
        "ExpiredToken",
        "The security token included in the request is expired",
    )


def test_decode_authorization_message_needs_permission_and_finds_no_message_of_this_server(
    iam: Any, server: PullcacheServer
) -> None:
    user, key = _user(iam, "decoder")
    _, allowed_key = _user(iam, "allowed-decoder", "sts:DecodeAuthorizationMessage")

    denied = client_error(lambda: signed_by(server, "sts", key).decode_authorization_message(EncodedMessage="x" * 20))
    invalid = aws_cli(server, "sts", "decode-authorization-message", "--encoded-message", "x" * 20, key=allowed_key)

    assert denied[:2] == (403, "AccessDenied")
    assert denied[2].startswith(f"User: {user['Arn']} is not authorized to perform: sts:DecodeAuthorizationMessage")
    assert invalid.returncode != 0
    assert "InvalidAuthorizationMessageException" in invalid.stderr


def _expire(server: PullcacheServer, access_key_id: str) -> None:
    """Move the session's expiry into the past, as the passing of its lifetime would."""
    engine = sa.create_engine(f"sqlite:///{server.data_dir / 'metadata.db'}")
    try:
        with engine.begin() as connection:
            updated = connection.execute(
                sa.update(sts_user_sessions)
                .where(sts_user_sessions.c.access_key_id == access_key_id)
                .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
        assert updated.rowcount == 1
    finally:
        engine.dispose()
