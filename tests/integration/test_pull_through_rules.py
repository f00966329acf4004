"""Pull-through cache rules, repository creation templates and lifecycle policies over the wire: boto3 and the aws
CLI against a live server, asserting ECR's shapes and error codes.

One server for the module; each test works on prefixes of its own, and tests that count rules work in a region of
their own (rules are per account and region). The service-linked role tests start servers of their own, where the
account has no role yet.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import pytest

from testkit.aws_clients import ACCOUNT, ECR_FULL, aws_cli, cli_json, client, client_error
from testkit.servers import DistributionServer, PullcacheServer, free_port

CREDENTIALS: Final = json.dumps({"username": "puller", "accessToken": "upstream-token-never-shown"})
# ECR Public Premium's registry endpoint, as the model's documentation of upstreamRegistryUrl gives it.
PREMIUM_URL: Final = "ecr-premium.aws.com"
PULLER_ROLE: Final = f"arn:aws:iam::{ACCOUNT}:role/puller"
PREMIUM_READER: Final = "arn:aws:iam::111122223333:role/premium-reader"
REQUIRES_SECRET: Final = "The specified upstream registry requires authentication. Specify a valid Secrets Manager ARN"
LIFECYCLE: Final = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "description": "expire untagged images after 14 days",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": 14,
                },
                "action": {"type": "expire"},
            }
        ]
    }
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    running = PullcacheServer(tmp_path_factory.mktemp("pull-through") / "data").start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def ecr(server: PullcacheServer) -> Any:
    return client(server, "ecr")


@pytest.fixture(scope="module")
def secret_arns(server: PullcacheServer) -> dict[str, str]:
    """Secrets of the module's account in us-east-1: one holding credentials, one holding something else."""
    sm = client(server, "secretsmanager")
    good = sm.create_secret(Name="ecr-pullthroughcache/good", SecretString=CREDENTIALS)["ARN"]
    bad = sm.create_secret(Name="ecr-pullthroughcache/bad", SecretString="not a JSON object")["ARN"]
    return {"good": good, "bad": bad, "missing": good.replace("/good-", "/missing-")}


def prefix() -> str:
    return f"p{uuid.uuid4().hex[:10]}"


def other_upstream() -> str:
    """A plain-HTTP registry URL nothing listens on (creating a rule does not contact the upstream)."""
    return f"http://127.0.0.1:{free_port()}"


# -- rules ------------------------------------------------------------------------------------------------------


def test_a_rule_is_created_described_updated_and_deleted(ecr: Any, secret_arns: dict[str, str]) -> None:
    name, url = prefix(), other_upstream()

    created = ecr.create_pull_through_cache_rule(ecrRepositoryPrefix=name, upstreamRegistryUrl=url + "/")
    described = ecr.describe_pull_through_cache_rules(ecrRepositoryPrefixes=[name])["pullThroughCacheRules"]
    updated = ecr.update_pull_through_cache_rule(ecrRepositoryPrefix=name, credentialArn=secret_arns["good"])
    deleted = ecr.delete_pull_through_cache_rule(ecrRepositoryPrefix=name)

    assert (created["ecrRepositoryPrefix"], created["upstreamRegistryUrl"]) == (name, url)
    assert created["registryId"] == ACCOUNT
    assert "upstreamRegistry" not in created
    assert isinstance(created["createdAt"], datetime)
    assert [(rule["ecrRepositoryPrefix"], rule["upstreamRegistryUrl"]) for rule in described] == [(name, url)]
    assert (updated["ecrRepositoryPrefix"], updated["credentialArn"]) == (name, secret_arns["good"])
    assert updated["updatedAt"] >= created["createdAt"]
    assert (deleted["ecrRepositoryPrefix"], deleted["credentialArn"]) == (name, secret_arns["good"])
    code = client_error(lambda: ecr.describe_pull_through_cache_rules(ecrRepositoryPrefixes=[name]))[1]
    assert code == "PullThroughCacheRuleNotFoundException"


