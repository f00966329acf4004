"""A real registry holding one image: what the upstreams with a twist stand in front of."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pullcache.core.digests import Digest
from testkit.images import ImageTree, OciLayout, write_image
from testkit.servers import DistributionServer
from tests.integration import skopeo


@dataclass(frozen=True)
class SeededRegistry:
    registry: DistributionServer
    image: ImageTree

    @property
    def layer(self) -> Digest:
        """The image's last layer."""
        return Digest.parse(self.image.layers[self.image.digest][-1])


@contextmanager
def seeded_registry(
    root: Path, repository: str, tag: str, layer_sizes: Sequence[int], seed: int = 0
) -> Iterator[SeededRegistry]:
    """A CNCF Distribution under `root` holding `repository:tag`, an image of layers of `layer_sizes` bytes."""
    registry = DistributionServer(root / "distribution").start()
    try:
        layout = OciLayout(root / "oci")
        image = write_image(layout, tag, tuple(layer_sizes), seed=seed)
        skopeo.copy_all(layout.reference(tag), skopeo.docker_reference(registry.address, repository, tag))
        yield SeededRegistry(registry, image)
    finally:
        registry.stop()
