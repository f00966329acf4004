"""What the upstream holds for the pull-through comparison: deterministic images of random, incompressible layers.

    large   A: 5 layers x 40 MiB                  cold, warm and concurrent pulls
    small   B: 200 layers x 16 KiB                per-request overhead
    multi   a two-platform index (amd64, arm64), each image 2 small layers
    big     1 layer of 2 GiB                      the server's memory while it streams
    probe   a small image, and in its repository one more blob of a large layer's size that no manifest names:
            the cold blob whose time to first byte is measured (pulling the image first makes the repository
            known to both caches without fetching that blob)

They are written with Docker's schema 2 media types, the ones Distribution 2.8's proxy can fetch (see
image.DOCKER). Every size is an option of `python -m bench`, so that a scaled-down run is quick. The same seed
writes the same bytes, so the upstream holds the same images run after run.
"""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass
from pathlib import Path

from bench.image import BlobFile, Image, write_image, write_random_blob
from bench.transfers import connect, push_blob, push_image, push_manifest
from testkit.images import DOCKER, MediaTypes

TAG = "v1"
LARGE = "bench/large"
SMALL = "bench/small"
MULTI = "bench/multi"
BIG = "bench/big"
PROBE = "bench/probe"
KIB = 1 << 10
MIB = 1 << 20
SEED = 5  # the issue that asked for these images


@dataclass(frozen=True, slots=True)
class ContentSizes:
    large_layers: int = 5
    large_layer_bytes: int = 40 * MIB
    small_layers: int = 200
    small_layer_bytes: int = 16 * KIB
    platform_layer_bytes: int = 4 * MIB
    big_bytes: int = 2048 * MIB


@dataclass(frozen=True, slots=True)
class ImageIndex:
    """An OCI image index over one image per platform."""

    images: tuple[Image, ...]
    manifest: bytes
    media_type: str

    @property
    def blobs(self) -> tuple[BlobFile, ...]:
        return tuple(blob for image in self.images for blob in image.blobs)

    @property
    def blob_bytes(self) -> int:
        return sum(blob.size for blob in self.blobs)


@dataclass(frozen=True, slots=True)
class UpstreamContent:
    large: Image
    small: Image
    multi: ImageIndex
    big: Image
    probe: Image
    probe_blob: BlobFile  # in PROBE's repository, named by no manifest

    @property
    def total_bytes(self) -> int:
        images = (self.large, self.small, self.big, self.probe)
        return sum(i.blob_bytes for i in images) + self.multi.blob_bytes + self.probe_blob.size


def write_content(directory: Path, sizes: ContentSizes) -> UpstreamContent:
    """Every image to files under `directory`, the same bytes for the same sizes."""
    # Docker's image manifest v2, schema 2: what Distribution 2.8 can fetch as a pull-through cache (its proxy asks
    # the upstream without the OCI types in Accept, and the upstream refuses an OCI manifest).
    media_types = DOCKER
    rng = random.Random(SEED)
    large = write_image(directory, sizes.large_layers, sizes.large_layer_bytes, rng=rng, media_types=media_types)
    small = write_image(directory, sizes.small_layers, sizes.small_layer_bytes, rng=rng, media_types=media_types)
    platforms = tuple(
        write_image(
            directory, 2, sizes.platform_layer_bytes, rng=rng, architecture=architecture, media_types=media_types
        )
        for architecture in ("amd64", "arm64")
    )
    probe = write_image(directory, 1, 4 * KIB, rng=rng, media_types=media_types)
    probe_blob = write_random_blob(directory, sizes.large_layer_bytes, media_types.layer, rng)
    big = write_image(directory, 1, sizes.big_bytes, rng=rng, media_types=media_types)
    index = ImageIndex(platforms, _index(platforms, media_types), media_types.index)
    return UpstreamContent(large, small, index, big, probe, probe_blob)


def _index(images: tuple[Image, ...], media_types: MediaTypes) -> bytes:
    manifests = []
    for image, architecture in zip(images, ("amd64", "arm64"), strict=True):
        manifests.append(
            {
                "mediaType": image.media_type,
                "digest": image.manifest_digest,
                "size": len(image.manifest),
                "platform": {"architecture": architecture, "os": "linux"},
            }
        )
    return json.dumps({"schemaVersion": 2, "mediaType": media_types.index, "manifests": manifests}).encode()


async def seed_upstream(url: str, content: UpstreamContent) -> None:
    """Push every image to the registry at `url` (an upstream, not a cache), each under TAG."""
    async with connect(url) as client:
        for repository, image in ((LARGE, content.large), (SMALL, content.small), (BIG, content.big)):
            await push_image(client, repository, TAG, image)
        await push_image(client, PROBE, TAG, content.probe)
        await push_blob(client, PROBE, content.probe_blob)
        for image in content.multi.images:
            await asyncio.gather(*(push_blob(client, MULTI, blob) for blob in image.blobs))
            await push_manifest(client, MULTI, image.manifest_digest, image.manifest, image.media_type)
        await push_manifest(client, MULTI, TAG, content.multi.manifest, content.multi.media_type)