def test_an_ecr_upstream_reports_its_kind_and_url_as_given(ecr: Any, secret_arns: dict[str, str]) -> None:
    name = prefix()

    created = ecr.create_pull_through_cache_rule(
        ecrRepositoryPrefix=name, upstreamRegistryUrl="ghcr.io", credentialArn=secret_arns["good"]
    )

    assert (created["upstreamRegistry"], created["upstreamRegistryUrl"]) == ("github-container-registry", "ghcr.io")
    ecr.delete_pull_through_cache_rule(ecrRepositoryPrefix=name)


def test_an_ecr_public_premium_rule_keeps_and_reports_its_role_pair(ecr: Any) -> None:
    name, other_reader = prefix(), "arn:aws:iam::111122223333:role/other-reader"

    created = ecr.create_pull_through_cache_rule(
        ecrRepositoryPrefix=name,
        upstreamRegistryUrl=PREMIUM_URL,
        upstreamRegistry="ecr-public-premium",
        customRoleArn=PULLER_ROLE,
        upstreamRoleArn=PREMIUM_READER,
    )
    described = ecr.describe_pull_through_cache_rules(ecrRepositoryPrefixes=[name])["pullThroughCacheRules"][0]
    updated = ecr.update_pull_through_cache_rule(ecrRepositoryPrefix=name, upstreamRoleArn=other_reader)
    deleted = ecr.delete_pull_through_cache_rule(ecrRepositoryPrefix=name)

    assert (created["upstreamRegistry"], created["customRoleArn"], created["upstreamRoleArn"]) == (
        "ecr-public-premium",
        PULLER_ROLE,
        PREMIUM_READER,
    )
    assert (described["upstreamRegistryUrl"], described["upstreamRoleArn"]) == (PREMIUM_URL, PREMIUM_READER)
    assert (updated["customRoleArn"], updated["upstreamRoleArn"]) == (PULLER_ROLE, other_reader)
    assert deleted["upstreamRoleArn"] == other_reader


def test_an_ecr_public_premium_rule_without_roles_uses_the_service_linked_role(ecr: Any) -> None:
    name = prefix()

    created = ecr.create_pull_through_cache_rule(ecrRepositoryPrefix=name, upstreamRegistryUrl=PREMIUM_URL)

    assert created["upstreamRegistry"] == "ecr-public-premium"
    assert "customRoleArn" not in created
    assert "upstreamRoleArn" not in created
    ecr.delete_pull_through_cache_rule(ecrRepositoryPrefix=name)


def test_premium_credentials_that_do_not_fit_are_refused_with_ecrs_codes(ecr: Any, secret_arns: dict[str, str]) -> None:
    name = prefix()
    premium = {"ecrRepositoryPrefix": name, "upstreamRegistryUrl": PREMIUM_URL}

    alone = client_error(lambda: ecr.create_pull_through_cache_rule(**premium, upstreamRoleArn=PREMIUM_READER))
    unpaired = client_error(lambda: ecr.create_pull_through_cache_rule(**premium, customRoleArn=PULLER_ROLE))
    secret = client_error(lambda: ecr.create_pull_through_cache_rule(**premium, credentialArn=secret_arns["good"]))
    elsewhere = client_error(
        lambda: ecr.create_pull_through_cache_rule(
            ecrRepositoryPrefix=name, upstreamRegistryUrl="quay.io", upstreamRoleArn=PREMIUM_READER
        )
    )

    # The codes are the model's (InvalidParameterException, UnsupportedUpstreamRegistryException); the texts are
    # reasoned from its documentation of upstreamRoleArn and credentialArn (pullthrough/upstreams.py).
    assert alone == (
        400,
        "InvalidParameterException",
        "Invalid parameter at 'upstreamRoleArn' failed to satisfy constraint: 'upstreamRoleArn requires customRoleArn'",
    )
    assert unpaired[:2] == (400, "InvalidParameterException")
    assert secret[:2] == (400, "UnsupportedUpstreamRegistryException")
    assert elsewhere == (
        400,
        "UnsupportedUpstreamRegistryException",
        "The upstream registry quay.io does not support authentication with an upstream IAM role",
    )
    code = client_error(lambda: ecr.describe_pull_through_cache_rules(ecrRepositoryPrefixes=[name]))[1]
    assert code == "PullThroughCacheRuleNotFoundException"


