"""Secrets Manager's tags, versions and staging labels, GetRandomPassword and resource policies over the wire:
boto3 and the aws CLI against a live server.

Sourced from AWS's API reference: TagResource/UntagResource, ListSecretVersionIds (IncludeDeprecated),
UpdateSecretVersionStage (moving AWSCURRENT moves AWSPREVIOUS; RemoveFromVersionId needed when the label is on
another version), GetRandomPassword's parameters and defaults (32 characters, each included type), resource policies
evaluated with the caller's (across accounts only they let a caller in). Reasoned, marked where asserted: the
messages of UpdateSecretVersionStage's and GetRandomPassword's refusals and of PublicPolicyException.
"""

from __future__ import annotations

import configparser
import json
import string
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from testkit.aws_clients import ACCOUNT, CLI_TIMEOUT, aws_cli, cli_json, client, client_error, signed_by
from testkit.servers import PullcacheServer

OTHER = "222233334444"
PUNCTUATION = set(string.punctuation)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    running = PullcacheServer(tmp_path_factory.mktemp("secrets-more") / "data").start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def sm(server: PullcacheServer) -> Any:
    return client(server, "secretsmanager")


@pytest.fixture(scope="module")
def iam(server: PullcacheServer) -> Any:
    return client(server, "iam")


