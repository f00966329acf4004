"""Lifecycle policies applied by a live server in the background (`--lifecycle-interval`): images pushed over /v2/,
the policy put with boto3, the expired images gone from DescribeImages and from pulls (MANIFEST_UNKNOWN); and a
pull-through repository created from a repository creation template with a lifecycle policy, expired by it.

The servers here leave /v2/ open to callers without credentials (they act as the account's root user); the rules'
time-based count types are covered with an injected clock by tests/unit/ecr/test_lifecycle_expiry.py.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import pytest

from testkit.aws_clients import client
from testkit.registry_client import RegistryClient
from testkit.servers import DistributionServer, PullcacheServer
from testkit.small_images import SmallImage, push_image, small_image
from testkit.sync_client import get_manifest, read_registry_tree
from tests.integration import skopeo
from tests.integration.cached_images import CACHED, PREFIX, TAG, UPSTREAM_REPOSITORY, create_rule, seed
from tests.integration.image_cases import IMAGE_CASES

REPOSITORY: Final = "team/app"
INTERVAL: Final = "1"  # seconds between runs: the test waits for a run, not for an hour
WAIT: Final = 30.0  # seconds a run may take to show; longer means it never ran
KEEP_ONE_RELEASE: Final = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "description": "keep the newest release",
                "selection": {
                    "tagStatus": "tagged",
                    "tagPrefixList": ["release"],
                    "countType": "imageCountMoreThan",
                    "countNumber": 1,
                },
                "action": {"type": "expire"},
            }
        ]
    }
)
KEEP_ONE_V: Final = KEEP_ONE_RELEASE.replace('"release"', '"v"')


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PullcacheServer]:
    running = PullcacheServer(
        tmp_path / "data", log_level="info", extra_args=("--lifecycle-interval", INTERVAL)
    ).start()
    yield running
    running.stop()


def push(server: PullcacheServer, images: list[tuple[SmallImage, str]]) -> None:
    """Push each image under its tag, in order (so their push times are in that order)."""

    async def pushing() -> None:
        async with RegistryClient.connect(server.url) as registry:
            for image, tag in images:
                await push_image(registry, REPOSITORY, image, tag)
                await asyncio.sleep(0.01)

    asyncio.run(pushing())


def wait_for(condition: Callable[[], Any], what: str) -> Any:
    """The first true value of `condition`, polled until WAIT has passed."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} within {WAIT} s")


def described(ecr: Any, repository: str) -> dict[str, list[str]]:
    """Digest -> tags of every image DescribeImages lists."""
    details = ecr.describe_images(repositoryName=repository)["imageDetails"]
    return {detail["imageDigest"]: sorted(detail.get("imageTags", [])) for detail in details}


def test_a_lifecycle_policy_expires_what_it_selects_in_the_background(server: PullcacheServer) -> None:
    releases = [small_image(seed, [64]) for seed in range(3)]
    latest = small_image(10, [64])
    push(
        server, [(releases[0], "release-1"), (releases[1], "release-2"), (latest, "latest"), (releases[2], "release-3")]
    )
    ecr = client(server, "ecr")
    assert len(described(ecr, REPOSITORY)) == 4
    time.sleep(2 * float(INTERVAL))  # runs without a policy touch nothing
    assert len(described(ecr, REPOSITORY)) == 4

    ecr.put_lifecycle_policy(repositoryName=REPOSITORY, lifecyclePolicyText=KEEP_ONE_RELEASE)

    wanted = {releases[2].digest: ["release-3"], latest.digest: ["latest"]}
    wait_for(lambda: described(ecr, REPOSITORY) == wanted, "the two older releases were not expired")
    for reference in (releases[0].digest, "release-1", releases[1].digest, "release-2"):
        reply = get_manifest(server.url, REPOSITORY, reference)
        assert (reply.status, reply.error_codes) == (404, ["MANIFEST_UNKNOWN"]), reference
    assert get_manifest(server.url, REPOSITORY, "release-3").status == 200
    lines = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    expired = [line for line in lines if line["message"].startswith("expired ")]
    assert sorted((line["digest"], tuple(line["tags"]), line["rule_priority"]) for line in expired) == sorted(
        [(releases[0].digest, ("release-1",), 1), (releases[1].digest, ("release-2",), 1)]
    )
    assert any(line["message"] == "lifecycle policies applied" and line["expired"] == 2 for line in lines)


def test_a_pull_through_repository_expires_by_the_lifecycle_policy_of_its_template(
    upstream: DistributionServer, server: PullcacheServer, tmp_path: Path
) -> None:
    ecr = client(server, "ecr")
    ecr.create_repository_creation_template(
        prefix=PREFIX, appliedFor=["PULL_THROUGH_CACHE"], lifecyclePolicy=KEEP_ONE_V
    )
    create_rule(server, upstream.url)
    first = seed(upstream, tmp_path)
    assert read_registry_tree(server.url, CACHED, TAG) == first
    case = IMAGE_CASES[0]
    source = case.layout(tmp_path / "second")
    second = case.write(source, "v2", seed=1)
    skopeo.copy_all(source.reference("v2"), skopeo.docker_reference(upstream.address, UPSTREAM_REPOSITORY, "v2"))
    assert read_registry_tree(server.url, CACHED, "v2") == second

    assert json.loads(ecr.get_lifecycle_policy(repositoryName=CACHED)["lifecyclePolicyText"]) == json.loads(KEEP_ONE_V)
    wait_for(lambda: described(ecr, CACHED) == {second.digest: ["v2"]}, "the older cached image was not expired")
