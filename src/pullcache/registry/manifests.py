"""Parsing and validating manifests: what a manifest says it is and which content it references.

Pure code: bytes in, a ParsedManifest out, or ManifestInvalid naming what is wrong.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pullcache.core import mediatypes
from pullcache.core.digests import Digest, InvalidDigest
from pullcache.registry.errors import ManifestInvalid


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    artifact_type: str | None = None
    external: bool = False  # has `urls`: the content lives elsewhere and need not be in the registry


@dataclass(frozen=True, slots=True)
class ParsedManifest:
    media_type: str
    blobs: tuple[Descriptor, ...]  # config and layers of an image manifest
    children: tuple[Descriptor, ...]  # manifests of an index
    subject: Descriptor | None = None
    artifact_type: str | None = None  # as the referrers API reports it
    annotations: dict[str, str] = field(default_factory=dict)


def parse_manifest(content: bytes, content_type: str | None) -> ParsedManifest:
    """Parse `content` sent with `content_type`; raises ManifestInvalid."""
    try:
        document = json.loads(content)
    except (ValueError, RecursionError) as error:  # RecursionError: nesting deeper than the parser allows
        raise ManifestInvalid(f"manifest is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise ManifestInvalid("manifest is not a JSON object")
    media_type = _media_type(document, content_type)
    if document.get("schemaVersion") != 2:
        raise ManifestInvalid("schemaVersion must be 2")
    subject = _optional_descriptor(document, "subject")
    annotations = _annotations(document)
    artifact_type = _optional_string(document, "artifactType")
    if media_type in mediatypes.INDEXES:
        children = tuple(_descriptors(document, "manifests"))
        return ParsedManifest(media_type, (), children, subject, artifact_type, annotations)
    config = _descriptor(document.get("config"), "config")
    layers = _descriptors(document, "layers")
    if media_type == mediatypes.DOCKER_MANIFEST and not layers:
        raise ManifestInvalid("a Docker image manifest needs at least one layer")
    # The referrers API reports an image manifest's artifactType, else its config's media type.
    reported_type = artifact_type or config.media_type
    return ParsedManifest(media_type, (config, *layers), (), subject, reported_type, annotations)


def _media_type(document: dict[str, Any], content_type: str | None) -> str:
    declared = document.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise ManifestInvalid("mediaType must be a string")
    header = content_type.split(";")[0].strip() if content_type else None
    if declared and header and header != declared:
        raise ManifestInvalid(f"Content-Type {header!r} does not match the manifest's mediaType {declared!r}")
    media_type = declared or header or _guess_media_type(document)
    if media_type not in mediatypes.MANIFESTS:
        raise ManifestInvalid(f"unsupported manifest media type {media_type!r}")
    return media_type


def _guess_media_type(document: dict[str, Any]) -> str:
    return mediatypes.OCI_INDEX if "manifests" in document else mediatypes.OCI_MANIFEST


def _descriptors(document: dict[str, Any], key: str) -> list[Descriptor]:
    value = document.get(key)
    if not isinstance(value, list):
        raise ManifestInvalid(f"{key} must be a list of descriptors")
    return [_descriptor(item, f"{key}[{index}]") for index, item in enumerate(value)]


def _optional_descriptor(document: dict[str, Any], key: str) -> Descriptor | None:
    value = document.get(key)
    return None if value is None else _descriptor(value, key)


def _descriptor(value: object, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise ManifestInvalid(f"{where} must be a descriptor object")
    media_type = value.get("mediaType")
    size = value.get("size")
    if not isinstance(media_type, str) or not media_type:
        raise ManifestInvalid(f"{where}.mediaType must be a non-empty string")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ManifestInvalid(f"{where}.size must be a non-negative integer")
    try:
        digest = Digest.parse(str(value.get("digest")))
    except InvalidDigest as error:
        raise ManifestInvalid(f"{where}.digest: {error.reason}") from None
    artifact_type = value.get("artifactType")
    return Descriptor(
        media_type,
        digest,
        size,
        artifact_type if isinstance(artifact_type, str) else None,
        external=bool(value.get("urls")),
    )


def _optional_string(document: dict[str, Any], key: str) -> str | None:
    value = document.get(key)
    if value is not None and not isinstance(value, str):
        raise ManifestInvalid(f"{key} must be a string")
    return value


def _annotations(document: dict[str, Any]) -> dict[str, str]:
    value = document.get("annotations")
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ManifestInvalid("annotations must map strings to strings")
    return value
