"""Small single-platform OCI images built in memory from a seed, and pushing and pulling them whole.

The reliability suite and the soak push and pull many images without touching the disk: each is a config and a
few layers of seeded pseudo-random bytes (so every seed gives other digests, and the same seed the same ones).
`pull_image` checks every byte it receives against its digest, so a caller that gets a result got it intact.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from pullcache.core.digests import Digest
from testkit.registry_client import Content, RegistryClient, TransferError, UploadStyle

OCI_MANIFEST: Final = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG: Final = "application/vnd.oci.image.config.v1+json"
OCI_LAYER: Final = "application/vnd.oci.image.layer.v1.tar"


@dataclass(frozen=True, slots=True)
class SmallImage:
    """An image manifest and the blobs it names, config first."""

    blobs: tuple[Content, ...]
    manifest: Content

    @property
    def digest(self) -> str:
        return self.manifest.digest

    @property
    def blob_digests(self) -> tuple[str, ...]:
        return tuple(blob.digest for blob in self.blobs)


def small_image(seed: int, layer_sizes: Sequence[int]) -> SmallImage:
    """The image of `seed`: layers of `layer_sizes` pseudo-random bytes and a config naming the seed."""
    layers = tuple(
        Content(OCI_LAYER, random.Random(f"{seed}/{n}").randbytes(size)) for n, size in enumerate(layer_sizes)
    )
    config = Content(OCI_CONFIG, json.dumps({"architecture": "amd64", "os": "linux", "seed": seed}).encode())
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [layer.descriptor() for layer in layers],
    }
    return SmallImage((config, *layers), Content(OCI_MANIFEST, json.dumps(document, indent=2).encode()))


async def push_image(
    client: RegistryClient, repository: str, image: SmallImage, tag: str, style: UploadStyle = UploadStyle.MONOLITHIC
) -> None:
    """Push the blobs, then the manifest under `tag`; raises TransferError on any answer but the spec's."""
    for blob in image.blobs:
        await client.push_blob(repository, blob.data, style)
    stated = await client.push_manifest(repository, image.manifest, tag)
    if stated != image.digest:
        raise TransferError(f"{repository}:{tag} stored as {stated}, pushed {image.digest}")


async def pull_image(client: RegistryClient, repository: str, reference: str) -> tuple[str, tuple[str, ...]]:
    """GET the manifest and every blob it names, each checked against its digest; returns the manifest's digest
    and its blobs' digests. Raises TransferError on an unexpected status or a byte that does not match."""
    body, stated = await client.get_manifest(repository, reference, accept=OCI_MANIFEST)
    if str(Digest.of(body)) != stated:
        raise TransferError(f"{repository}:{reference} arrived as other bytes than {stated}")
    document = json.loads(body)
    digests = tuple(descriptor["digest"] for descriptor in (document["config"], *document["layers"]))
    for digest in digests:
        pulled = await client.pull_blob(repository, digest)
        if pulled.digest != digest:
            raise TransferError(f"{repository}@{digest} arrived as other bytes ({pulled.digest})")
    return stated, digests