@pytest.fixture(scope="module")
def other_root(server: PullcacheServer) -> dict[str, str]:
    """The root key of a second account, made by `pullcache accounts create` beside the server."""
    created = subprocess.run(
        [sys.executable, "-m", "pullcache", "accounts", "create", OTHER, "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    parser = configparser.ConfigParser()
    parser.read(server.data_dir / "accounts" / OTHER / "credentials")
    section = parser["default"]
    return {"AccessKeyId": section["aws_access_key_id"], "SecretAccessKey": section["aws_secret_access_key"]}


def _document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _user(iam: Any, name: str, *statements: dict[str, Any]) -> dict[str, Any]:
    iam.create_user(UserName=name)
    if statements:
        iam.put_user_policy(UserName=name, PolicyName="allowed", PolicyDocument=_document(*statements))
    key: dict[str, Any] = iam.create_access_key(UserName=name)["AccessKey"]
    return key


# -- tags -----------------------------------------------------------------------------------------------------


def test_tags_are_added_replaced_removed_and_shown(sm: Any, server: PullcacheServer) -> None:
    sm.create_secret(Name="tagged", SecretString="v", Tags=[{"Key": "team", "Value": "a"}])

    sm.tag_resource(SecretId="tagged", Tags=[{"Key": "team", "Value": "b"}, {"Key": "env", "Value": "prod"}])
    tagged = sm.describe_secret(SecretId="tagged")["Tags"]
    untag = aws_cli(server, "secretsmanager", "untag-resource", "--secret-id", "tagged", "--tag-keys", '["team"]')
    untagged = sm.describe_secret(SecretId="tagged")["Tags"]
    by_tag = sm.list_secrets(Filters=[{"Key": "tag-key", "Values": ["env"]}])["SecretList"]

    assert sorted((tag["Key"], tag["Value"]) for tag in tagged) == [("env", "prod"), ("team", "b")]
    assert untag.returncode == 0, untag.stderr
    assert untagged == [{"Key": "env", "Value": "prod"}]
    assert [secret["Name"] for secret in by_tag] == ["tagged"]


def test_tag_conditions_decide_who_may_tag_and_read(iam: Any, sm: Any, server: PullcacheServer) -> None:
    arn = sm.create_secret(Name="team-secret", SecretString="v", Tags=[{"Key": "team", "Value": "a"}])["ARN"]
    sm.create_secret(Name="other-team-secret", SecretString="v", Tags=[{"Key": "team", "Value": "b"}])
    key = _user(
        iam,
        "team-a",
        {
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": "*",
            "Condition": {"StringEquals": {"secretsmanager:ResourceTag/team": "a"}},
        },
        {
            "Effect": "Allow",
            "Action": "secretsmanager:TagResource",
            "Resource": "*",
            "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["owner"]}},
        },
    )
    team_a = signed_by(server, "secretsmanager", key)

    assert team_a.get_secret_value(SecretId="team-secret")["SecretString"] == "v"
    assert client_error(lambda: team_a.get_secret_value(SecretId="other-team-secret"))[:2] == (
        400,
        "AccessDeniedException",
    )
    team_a.tag_resource(SecretId=arn, Tags=[{"Key": "owner", "Value": "me"}])
    status, code, message = client_error(
        lambda: team_a.tag_resource(SecretId=arn, Tags=[{"Key": "team", "Value": "b"}])
    )
    assert (status, code) == (400, "AccessDeniedException")
    assert f"secretsmanager:TagResource on resource: {arn}" in message


# -- versions and staging labels -------------------------------------------------------------------------------


def test_list_secret_version_ids_shows_stages_and_deprecated_versions_on_request(
    sm: Any, server: PullcacheServer
) -> None:
    first = sm.create_secret(Name="versions", SecretString="1")
    second = sm.put_secret_value(SecretId="versions", SecretString="2")
    third = sm.put_secret_value(SecretId="versions", SecretString="3")

    listed = sm.list_secret_version_ids(SecretId="versions")
    everything = cli_json(
        server, "secretsmanager", "list-secret-version-ids", "--secret-id", "versions", "--include-deprecated"
    )
    paged = sm.list_secret_version_ids(SecretId="versions", MaxResults=1)
    described = sm.describe_secret(SecretId="versions")["VersionIdsToStages"]

    assert (listed["ARN"], listed["Name"]) == (first["ARN"], "versions")
    stages = {version["VersionId"]: version.get("VersionStages") for version in listed["Versions"]}
    assert stages == {third["VersionId"]: ["AWSCURRENT"], second["VersionId"]: ["AWSPREVIOUS"]}
    assert {version["VersionId"] for version in everything["Versions"]} == {
        first["VersionId"],
        second["VersionId"],
        third["VersionId"],
    }
    assert len(paged["Versions"]) == 1
    assert described == stages  # a deprecated version (no label) is not shown
    assert paged["NextToken"]


def test_a_rotation_promotes_awspending_with_update_secret_version_stage(sm: Any, server: PullcacheServer) -> None:
    current = sm.create_secret(Name="rotation", SecretString="old")["VersionId"]
    pending = sm.put_secret_value(SecretId="rotation", SecretString="new", VersionStages=["AWSPENDING"])["VersionId"]
    assert sm.get_secret_value(SecretId="rotation")["SecretString"] == "old"
    assert sm.get_secret_value(SecretId="rotation", VersionStage="AWSPENDING")["SecretString"] == "new"

    moved = cli_json(
        server,
        "secretsmanager",
        "update-secret-version-stage",
        "--secret-id",
        "rotation",
        "--version-stage",
        "AWSCURRENT",
        "--remove-from-version-id",
        current,
        "--move-to-version-id",
        pending,
    )

    assert moved["Name"] == "rotation"
    now = sm.get_secret_value(SecretId="rotation")
    assert (now["VersionId"], now["SecretString"]) == (pending, "new")
    previous = sm.get_secret_value(SecretId="rotation", VersionStage="AWSPREVIOUS")
    assert (previous["VersionId"], previous["SecretString"]) == (current, "old")
    assert sm.get_secret_value(SecretId="rotation", VersionId=current)["VersionStages"] == ["AWSPREVIOUS"]


def test_moving_a_label_held_elsewhere_without_remove_from_is_refused(sm: Any) -> None:
    current = sm.create_secret(Name="unmoved", SecretString="1")["VersionId"]
    other = sm.put_secret_value(SecretId="unmoved", SecretString="2", VersionStages=["blue"])["VersionId"]

    status, code, message = client_error(
        lambda: sm.update_secret_version_stage(SecretId="unmoved", VersionStage="AWSCURRENT", MoveToVersionId=other)
    )
    removed = client_error(
        lambda: sm.update_secret_version_stage(
            SecretId="unmoved", VersionStage="AWSCURRENT", RemoveFromVersionId=current
        )
    )

    assert (status, code) == (400, "InvalidParameterException")
    assert f"currently attached to version {current}" in message  # reasoned wording
    assert removed[:2] == (400, "InvalidParameterException")
    assert sm.get_secret_value(SecretId="unmoved")["VersionId"] == current


# -- GetRandomPassword ----------------------------------------------------------------------------------------


def test_get_random_password_defaults_and_parameters(sm: Any, server: PullcacheServer) -> None:
    default = sm.get_random_password()["RandomPassword"]
    letters = cli_json(
        server,
        "secretsmanager",
        "get-random-password",
        "--password-length",
        "64",
        "--exclude-punctuation",
        "--exclude-numbers",
        "--exclude-characters",
        "abcXYZ",
    )["RandomPassword"]

    assert len(default) == 32
    assert any(c in string.ascii_lowercase for c in default)
    assert any(c in string.ascii_uppercase for c in default)
    assert any(c in string.digits for c in default)
    assert any(c in PUNCTUATION for c in default)
    assert len(letters) == 64
    assert set(letters) <= set(string.ascii_letters) - set("abcXYZ")


def test_get_random_password_refusals(sm: Any) -> None:
    too_short = client_error(lambda: sm.get_random_password(PasswordLength=3))
    nothing = client_error(
        lambda: sm.get_random_password(
            ExcludeLowercase=True, ExcludeUppercase=True, ExcludeNumbers=True, ExcludePunctuation=True
        )
    )
    too_long = client_error(lambda: sm.get_random_password(PasswordLength=4097))

    assert too_short[:2] == (400, "InvalidParameterException")  # reasoned: AWS documents no message
    assert nothing[:2] == (400, "InvalidParameterException")
    assert too_long[:2] == (400, "ValidationException")
    assert "4097" in too_long[2]


# -- resource policies ----------------------------------------------------------------------------------------


def test_a_resource_policy_is_put_read_validated_and_deleted(sm: Any, server: PullcacheServer) -> None:
    arn = sm.create_secret(Name="with-policy", SecretString="v")["ARN"]
    policy = _document(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
            "Action": "secretsmanager:GetSecretValue",
            "Resource": "*",
        }
    )

    put = sm.put_resource_policy(SecretId="with-policy", ResourcePolicy=policy, BlockPublicPolicy=True)
    got = cli_json(server, "secretsmanager", "get-resource-policy", "--secret-id", "with-policy")
    validated = sm.validate_resource_policy(ResourcePolicy=policy)
    deleted = sm.delete_resource_policy(SecretId="with-policy")
    after = sm.get_resource_policy(SecretId="with-policy")

    assert (put["ARN"], put["Name"]) == (arn, "with-policy")
    assert (got["ARN"], got["ResourcePolicy"]) == (arn, policy)
    assert (validated["PolicyValidationPassed"], validated["ValidationErrors"]) == (True, [])
    assert deleted["ARN"] == arn
    assert "ResourcePolicy" not in after


def test_block_public_policy_and_malformed_policies_are_refused(sm: Any) -> None:
    sm.create_secret(Name="public", SecretString="v")
    public = _document(
        {"Effect": "Allow", "Principal": "*", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}
    )

    blocked = client_error(
        lambda: sm.put_resource_policy(SecretId="public", ResourcePolicy=public, BlockPublicPolicy=True)
    )
    validated = sm.validate_resource_policy(SecretId="public", ResourcePolicy=public)
    malformed = client_error(lambda: sm.put_resource_policy(SecretId="public", ResourcePolicy='{"Statement": []}'))

    assert blocked[:2] == (400, "PublicPolicyException")  # the message is reasoned
    assert validated["PolicyValidationPassed"] is False
    assert len(validated["ValidationErrors"]) == 1
    assert malformed[:2] == (400, "MalformedPolicyDocumentException")
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId="public")


