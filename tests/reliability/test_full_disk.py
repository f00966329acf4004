"""A full disk: a real server whose data dir is a small tmpfs, filled up by another file.

Reads go on (manifests, blobs, the ECR reads); a push is refused in each protocol's shape (507 UNSUPPORTED on /v2/;
on ECR UploadNotFoundException for a layer upload the refusal discarded, LimitExceededException for other writes,
each saying the storage is full) and leaves nothing staged behind; once the file is gone, pushes work again, and
every blob stored is still the content its digest names.
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import pytest
from botocore.exceptions import ClientError

from pullcache.core import mediatypes
from testkit.aws_clients import client
from testkit.registry_client import Content, RegistryClient, UploadStyle
from testkit.servers import PullcacheServer
from tests.oci_documents import OCI_CONFIG, OCI_LAYER, descriptor, encode, image_manifest
from tests.reliability.conftest import Record
from tests.tmpfs import mounted_tmpfs, used_bytes

MIB: Final = 1 << 20
DISK_BYTES: Final = 64 * MIB
REPOSITORY: Final = "reliability/full-disk"
PUSH_BYTES: Final = MIB  # far more than a full disk has room for: the first write of it is refused
FILLER_CHUNKS: Final = (MIB, 4096)  # big writes until refused, then page-sized ones: not a page left


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PullcacheServer]:
    """A server whose data dir is the whole tmpfs (its log lies beside it, off the small disk)."""
    with mounted_tmpfs(tmp_path / "disk", DISK_BYTES) as disk:
        running = PullcacheServer(disk).start()
        try:
            yield running
        finally:
            running.stop()


def image(seed: bytes) -> tuple[list[Content], Content]:
    """Two layers and a config (the blobs), and the manifest naming them."""
    layers = [Content(OCI_LAYER, hashlib.sha256(seed + bytes([n])).digest() * (n * 32 * 1024)) for n in (1, 2)]
    config = Content(OCI_CONFIG, b'{"seed": "' + seed.hex().encode() + b'"}')
    document = image_manifest(
        descriptor(config.data, OCI_CONFIG), [descriptor(layer.data, OCI_LAYER) for layer in layers]
    )
    return [*layers, config], Content(mediatypes.OCI_MANIFEST, encode(document))


def fill_up(path: Path) -> None:
    """Write to `path` until the disk refuses every byte more."""
    with path.open("wb", buffering=0) as filler:
        for size in FILLER_CHUNKS:
            block = b"\0" * size
            while True:
                try:
                    filler.write(block)
                except OSError as error:
                    if error.errno != errno.ENOSPC:
                        raise
                    break


def error_code(call: Callable[[], object]) -> str | None:
    """The AWS error code `call` is answered with, or None when it succeeds."""
    try:
        call()
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    return None


def staged_leftovers(disk: Path) -> list[str]:
    return [
        f"{directory}/{name}"
        for directory in ("uploads", "fills")
        if (disk / directory).exists()
        for name in os.listdir(disk / directory)
    ]


def assert_every_blob_is_its_digest(disk: Path) -> int:
    """Hash every committed blob; returns how many there are."""
    count = 0
    for algorithm in (disk / "blobs").iterdir():
        for path in algorithm.glob("*/*"):
            assert hashlib.new(algorithm.name, path.read_bytes()).hexdigest() == path.name, path
            count += 1
    return count


async def assert_reads_answered(registry: RegistryClient, ecr: Any, blobs: list[Content], manifest: Content) -> None:
    for method in ("GET", "HEAD"):
        for reference in ("v1", manifest.digest):
            reply = await registry.request(method, f"/v2/{REPOSITORY}/manifests/{reference}")
            assert reply.status == 200, reply
    assert await registry.get_manifest(REPOSITORY, "v1") == (manifest.data, manifest.digest)
    for blob in blobs:
        assert (await registry.pull_blob(REPOSITORY, blob.digest)).digest == blob.digest
    image_id = {"imageTag": "v1"}
    got = ecr.batch_get_image(repositoryName=REPOSITORY, imageIds=[image_id])
    assert got["failures"] == []
    assert got["images"][0]["imageManifest"].encode() == manifest.data
    assert ecr.describe_images(repositoryName=REPOSITORY)["imageDetails"]
    assert {"imageDigest": manifest.digest, "imageTag": "v1"} in ecr.list_images(repositoryName=REPOSITORY)["imageIds"]
    url = ecr.get_download_url_for_layer(repositoryName=REPOSITORY, layerDigest=blobs[0].digest)["downloadUrl"]
    assert (await registry.download(url)).digest == blobs[0].digest


async def test_a_full_disk_refuses_pushes_keeps_serving_reads_and_recovers(
    server: PullcacheServer, record: Record
) -> None:
    disk = server.data_dir
    ecr = client(server, "ecr")
    blobs, manifest = image(b"before")
    async with RegistryClient.connect(server.url) as registry:
        await registry.push_all(REPOSITORY, blobs)
        await registry.push_manifest(REPOSITORY, manifest, "v1")
        data = os.urandom(PUSH_BYTES)
        location = await registry.start_upload(REPOSITORY)  # begun while there was room
        upload_id = ecr.initiate_layer_upload(repositoryName=REPOSITORY)["uploadId"]

        fill_up(disk / "filler")
        full = used_bytes(disk)

        await assert_reads_answered(registry, ecr, blobs, manifest)

        chunked = await registry.patch_chunk(location, data, 0)
        assert chunked.status == 507, chunked
        assert chunked.error_codes == ["UNSUPPORTED"]
        message = chunked.json()["errors"][0]["message"]
        assert "storage is full" in message
        assert "started again" in message
        assert (await registry.request("GET", location)).status == 404  # the upload is gone: start again
        whole = await registry.request(
            "POST", f"/v2/{REPOSITORY}/blobs/uploads/", body=data, query={"digest": Content(OCI_LAYER, data).digest}
        )
        assert whole.status == 507, whole
        assert whole.error_codes == ["UNSUPPORTED"]

        with pytest.raises(ClientError) as refused:
            ecr.upload_layer_part(
                repositoryName=REPOSITORY,
                uploadId=upload_id,
                partFirstByte=0,
                partLastByte=len(data) - 1,
                layerPartBlob=data,
            )
        # What the SDK's retries would end with anyway (the upload is gone), saying why.
        assert refused.value.response["Error"]["Code"] == "UploadNotFoundException"
        assert "storage is full" in refused.value.response["Error"]["Message"]
        # A metadata write: refused alike when the database cannot grow (it may still have room in its log).
        assert error_code(lambda: ecr.create_repository(repositoryName=f"{REPOSITORY}-more")) in (
            None,
            "LimitExceededException",
        )

        assert staged_leftovers(disk) == []
        assert used_bytes(disk) <= full
        await assert_reads_answered(registry, ecr, blobs, manifest)
        assert not [status for status in registry.statuses if status >= 500 and status != 507]

        (disk / "filler").unlink()
        more_blobs, more = image(b"after")
        await registry.push_blob(REPOSITORY, data, style=UploadStyle.CHUNKED)
        await registry.push_all(REPOSITORY, more_blobs)
        await registry.push_manifest(REPOSITORY, more, "v2")
        assert await registry.get_manifest(REPOSITORY, "v2") == (more.data, more.digest)

    stored = assert_every_blob_is_its_digest(disk)
    assert stored == len(blobs) + len(more_blobs) + 1
    assert "Traceback" not in server.log()
    record(
        "a full disk",
        f"{DISK_BYTES // MIB} MiB data dir filled by another file; 1 MiB pushes by /v2/ PATCH, POST and ECR "
        "UploadLayerPart",
        "every read answered (manifests, blobs, BatchGetImage, DescribeImages, ListImages, GetDownloadUrlForLayer); "
        "pushes refused 507 UNSUPPORTED / UploadNotFoundException (storage full), 0 bytes left staged; "
        f"pushes work once space is freed; {stored} blobs verified",
    )
