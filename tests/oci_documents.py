"""Builders for the JSON documents of the OCI image spec: descriptors, image manifests and indexes.

Each builder returns a plain dict, so a test can break one field before encoding it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

from pullcache.core import mediatypes
from pullcache.core.digests import Digest

Document = dict[str, Any]

OCI_CONFIG: Final = "application/vnd.oci.image.config.v1+json"
OCI_LAYER: Final = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_CONFIG: Final = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER: Final = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER: Final = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"


def descriptor(content: bytes, media_type: str, **fields: Any) -> Document:
    """The descriptor of `content`, with any further `fields` (urls, annotations, artifactType, ...)."""
    return {"mediaType": media_type, "digest": str(Digest.of(content)), "size": len(content), **fields}


def image_manifest(
    config: Document,
    layers: Sequence[Document],
    media_type: str | None = mediatypes.OCI_MANIFEST,
    **fields: Any,
) -> Document:
    """An image manifest; `media_type=None` leaves the mediaType field out."""
    document: Document = {"schemaVersion": 2, "config": config, "layers": list(layers), **fields}
    if media_type is not None:
        document["mediaType"] = media_type
    return document


def index(children: Sequence[Document], media_type: str | None = mediatypes.OCI_INDEX, **fields: Any) -> Document:
    """An index (or Docker manifest list); `media_type=None` leaves the mediaType field out."""
    document: Document = {"schemaVersion": 2, "manifests": list(children), **fields}
    if media_type is not None:
        document["mediaType"] = media_type
    return document


def encode(document: Document) -> bytes:
    return json.dumps(document).encode()
