"""Container runtimes that use pullcache as a registry mirror, for real: containerd (`ctr` with a hosts.toml) and
podman (registries.conf), each pulling an image named after its upstream registry.

containerd asks the mirror for the upstream's repository with `?ns=<upstream host:port>`; pullcache serves it
through the pull-through cache rule whose upstream has that host. podman's mirror location carries the rule's
prefix, so its requests already name the cached repository. In both, the image's own registry is a dead address:
a pull that succeeds went through pullcache.

Each test has its own upstream host (a counting FaultyUpstream in front of one shared CNCF Distribution) and its own
rule, so the module shares its servers: one Distribution, one containerd, a pullcache open to anonymous callers,
and one that is not (for the tests of who may pull). Images are a few kilobytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest

from testkit.aws_clients import ACCOUNT, client, registry_password
from testkit.containerd import Containerd, containerd_installed, write_mirror_hosts
from testkit.images import LINUX_AMD64, LINUX_ARM64, OCI, ImageTree, OciLayout, write_image, write_index
from testkit.podman import Podman, podman_installed
from testkit.servers import DistributionServer, PullcacheServer, free_port
from tests.integration import skopeo
from tests.integration.access_log import access_lines, log_mark
from tests.integration.cached_images import create_rule, get, wait_for_whole_image
from tests.upstreams import FaultyUpstream

# One image a test: pullcache keeps one copy of a blob for all its repositories, so a blob another test cached would
# never reach this test's upstream. The single images are linux/amd64; MULTI indexes linux/amd64 and linux/arm64.
PULLED: Final = "library/pulled"
AUTHENTICATED: Final = "library/authenticated"
ANONYMOUS: Final = "library/anonymous"
PODMAN_PULLED: Final = "library/podman-pulled"
SINGLES: Final = (PULLED, AUTHENTICATED, ANONYMOUS, PODMAN_PULLED)
MULTI: Final = "library/multi"
TAG: Final = "v1"
LAYER_SIZES: Final = (512, 4096)
REGION: Final = "us-east-1"
# What a pull through the cache takes: the image's manifests and blobs, and the import of a missing one.
PULL_ACTIONS: Final = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchImportUpstreamImage"]
CONTAINERD_AGENT: Final = "containerd/"
PODMAN_AGENT: Final = "containers/"  # containers/image, the library podman pulls with

needs_containerd = pytest.mark.skipif(not containerd_installed(), reason="containerd and ctr are not installed")
needs_podman = pytest.mark.skipif(not podman_installed(), reason="podman is not installed")


@dataclass(frozen=True)
class Upstream:
    """The shared Distribution and what it was seeded with."""

    registry: DistributionServer
    images: dict[str, ImageTree]  # by repository, each tagged TAG


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    root = tmp_path_factory.mktemp("upstream")
    registry = DistributionServer(root / "registry").start()
    try:
        images: dict[str, ImageTree] = {}
        for number, repository in enumerate((*SINGLES, MULTI)):
            layout = OciLayout(root / f"image-{number}")
            write = write_index if repository == MULTI else write_image
            images[repository] = write(layout, TAG, LAYER_SIZES, seed=100 + number, media_types=OCI)
            skopeo.copy_all(layout.reference(TAG), skopeo.docker_reference(registry.address, repository, TAG))
        yield Upstream(registry, images)
    finally:
        registry.stop()


@pytest.fixture(scope="module")
def open_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    """/v2/ open to callers without credentials; the access log on, to see what the runtimes asked."""
    server = PullcacheServer(tmp_path_factory.mktemp("open") / "data", log_level="info").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def closed_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    """/v2/ for callers the policies allow, as ECR's."""
    server = PullcacheServer(
        tmp_path_factory.mktemp("closed") / "data", log_level="info", anonymous_registry=False
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Containerd]:
    """One daemon for the module; each pull takes a namespace of its own, whose content is its own."""
    with Containerd(tmp_path_factory.mktemp("containerd")) as daemon:
        yield daemon


@pytest.fixture
def faulty(upstream: Upstream) -> Iterator[FaultyUpstream]:
    """The upstream as this test's rule names it: a host of its own, counting what it serves."""
    with FaultyUpstream(upstream.registry.url) as proxy:
        yield proxy


