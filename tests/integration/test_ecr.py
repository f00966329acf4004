"""The ECR API over the same data as /v2/, driven by boto3, the aws CLI and skopeo against a live server.

One server serves the module; each test works in repositories of its own. /v2/ here is authenticated (no
--anonymous-registry): clients log in with the token of GetAuthorizationToken.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import pytest
from botocore.exceptions import ClientError

from pullcache.core.digests import Digest
from testkit.aws_clients import ACCOUNT, aws_cli, cli_json, client, registry_authorization
from testkit.images import OCI, OciLayout, write_image
from testkit.reply import Reply
from testkit.servers import PullcacheServer
from testkit.sync_client import error_reply, request
from tests.integration import skopeo
from tests.oci_documents import OCI_CONFIG, OCI_LAYER, descriptor, encode, image_manifest

REGION: Final = "us-east-1"
CLI_TIMEOUT: Final = 60
PULL_FLUSH_INTERVAL: Final = 0.2  # seconds before a pull shows in DescribeImages (the default is longer)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    running = PullcacheServer(
        tmp_path_factory.mktemp("ecr") / "data",
        anonymous_registry=False,
        extra_args=("--pull-flush-interval", str(PULL_FLUSH_INTERVAL)),
    ).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def ecr(server: PullcacheServer) -> Any:
    return client(server, "ecr")


@pytest.fixture(scope="module")
def authorization(server: PullcacheServer) -> str:
    return registry_authorization(server)


@pytest.fixture
def repository(ecr: Any) -> str:
    name = f"team/{uuid.uuid4().hex[:12]}"
    ecr.create_repository(repositoryName=name)
    return name


def error_of(call: Callable[..., Any], **params: Any) -> dict[str, Any]:
    """The error response a call gets; fails the test when it succeeds."""
    with pytest.raises(ClientError) as raised:
        call(**params)
    return dict(raised.value.response)


def code_of(call: Callable[..., Any], **params: Any) -> str:
    return str(error_of(call, **params)["Error"]["Code"])


def put_layer(ecr: Any, repository: str, data: bytes, part: int = 1 << 20) -> str:
    """Upload `data` through the layer API, in parts of `part` bytes; returns its digest."""
    upload_id = ecr.initiate_layer_upload(repositoryName=repository)["uploadId"]
    for first in range(0, len(data), part):
        chunk = data[first : first + part]
        ecr.upload_layer_part(
            repositoryName=repository,
            uploadId=upload_id,
            partFirstByte=first,
            partLastByte=first + len(chunk) - 1,
            layerPartBlob=chunk,
        )
    digest = str(Digest.of(data))
    done = ecr.complete_layer_upload(repositoryName=repository, uploadId=upload_id, layerDigests=[digest])
    assert done["layerDigest"] == digest
    return digest


def put_image(ecr: Any, repository: str, seed: str, tag: str | None = None, **fields: Any) -> str:
    """An image whose config and layer go through the layer API, then the manifest through PutImage."""
    config, layer = json.dumps({"seed": seed}).encode(), f"layer {seed}".encode() * 100
    for blob in (config, layer):
        digest = str(Digest.of(blob))
        if ecr.batch_check_layer_availability(repositoryName=repository, layerDigests=[digest])["failures"]:
            put_layer(ecr, repository, blob)
    manifest = encode(image_manifest(descriptor(config, OCI_CONFIG), [descriptor(layer, OCI_LAYER)], **fields))
    params: dict[str, Any] = {"repositoryName": repository, "imageManifest": manifest.decode()}
    if tag is not None:
        params["imageTag"] = tag
    ecr.put_image(**params)
    return manifest.decode()


def v2(server: PullcacheServer, method: str, path: str, authorization: str | None = None, **headers: str) -> Reply:
    if authorization is not None:
        headers["Authorization"] = authorization
    return request(method, f"{server.url}/v2/{path}", headers)


def login(server: PullcacheServer, authfile: Path) -> None:
    """`aws ecr get-login-password | skopeo login -u AWS --password-stdin`, the way the ECR guide says."""
    password = aws_cli(server, "ecr", "get-login-password")
    assert password.returncode == 0, password.stderr
    logged_in = subprocess.run(
        [
            "skopeo",
            "login",
            "--tls-verify=false",
            "--authfile",
            str(authfile),
            "-u",
            "AWS",
            "--password-stdin",
            server.address,
        ],
        input=password.stdout.strip(),
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )
    assert logged_in.returncode == 0, logged_in.stderr


@pytest.fixture(scope="module")
def authfile(server: PullcacheServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("skopeo") / "auth.json"
    login(server, path)
    return path


def copy(source: str, destination: str, *options: str) -> None:
    skopeo.run("copy", "--quiet", "--preserve-digests", *skopeo.NO_TLS, *options, source, destination)


# -- repositories -------------------------------------------------------------------------------------------


def test_a_created_repository_is_described_with_everything_it_was_created_with(
    server: PullcacheServer, ecr: Any
) -> None:
    name = f"team/{uuid.uuid4().hex[:12]}"
    created = ecr.create_repository(
        repositoryName=name,
        tags=[{"Key": "team", "Value": "platform"}],
        imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "dev-*"}],
        imageScanningConfiguration={"scanOnPush": True},
        encryptionConfiguration={"encryptionType": "KMS", "kmsKey": "arn:aws:kms:us-east-1:000000000000:key/k"},
    )["repository"]

    [described] = ecr.describe_repositories(repositoryNames=[name])["repositories"]
    assert described == created
    assert described["repositoryArn"] == f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{name}"
    assert described["repositoryUri"] == f"{server.address}/{name}"  # where the API call arrived
    assert described["registryId"] == ACCOUNT
    assert described["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert described["imageTagMutabilityExclusionFilters"] == [{"filterType": "WILDCARD", "filter": "dev-*"}]
    assert described["imageScanningConfiguration"] == {"scanOnPush": True}
    assert described["encryptionConfiguration"]["encryptionType"] == "KMS"
    assert abs(described["createdAt"] - datetime.now(UTC)) < timedelta(minutes=1)
    tags = ecr.list_tags_for_resource(resourceArn=described["repositoryArn"])["tags"]
    assert tags == [{"Key": "team", "Value": "platform"}]


def test_repository_errors_have_ecrs_codes(ecr: Any, repository: str) -> None:
    missing = "team/never-created"
    assert code_of(ecr.create_repository, repositoryName=repository) == "RepositoryAlreadyExistsException"
    assert code_of(ecr.describe_repositories, repositoryNames=[missing]) == "RepositoryNotFoundException"
    assert code_of(ecr.delete_repository, repositoryName=missing) == "RepositoryNotFoundException"
    assert code_of(ecr.create_repository, repositoryName="Bad_Name!") == "InvalidParameterException"
    invalid = error_of(ecr.describe_repositories, maxResults=1001)["Error"]
    assert invalid["Code"] == "InvalidParameterException"
    assert invalid["Message"] == (
        "Invalid parameter at 'maxResults' failed to satisfy constraint: "
        "'Member must have value less than or equal to 1000'"
    )
    not_found = error_of(ecr.list_images, repositoryName=missing)["Error"]
    assert (
        not_found["Message"]
        == f"The repository with name '{missing}' does not exist in the registry with id '{ACCOUNT}'"
    )


def test_a_repository_with_images_is_deleted_only_by_force(ecr: Any, repository: str) -> None:
    put_image(ecr, repository, "delete-me", "1.0")

    assert code_of(ecr.delete_repository, repositoryName=repository) == "RepositoryNotEmptyException"
    deleted = ecr.delete_repository(repositoryName=repository, force=True)["repository"]

    assert deleted["repositoryName"] == repository
    assert code_of(ecr.describe_repositories, repositoryNames=[repository]) == "RepositoryNotFoundException"


def test_describe_repositories_paginates_with_next_token(ecr: Any) -> None:
    prefix = f"paged-{uuid.uuid4().hex[:8]}"
    names = [f"{prefix}/r{i}" for i in range(5)]
    for name in names:
        ecr.create_repository(repositoryName=name)

    paginator = ecr.get_paginator("describe_repositories")
    seen = [
        r["repositoryName"]
        for page in paginator.paginate(PaginationConfig={"PageSize": 2})
        for r in page["repositories"]
    ]

    assert [name for name in seen if name.startswith(prefix)] == names
    assert len(seen) == len(set(seen))


def test_tag_mutability_is_changed_and_returned(ecr: Any, repository: str) -> None:
    changed = ecr.put_image_tag_mutability(
        repositoryName=repository,
        imageTagMutability="MUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "release-*"}],
    )

    assert changed["imageTagMutability"] == "MUTABLE_WITH_EXCLUSION"
    assert changed["registryId"] == ACCOUNT
    [described] = ecr.describe_repositories(repositoryNames=[repository])["repositories"]
    assert described["imageTagMutabilityExclusionFilters"] == [{"filterType": "WILDCARD", "filter": "release-*"}]
    assert (
        code_of(ecr.put_image_tag_mutability, repositoryName=repository, imageTagMutability="IMMUTABLE_WITH_EXCLUSION")
        == "InvalidParameterException"
    )


# -- policies, registry, tags -------------------------------------------------------------------------------

PULL_FOR_EVERYONE: Final = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AnonymousPull",
                "Effect": "Allow",
                "Principal": "*",
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            }
        ],
    }
)


def test_a_repository_policy_is_set_got_and_deleted(ecr: Any, repository: str) -> None:
    assert code_of(ecr.get_repository_policy, repositoryName=repository) == "RepositoryPolicyNotFoundException"

    set_policy = ecr.set_repository_policy(repositoryName=repository, policyText=PULL_FOR_EVERYONE)
    got = ecr.get_repository_policy(repositoryName=repository)
    deleted = ecr.delete_repository_policy(repositoryName=repository)

    for answer in (set_policy, got, deleted):
        assert (answer["registryId"], answer["repositoryName"], answer["policyText"]) == (
            ACCOUNT,
            repository,
            PULL_FOR_EVERYONE,
        )
    assert code_of(ecr.delete_repository_policy, repositoryName=repository) == "RepositoryPolicyNotFoundException"
    assert code_of(ecr.set_repository_policy, repositoryName="team/none", policyText=PULL_FOR_EVERYONE) == (
        "RepositoryNotFoundException"
    )


def test_a_malformed_repository_policy_is_refused_in_ecrs_words(ecr: Any, repository: str) -> None:
    no_principal = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecr:*"}]})

    for text in ("not json", no_principal):
        error = error_of(ecr.set_repository_policy, repositoryName=repository, policyText=text)["Error"]
        assert error["Code"] == "InvalidParameterException"
        assert error["Message"] == (
            "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided'"
        )


def test_the_registry_policy_is_put_got_and_deleted(ecr: Any) -> None:
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "ecr:*"}
            ],
        }
    )
    assert code_of(ecr.get_registry_policy) == "RegistryPolicyNotFoundException"

    put = ecr.put_registry_policy(policyText=policy)
    got = ecr.get_registry_policy()
    deleted = ecr.delete_registry_policy()

    for answer in (put, got, deleted):
        assert (answer["registryId"], answer["policyText"]) == (ACCOUNT, policy)
    assert code_of(ecr.delete_registry_policy) == "RegistryPolicyNotFoundException"


def test_describe_registry_names_the_account(ecr: Any) -> None:
    described = ecr.describe_registry()

    assert described["registryId"] == ACCOUNT
    assert described["replicationConfiguration"] == {"rules": []}


def test_resource_tags_are_added_listed_and_removed_by_arn(ecr: Any, repository: str) -> None:
    arn = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{repository}"

    ecr.tag_resource(resourceArn=arn, tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    ecr.untag_resource(resourceArn=arn, tagKeys=["a"])

    assert ecr.list_tags_for_resource(resourceArn=arn)["tags"] == [{"Key": "b", "Value": "2"}]
    assert code_of(ecr.tag_resource, resourceArn=arn, tags=[{"Key": "aws:x", "Value": "1"}]) == (
        "InvalidTagParameterException"
    )
    too_many = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]
    assert code_of(ecr.tag_resource, resourceArn=arn, tags=too_many) == "TooManyTagsException"
    bad_arn = error_of(ecr.list_tags_for_resource, resourceArn="arn:aws:s3:::bucket")["Error"]
    assert (bad_arn["Code"], bad_arn["Message"]) == (
        "InvalidParameterException",
        "Invalid parameter at 'resourceArn' failed to satisfy constraint: 'Invalid ARN'",
    )
    missing = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/team/none"
    assert code_of(ecr.list_tags_for_resource, resourceArn=missing) == "RepositoryNotFoundException"


# -- images -------------------------------------------------------------------------------------------------


def test_put_image_errors_have_ecrs_codes(ecr: Any, repository: str) -> None:
    manifest = put_image(ecr, repository, "errors", "1.0")
    missing_layers = encode(image_manifest(descriptor(b"{}", OCI_CONFIG), [descriptor(b"absent", OCI_LAYER)]))

    assert code_of(ecr.put_image, repositoryName=repository, imageManifest=manifest, imageTag="1.0") == (
        "ImageAlreadyExistsException"
    )
    assert (
        code_of(ecr.put_image, repositoryName=repository, imageManifest=missing_layers.decode(), imageTag="2.0")
        == "LayersNotFoundException"
    )
    assert (
        code_of(ecr.put_image, repositoryName=repository, imageManifest=manifest, imageDigest="sha256:" + "0" * 64)
        == "ImageDigestDoesNotMatchException"
    )
    assert code_of(ecr.put_image, repositoryName="team/none", imageManifest=manifest) == ("RepositoryNotFoundException")


def test_an_image_put_through_the_api_is_described_and_pulls_with_skopeo(
    ecr: Any, repository: str, server: PullcacheServer, authfile: Path, tmp_path: Path
) -> None:
    manifest = put_image(ecr, repository, "api-put", "1.0")
    pulled = OciLayout(tmp_path / "pulled")

    copy(
        skopeo.docker_reference(server.address, repository, "1.0"), pulled.reference("1.0"), "--authfile", str(authfile)
    )

    assert pulled.read_tree("1.0").digest == str(Digest.of(manifest.encode()))
    [image] = ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageTag": "1.0"}])["images"]
    assert image["imageManifest"] == manifest
    assert image["imageId"] == {"imageDigest": str(Digest.of(manifest.encode())), "imageTag": "1.0"}
    assert image["imageManifestMediaType"] == OCI.manifest


def test_a_skopeo_push_shows_in_describe_images_with_digest_tags_size_and_pull_time(
    ecr: Any, repository: str, server: PullcacheServer, authfile: Path, tmp_path: Path
) -> None:
    layout = OciLayout(tmp_path / "source")
    tree = write_image(layout, "v1", (1024, 4096), seed=41)
    destination = skopeo.docker_reference(server.address, repository, "v1")
    copy(layout.reference("v1"), destination, "--authfile", str(authfile))
    copy(
        layout.reference("v1"),
        skopeo.docker_reference(server.address, repository, "stable"),
        "--authfile",
        str(authfile),
    )
    manifest = json.loads((layout.root / "blobs" / "sha256" / tree.digest.split(":")[1]).read_bytes())
    expected_size = manifest["config"]["size"] + sum(layer["size"] for layer in manifest["layers"])

    [before] = ecr.describe_images(repositoryName=repository)["imageDetails"]
    copy(destination, OciLayout(tmp_path / "pulled").reference("v1"), "--authfile", str(authfile))
    time.sleep(5 * PULL_FLUSH_INTERVAL)  # pulls are written in the background, every flush interval
    described = cli_json(server, "ecr", "describe-images", "--repository-name", repository)["imageDetails"]

    assert "lastRecordedPullTime" not in before
    [image] = described
    assert image["imageDigest"] == tree.digest
    assert sorted(image["imageTags"]) == ["stable", "v1"]
    assert image["imageSizeInBytes"] == expected_size
    assert image["imageManifestMediaType"] == OCI.manifest
    assert image["artifactMediaType"] == OCI.config
    assert image["registryId"] == ACCOUNT
    assert "imagePushedAt" in image
    assert "lastRecordedPullTime" in image


def test_list_images_filters_by_tag_status(ecr: Any, repository: str) -> None:
    tagged = put_image(ecr, repository, "tagged", "1.0")
    untagged = put_image(ecr, repository, "untagged")

    def ids(status: str) -> list[dict[str, str]]:
        return list(ecr.list_images(repositoryName=repository, filter={"tagStatus": status})["imageIds"])

    assert ids("TAGGED") == [{"imageDigest": str(Digest.of(tagged.encode())), "imageTag": "1.0"}]
    assert ids("UNTAGGED") == [{"imageDigest": str(Digest.of(untagged.encode()))}]
    assert len(ids("ANY")) == 2


def test_describe_images_of_an_image_that_is_not_there_is_image_not_found(ecr: Any, repository: str) -> None:
    error = error_of(ecr.describe_images, repositoryName=repository, imageIds=[{"imageTag": "none"}])["Error"]

    assert error["Code"] == "ImageNotFoundException"
    assert error["Message"] == (
        "The image with imageId {imageDigest:'null', imageTag:'none'} does not exist within the repository with "
        f"name '{repository}' in the registry with id '{ACCOUNT}'"
    )


def test_batch_get_and_delete_report_failures_not_errors(ecr: Any, repository: str) -> None:
    manifest = put_image(ecr, repository, "batch", "1.0")
    digest = str(Digest.of(manifest.encode()))

    got = ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageTag": "1.0"}, {"imageTag": "nope"}])
    deleted = ecr.batch_delete_image(repositoryName=repository, imageIds=[{"imageTag": "1.0"}, {"imageTag": "nope"}])

    assert [image["imageId"]["imageTag"] for image in got["images"]] == ["1.0"]
    assert got["failures"] == [
        {"imageId": {"imageTag": "nope"}, "failureCode": "ImageNotFound", "failureReason": "Requested image not found"}
    ]
    assert deleted["imageIds"] == [{"imageDigest": digest, "imageTag": "1.0"}]
    assert deleted["failures"] == [
        {"imageId": {"imageTag": "nope"}, "failureCode": "ImageNotFound", "failureReason": "Requested image not found"}
    ]
    assert ecr.list_images(repositoryName=repository)["imageIds"] == []  # its last tag went: the image went too


def test_paginators_walk_a_thousand_images(ecr: Any, repository: str) -> None:
    config, layer = b'{"seed": "many"}', b"one layer for all"
    for blob in (config, layer):
        put_layer(ecr, repository, blob)
    digests = set()
    for i in range(1000):
        document = image_manifest(
            descriptor(config, OCI_CONFIG), [descriptor(layer, OCI_LAYER)], annotations={"n": str(i)}
        )
        manifest = encode(document).decode()
        ecr.put_image(repositoryName=repository, imageManifest=manifest, imageTag=f"t{i:04d}")
        digests.add(str(Digest.of(manifest.encode())))

    listed = [
        (image["imageDigest"], image["imageTag"])
        for page in ecr.get_paginator("list_images").paginate(
            repositoryName=repository, PaginationConfig={"PageSize": 300}
        )
        for image in page["imageIds"]
    ]
    pages = list(ecr.get_paginator("describe_images").paginate(repositoryName=repository))
    described = [detail["imageDigest"] for page in pages for detail in page["imageDetails"]]

    assert len(listed) == 1000
    assert {digest for digest, _ in listed} == digests
    assert {tag for _, tag in listed} == {f"t{i:04d}" for i in range(1000)}
    assert len(pages) == 10  # ECR's page is 100 images when maxResults is not given
    assert sorted(described) == sorted(digests)


# -- tag immutability ---------------------------------------------------------------------------------------


def test_an_immutable_tag_is_not_overwritten_through_the_api_or_by_skopeo(
    ecr: Any, server: PullcacheServer, authfile: Path, tmp_path: Path
) -> None:
    name = f"team/{uuid.uuid4().hex[:12]}"
    ecr.create_repository(repositoryName=name, imageTagMutability="IMMUTABLE")
    first = put_image(ecr, name, "first", "1.0")
    second = put_image(ecr, name, "second")
    layout = OciLayout(tmp_path / "other")
    write_image(layout, "1.0", (512,), seed=7)

    error = error_of(ecr.put_image, repositoryName=name, imageManifest=second, imageTag="1.0")["Error"]
    with pytest.raises(skopeo.SkopeoFailed, match="tag invalid"):
        copy(layout.reference("1.0"), skopeo.docker_reference(server.address, name, "1.0"), "--authfile", str(authfile))

    assert error["Code"] == "ImageTagAlreadyExistsException"
    assert error["Message"] == (
        f"The image tag '1.0' already exists in the '{name}' repository and cannot be overwritten because the tag "
        "is immutable."
    )
    [image] = ecr.batch_get_image(repositoryName=name, imageIds=[{"imageTag": "1.0"}])["images"]
    assert image["imageManifest"] == first


def test_a_manifest_put_to_an_immutable_tag_is_tag_invalid_on_v2(
    ecr: Any, server: PullcacheServer, authorization: str
) -> None:
    name = f"team/{uuid.uuid4().hex[:12]}"
    ecr.create_repository(repositoryName=name, imageTagMutability="IMMUTABLE")
    put_image(ecr, name, "first", "1.0")
    second = put_image(ecr, name, "second")

    put = urllib.request.Request(
        f"{server.url}/v2/{name}/manifests/1.0",
        data=second.encode(),
        method="PUT",
        headers={"Authorization": authorization, "Content-Type": OCI.manifest},
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(put, timeout=30)
    reply = error_reply("PUT", raised.value)

    assert reply.status == 400
    assert reply.error_codes == ["TAG_INVALID"]


# -- layers -------------------------------------------------------------------------------------------------


def test_layer_api_errors_have_ecrs_codes(ecr: Any, repository: str) -> None:
    upload_id = ecr.initiate_layer_upload(repositoryName=repository)["uploadId"]
    ecr.upload_layer_part(
        repositoryName=repository, uploadId=upload_id, partFirstByte=0, partLastByte=4, layerPartBlob=b"hello"
    )

    out_of_order = error_of(
        ecr.upload_layer_part,
        repositoryName=repository,
        uploadId=upload_id,
        partFirstByte=0,
        partLastByte=4,
        layerPartBlob=b"hello",
    )
    assert out_of_order["Error"]["Code"] == "InvalidLayerPartException"
    assert out_of_order["lastValidByteReceived"] == 4
    assert out_of_order["uploadId"] == upload_id
    assert (
        code_of(
            ecr.complete_layer_upload,
            repositoryName=repository,
            uploadId=upload_id,
            layerDigests=[str(Digest.of(b"other"))],
        )
        == "InvalidLayerException"
    )
    unknown = str(uuid.uuid4())
    assert (
        code_of(
            ecr.upload_layer_part,
            repositoryName=repository,
            uploadId=unknown,
            partFirstByte=0,
            partLastByte=0,
            layerPartBlob=b"x",
        )
        == "UploadNotFoundException"
    )
    empty = ecr.initiate_layer_upload(repositoryName=repository)["uploadId"]
    assert (
        code_of(
            ecr.complete_layer_upload, repositoryName=repository, uploadId=empty, layerDigests=[str(Digest.of(b""))]
        )
        == "EmptyUploadException"
    )
    digest = put_layer(ecr, repository, b"present")
    again = ecr.initiate_layer_upload(repositoryName=repository)["uploadId"]
    ecr.upload_layer_part(
        repositoryName=repository, uploadId=again, partFirstByte=0, partLastByte=6, layerPartBlob=b"present"
    )
    assert (
        code_of(ecr.complete_layer_upload, repositoryName=repository, uploadId=again, layerDigests=[digest])
        == "LayerAlreadyExistsException"
    )


def test_layer_availability_tells_size_or_why_not(ecr: Any, repository: str) -> None:
    digest = put_layer(ecr, repository, b"available layer")

    checked = ecr.batch_check_layer_availability(
        repositoryName=repository, layerDigests=[digest, str(Digest.of(b"absent"))]
    )

    assert checked["layers"] == [{"layerDigest": digest, "layerAvailability": "AVAILABLE", "layerSize": 15}]
    assert checked["failures"] == [
        {
            "layerDigest": str(Digest.of(b"absent")),
            "failureCode": "MissingLayerDigest",
            "failureReason": "Could not find layer",
        }
    ]


def test_a_download_url_downloads_the_layer_without_credentials(ecr: Any, repository: str) -> None:
    data = b"downloadable layer" * 1000
    digest = put_layer(ecr, repository, data)

    answer = ecr.get_download_url_for_layer(repositoryName=repository, layerDigest=digest)
    downloaded = request("GET", answer["downloadUrl"])
    tampered = request("GET", answer["downloadUrl"][:-2] + "xx")
    other = put_layer(ecr, repository, b"another layer")
    elsewhere = request("GET", answer["downloadUrl"].replace(digest, other))

    assert answer["layerDigest"] == digest
    assert downloaded.status == 200
    assert downloaded.body == data
    assert (tampered.status, elsewhere.status) == (401, 401)
    assert code_of(ecr.get_download_url_for_layer, repositoryName=repository, layerDigest=str(Digest.of(b"no"))) == (
        "LayersNotFoundException"
    )


# -- /v2/ authentication and scopes -------------------------------------------------------------------------


def test_get_authorization_token_is_base64_of_aws_and_a_token_valid_twelve_hours(
    ecr: Any, server: PullcacheServer
) -> None:
    [data] = ecr.get_authorization_token()["authorizationData"]

    user, _, token = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    assert user == "AWS"
    assert token
    assert data["proxyEndpoint"] == server.url
    assert timedelta(hours=11, minutes=59) < data["expiresAt"] - datetime.now(UTC) <= timedelta(hours=12)


def test_v2_without_credentials_is_challenged_to_authenticate(server: PullcacheServer, repository: str) -> None:
    for path in ("", f"{repository}/tags/list", f"{repository}/manifests/latest", "_catalog"):
        reply = v2(server, "GET", path)
        assert reply.status == 401, path
        assert reply.error_codes == ["UNAUTHORIZED"]
        assert reply.headers["WWW-Authenticate"] == (f'Basic realm="{server.url}/",service="ecr.amazonaws.com"')


def test_v2_with_a_bad_token_is_unauthorized_and_with_a_token_is_served(
    server: PullcacheServer, authorization: str
) -> None:
    bad = "Basic " + base64.b64encode(b"AWS:r1.forged.token").decode()

    assert v2(server, "GET", "", bad).status == 401
    assert v2(server, "GET", "", authorization).status == 200


def test_a_repository_policy_for_everyone_lets_anonymous_clients_pull(
    ecr: Any, repository: str, server: PullcacheServer, tmp_path: Path
) -> None:
    manifest = put_image(ecr, repository, "public", "1.0")
    ecr.set_repository_policy(repositoryName=repository, policyText=PULL_FOR_EVERYONE)
    private = f"team/{uuid.uuid4().hex[:12]}"
    ecr.create_repository(repositoryName=private)
    put_image(ecr, private, "private", "1.0")

    pulled = OciLayout(tmp_path / "pulled")
    copy(skopeo.docker_reference(server.address, repository, "1.0"), pulled.reference("1.0"), "--src-no-creds")

    assert pulled.read_tree("1.0").digest == str(Digest.of(manifest.encode()))
    assert v2(server, "GET", f"{repository}/manifests/1.0", Accept=OCI.manifest).status == 200
    assert v2(server, "PUT", f"{repository}/manifests/2.0").status == 401  # pull only
    assert v2(server, "GET", f"{private}/manifests/1.0").status == 401
    with pytest.raises(skopeo.SkopeoFailed):
        copy(
            skopeo.docker_reference(server.address, private, "1.0"),
            OciLayout(tmp_path / "denied").reference("1.0"),
            "--src-no-creds",
        )


def test_an_ecr_style_host_picks_the_account_and_region_of_the_request(server: PullcacheServer, tmp_path: Path) -> None:
    other_region = "eu-west-1"
    regional = client(server, "ecr", region_name=other_region)
    name = f"team/{uuid.uuid4().hex[:12]}"
    regional.create_repository(repositoryName=name)
    manifest = put_image(regional, name, "regional", "1.0")
    authorization = registry_authorization(server, region_name=other_region)
    host = f"{ACCOUNT}.dkr.ecr.{other_region}.localhost:{server.port}"

    scoped = v2(server, "GET", f"{name}/manifests/1.0", authorization, Host=host, Accept=OCI.manifest)
    default = v2(server, "GET", f"{name}/manifests/1.0", authorization, Accept=OCI.manifest)

    assert scoped.status == 200
    assert scoped.body == manifest.encode()
    assert (default.status, default.error_codes) == (404, ["NAME_UNKNOWN"])  # no such repository in us-east-1
    assert code_of(client(server, "ecr").describe_repositories, repositoryNames=[name]) == (
        "RepositoryNotFoundException"
    )


def test_the_cli_login_password_works_for_skopeo_login(server: PullcacheServer, tmp_path: Path) -> None:
    authfile = tmp_path / "auth.json"

    login(server, authfile)

    auths = json.loads(authfile.read_text())["auths"]
    user, _, password = base64.b64decode(auths[server.address]["auth"]).decode().partition(":")
    assert user == "AWS"
    assert v2(server, "GET", "", "Basic " + base64.b64encode(f"AWS:{password}".encode()).decode()).status == 200
