"""The images the real-client tests move around: each manifest family, as one image and as a multi-platform index."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from testkit.images import DOCKER, OCI, DirLayout, ImageTree, Layout, MediaTypes, OciLayout, write_image, write_index

# Two layers per image: a small one, and one past a megabyte of odd length so no boundary lines up.
LAYER_SIZES: Final = (1024, (1 << 20) + 7)


@dataclass(frozen=True, slots=True)
class ImageCase:
    name: str
    media_types: MediaTypes
    multi_platform: bool

    def __str__(self) -> str:
        return self.name

    def layout(self, root: Path) -> Layout:
        """Where skopeo can keep this image on disk: its oci: transport (1.9) holds only OCI media types."""
        return OciLayout(root) if self.media_types == OCI else DirLayout(root)

    def write(self, layout: Layout, tag: str, seed: int = 0) -> ImageTree:
        if self.multi_platform:
            return write_index(layout, tag, LAYER_SIZES, seed=seed, media_types=self.media_types)
        return write_image(layout, tag, LAYER_SIZES, seed=seed, media_types=self.media_types)


IMAGE_CASES: Final = (
    ImageCase("oci-image", OCI, multi_platform=False),
    ImageCase("oci-index", OCI, multi_platform=True),
    ImageCase("docker-image", DOCKER, multi_platform=False),
    ImageCase("docker-list", DOCKER, multi_platform=True),
)