def mirror_hosts(tmp_path: Path, registry: str, cache: PullcacheServer) -> Path:
    return mirror_hosts_to(tmp_path, registry, cache.url)


def mirror_hosts_to(tmp_path: Path, registry: str, mirror_url: str) -> Path:
    hosts = tmp_path / "hosts"
    write_mirror_hosts(hosts, registry, mirror_url)
    return hosts


def blob_gets(lines: list[dict[str, Any]], repository: str) -> dict[str, list[tuple[str, int]]]:
    """digest -> the (query, status) of each GET of that blob of `repository` the lines show."""
    found: dict[str, list[tuple[str, int]]] = {}
    prefix = f"/v2/{repository}/blobs/"
    for line in lines:
        if line["method"] == "GET" and line["path"].startswith(prefix):
            found.setdefault(line["path"].removeprefix(prefix), []).append((line["query"], line["status"]))
    return found


def platform_blobs(upstream: Upstream, platform: str) -> set[str]:
    """The config and layers of the index's image for `platform`, as the upstream holds them."""
    child = upstream.images[MULTI].platforms[platform]
    status, body, _ = get(f"{upstream.registry.url}/v2/{MULTI}/manifests/{child}", {"Accept": OCI.manifest})
    assert status == 200, body
    manifest = json.loads(body)
    return {manifest["config"]["digest"], *(layer["digest"] for layer in manifest["layers"])}


def blob_requests(faulty: FaultyUpstream, repository: str, digests: set[str]) -> dict[str, int]:
    return {digest: faulty.requests("GET", f"/v2/{repository}/blobs/{digest}") for digest in digests}


def manifest_requests(faulty: FaultyUpstream, repository: str, references: set[str]) -> int:
    """GETs and HEADs of the manifests of `repository` under `references` (tags or digests)."""
    return sum(faulty.requests(path=f"/v2/{repository}/manifests/{reference}") for reference in references)


def manifest_statuses(lines: list[dict[str, Any]]) -> set[int]:
    return {line["status"] for line in lines if "/manifests/" in line["path"]}


@needs_containerd
def test_containerd_pulls_only_through_the_mirror_its_hosts_toml_names(
    upstream: Upstream, containerd: Containerd, tmp_path: Path
) -> None:
    """The harness alone, no pullcache: with the registry itself as the mirror the pull succeeds, and with a mirror
    that is down it fails, since the image's own registry (the dead server) is never reached."""
    registry = upstream.registry.address
    reference = f"{registry}/{PULLED}:{TAG}"

    through_registry = containerd.pull(reference, mirror_hosts_to(tmp_path / "up", registry, upstream.registry.url))
    through_nothing = containerd.pull(
        reference, mirror_hosts_to(tmp_path / "down", registry, f"http://127.0.0.1:{free_port()}"), namespace="down"
    )

    assert through_registry.returncode == 0, through_registry.stderr
    assert through_nothing.returncode != 0


@needs_containerd
def test_containerd_pulls_through_the_mirror_once_and_again_from_the_cache_when_the_upstream_is_down(
    upstream: Upstream, faulty: FaultyUpstream, open_cache: PullcacheServer, containerd: Containerd, tmp_path: Path
) -> None:
    create_rule(open_cache, faulty.url, prefix="ctr-a")
    hosts = mirror_hosts(tmp_path, faulty.address, open_cache)
    reference = f"{faulty.address}/{PULLED}:{TAG}"
    image = upstream.images[PULLED]
    mark = log_mark(open_cache)

    first = containerd.pull(reference, hosts, namespace="a-first")
    assert first.returncode == 0, first.stderr

    cached = f"ctr-a/{PULLED}"
    wait_for_whole_image(open_cache, cached)  # the background fill is over: the counts below are final
    assert manifest_requests(faulty, PULLED, {TAG, image.digest}) == 1
    assert blob_requests(faulty, PULLED, set(image.blobs)) == dict.fromkeys(image.blobs, 1)
    ecr = client(open_cache, "ecr")
    assert cached in [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]
    assert image.digest in {d["imageDigest"] for d in ecr.describe_images(repositoryName=cached)["imageDetails"]}
    asked = access_lines(open_cache, mark, CONTAINERD_AGENT)
    assert asked, "containerd asked pullcache nothing"
    assert {line["query"] for line in asked} == {f"ns={faulty.address}"}
    assert set(blob_gets(asked, PULLED)) == set(image.blobs)

    faulty.go_down()
    mark = log_mark(open_cache)
    second = containerd.pull(reference, hosts, namespace="a-second")
    assert second.returncode == 0, second.stderr
    # The fresh namespace downloaded every blob again, from pullcache alone.
    again = blob_gets(access_lines(open_cache, mark, CONTAINERD_AGENT), PULLED)
    assert again == {digest: [(f"ns={faulty.address}", 200)] for digest in image.blobs}