def test_a_second_rule_with_the_same_prefix_already_exists(ecr: Any) -> None:
    name = prefix()
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix=name, upstreamRegistryUrl="quay.io")

    status, code, _ = client_error(
        lambda: ecr.create_pull_through_cache_rule(ecrRepositoryPrefix=name, upstreamRegistryUrl="public.ecr.aws")
    )

    assert (status, code) == (400, "PullThroughCacheRuleAlreadyExistsException")


@pytest.mark.parametrize("operation", ["update", "delete", "validate", "describe"])
def test_a_missing_rule_is_not_found(ecr: Any, secret_arns: dict[str, str], operation: str) -> None:
    name = prefix()
    calls = {
        "update": lambda: ecr.update_pull_through_cache_rule(
            ecrRepositoryPrefix=name, credentialArn=secret_arns["good"]
        ),
        "delete": lambda: ecr.delete_pull_through_cache_rule(ecrRepositoryPrefix=name),
        "validate": lambda: ecr.validate_pull_through_cache_rule(ecrRepositoryPrefix=name),
        "describe": lambda: ecr.describe_pull_through_cache_rules(ecrRepositoryPrefixes=[name]),
    }

    assert client_error(calls[operation])[:2] == (400, "PullThroughCacheRuleNotFoundException")


@pytest.mark.parametrize("bad_prefix", ["Upper", "x" * 31, "-dash", "two//slashes", "ends-"])
def test_a_prefix_outside_ecrs_pattern_is_an_invalid_parameter(ecr: Any, bad_prefix: str) -> None:
    status, code, message = client_error(
        lambda: ecr.create_pull_through_cache_rule(ecrRepositoryPrefix=bad_prefix, upstreamRegistryUrl="quay.io")
    )

    assert (status, code) == (400, "InvalidParameterException")
    assert message.startswith("Invalid parameter at 'ecrRepositoryPrefix' failed to satisfy constraint:")


def test_an_upstream_prefix_needs_an_ecr_prefix_other_than_root(server: PullcacheServer) -> None:
    ecr = client(server, "ecr", region_name="us-east-2")

    status, code, _ = client_error(
        lambda: ecr.create_pull_through_cache_rule(
            ecrRepositoryPrefix="ROOT", upstreamRegistryUrl="quay.io", upstreamRepositoryPrefix="mirror"
        )
    )

    assert (status, code) == (400, "InvalidParameterException")


def test_docker_hub_without_a_secret_is_unsupported(ecr: Any) -> None:
    assert client_error(
        lambda: ecr.create_pull_through_cache_rule(
            ecrRepositoryPrefix=prefix(), upstreamRegistryUrl="registry-1.docker.io"
        )
    ) == (400, "UnsupportedUpstreamRegistryException", REQUIRES_SECRET)


def test_a_rule_naming_a_missing_secret_is_refused_and_not_created(ecr: Any, secret_arns: dict[str, str]) -> None:
    name = prefix()

    status, code, _ = client_error(
        lambda: ecr.create_pull_through_cache_rule(
            ecrRepositoryPrefix=name, upstreamRegistryUrl="ghcr.io", credentialArn=secret_arns["missing"]
        )
    )

    assert (status, code) == (400, "SecretNotFoundException")
    assert client_error(lambda: ecr.delete_pull_through_cache_rule(ecrRepositoryPrefix=name))[1] == (
        "PullThroughCacheRuleNotFoundException"
    )


def test_a_secret_without_credentials_is_unable_to_be_accessed(ecr: Any, secret_arns: dict[str, str]) -> None:
    status, code, _ = client_error(
        lambda: ecr.create_pull_through_cache_rule(
            ecrRepositoryPrefix=prefix(), upstreamRegistryUrl="ghcr.io", credentialArn=secret_arns["bad"]
        )
    )

    assert (status, code) == (400, "UnableToAccessSecretException")


