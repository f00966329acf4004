"""ECR's private image replication against a live server: configured with boto3 and the aws CLI, images pushed
with skopeo, copies pulled from the destination with skopeo (through the destination's ECR-form host) and with
BatchGetImage in the destination's registry.

One server serves the module (its /v2/ open to the root user of the scope a request names, --anonymous-registry).
The second account is made with `pullcache accounts create` while the server runs, as a user would. Each test
pushes into repositories of its own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import pytest
from botocore.config import Config

from testkit.aws_clients import ACCOUNT, CLI_TIMEOUT, cli_json, client, client_error
from testkit.images import OciLayout, write_image
from testkit.servers import DistributionServer, PullcacheServer
from tests.integration import skopeo
from tests.integration.cached_images import CACHED, PREFIX, TAG, create_rule, seed

REGION: Final = "us-east-1"
WEST: Final = "us-west-2"
PARTNER_REGION: Final = "eu-west-1"
PARTNER: Final = "111122223333"  # made with `pullcache accounts create`
ABSENT: Final = "999999999999"  # an account this server does not hold
DOMAIN: Final = "pullcache.test"  # resolves nowhere: skopeo reaches its hosts through the server as HTTP proxy
SETTLE_SECONDS: Final = 30.0
INVALID_CONFIGURATION: Final = "Invalid parameter at 'replicationConfiguration' failed to satisfy constraint: "


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    running = PullcacheServer(tmp_path_factory.mktemp("replication") / "data").start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def ecr(server: PullcacheServer) -> Any:
    return client(server, "ecr")


@pytest.fixture(scope="module")
def partner_ecr(server: PullcacheServer) -> Any:
    """The second account's root user in its region, with the keys `pullcache accounts create` wrote."""
    created = subprocess.run(
        [sys.executable, "-m", "pullcache", "accounts", "create", PARTNER, "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    credentials = (server.data_dir / "accounts" / PARTNER / "credentials").read_text().splitlines()
    keys = dict(line.split(" = ", 1) for line in credentials if " = " in line)
    return client(
        server,
        "ecr",
        region_name=PARTNER_REGION,
        aws_access_key_id=keys["aws_access_key_id"],
        aws_secret_access_key=keys["aws_secret_access_key"],
    )


# -- helpers ------------------------------------------------------------------------------------------------


def rule(prefix: str, *destinations: tuple[str, str]) -> dict[str, Any]:
    return {
        "destinations": [{"region": region, "registryId": registry} for region, registry in destinations],
        "repositoryFilters": [{"filter": prefix, "filterType": "PREFIX_MATCH"}],
    }


def push(server: PullcacheServer, ecr: Any, repository: str, tmp_path: Path, seed: int) -> str:
    """Create `repository` and push an image to it as `v1` with skopeo; returns the image's digest."""
    ecr.create_repository(repositoryName=repository)
    layout = OciLayout(tmp_path / f"source-{seed}")
    written = write_image(layout, "v1", (2048, 1024), seed=seed)
    skopeo.run(
        "copy",
        "--quiet",
        "--preserve-digests",
        *skopeo.NO_TLS,
        layout.reference("v1"),
        skopeo.docker_reference(server.address, repository, "v1"),
    )
    return written.digest


def pull_from_host(server: PullcacheServer, host: str, repository: str, into: Path) -> str:
    """skopeo copy of `<host>/<repository>:v1` into an OCI layout, the server as the HTTP proxy that reaches
    `host`; returns the digest pulled."""
    layout = OciLayout(into)
    environment = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "https_proxy", "http_proxy")}
    environment |= {"HTTP_PROXY": server.url, "http_proxy": server.url}
    binary = shutil.which("skopeo")
    assert binary is not None, "skopeo is not installed"
    done = subprocess.run(
        [
            binary,
            "--insecure-policy",
            "copy",
            "--quiet",
            "--preserve-digests",
            *skopeo.NO_TLS,
            f"docker://{host}/{repository}:v1",
            layout.reference("v1"),
        ],
        env=environment,
        capture_output=True,
        timeout=skopeo.TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return layout.read_tree("v1").digest


def settled(ecr: Any, repository: str, digest: str) -> dict[tuple[str, str], tuple[str, str | None]]:
    """DescribeImageReplicationStatus once no destination is IN_PROGRESS: (registry, region) -> (status, code)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        found = ecr.describe_image_replication_status(repositoryName=repository, imageId={"imageDigest": digest})
        statuses = {
            (s["registryId"], s["region"]): (s["status"], s.get("failureCode")) for s in found["replicationStatuses"]
        }
        if all(status != "IN_PROGRESS" for status, _ in statuses.values()) or time.monotonic() > deadline:
            return statuses
        time.sleep(0.2)


def put_configuration(ecr: Any, configuration: dict[str, Any]) -> Callable[[], Any]:
    return lambda: ecr.put_replication_configuration(replicationConfiguration=configuration)


def replication_policy(*actions: str) -> str:
    """The destination's registry policy ECR's user guide shows for cross-account replication."""
    statement = {
        "Sid": "ReplicationAccessCrossAccount",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": list(actions),
        "Resource": f"arn:aws:ecr:{PARTNER_REGION}:{PARTNER}:repository/*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


# -- the configuration ----------------------------------------------------------------------------------------


def test_a_configuration_put_is_what_describe_registry_returns(server: PullcacheServer, ecr: Any) -> None:
    rules = [rule("keep", (WEST, ACCOUNT)), {"destinations": [{"region": PARTNER_REGION, "registryId": PARTNER}]}]
    put = ecr.put_replication_configuration(replicationConfiguration={"rules": rules})
    by_cli = cli_json(server, "ecr", "describe-registry", "--region", REGION)

    assert put["replicationConfiguration"] == {"rules": rules}
    assert by_cli == {"registryId": ACCOUNT, "replicationConfiguration": {"rules": rules}}
    # Another region of the same account has a configuration of its own: none.
    assert client(server, "ecr", region_name=WEST).describe_registry()["replicationConfiguration"] == {"rules": []}


def test_a_configuration_ecr_refuses_is_refused_with_its_message_and_the_old_one_kept(
    server: PullcacheServer, ecr: Any
) -> None:
    kept = {"rules": [rule("kept", (WEST, ACCOUNT))]}
    ecr.put_replication_configuration(replicationConfiguration=kept)
    unchecked = client(server, "ecr", config=Config(parameter_validation=False))  # the server answers
    to_itself = {"rules": [rule("xx", (REGION, ACCOUNT))]}
    too_many = {
        "rules": [
            {"destinations": [{"region": WEST, "registryId": f"{n:012d}"} for n in range(1, 14)]},
            {"destinations": [{"region": WEST, "registryId": f"{n:012d}"} for n in range(14, 27)]},
        ]
    }
    deletes = {"rules": [{**rule("xx", (WEST, ACCOUNT)), "deleteReplication": {"enabled": True}}]}
    suffix = {"rules": [{"destinations": [], "repositoryFilters": [{"filter": "xx", "filterType": "SUFFIX_MATCH"}]}]}

    refusals: list[tuple[dict[str, Any], str]] = [
        (to_itself, INVALID_CONFIGURATION),
        (too_many, INVALID_CONFIGURATION + "'A replication configuration can have at most 25 unique destinations'"),
        (deletes, INVALID_CONFIGURATION + "'deleteReplication is not supported by this registry"),
    ]
    for configuration, text in refusals:
        status, code, message = client_error(put_configuration(ecr, configuration))
        assert (status, code) == (400, "InvalidParameterException")
        assert message.startswith(text), message
    # The model's own constraint, in ECR's words (aws/validation.py): the enum of filterType.
    status, code, message = client_error(
        lambda: unchecked.put_replication_configuration(replicationConfiguration=suffix)
    )
    assert (status, code) == (400, "InvalidParameterException")
    assert "Member must satisfy enum value set: [PREFIX_MATCH]" in message, message
    assert ecr.describe_registry()["replicationConfiguration"] == kept


def test_the_replication_status_of_an_image_that_is_not_there_is_ecrs_not_found(ecr: Any) -> None:
    name = f"status/{uuid.uuid4().hex[:8]}"
    missing_repository = client_error(
        lambda: ecr.describe_image_replication_status(repositoryName=name, imageId={"imageTag": "v1"})
    )
    ecr.create_repository(repositoryName=name)
    missing_image = client_error(
        lambda: ecr.describe_image_replication_status(repositoryName=name, imageId={"imageTag": "v1"})
    )
    assert missing_repository == (
        400,
        "RepositoryNotFoundException",
        f"The repository with name '{name}' does not exist in the registry with id '{ACCOUNT}'",
    )
    assert missing_image == (
        400,
        "ImageNotFoundException",
        f"The image with imageId {{imageDigest:'null', imageTag:'v1'}} does not exist within the repository with "
        f"name '{name}' in the registry with id '{ACCOUNT}'",
    )


# -- replication ------------------------------------------------------------------------------------------------


def test_a_pushed_image_is_replicated_to_another_region_and_refused_where_it_may_not_go(
    server: PullcacheServer, ecr: Any, partner_ecr: Any, tmp_path: Path
) -> None:
    destinations = ((WEST, ACCOUNT), (PARTNER_REGION, PARTNER), (PARTNER_REGION, ABSENT))
    ecr.put_replication_configuration(replicationConfiguration={"rules": [rule("region", *destinations)]})
    name = f"region/{uuid.uuid4().hex[:8]}"
    digest = push(server, ecr, name, tmp_path, seed=1)

    statuses = settled(ecr, name, digest)
    by_cli = cli_json(
        server, "ecr", "describe-image-replication-status", "--repository-name", name, "--image-id", "imageTag=v1"
    )
    west_host = f"{ACCOUNT}.dkr.ecr.{WEST}.{DOMAIN}"
    pulled = pull_from_host(server, west_host, name, tmp_path / "pulled")
    west = client(server, "ecr", region_name=WEST)
    [described] = west.describe_repositories(repositoryNames=[name])["repositories"]

    assert statuses == {
        (ACCOUNT, WEST): ("COMPLETE", None),
        # No registry policy of the partner allows this account to replicate into it (reasoned failure codes).
        (PARTNER, PARTNER_REGION): ("FAILED", "AccessDenied"),
        (ABSENT, PARTNER_REGION): ("FAILED", "RegistryNotFound"),
    }
    assert by_cli["imageId"] == {"imageDigest": digest, "imageTag": "v1"}
    assert len(by_cli["replicationStatuses"]) == 3
    assert pulled == digest
    assert described["repositoryName"] == name
    assert [i["imageTags"] for i in west.describe_images(repositoryName=name)["imageDetails"]] == [["v1"]]
    assert partner_ecr.describe_repositories()["repositories"] == []


def test_an_account_whose_registry_policy_allows_replication_receives_the_image(
    server: PullcacheServer, ecr: Any, partner_ecr: Any, tmp_path: Path
) -> None:
    partner_ecr.put_registry_policy(policyText=replication_policy("ecr:CreateRepository", "ecr:ReplicateImage"))
    ecr.put_replication_configuration(replicationConfiguration={"rules": [rule("shared", (PARTNER_REGION, PARTNER))]})
    name = f"shared/{uuid.uuid4().hex[:8]}"
    digest = push(server, ecr, name, tmp_path, seed=2)

    statuses = settled(ecr, name, digest)
    [image] = partner_ecr.batch_get_image(repositoryName=name, imageIds=[{"imageTag": "v1"}])["images"]
    [repository] = partner_ecr.describe_repositories(repositoryNames=[name])["repositories"]

    assert statuses == {(PARTNER, PARTNER_REGION): ("COMPLETE", None)}
    assert image["imageId"]["imageDigest"] == digest
    assert repository["registryId"] == PARTNER
    layers = json.loads(image["imageManifest"])["layers"]
    checked = partner_ecr.batch_check_layer_availability(
        repositoryName=name, layerDigests=[layer["digest"] for layer in layers]
    )
    assert [layer["layerAvailability"] for layer in checked["layers"]] == ["AVAILABLE"] * len(layers)


def test_an_image_in_a_repository_no_rule_covers_has_no_replication_status(
    server: PullcacheServer, ecr: Any, tmp_path: Path
) -> None:
    ecr.put_replication_configuration(replicationConfiguration={"rules": [rule("covered", (WEST, ACCOUNT))]})
    name = f"uncovered/{uuid.uuid4().hex[:8]}"
    digest = push(server, ecr, name, tmp_path, seed=3)

    assert settled(ecr, name, digest) == {}
    west = client(server, "ecr", region_name=WEST)
    assert client_error(lambda: west.describe_repositories(repositoryNames=[name]))[1] == "RepositoryNotFoundException"


def test_an_image_imported_through_a_pull_through_rule_is_replicated_once_its_blobs_are_in(
    server: PullcacheServer, ecr: Any, upstream: DistributionServer, tmp_path: Path
) -> None:
    ecr.put_replication_configuration(replicationConfiguration={"rules": [rule(PREFIX, (WEST, ACCOUNT))]})
    written = seed(upstream, tmp_path)
    create_rule(server, upstream.url)
    skopeo.copy_all(skopeo.docker_reference(server.address, CACHED, TAG), OciLayout(tmp_path / "pulled").reference(TAG))

    deadline = time.monotonic() + SETTLE_SECONDS  # the import is announced once its background fills end
    statuses = settled(ecr, CACHED, written.digest)
    while not statuses and time.monotonic() < deadline:
        time.sleep(0.2)
        statuses = settled(ecr, CACHED, written.digest)
    pulled = pull_from_host(server, f"{ACCOUNT}.dkr.ecr.{WEST}.{DOMAIN}", CACHED, tmp_path / "replica")

    assert statuses == {(ACCOUNT, WEST): ("COMPLETE", None)}
    assert pulled == written.digest


def test_a_replicated_repository_is_created_from_the_destinations_replication_template(
    server: PullcacheServer, ecr: Any, tmp_path: Path
) -> None:
    west = client(server, "ecr", region_name=WEST)
    west.create_repository_creation_template(
        prefix="templated",
        appliedFor=["REPLICATION"],
        imageTagMutability="IMMUTABLE",
        resourceTags=[{"Key": "origin", "Value": "replication"}],
    )
    ecr.put_replication_configuration(replicationConfiguration={"rules": [rule("templated", (WEST, ACCOUNT))]})
    name = f"templated/{uuid.uuid4().hex[:8]}"
    digest = push(server, ecr, name, tmp_path, seed=4)

    assert settled(ecr, name, digest) == {(ACCOUNT, WEST): ("COMPLETE", None)}
    [created] = west.describe_repositories(repositoryNames=[name])["repositories"]
    assert created["imageTagMutability"] == "IMMUTABLE"
    assert west.list_tags_for_resource(resourceArn=created["repositoryArn"])["tags"] == [
        {"Key": "origin", "Value": "replication"}
    ]
    # The source repository was made with CreateRepository's defaults: the template is the destination's own.
    assert ecr.describe_repositories(repositoryNames=[name])["repositories"][0]["imageTagMutability"] == "MUTABLE"
