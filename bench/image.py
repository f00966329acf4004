"""The image the benchmark pushes and pulls: random, incompressible blobs written once to files.

Generating and hashing the content happens here, before any clock starts; the transfers then stream the
files from the page cache.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pullcache.core.digests import Digest
from testkit.hashing import Sha256Tap
from testkit.images import MediaTypes

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCTET_STREAM = "application/octet-stream"


# OCI's media types as testkit/images.py names them, but layers of the uncompressed type: the benchmark's layers
# are random bytes, which no compression would shrink.
OCI: Final = MediaTypes(manifest=OCI_MANIFEST, index=OCI_INDEX, config=OCI_CONFIG, layer=OCI_LAYER)

WRITE_BYTES = 16 << 20  # generate, hash and write this much at a time


@dataclass(frozen=True, slots=True)
class BlobFile:
    """Content on disk under the name of its digest."""

    path: Path
    digest: str
    size: int
    media_type: str = OCTET_STREAM

    def descriptor(self) -> dict[str, object]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


@dataclass(frozen=True, slots=True)
class Image:
    """An OCI image manifest over one config blob and its layers."""

    config: BlobFile
    layers: tuple[BlobFile, ...]
    manifest: bytes
    media_type: str = OCI_MANIFEST  # the manifest's

    @property
    def blobs(self) -> tuple[BlobFile, ...]:
        return (*self.layers, self.config)

    @property
    def blob_bytes(self) -> int:
        """What a push or a pull moves, manifest aside: the figure throughputs are computed from."""
        return sum(blob.size for blob in self.blobs)

    @property
    def manifest_digest(self) -> str:
        return str(Digest.of(self.manifest))


def write_random_blob(
    directory: Path, size: int, media_type: str = OCTET_STREAM, rng: random.Random | None = None
) -> BlobFile:
    """`size` random bytes in a file of `directory` named after their sha256; the same bytes every time from an
    `rng` seeded alike, else from the operating system."""
    directory.mkdir(parents=True, exist_ok=True)
    staging = directory / "staging"
    tap = Sha256Tap()
    with staging.open("wb") as file:
        while tap.size < size:
            chunk = min(WRITE_BYTES, size - tap.size)
            data = os.urandom(chunk) if rng is None else rng.randbytes(chunk)
            tap.update(data)
            file.write(data)
    path = directory / Digest.parse(tap.digest).encoded
    staging.rename(path)
    return BlobFile(path, tap.digest, size, media_type)


def write_blob(directory: Path, content: bytes, media_type: str) -> BlobFile:
    digest = Digest.of(content)
    path = directory / digest.encoded
    path.write_bytes(content)
    return BlobFile(path, str(digest), len(content), media_type)


def write_image(
    directory: Path,
    layer_count: int,
    layer_size: int,
    *,
    rng: random.Random | None = None,
    architecture: str = "amd64",
    media_types: MediaTypes = OCI,
) -> Image:
    """An image of `layer_count` random layers of `layer_size` bytes each, with a small JSON config; the same
    image every time from an `rng` seeded alike."""
    layers = tuple(write_random_blob(directory, layer_size, media_types.layer, rng) for _ in range(layer_count))
    config_document = {
        "architecture": architecture,
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [layer.digest for layer in layers]},
    }
    config = write_blob(directory, json.dumps(config_document).encode(), media_types.config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": media_types.manifest,
        "config": config.descriptor(),
        "layers": [layer.descriptor() for layer in layers],
    }
    return Image(config, layers, json.dumps(manifest).encode(), media_types.manifest)
