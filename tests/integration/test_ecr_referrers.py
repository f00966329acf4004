"""Referrers through ECR's API: DescribeImages names a referrer's subject and media types, ListImageReferrers lists
the artifacts that refer to an image, with boto3 and the aws CLI against a live server.

The members are the model's (botocore's ECR model: ImageDetail.subjectManifestDigest, artifactMediaType,
imageManifestMediaType; ListImageReferrers' ImageReferrer).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any, Final

import pytest
from botocore.exceptions import ClientError

from pullcache.core import mediatypes
from pullcache.core.digests import Digest
from testkit.aws_clients import ACCOUNT, cli_json, client
from testkit.servers import PullcacheServer
from tests.oci_documents import OCI_CONFIG, OCI_LAYER, descriptor, encode, image_manifest

EMPTY_CONFIG: Final = "application/vnd.oci.empty.v1+json"
SBOM: Final = "application/vnd.example.sbom.v1+json"
SIGNATURE: Final = "application/vnd.example.signature.v1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    running = PullcacheServer(tmp_path_factory.mktemp("referrers") / "data", anonymous_registry=False).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def ecr(server: PullcacheServer) -> Any:
    return client(server, "ecr")


def put_blob(ecr: Any, repository: str, data: bytes) -> None:
    digest = str(Digest.of(data))
    if not ecr.batch_check_layer_availability(repositoryName=repository, layerDigests=[digest])["failures"]:
        return
    upload_id = ecr.initiate_layer_upload(repositoryName=repository)["uploadId"]
    ecr.upload_layer_part(
        repositoryName=repository, uploadId=upload_id, partFirstByte=0, partLastByte=len(data) - 1, layerPartBlob=data
    )
    ecr.complete_layer_upload(repositoryName=repository, uploadId=upload_id, layerDigests=[digest])


def put_manifest(ecr: Any, repository: str, config: tuple[bytes, str], layer: bytes, **fields: Any) -> bytes:
    """PutImage of a manifest whose config and one layer go through the layer API first; returns its bytes."""
    for blob in (config[0], layer):
        put_blob(ecr, repository, blob)
    manifest = encode(image_manifest(descriptor(config[0], config[1]), [descriptor(layer, OCI_LAYER)], **fields))
    ecr.put_image(repositoryName=repository, imageManifest=manifest.decode())
    return manifest


@pytest.fixture
def images(ecr: Any) -> tuple[str, bytes, bytes, bytes]:
    """A repository with an image and two artifacts referring to it (an SBOM, a signature)."""
    name = f"team/{uuid.uuid4().hex[:12]}"
    ecr.create_repository(repositoryName=name)
    subject = put_manifest(ecr, name, (json.dumps({"seed": name}).encode(), OCI_CONFIG), b"layer " + name.encode())
    subject_descriptor = descriptor(subject, mediatypes.OCI_MANIFEST)
    sbom = put_manifest(
        ecr,
        name,
        (b"{}", EMPTY_CONFIG),
        b"sbom of " + name.encode(),
        artifactType=SBOM,
        subject=subject_descriptor,
        annotations={"org.opencontainers.image.created": "2026-12-07T00:00:00Z"},
    )
    signature = put_manifest(
        ecr,
        name,
        (b"{}", EMPTY_CONFIG),
        b"signature of " + name.encode(),
        artifactType=SIGNATURE,
        subject=subject_descriptor,
    )
    return name, subject, sbom, signature


def digest_of(manifest: bytes) -> str:
    return str(Digest.of(manifest))


def test_describe_images_names_a_referrers_subject_and_media_types(
    ecr: Any, images: tuple[str, bytes, bytes, bytes]
) -> None:
    name, subject, sbom, _ = images

    [referrer] = ecr.describe_images(repositoryName=name, imageIds=[{"imageDigest": digest_of(sbom)}])["imageDetails"]
    [image] = ecr.describe_images(repositoryName=name, imageIds=[{"imageDigest": digest_of(subject)}])["imageDetails"]

    assert referrer["subjectManifestDigest"] == digest_of(subject)
    assert referrer["imageManifestMediaType"] == mediatypes.OCI_MANIFEST
    assert referrer["artifactMediaType"] == EMPTY_CONFIG  # the config's media type, as for every image
    assert "subjectManifestDigest" not in image
    assert (image["imageManifestMediaType"], image["artifactMediaType"]) == (mediatypes.OCI_MANIFEST, OCI_CONFIG)


def test_list_image_referrers_lists_the_artifacts_of_a_subject(
    ecr: Any, images: tuple[str, bytes, bytes, bytes]
) -> None:
    name, subject, sbom, signature = images

    listed = ecr.list_image_referrers(repositoryName=name, subjectId={"imageDigest": digest_of(subject)})

    assert listed["referrers"] == [
        {
            "digest": digest_of(sbom),
            "mediaType": mediatypes.OCI_MANIFEST,
            "artifactType": SBOM,
            "size": len(sbom),
            "annotations": {"org.opencontainers.image.created": "2026-12-07T00:00:00Z"},
            "artifactStatus": "ACTIVE",
        },
        {
            "digest": digest_of(signature),
            "mediaType": mediatypes.OCI_MANIFEST,
            "artifactType": SIGNATURE,
            "size": len(signature),
            "artifactStatus": "ACTIVE",
        },
    ]
    assert "nextToken" not in listed


def test_list_image_referrers_filters_and_pages(ecr: Any, images: tuple[str, bytes, bytes, bytes]) -> None:
    name, subject, sbom, signature = images
    subject_id = {"imageDigest": digest_of(subject)}

    signatures = ecr.list_image_referrers(
        repositoryName=name, subjectId=subject_id, filter={"artifactTypes": [SIGNATURE]}
    )
    archived = ecr.list_image_referrers(
        repositoryName=name, subjectId=subject_id, filter={"artifactStatus": "ARCHIVED"}
    )
    first = ecr.list_image_referrers(repositoryName=name, subjectId=subject_id, maxResults=1)
    second = ecr.list_image_referrers(
        repositoryName=name, subjectId=subject_id, maxResults=1, nextToken=first["nextToken"]
    )
    none = ecr.list_image_referrers(repositoryName=name, subjectId={"imageDigest": digest_of(sbom)})

    assert [r["digest"] for r in signatures["referrers"]] == [digest_of(signature)]
    assert archived["referrers"] == []  # nothing is ever archived here
    assert [r["digest"] for r in first["referrers"] + second["referrers"]] == [digest_of(sbom), digest_of(signature)]
    assert "nextToken" not in second
    assert none["referrers"] == []


def test_the_aws_cli_lists_image_referrers(server: PullcacheServer, images: tuple[str, bytes, bytes, bytes]) -> None:
    name, subject, sbom, signature = images

    listed = cli_json(
        server,
        "ecr",
        "list-image-referrers",
        "--repository-name",
        name,
        "--subject-id",
        f"imageDigest={digest_of(subject)}",
    )

    assert [(r["digest"], r["artifactType"]) for r in listed["referrers"]] == [
        (digest_of(sbom), SBOM),
        (digest_of(signature), SIGNATURE),
    ]


def test_list_image_referrers_of_a_repository_that_does_not_exist(ecr: Any) -> None:
    with pytest.raises(ClientError) as raised:
        ecr.list_image_referrers(repositoryName="team/never-created", subjectId={"imageDigest": "sha256:" + "0" * 64})

    assert raised.value.response["Error"]["Code"] == "RepositoryNotFoundException"
    assert raised.value.response["Error"]["Message"] == (
        f"The repository with name 'team/never-created' does not exist in the registry with id '{ACCOUNT}'"
    )
