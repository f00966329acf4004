"""What DescribeImages says about an image, read from its manifest: size and media types.

imageSizeInBytes is what the registry stores for the image: the config and layers an image manifest lists (the
sizes its descriptors declare, as pushed: compressed); for an index, the largest of the images it lists (ECR:
"If the image is a manifest list, this will be the max size of all manifests in the list").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pullcache.core import mediatypes
from pullcache.core.digests import Digest
from pullcache.registry.errors import ManifestInvalid
from pullcache.registry.manifests import ParsedManifest, parse_manifest


@dataclass(frozen=True, slots=True)
class ImageFacts:
    size: int
    artifact_media_type: str | None  # the config's media type; None for an index
    children: tuple[Digest, ...]  # the manifests an index lists


def image_facts(content: bytes, media_type: str) -> ImageFacts:
    """The facts of a stored manifest. A manifest the registry stored always parses; one that does not is size 0."""
    try:
        parsed: ParsedManifest = parse_manifest(content, media_type)
    except ManifestInvalid:
        return ImageFacts(0, None, ())
    if parsed.media_type in mediatypes.INDEXES:
        return ImageFacts(0, None, tuple(child.digest for child in parsed.children))
    config = parsed.blobs[0]
    return ImageFacts(sum(blob.size for blob in parsed.blobs), config.media_type, ())


def image_size(facts: ImageFacts, child_sizes: Mapping[Digest, int]) -> int:
    """The size of an image, given the sizes of the children of an index (those absent count as 0)."""
    if not facts.children:
        return facts.size
    return max((child_sizes.get(child, 0) for child in facts.children), default=0)
