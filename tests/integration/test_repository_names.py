"""One rule for repository names on every door: what ECR's API creates, /v2/ pushes and pulls; what one door
refuses, the other refuses too, each in its own error shape. Names are 2 to 256 characters (core/names.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, Final

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from pullcache.core import mediatypes
from testkit.aws_clients import client
from testkit.registry_client import Content, RegistryClient
from testkit.servers import PullcacheServer
from tests.integration.oci_protocol import assert_oci_error
from tests.oci_documents import OCI_CONFIG, OCI_LAYER, descriptor, encode, image_manifest

LONGEST: Final = "team/" + "/".join(["n" * 49] * 5) + "/a"
TOO_LONG: Final = LONGEST + "b"
SHORTEST: Final = "ab"
TOO_SHORT: Final = "a"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    """/v2/ without credentials acts as the root user: these tests are about names, not access."""
    running = PullcacheServer(tmp_path_factory.mktemp("names") / "data").start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def ecr(server: PullcacheServer) -> Any:
    """Without botocore's own checks (it would refuse a short name before sending it): the server's are tested."""
    return client(server, "ecr", config=Config(parameter_validation=False))


@pytest.fixture
async def registry(server: PullcacheServer) -> AsyncIterator[RegistryClient]:
    async with RegistryClient.connect(server.url) as connected:
        yield connected


def test_the_limits_are_ecrs() -> None:
    assert (len(SHORTEST), len(LONGEST), len(TOO_LONG)) == (2, 256, 257)


@pytest.mark.parametrize("name", [LONGEST, SHORTEST], ids=["256-characters", "2-characters"])
async def test_a_repository_created_with_boto3_is_pushed_and_pulled_over_v2(
    ecr: Any, registry: RegistryClient, name: str
) -> None:
    ecr.create_repository(repositoryName=name)
    layer = Content(OCI_LAYER, b"a layer of " + name.encode())
    config = Content(OCI_CONFIG, b"{}")
    manifest = Content(
        mediatypes.OCI_MANIFEST,
        encode(image_manifest(descriptor(config.data, OCI_CONFIG), [descriptor(layer.data, OCI_LAYER)])),
    )

    await registry.push_all(name, [layer, config])
    await registry.push_manifest(name, manifest, "v1")

    assert await registry.get_manifest(name, "v1") == (manifest.data, manifest.digest)
    assert (await registry.pull_blob(name, layer.digest)).digest == layer.digest
    images = ecr.describe_images(repositoryName=name)["imageDetails"]
    assert [image["imageDigest"] for image in images] == [manifest.digest]


@pytest.mark.parametrize("name", [TOO_LONG, TOO_SHORT], ids=["257-characters", "1-character"])
async def test_a_name_past_the_limits_is_refused_on_both_doors(ecr: Any, registry: RegistryClient, name: str) -> None:
    with pytest.raises(ClientError) as refused:
        ecr.create_repository(repositoryName=name)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "repositoryName" in refused.value.response["Error"]["Message"]

    pushed = await registry.request("POST", f"/v2/{name}/blobs/uploads/")
    assert_oci_error(pushed, 400, "NAME_INVALID")
    pulled = await registry.request("GET", f"/v2/{name}/manifests/latest")
    assert_oci_error(pulled, 400, "NAME_INVALID")
    assert name not in (await registry.catalog())