def test_another_account_reads_a_secret_only_when_its_resource_policy_allows(
    sm: Any, server: PullcacheServer, other_root: dict[str, str]
) -> None:
    arn = sm.create_secret(Name="cross-account", SecretString="shared value")["ARN"]
    outsider = signed_by(server, "secretsmanager", other_root)

    before = client_error(lambda: outsider.get_secret_value(SecretId=arn))
    sm.put_resource_policy(
        SecretId=arn,
        ResourcePolicy=_document(
            {
                "Effect": "Allow",
                "Principal": {"AWS": OTHER},
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "*",
            }
        ),
    )
    read = outsider.get_secret_value(SecretId=arn)
    not_described = client_error(lambda: outsider.describe_secret(SecretId=arn))

    assert before[:2] == (400, "AccessDeniedException")
    assert f"secretsmanager:GetSecretValue on resource: {arn}" in before[2]
    assert "because no resource-based policy allows" in before[2]
    assert (read["ARN"], read["SecretString"]) == (arn, "shared value")
    assert not_described[:2] == (400, "AccessDeniedException")


def test_an_explicit_deny_in_the_resource_policy_refuses_the_accounts_own_users(
    iam: Any, sm: Any, server: PullcacheServer
) -> None:
    arn = sm.create_secret(Name="denied-by-policy", SecretString="v")["ARN"]
    key = _user(iam, "denied-reader", {"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"})
    reader = signed_by(server, "secretsmanager", key)
    assert reader.get_secret_value(SecretId=arn)["SecretString"] == "v"
    sm.put_resource_policy(
        SecretId=arn,
        ResourcePolicy=_document(
            {
                "Effect": "Deny",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/denied-reader"},
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "*",
            }
        ),
    )

    status, code, message = client_error(lambda: reader.get_secret_value(SecretId=arn))

    assert (status, code) == (400, "AccessDeniedException")
    assert message.endswith("with an explicit deny in a resource-based policy")
