"""pullcache and CNCF Distribution as peers: skopeo moves images Distribution -> pullcache -> a fresh Distribution
and every manifest and blob keeps its digest, multi-platform images and both manifest families included."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Final

import pytest

from testkit.servers import DistributionServer, PullcacheServer
from testkit.sync_client import list_tags, read_registry_tree
from tests.integration import skopeo
from tests.integration.image_cases import IMAGE_CASES, ImageCase

REPOSITORY: Final = "library/app"
TAG: Final = "v1"


@pytest.fixture
def second_distribution(tmp_path: Path) -> Iterator[DistributionServer]:
    """Another fresh Distribution, the destination of the last hop."""
    server = DistributionServer(tmp_path / "second-distribution").start()
    yield server
    server.stop()


@pytest.mark.parametrize("case", IMAGE_CASES, ids=str)
def test_image_keeps_every_digest_from_distribution_through_pullcache_to_distribution(
    case: ImageCase,
    distribution: DistributionServer,
    pullcache: PullcacheServer,
    second_distribution: DistributionServer,
    tmp_path: Path,
) -> None:
    source = case.layout(tmp_path / "source")
    written = case.write(source, TAG)
    hops: tuple[DistributionServer | PullcacheServer, ...] = (distribution, pullcache, second_distribution)

    skopeo.copy_all(source.reference(TAG), skopeo.docker_reference(distribution.address, REPOSITORY, TAG))
    for origin, destination in pairwise(hops):
        skopeo.copy_all(
            skopeo.docker_reference(origin.address, REPOSITORY, TAG),
            skopeo.docker_reference(destination.address, REPOSITORY, TAG),
        )

    for server in hops:
        assert read_registry_tree(server.url, REPOSITORY, TAG) == written, server.url
        assert list_tags(server.url, REPOSITORY) == [TAG], server.url