def test_a_secret_not_named_for_ecr_is_an_invalid_parameter(ecr: Any) -> None:
    arn = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:team/upstream-credentials-AbCdEf"

    status, code, message = client_error(
        lambda: ecr.create_pull_through_cache_rule(
            ecrRepositoryPrefix=prefix(), upstreamRegistryUrl="ghcr.io", credentialArn=arn
        )
    )

    assert (status, code) == (400, "InvalidParameterException")
    assert "'credentialArn'" in message


def test_the_fifty_first_rule_of_a_registry_exceeds_the_limit(server: PullcacheServer) -> None:
    ecr = client(server, "ecr", region_name="eu-central-1")
    for index in range(50):
        ecr.create_pull_through_cache_rule(ecrRepositoryPrefix=f"limit-{index:02d}", upstreamRegistryUrl="quay.io")

    status, code, _ = client_error(
        lambda: ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="limit-50", upstreamRegistryUrl="quay.io")
    )

    assert (status, code) == (400, "LimitExceededException")
    assert len(ecr.describe_pull_through_cache_rules(maxResults=1000)["pullThroughCacheRules"]) == 50


def test_rules_of_two_regions_of_one_account_are_apart(server: PullcacheServer) -> None:
    west, north = client(server, "ecr", region_name="us-west-2"), client(server, "ecr", region_name="eu-north-1")
    west.create_pull_through_cache_rule(ecrRepositoryPrefix="shared", upstreamRegistryUrl="quay.io")
    north.create_pull_through_cache_rule(ecrRepositoryPrefix="shared", upstreamRegistryUrl="public.ecr.aws")

    west_rules = west.describe_pull_through_cache_rules()["pullThroughCacheRules"]
    north.delete_pull_through_cache_rule(ecrRepositoryPrefix="shared")

    assert [rule["upstreamRegistryUrl"] for rule in west_rules] == ["quay.io"]
    assert west.describe_pull_through_cache_rules()["pullThroughCacheRules"][0]["ecrRepositoryPrefix"] == "shared"
    assert north.describe_pull_through_cache_rules()["pullThroughCacheRules"] == []


def test_describe_pages_through_rules_in_order_of_prefix(server: PullcacheServer) -> None:
    ecr = client(server, "ecr", region_name="ap-south-1")
    names = [f"page-{index}" for index in range(5)]
    for name in reversed(names):
        ecr.create_pull_through_cache_rule(ecrRepositoryPrefix=name, upstreamRegistryUrl="quay.io")

    first = ecr.describe_pull_through_cache_rules(maxResults=2)
    pages = ecr.get_paginator("describe_pull_through_cache_rules").paginate(PaginationConfig={"PageSize": 2})

    assert [rule["ecrRepositoryPrefix"] for rule in first["pullThroughCacheRules"]] == names[:2]
    assert "nextToken" in first
    assert [rule["ecrRepositoryPrefix"] for page in pages for rule in page["pullThroughCacheRules"]] == names
    filtered = ecr.describe_pull_through_cache_rules(ecrRepositoryPrefixes=["page-3", "page-1"])
    assert [rule["ecrRepositoryPrefix"] for rule in filtered["pullThroughCacheRules"]] == ["page-3", "page-1"]


def test_the_aws_cli_creates_describes_and_reports_errors(server: PullcacheServer) -> None:
    name = prefix()

    created = cli_json(
        server,
        "ecr",
        "create-pull-through-cache-rule",
        "--ecr-repository-prefix",
        name,
        "--upstream-registry-url",
        "registry.k8s.io",
    )
    described = cli_json(server, "ecr", "describe-pull-through-cache-rules", "--ecr-repository-prefixes", name)
    again = aws_cli(
        server,
        "ecr",
        "create-pull-through-cache-rule",
        "--ecr-repository-prefix",
        name,
        "--upstream-registry-url",
        "quay.io",
    )

    assert (created["upstreamRegistry"], created["upstreamRegistryUrl"]) == ("k8s", "registry.k8s.io")
    assert described["pullThroughCacheRules"][0]["ecrRepositoryPrefix"] == name
    assert again.returncode != 0
    assert "(PullThroughCacheRuleAlreadyExistsException)" in again.stderr


