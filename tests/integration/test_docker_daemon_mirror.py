"""Docker's daemon using pullcache as its Docker Hub mirror, for real: dockerd with `registry-mirrors` naming the
Docker Hub mirror port (`serve --docker-hub-mirror hub --docker-hub-mirror-port PORT`) pulls `app:v1`, a Docker Hub
name, through the pull-through cache rule `hub`, whose upstream is a CNCF Distribution holding `library/app:v1`.

Docker falls back to Docker Hub itself when its mirror fails; the harness (testkit/dockerd.py) sends that fallback
to a dead proxy and reads, from the daemon's debug log, each endpoint a pull tried: a pull that tried the mirror
alone needed no fallback, and pullcache's access log and its repositories show it served the pull. The requests
themselves, one by one, are in test_mirror_requests.py. The module shares its servers: one Distribution, one closed
pullcache whose policies let anyone pull through `hub` (as a cluster's nodes do), one dockerd. The image is a few
kilobytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

from testkit.aws_clients import ACCOUNT, client
from testkit.dockerd import DOCKER_HUB, Dockerd, dockerd_installed
from testkit.images import OCI, ImageTree, OciLayout, write_image
from testkit.servers import DistributionServer, PullcacheServer, free_port, wait_until_serving
from tests.integration import skopeo
from tests.integration.access_log import access_lines, log_mark
from tests.integration.cached_images import create_rule

APP: Final = "library/app"  # Docker Hub's name of an official image, as the upstream holds it
TAG: Final = "v1"
LAYER_SIZES: Final = (512, 4096)
REGION: Final = "us-east-1"
HUB: Final = "hub"  # the rule Docker's daemon is mirrored through
PULL_ACTIONS: Final = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchImportUpstreamImage"]
DOCKERD_AGENT: Final = "docker/"

pytestmark = pytest.mark.skipif(not dockerd_installed(), reason="dockerd and docker are not installed")


@dataclass(frozen=True)
class Upstream:
    registry: DistributionServer
    image: ImageTree  # APP:TAG


@dataclass(frozen=True)
class Mirrored:
    """A pullcache server and its Docker Hub mirror port."""

    server: PullcacheServer
    docker_hub_port: int

    @property
    def mirror_url(self) -> str:
        return f"http://127.0.0.1:{self.docker_hub_port}"


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    root = tmp_path_factory.mktemp("upstream")
    registry = DistributionServer(root / "registry").start()
    try:
        layout = OciLayout(root / "image")
        image = write_image(layout, TAG, LAYER_SIZES, seed=700, media_types=OCI)
        skopeo.copy_all(layout.reference(TAG), skopeo.docker_reference(registry.address, APP, TAG))
        yield Upstream(registry, image)
    finally:
        registry.stop()


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, upstream: Upstream) -> Iterator[Mirrored]:
    """Closed, mirroring Docker Hub through `hub`: the registry policy lets everyone create its repositories and
    import into them, the creation template gives each a repository policy that lets everyone pull."""
    port = free_port()
    server = PullcacheServer(
        tmp_path_factory.mktemp("hub") / "data",
        log_level="info",
        anonymous_registry=False,
        extra_args=["--docker-hub-mirror", HUB, "--docker-hub-mirror-port", str(port)],
    ).start()
    try:
        assert server.process is not None
        wait_until_serving(f"http://127.0.0.1:{port}/v2/", server.process)
        create_rule(server, upstream.registry.url, prefix=HUB)
        ecr = client(server, "ecr")
        ecr.put_registry_policy(
            policyText=policy(
                ["ecr:CreateRepository", "ecr:BatchImportUpstreamImage"],
                f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{HUB}/*",
            )
        )
        ecr.create_repository_creation_template(
            prefix=HUB, appliedFor=["PULL_THROUGH_CACHE"], repositoryPolicy=policy(PULL_ACTIONS)
        )
        yield Mirrored(server, port)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def dockerd(tmp_path_factory: pytest.TempPathFactory, hub: Mirrored) -> Iterator[Dockerd]:
    with Dockerd(tmp_path_factory.mktemp("dockerd"), hub.mirror_url) as daemon:
        yield daemon


def policy(actions: list[str], resource: str | None = None) -> str:
    """A policy letting everyone do `actions` (on `resource`: a registry policy)."""
    statement: dict[str, object] = {"Sid": "mirror", "Effect": "Allow", "Principal": "*", "Action": actions}
    if resource is not None:
        statement["Resource"] = resource
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def test_dockerd_pulls_a_docker_hub_name_through_the_mirror_port_alone(
    upstream: Upstream, hub: Mirrored, dockerd: Dockerd
) -> None:
    image = upstream.image
    mark = log_mark(hub.server)
    since = len(dockerd.log())

    pulled = dockerd.pull(f"app:{TAG}")

    assert pulled.returncode == 0, (pulled.stderr, dockerd.log()[since:][-3000:])
    assert dockerd.endpoints_tried(since) == [f"{hub.mirror_url}/"]  # no fallback to Docker Hub
    asked = {(line["method"], line["path"], line["status"]) for line in access_lines(hub.server, mark, DOCKERD_AGENT)}
    # Only the mirror port serves Docker Hub's names to a caller without credentials. dockerd 20.10 resolves the
    # tag with a HEAD and gets the manifest by its digest; later versions may GET the tag.
    by_tag = {(method, status) for method, path, status in asked if path == f"/v2/{APP}/manifests/{TAG}"}
    assert {status for _, status in by_tag} == {200}, asked  # asked, and answered
    manifest_gets = {f"/v2/{APP}/manifests/{reference}" for reference in (TAG, image.digest)}
    assert any(method == "GET" and path in manifest_gets and status == 200 for method, path, status in asked), asked
    assert {("GET", f"/v2/{APP}/blobs/{digest}", 200) for digest in image.blobs} <= asked
    cached = client(hub.server, "ecr").describe_images(repositoryName=f"{HUB}/{APP}")["imageDetails"]
    assert image.digest in {detail["imageDigest"] for detail in cached}
    inspected = dockerd.docker("image", "inspect", "--format", "{{json .RepoDigests}}", f"app:{TAG}")
    assert inspected.returncode == 0, inspected.stderr
    assert json.loads(inspected.stdout) == [f"app@{image.digest}"]


def test_dockerd_tries_docker_hub_after_a_mirror_that_is_down_and_never_reaches_it(tmp_path: Path) -> None:
    """The harness alone, no pullcache: a pull through a mirror nothing listens on fails, and the daemon's log
    shows the fallback the test above rules out."""
    mirror_url = f"http://127.0.0.1:{free_port()}"

    with Dockerd(tmp_path / "dockerd", mirror_url) as daemon:
        pulled = daemon.pull(f"app:{TAG}")
        tried = daemon.endpoints_tried()

    assert pulled.returncode != 0
    assert tried == [f"{mirror_url}/", DOCKER_HUB]
    assert "proxyconnect" in pulled.stderr  # the dead proxy answered for Docker Hub