@needs_containerd
def test_containerd_fetches_one_platform_at_a_time_and_the_upstream_serves_only_that_platforms_blobs(
    upstream: Upstream, faulty: FaultyUpstream, open_cache: PullcacheServer, containerd: Containerd, tmp_path: Path
) -> None:
    create_rule(open_cache, faulty.url, prefix="ctr-b")
    hosts = mirror_hosts(tmp_path, faulty.address, open_cache)
    reference = f"{faulty.address}/{MULTI}:{TAG}"
    amd64, arm64 = platform_blobs(upstream, str(LINUX_AMD64)), platform_blobs(upstream, str(LINUX_ARM64))
    mark = log_mark(open_cache)

    first = containerd.fetch(reference, hosts, platform=str(LINUX_AMD64), namespace="b")
    assert first.returncode == 0, first.stderr
    assert blob_requests(faulty, MULTI, amd64) == dict.fromkeys(amd64, 1)
    assert blob_requests(faulty, MULTI, arm64) == dict.fromkeys(arm64, 0)

    second = containerd.fetch(reference, hosts, platform=str(LINUX_ARM64), namespace="b")
    assert second.returncode == 0, second.stderr
    assert blob_requests(faulty, MULTI, amd64 | arm64) == dict.fromkeys(amd64 | arm64, 1)
    fetched = blob_gets(access_lines(open_cache, mark, CONTAINERD_AGENT), MULTI)
    assert fetched == {digest: [(f"ns={faulty.address}", 200)] for digest in amd64 | arm64}  # all through the mirror


@needs_containerd
def test_containerd_asking_for_a_host_no_rule_names_fails_and_the_log_says_why(
    open_cache: PullcacheServer, containerd: Containerd, tmp_path: Path
) -> None:
    unknown = f"127.0.0.1:{free_port()}"
    hosts = mirror_hosts(tmp_path, unknown, open_cache)
    mark = log_mark(open_cache)

    result = containerd.pull(f"{unknown}/{PULLED}:{TAG}", hosts, namespace="c")

    assert result.returncode != 0
    assert manifest_statuses(access_lines(open_cache, mark, CONTAINERD_AGENT)) == {404}
    assert f"no pull-through cache rule has upstream {unknown}" in open_cache.log()[mark:]


@needs_containerd
def test_containerd_pulls_through_a_closed_registry_with_the_password_of_get_authorization_token(
    upstream: Upstream, faulty: FaultyUpstream, closed_cache: PullcacheServer, containerd: Containerd, tmp_path: Path
) -> None:
    create_rule(closed_cache, faulty.url, prefix="ctr-d")
    hosts = mirror_hosts(tmp_path, faulty.address, closed_cache)
    reference = f"{faulty.address}/{AUTHENTICATED}:{TAG}"
    mark = log_mark(closed_cache)

    anonymous = containerd.pull(reference, hosts, namespace="d-anonymous")
    # No policy lets an anonymous caller in: the password is what lets ctr in below.
    assert anonymous.returncode != 0
    assert manifest_statuses(access_lines(closed_cache, mark, CONTAINERD_AGENT)) == {401}

    result = containerd.pull(reference, hosts, namespace="d", user=f"AWS:{registry_password(closed_cache)}")
    assert result.returncode == 0, result.stderr
    images = client(closed_cache, "ecr").describe_images(repositoryName=f"ctr-d/{AUTHENTICATED}")["imageDetails"]
    assert upstream.images[AUTHENTICATED].digest in {image["imageDigest"] for image in images}