# -- validation against a real upstream -------------------------------------------------------------------------


def test_a_rule_over_a_live_registry_is_valid(ecr: Any, secret_arns: dict[str, str], tmp_path: Path) -> None:
    upstream = DistributionServer(tmp_path / "distribution").start()
    try:
        name = prefix()
        ecr.create_pull_through_cache_rule(
            ecrRepositoryPrefix=name, upstreamRegistryUrl=upstream.url, credentialArn=secret_arns["good"]
        )

        validated = ecr.validate_pull_through_cache_rule(ecrRepositoryPrefix=name)
    finally:
        upstream.stop()

    assert (validated["ecrRepositoryPrefix"], validated["upstreamRegistryUrl"]) == (name, upstream.url)
    assert validated["isValid"] is True
    assert "failure" not in validated
    assert "upstream-token-never-shown" not in json.dumps(validated, default=str)


def test_a_rule_over_an_unreachable_upstream_is_not_valid(ecr: Any) -> None:
    name = prefix()
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix=name, upstreamRegistryUrl=other_upstream())

    validated = ecr.validate_pull_through_cache_rule(ecrRepositoryPrefix=name)

    assert validated["isValid"] is False
    assert validated["failure"]


# -- repository creation templates ------------------------------------------------------------------------------


def test_a_template_is_created_described_updated_and_deleted(ecr: Any) -> None:
    name = prefix()

    created = ecr.create_repository_creation_template(
        prefix=name,
        appliedFor=["PULL_THROUGH_CACHE"],
        description="cached images",
        resourceTags=[{"Key": "team", "Value": "platform"}],
        imageTagMutability="IMMUTABLE",
        lifecyclePolicy=LIFECYCLE,
    )["repositoryCreationTemplate"]
    described = ecr.describe_repository_creation_templates(prefixes=[name])["repositoryCreationTemplates"]
    updated = ecr.update_repository_creation_template(prefix=name, description="changed")["repositoryCreationTemplate"]
    deleted = ecr.delete_repository_creation_template(prefix=name)

    assert created["prefix"] == name
    assert created["appliedFor"] == ["PULL_THROUGH_CACHE"]
    assert created["resourceTags"] == [{"Key": "team", "Value": "platform"}]
    assert (created["imageTagMutability"], created["lifecyclePolicy"]) == ("IMMUTABLE", LIFECYCLE)
    assert created["encryptionConfiguration"] == {"encryptionType": "AES256"}
    assert [template["prefix"] for template in described] == [name]
    assert (updated["description"], updated["imageTagMutability"]) == ("changed", "IMMUTABLE")
    assert deleted["registryId"] == ACCOUNT
    assert deleted["repositoryCreationTemplate"]["prefix"] == name
    assert ecr.describe_repository_creation_templates(prefixes=[name])["repositoryCreationTemplates"] == []


def test_template_errors_carry_ecrs_codes(ecr: Any) -> None:
    name = prefix()
    ecr.create_repository_creation_template(prefix=name, appliedFor=["PULL_THROUGH_CACHE"])

    duplicate = client_error(lambda: ecr.create_repository_creation_template(prefix=name, appliedFor=["REPLICATION"]))
    missing = client_error(lambda: ecr.delete_repository_creation_template(prefix=prefix()))
    update_missing = client_error(lambda: ecr.update_repository_creation_template(prefix=prefix(), description="x"))
    no_purpose = client_error(lambda: ecr.create_repository_creation_template(prefix=prefix(), appliedFor=[]))
    bad_policy = client_error(
        lambda: ecr.create_repository_creation_template(
            prefix=prefix(), appliedFor=["PULL_THROUGH_CACHE"], lifecyclePolicy='{"rules": []}'
        )
    )

    assert duplicate[:2] == (400, "TemplateAlreadyExistsException")
    assert missing[:2] == (400, "TemplateNotFoundException")
    assert update_missing[:2] == (400, "TemplateNotFoundException")
    assert no_purpose[:2] == (400, "InvalidParameterException")
    assert bad_policy[:2] == (400, "InvalidParameterException")


