"""ECR's lifecycle policy previews, scanning configuration (and scans without a scanner), account settings and
pull time update exclusions, driven by boto3 and the aws CLI against a live server.

Codes are ECR's model's; messages are asserted where ECR's documentation or model states them, and otherwise
only for what they must say (pullcache's reasoned words are marked in the source).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any, Final

import pytest

from pullcache.core.digests import Digest
from testkit.aws_clients import ACCOUNT, aws_cli, cli_json, client, client_error
from testkit.servers import PullcacheServer
from tests.oci_documents import OCI_CONFIG, OCI_LAYER, descriptor, encode, image_manifest

OTHER_REGION: Final = "eu-west-1"
KEEP_ONE_UNTAGGED: Final = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "description": "Keep only one untagged image, expire all others",
                "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1},
                "action": {"type": "expire"},
            }
        ]
    }
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    running = PullcacheServer(tmp_path_factory.mktemp("ecr-settings") / "data", anonymous_registry=False).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def ecr(server: PullcacheServer) -> Any:
    return client(server, "ecr")


@pytest.fixture
def repository(ecr: Any) -> str:
    name = f"team/{uuid.uuid4().hex[:12]}"
    ecr.create_repository(repositoryName=name)
    return name


def put_image(ecr: Any, repository: str, seed: str, tag: str | None = None) -> str:
    """An image pushed through the layer API and PutImage; returns its digest."""
    config, layer = json.dumps({"seed": seed}).encode(), b"a layer shared by every image"
    for blob in (config, layer):
        if ecr.batch_check_layer_availability(repositoryName=repository, layerDigests=[str(Digest.of(blob))])[
            "failures"
        ]:
            upload = ecr.initiate_layer_upload(repositoryName=repository)["uploadId"]
            ecr.upload_layer_part(
                repositoryName=repository,
                uploadId=upload,
                partFirstByte=0,
                partLastByte=len(blob) - 1,
                layerPartBlob=blob,
            )
            ecr.complete_layer_upload(repositoryName=repository, uploadId=upload, layerDigests=[str(Digest.of(blob))])
    manifest = encode(image_manifest(descriptor(config, OCI_CONFIG), [descriptor(layer, OCI_LAYER)]))
    params: dict[str, Any] = {"repositoryName": repository, "imageManifest": manifest.decode()}
    if tag is not None:
        params["imageTag"] = tag
    ecr.put_image(**params)
    return str(Digest.of(manifest))


def cli_error(server: PullcacheServer, *arguments: str) -> str:
    """The stderr of an aws CLI call that fails."""
    result = aws_cli(server, *arguments)
    assert result.returncode != 0, result.stdout
    return result.stderr


# -- lifecycle policy previews --------------------------------------------------------------------------------


def test_a_lifecycle_policy_preview_lists_what_the_policy_would_expire(ecr: Any, repository: str) -> None:
    oldest, older = put_image(ecr, repository, "1"), put_image(ecr, repository, "2")
    put_image(ecr, repository, "3")
    put_image(ecr, repository, "4", tag="v4")
    assert client_error(lambda: ecr.get_lifecycle_policy_preview(repositoryName=repository))[:2] == (
        400,
        "LifecyclePolicyPreviewNotFoundException",
    )

    started = ecr.start_lifecycle_policy_preview(repositoryName=repository, lifecyclePolicyText=KEEP_ONE_UNTAGGED)
    assert (started["registryId"], started["repositoryName"], started["status"]) == (ACCOUNT, repository, "IN_PROGRESS")
    assert started["lifecyclePolicyText"] == KEEP_ONE_UNTAGGED
    ecr.get_waiter("lifecycle_policy_preview_complete").wait(
        repositoryName=repository, WaiterConfig={"Delay": 1, "MaxAttempts": 10}
    )
    preview = ecr.get_lifecycle_policy_preview(repositoryName=repository)
    assert preview["status"] == "COMPLETE"
    assert [
        (r["imageDigest"], r["imageTags"], r["action"], r["appliedRulePriority"]) for r in preview["previewResults"]
    ] == [
        (oldest, [], {"type": "EXPIRE"}, 1),
        (older, [], {"type": "EXPIRE"}, 1),
    ]
    assert all("imagePushedAt" in result for result in preview["previewResults"])
    assert preview["summary"]["expiringImageTotalCount"] == 2
    # The policy was previewed, not set.
    assert client_error(lambda: ecr.get_lifecycle_policy(repositoryName=repository))[1] == (
        "LifecyclePolicyNotFoundException"
    )


def test_a_preview_of_the_repository_policy_pages_and_filters(ecr: Any, repository: str) -> None:
    digests = [put_image(ecr, repository, f"p{i}") for i in range(4)]
    assert client_error(lambda: ecr.start_lifecycle_policy_preview(repositoryName=repository))[1] == (
        "LifecyclePolicyNotFoundException"
    )
    ecr.put_lifecycle_policy(repositoryName=repository, lifecyclePolicyText=KEEP_ONE_UNTAGGED)
    assert ecr.start_lifecycle_policy_preview(repositoryName=repository)["lifecyclePolicyText"] == KEEP_ONE_UNTAGGED
    paginator = ecr.get_paginator("get_lifecycle_policy_preview")
    pages = list(paginator.paginate(repositoryName=repository, PaginationConfig={"PageSize": 2}))
    assert [len(page["previewResults"]) for page in pages] == [2, 1]
    assert [r["imageDigest"] for page in pages for r in page["previewResults"]] == digests[:3]
    tagged = ecr.get_lifecycle_policy_preview(repositoryName=repository, filter={"tagStatus": "TAGGED"})
    assert tagged["previewResults"] == []
    chosen = ecr.get_lifecycle_policy_preview(repositoryName=repository, imageIds=[{"imageDigest": digests[1]}])
    assert [r["imageDigest"] for r in chosen["previewResults"]] == [digests[1]]


def test_preview_errors_have_ecrs_codes(ecr: Any, repository: str) -> None:
    missing = "team/not-there"
    assert client_error(
        lambda: ecr.start_lifecycle_policy_preview(repositoryName=missing, lifecyclePolicyText=KEEP_ONE_UNTAGGED)
    ) == (
        400,
        "RepositoryNotFoundException",
        f"The repository with name '{missing}' does not exist in the registry with id '{ACCOUNT}'",
    )
    transition = KEEP_ONE_UNTAGGED.replace(
        '{"type": "expire"}', '{"type": "transition", "targetStorageClass": "archive"}'
    )
    status, code, message = client_error(
        lambda: ecr.start_lifecycle_policy_preview(repositoryName=repository, lifecyclePolicyText=transition)
    )
    assert (status, code) == (400, "InvalidParameterException")
    assert "archival (the archive storage class) is not supported by this registry" in message


def test_the_cli_starts_and_gets_a_preview(server: PullcacheServer, ecr: Any, repository: str) -> None:
    first = put_image(ecr, repository, "c1")
    put_image(ecr, repository, "c2")
    started = cli_json(
        server, "ecr", "start-lifecycle-policy-preview", "--repository-name", repository,
        "--lifecycle-policy-text", KEEP_ONE_UNTAGGED,
    )  # fmt: skip
    assert started["status"] == "IN_PROGRESS"
    preview = cli_json(server, "ecr", "get-lifecycle-policy-preview", "--repository-name", repository)
    assert [r["imageDigest"] for r in preview["previewResults"]] == [first]
    assert preview["summary"] == {"expiringImageTotalCount": 1}


# -- scanning -------------------------------------------------------------------------------------------------


def test_the_registry_scanning_configuration_is_stored_as_put(ecr: Any, server: PullcacheServer) -> None:
    other_region = client(server, "ecr", region_name=OTHER_REGION)
    assert other_region.get_registry_scanning_configuration()["scanningConfiguration"] == {
        "scanType": "BASIC",
        "rules": [],
    }
    rules = [
        {"scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": [{"filter": "prod-*", "filterType": "WILDCARD"}]},
        {"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}]},
    ]
    put = other_region.put_registry_scanning_configuration(scanType="ENHANCED", rules=rules)
    assert put["registryScanningConfiguration"] == {"scanType": "ENHANCED", "rules": rules}
    got = other_region.get_registry_scanning_configuration()
    assert (got["registryId"], got["scanningConfiguration"]) == (ACCOUNT, {"scanType": "ENHANCED", "rules": rules})
    assert ecr.get_registry_scanning_configuration()["scanningConfiguration"]["scanType"] == "BASIC"


def test_a_scan_frequency_the_scan_type_does_not_offer_is_refused(ecr: Any) -> None:
    continuous = [
        {"scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}]}
    ]
    status, code, message = client_error(
        lambda: ecr.put_registry_scanning_configuration(scanType="BASIC", rules=continuous)
    )
    assert (status, code) == (400, "InvalidParameterException")
    assert "CONTINUOUS_SCAN is not supported for scan type BASIC" in message


def test_scan_on_push_is_stored_and_described(ecr: Any, repository: str, server: PullcacheServer) -> None:
    put = ecr.put_image_scanning_configuration(
        repositoryName=repository, imageScanningConfiguration={"scanOnPush": True}
    )
    assert (put["registryId"], put["imageScanningConfiguration"]) == (ACCOUNT, {"scanOnPush": True})
    described = ecr.describe_repositories(repositoryNames=[repository])["repositories"][0]
    assert described["imageScanningConfiguration"] == {"scanOnPush": True}
    cli_json(
        server, "ecr", "put-image-scanning-configuration", "--repository-name", repository,
        "--image-scanning-configuration", "scanOnPush=false",
    )  # fmt: skip
    described = cli_json(server, "ecr", "describe-repositories", "--repository-names", repository)["repositories"][0]
    assert described["imageScanningConfiguration"] == {"scanOnPush": False}
    assert (
        client_error(
            lambda: ecr.put_image_scanning_configuration(
                repositoryName="team/not-there", imageScanningConfiguration={"scanOnPush": True}
            )
        )[1]
        == "RepositoryNotFoundException"
    )


def test_scans_say_that_no_scanner_is_configured(ecr: Any, repository: str, server: PullcacheServer) -> None:
    digest = put_image(ecr, repository, "scan", tag="v1")
    status, code, message = client_error(
        lambda: ecr.start_image_scan(repositoryName=repository, imageId={"imageTag": "v1"})
    )
    assert (status, code) == (400, "UnsupportedImageTypeException")
    assert "no image scanner is configured" in message
    status, code, message = client_error(
        lambda: ecr.describe_image_scan_findings(repositoryName=repository, imageId={"imageDigest": digest})
    )
    assert (status, code) == (400, "ScanNotFoundException")
    assert "no image scanner is configured" in message
    assert client_error(lambda: ecr.start_image_scan(repositoryName=repository, imageId={"imageTag": "nope"}))[1] == (
        "ImageNotFoundException"
    )
    stderr = cli_error(
        server, "ecr", "describe-image-scan-findings", "--repository-name", repository, "--image-id", "imageTag=v1"
    )
    assert "ScanNotFoundException" in stderr


def test_each_repositorys_effective_scanning_configuration_is_reported(server: PullcacheServer) -> None:
    regional = client(server, "ecr", region_name="ca-central-1")
    for name in ("prod-api", "dev/app", "dev/tools"):
        regional.create_repository(repositoryName=name)
    regional.put_image_scanning_configuration(
        repositoryName="dev/tools", imageScanningConfiguration={"scanOnPush": True}
    )
    rules = [{"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": "prod-*", "filterType": "WILDCARD"}]}]
    regional.put_registry_scanning_configuration(scanType="BASIC", rules=rules)
    got = regional.batch_get_repository_scanning_configuration(
        repositoryNames=["prod-api", "dev/app", "dev/tools", "gone"]
    )
    assert got["scanningConfigurations"] == [
        {
            "repositoryArn": f"arn:aws:ecr:ca-central-1:{ACCOUNT}:repository/prod-api",
            "repositoryName": "prod-api",
            "scanOnPush": True,
            "scanFrequency": "SCAN_ON_PUSH",
            "appliedScanFilters": [{"filter": "prod-*", "filterType": "WILDCARD"}],
        },
        {
            "repositoryArn": f"arn:aws:ecr:ca-central-1:{ACCOUNT}:repository/dev/app",
            "repositoryName": "dev/app",
            "scanOnPush": False,
            "scanFrequency": "MANUAL",
            "appliedScanFilters": [],
        },
        {
            "repositoryArn": f"arn:aws:ecr:ca-central-1:{ACCOUNT}:repository/dev/tools",
            "repositoryName": "dev/tools",
            "scanOnPush": True,
            "scanFrequency": "SCAN_ON_PUSH",
            "appliedScanFilters": [],
        },
    ]
    assert [(f["repositoryName"], f["failureCode"]) for f in got["failures"]] == [("gone", "REPOSITORY_NOT_FOUND")]
    with_cli = cli_json(
        server, "ecr", "batch-get-repository-scanning-configuration", "--repository-names", "prod-api",
        "--region", "ca-central-1",
    )  # fmt: skip
    assert with_cli["scanningConfigurations"][0]["scanFrequency"] == "SCAN_ON_PUSH"


# -- account settings -----------------------------------------------------------------------------------------


def test_account_settings_read_ecrs_defaults_and_keep_what_is_put(ecr: Any, server: PullcacheServer) -> None:
    other_region = client(server, "ecr", region_name=OTHER_REGION)
    default = ecr.get_account_setting(name="BASIC_SCAN_TYPE_VERSION")
    assert (default["name"], default["value"]) == ("BASIC_SCAN_TYPE_VERSION", "AWS_NATIVE")
    assert ecr.get_account_setting(name="REGISTRY_POLICY_SCOPE")["value"] == "V2"
    assert other_region.get_account_setting(name="BLOB_MOUNTING")["value"] == "DISABLED"
    put = other_region.put_account_setting(name="BLOB_MOUNTING", value="ENABLED")
    assert (put["name"], put["value"]) == ("BLOB_MOUNTING", "ENABLED")
    assert other_region.get_account_setting(name="BLOB_MOUNTING")["value"] == "ENABLED"
    assert ecr.get_account_setting(name="BLOB_MOUNTING")["value"] == "DISABLED"  # settings are per region
    with_cli = cli_json(server, "ecr", "get-account-setting", "--name", "BASIC_SCAN_TYPE_VERSION")
    assert with_cli == {"name": "BASIC_SCAN_TYPE_VERSION", "value": "AWS_NATIVE"}


def test_unknown_account_settings_and_values_are_invalid_parameters(ecr: Any) -> None:
    status, code, message = client_error(lambda: ecr.get_account_setting(name="NO_SUCH_SETTING"))
    assert (status, code) == (400, "InvalidParameterException")
    assert "BASIC_SCAN_TYPE_VERSION, REGISTRY_POLICY_SCOPE, BLOB_MOUNTING" in message
    status, code, message = client_error(lambda: ecr.put_account_setting(name="BLOB_MOUNTING", value="MAYBE"))
    assert (status, code) == (400, "InvalidParameterException")
    assert "ENABLED, DISABLED" in message


# -- pull time update exclusions ------------------------------------------------------------------------------


def test_pull_time_update_exclusions_are_registered_listed_and_deregistered(ecr: Any, server: PullcacheServer) -> None:
    arns = [f"arn:aws:iam::{ACCOUNT}:role/ci-{uuid.uuid4().hex[:8]}", f"arn:aws:iam::{ACCOUNT}:user/scanner"]
    for arn in arns:
        registered = ecr.register_pull_time_update_exclusion(principalArn=arn)
        assert registered["principalArn"] == arn
        assert "createdAt" in registered
    assert client_error(lambda: ecr.register_pull_time_update_exclusion(principalArn=arns[0]))[:2] == (
        400,
        "ExclusionAlreadyExistsException",
    )
    listed = cli_json(server, "ecr", "list-pull-time-update-exclusions")["pullTimeUpdateExclusions"]
    assert listed == sorted(arns)
    assert ecr.deregister_pull_time_update_exclusion(principalArn=arns[1])["principalArn"] == arns[1]
    assert ecr.list_pull_time_update_exclusions()["pullTimeUpdateExclusions"] == [arns[0]]
    assert client_error(lambda: ecr.deregister_pull_time_update_exclusion(principalArn=arns[1]))[:2] == (
        400,
        "ExclusionNotFoundException",
    )
    ecr.deregister_pull_time_update_exclusion(principalArn=arns[0])


def test_an_exclusion_that_is_not_an_iam_principal_arn_is_refused_by_the_model(ecr: Any) -> None:
    refused = client_error(lambda: ecr.register_pull_time_update_exclusion(principalArn="arn:aws:s3:::bucket"))
    assert refused[:2] == (400, "InvalidParameterException")


def test_the_cli_puts_and_gets_every_registry_setting(server: PullcacheServer, ecr: Any, repository: str) -> None:
    region = ("--region", "ap-south-1")
    rules = '[{"scanFrequency":"SCAN_ON_PUSH","repositoryFilters":[{"filter":"team/*","filterType":"WILDCARD"}]}]'
    cli_json(server, "ecr", "put-registry-scanning-configuration", "--scan-type", "BASIC", "--rules", rules, *region)
    got = cli_json(server, "ecr", "get-registry-scanning-configuration", *region)
    assert got["scanningConfiguration"] == {"scanType": "BASIC", "rules": json.loads(rules)}
    put = cli_json(server, "ecr", "put-account-setting", "--name", "BLOB_MOUNTING", "--value", "ENABLED", *region)
    assert put == {"name": "BLOB_MOUNTING", "value": "ENABLED"}
    arn = f"arn:aws:iam::{ACCOUNT}:role/cli"
    registered = cli_json(server, "ecr", "register-pull-time-update-exclusion", "--principal-arn", arn, *region)
    assert registered["principalArn"] == arn
    assert "ExclusionAlreadyExistsException" in cli_error(
        server, "ecr", "register-pull-time-update-exclusion", "--principal-arn", arn, *region
    )
    deregistered = cli_json(server, "ecr", "deregister-pull-time-update-exclusion", "--principal-arn", arn, *region)
    assert deregistered == {"principalArn": arn}
    put_image(ecr, repository, "cli-scan", tag="v1")
    stderr = cli_error(server, "ecr", "start-image-scan", "--repository-name", repository, "--image-id", "imageTag=v1")
    assert "UnsupportedImageTypeException" in stderr
    assert "no image scanner is configured" in stderr