@needs_containerd
def test_containerd_pulls_anonymously_only_where_the_creation_template_grants_everyone_the_pull(
    upstream: Upstream, closed_cache: PullcacheServer, containerd: Containerd, tmp_path: Path
) -> None:
    """The registry policy lets everyone create and import under both prefixes; only one prefix's creation template
    gives its repositories a policy that lets everyone pull."""
    ecr = client(closed_cache, "ecr")
    ecr.put_registry_policy(
        policyText=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "anonymous-pull-through",
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": ["ecr:CreateRepository", "ecr:BatchImportUpstreamImage"],
                        "Resource": [
                            f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{prefix}/*" for prefix in ("ctr-e", "ctr-n")
                        ],
                    }
                ],
            }
        )
    )
    ecr.create_repository_creation_template(
        prefix="ctr-e",
        appliedFor=["PULL_THROUGH_CACHE"],
        repositoryPolicy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Sid": "everyone-pulls", "Effect": "Allow", "Principal": "*", "Action": PULL_ACTIONS}],
            }
        ),
    )
    with FaultyUpstream(upstream.registry.url) as granted, FaultyUpstream(upstream.registry.url) as not_granted:
        create_rule(closed_cache, granted.url, prefix="ctr-e")
        create_rule(closed_cache, not_granted.url, prefix="ctr-n")  # no template: no repository policy

        allowed = containerd.pull(
            f"{granted.address}/{ANONYMOUS}:{TAG}",
            mirror_hosts(tmp_path / "e", granted.address, closed_cache),
            namespace="e-granted",
        )
        mark = log_mark(closed_cache)
        refused = containerd.pull(
            f"{not_granted.address}/{ANONYMOUS}:{TAG}",
            mirror_hosts(tmp_path / "n", not_granted.address, closed_cache),
            namespace="e-not-granted",
        )

    assert allowed.returncode == 0, allowed.stderr
    images = ecr.describe_images(repositoryName=f"ctr-e/{ANONYMOUS}")["imageDetails"]
    assert upstream.images[ANONYMOUS].digest in {image["imageDigest"] for image in images}
    assert refused.returncode != 0
    assert manifest_statuses(access_lines(closed_cache, mark, CONTAINERD_AGENT)) == {401}


@needs_podman
def test_podman_pulls_through_the_mirror_once_and_again_from_the_cache_when_the_upstream_is_down(
    upstream: Upstream, faulty: FaultyUpstream, open_cache: PullcacheServer, tmp_path: Path
) -> None:
    """podman's mirror location names the rule's prefix: its requests name the cached repository, no `ns`."""
    create_rule(open_cache, faulty.url, prefix="podman-f")
    mirror = f"{open_cache.address}/podman-f"
    reference = f"{faulty.address}/{PODMAN_PULLED}:{TAG}"
    image = upstream.images[PODMAN_PULLED]

    with Podman(tmp_path / "first", faulty.address, mirror) as podman:
        first = podman.pull(reference, platform=str(LINUX_AMD64))
    assert first.returncode == 0, first.stderr
    cached = f"podman-f/{PODMAN_PULLED}"
    wait_for_whole_image(open_cache, cached)  # the background fill is over: the counts below are final
    assert manifest_requests(faulty, PODMAN_PULLED, {TAG, image.digest}) == 1
    assert blob_requests(faulty, PODMAN_PULLED, set(image.blobs)) == dict.fromkeys(image.blobs, 1)

    faulty.go_down()
    mark = log_mark(open_cache)
    with Podman(tmp_path / "second", faulty.address, mirror) as podman:  # fresh storage: downloads everything
        second = podman.pull(reference, platform=str(LINUX_AMD64))
    assert second.returncode == 0, second.stderr
    again = blob_gets(access_lines(open_cache, mark, PODMAN_AGENT), cached)
    assert again == {digest: [("", 200)] for digest in image.blobs}
