"""What the pull-through tests share: the upstream image they seed, the rule they create, and ways to look at
what the cache holds."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Final

from testkit.aws_clients import client
from testkit.servers import DistributionServer, PullcacheServer
from tests.integration import skopeo
from tests.integration.image_cases import IMAGE_CASES, ImageCase

UPSTREAM_REPOSITORY: Final = "library/app"
TAG: Final = "v1"
PREFIX: Final = "up"
CACHED: Final = f"{PREFIX}/{UPSTREAM_REPOSITORY}"


def seed(upstream: DistributionServer, tmp_path: Path, case: ImageCase = IMAGE_CASES[0], seed_value: int = 0) -> Any:
    """Push an image of `case` to the upstream; returns what was written (its ImageTree)."""
    source = case.layout(tmp_path / f"source-{case}-{seed_value}")
    written = case.write(source, TAG, seed=seed_value)
    skopeo.copy_all(source.reference(TAG), skopeo.docker_reference(upstream.address, UPSTREAM_REPOSITORY, TAG))
    return written


def create_rule(server: PullcacheServer, upstream_url: str, prefix: str = PREFIX, **extra: Any) -> None:
    client(server, "ecr").create_pull_through_cache_rule(
        ecrRepositoryPrefix=prefix, upstreamRegistryUrl=upstream_url, **extra
    )


def get(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> tuple[int, bytes, Any]:
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers


def blob_file(server: PullcacheServer, digest: str) -> Path:
    algorithm, _, encoded = digest.partition(":")
    return server.data_dir / "blobs" / algorithm / encoded[:2] / encoded


def image_blobs(server: PullcacheServer, repository: str, tag: str = TAG) -> list[dict[str, Any]]:
    status, body, _ = get(
        f"{server.url}/v2/{repository}/manifests/{tag}",
        {"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert status == 200, body
    manifest = json.loads(body)
    return [manifest["config"], *manifest["layers"]]


def wait_for_whole_image(server: PullcacheServer, repository: str, timeout: float = 30.0) -> None:
    """Wait (bounded) until the background fill has linked every blob of the image into the repository."""
    digests = [blob["digest"] for blob in image_blobs(server, repository)]
    ecr = client(server, "ecr")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = ecr.batch_check_layer_availability(repositoryName=repository, layerDigests=digests)
        if not found["failures"] and len(found["layers"]) == len(digests):
            return
        time.sleep(0.05)
    raise AssertionError(f"the image of {repository} was not cached whole within {timeout} s")