# -- lifecycle policies -----------------------------------------------------------------------------------------


def test_a_lifecycle_policy_round_trips_as_set(ecr: Any) -> None:
    repository = f"team/{uuid.uuid4().hex[:10]}"
    ecr.create_repository(repositoryName=repository)

    before = client_error(lambda: ecr.get_lifecycle_policy(repositoryName=repository))
    put = ecr.put_lifecycle_policy(repositoryName=repository, lifecyclePolicyText=LIFECYCLE)
    got = ecr.get_lifecycle_policy(repositoryName=repository)
    deleted = ecr.delete_lifecycle_policy(repositoryName=repository)
    after = client_error(lambda: ecr.delete_lifecycle_policy(repositoryName=repository))

    assert before[:2] == (400, "LifecyclePolicyNotFoundException")
    assert (put["repositoryName"], put["lifecyclePolicyText"]) == (repository, LIFECYCLE)
    assert (got["registryId"], got["lifecyclePolicyText"]) == (ACCOUNT, LIFECYCLE)
    assert deleted["lifecyclePolicyText"] == LIFECYCLE
    assert after[:2] == (400, "LifecyclePolicyNotFoundException")


def test_a_lifecycle_policy_is_checked_and_needs_its_repository(ecr: Any) -> None:
    repository = f"team/{uuid.uuid4().hex[:10]}"
    ecr.create_repository(repositoryName=repository)
    no_action = LIFECYCLE.replace('"expire"', '"archive"')

    invalid = client_error(lambda: ecr.put_lifecycle_policy(repositoryName=repository, lifecyclePolicyText=no_action))
    missing = client_error(lambda: ecr.put_lifecycle_policy(repositoryName="team/none", lifecyclePolicyText=LIFECYCLE))

    assert invalid[:2] == (400, "InvalidParameterException")
    assert missing[:2] == (400, "RepositoryNotFoundException")


# -- the service-linked role ------------------------------------------------------------------------------------


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[PullcacheServer]:
    running = PullcacheServer(tmp_path / "data").start()
    yield running
    running.stop()


def test_creating_the_first_rule_needs_leave_to_create_the_service_linked_role(fresh_server: PullcacheServer) -> None:
    iam = client(fresh_server, "iam")
    iam.create_user(UserName="builder")
    iam.attach_user_policy(UserName="builder", PolicyArn=ECR_FULL)  # leaves the role to replication only
    key = iam.create_access_key(UserName="builder")["AccessKey"]
    builder = client(
        fresh_server, "ecr", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )
    role = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/pullthroughcache.ecr.amazonaws.com/"
    role += "AWSServiceRoleForECRPullThroughCache"

    refused = client_error(
        lambda: builder.create_pull_through_cache_rule(ecrRepositoryPrefix="quay", upstreamRegistryUrl="quay.io")
    )

    assert refused[:2] == (400, "AccessDeniedException")
    assert f"iam:CreateServiceLinkedRole on resource: {role}" in refused[2]
    assert builder.describe_pull_through_cache_rules()["pullThroughCacheRules"] == []
    no_role = client_error(lambda: iam.get_role(RoleName="AWSServiceRoleForECRPullThroughCache"))
    assert no_role[1] == "NoSuchEntity"

    statement = {
        "Effect": "Allow",
        "Action": "iam:CreateServiceLinkedRole",
        "Resource": "*",
        "Condition": {"StringEquals": {"iam:AWSServiceName": "pullthroughcache.ecr.amazonaws.com"}},
    }
    iam.put_user_policy(
        UserName="builder",
        PolicyName="pull-through-role",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )
    builder.create_pull_through_cache_rule(ecrRepositoryPrefix="quay", upstreamRegistryUrl="quay.io")

    assert iam.get_role(RoleName="AWSServiceRoleForECRPullThroughCache")["Role"]["Arn"] == role
