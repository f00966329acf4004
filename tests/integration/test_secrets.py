"""Secrets Manager over the wire: boto3 and the aws CLI against a live server, asserting AWS's shapes and codes.

One server for the module; each test works on secrets of its own names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from testkit.aws_clients import cli_json, client
from testkit.servers import PullcacheServer

ACCOUNT = "000000000000"
TOKEN = "ghp_secret-upstream-token-4f1b9c"
MARKED = "You can't perform this operation on the secret because it was marked for deletion."
NOT_FOUND = "Secrets Manager can't find the specified secret."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    running = PullcacheServer(tmp_path_factory.mktemp("secrets") / "data").start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def sm(server: PullcacheServer) -> Any:
    return client(server, "secretsmanager")


def _error(call: Callable[[], Any]) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as raised:
        call()
    response = raised.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def test_create_and_get_a_secret_by_name_and_by_arn(sm: Any) -> None:
    value = json.dumps({"username": "octocat", "accessToken": TOKEN})
    created = sm.create_secret(Name="ecr-pullthroughcache/ghcr", SecretString=value, Description="GitHub")
    assert re.fullmatch(
        rf"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:ecr-pullthroughcache/ghcr-[A-Za-z0-9]{{6}}",
        created["ARN"],
    )
    for secret_id in ("ecr-pullthroughcache/ghcr", created["ARN"]):
        got = sm.get_secret_value(SecretId=secret_id)
        assert (got["ARN"], got["Name"], got["SecretString"]) == (created["ARN"], created["Name"], value)
        assert (got["VersionId"], got["VersionStages"]) == (created["VersionId"], ["AWSCURRENT"])
        assert isinstance(got["CreatedDate"], datetime)


def test_binary_secrets_round_trip(sm: Any) -> None:
    sm.create_secret(Name="binary", SecretBinary=b"\x00\x01secret")
    assert sm.get_secret_value(SecretId="binary")["SecretBinary"] == b"\x00\x01secret"


def test_errors_carry_aws_codes_and_messages(sm: Any) -> None:
    sm.create_secret(Name="exists", SecretString="x")
    assert _error(lambda: sm.get_secret_value(SecretId="missing")) == (400, "ResourceNotFoundException", NOT_FOUND)
    assert _error(lambda: sm.create_secret(Name="exists", SecretString="y")) == (
        400,
        "ResourceExistsException",
        "The operation failed because the secret exists already exists.",
    )
    status, code, _ = _error(lambda: sm.create_secret(Name="both", SecretString="x", SecretBinary=b"y"))
    assert (status, code) == (400, "InvalidParameterException")
    assert _error(lambda: sm.get_secret_value(SecretId="exists", VersionStage="AWSPREVIOUS")) == (
        400,
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret value for staging label: AWSPREVIOUS",
    )


def test_put_secret_value_moves_the_stages(sm: Any) -> None:
    first = sm.create_secret(Name="rotated", SecretString="one")
    second = sm.put_secret_value(SecretId="rotated", SecretString="two", ClientRequestToken="a" * 32)
    assert (second["VersionId"], second["VersionStages"]) == ("a" * 32, ["AWSCURRENT"])
    previous = sm.get_secret_value(SecretId="rotated", VersionStage="AWSPREVIOUS")
    assert (previous["VersionId"], previous["SecretString"]) == (first["VersionId"], "one")
    stages = sm.describe_secret(SecretId="rotated")["VersionIdsToStages"]
    assert stages == {first["VersionId"]: ["AWSPREVIOUS"], "a" * 32: ["AWSCURRENT"]}
    assert (
        _error(lambda: sm.put_secret_value(SecretId="rotated", SecretString="changed", ClientRequestToken="a" * 32))[1]
        == "ResourceExistsException"
    )


def test_update_secret_changes_description_and_value(sm: Any) -> None:
    sm.create_secret(Name="updated", SecretString="one", Tags=[{"Key": "team", "Value": "build"}])
    assert "VersionId" not in sm.update_secret(SecretId="updated", Description="new words")
    version = sm.update_secret(SecretId="updated", SecretString="two")["VersionId"]
    described = sm.describe_secret(SecretId="updated")
    assert (described["Description"], described["Tags"]) == ("new words", [{"Key": "team", "Value": "build"}])
    assert sm.get_secret_value(SecretId="updated")["VersionId"] == version


def test_list_secrets_filters_by_name_and_pages(sm: Any) -> None:
    for index in range(3):
        sm.create_secret(Name=f"listed/{index}", SecretString="x")
    first = sm.list_secrets(Filters=[{"Key": "name", "Values": ["listed/"]}], MaxResults=2)
    assert [entry["Name"] for entry in first["SecretList"]] == ["listed/0", "listed/1"]
    rest = sm.list_secrets(Filters=[{"Key": "name", "Values": ["listed/"]}], MaxResults=2, NextToken=first["NextToken"])
    assert [entry["Name"] for entry in rest["SecretList"]] == ["listed/2"]
    assert "NextToken" not in rest
    assert _error(lambda: sm.list_secrets(NextToken="forged"))[1] == "InvalidNextTokenException"


def test_deletion_schedules_refuses_and_restores(sm: Any) -> None:
    sm.create_secret(Name="doomed", SecretString="x")
    deleted = sm.delete_secret(SecretId="doomed", RecoveryWindowInDays=7)
    described = sm.describe_secret(SecretId="doomed")
    assert deleted["DeletionDate"] - described["DeletedDate"] == timedelta(days=7)
    assert _error(lambda: sm.get_secret_value(SecretId="doomed")) == (400, "InvalidRequestException", MARKED)
    assert "doomed" not in [entry["Name"] for entry in sm.list_secrets()["SecretList"]]
    listed = sm.list_secrets(IncludePlannedDeletion=True)["SecretList"]
    assert "doomed" in [entry["Name"] for entry in listed]
    assert sm.restore_secret(SecretId="doomed")["Name"] == "doomed"
    assert sm.get_secret_value(SecretId="doomed")["SecretString"] == "x"


def test_recovery_window_bounds_and_forced_deletion(sm: Any) -> None:
    sm.create_secret(Name="forced", SecretString="x")
    assert _error(lambda: sm.delete_secret(SecretId="forced", RecoveryWindowInDays=31)) == (
        400,
        "InvalidParameterException",
        "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).",
    )
    sm.delete_secret(SecretId="forced", ForceDeleteWithoutRecovery=True)
    assert _error(lambda: sm.describe_secret(SecretId="forced"))[1] == "ResourceNotFoundException"


def test_the_cli_creates_reads_and_deletes(server: PullcacheServer) -> None:
    created = cli_json(server, "secretsmanager", "create-secret", "--name", "cli-secret", "--secret-string", "v1")
    got = cli_json(server, "secretsmanager", "get-secret-value", "--secret-id", created["ARN"])
    assert got["SecretString"] == "v1"
    deleted = cli_json(server, "secretsmanager", "delete-secret", "--secret-id", "cli-secret")
    assert deleted["ARN"] == created["ARN"]


def test_an_iam_user_needs_permission_on_the_secret(server: PullcacheServer, sm: Any) -> None:
    arn = sm.create_secret(Name="guarded", SecretString="x")["ARN"]
    iam = client(server, "iam")
    iam.create_user(UserName="secret-reader")
    key = iam.create_access_key(UserName="secret-reader")["AccessKey"]
    reader = client(
        server, "secretsmanager", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )
    status, code, message = _error(lambda: reader.get_secret_value(SecretId="guarded"))
    assert (status, code) == (400, "AccessDeniedException")
    assert f"secretsmanager:GetSecretValue on resource: {arn}" in message
    statement = {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": arn}
    iam.put_user_policy(
        UserName="secret-reader",
        PolicyName="read",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )
    assert reader.get_secret_value(SecretId="guarded")["SecretString"] == "x"


def test_values_are_not_stored_in_plain_text(server: PullcacheServer, sm: Any) -> None:
    sm.create_secret(Name="plain-check", SecretString=TOKEN)
    sm.put_secret_value(SecretId="plain-check", SecretBinary=TOKEN.encode() + b"-binary")
    stored = b"".join(path.read_bytes() for path in server.data_dir.glob("metadata.db*"))
    assert b"plain-check" in stored
    assert TOKEN.encode() not in stored
    assert TOKEN not in server.log()
