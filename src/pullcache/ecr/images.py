"""ECR's image operations over the registry: ListImages, DescribeImages, BatchGetImage, BatchDeleteImage, PutImage.

The images are the registry's manifests: PutImage stores through RegistryService, so the tag mutability rule and
the manifest checks are the ones /v2/ applies, and what ECR lists is what /v2/ pushed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from pullcache.core.digests import Digest, InvalidDigest, looks_like_digest
from pullcache.core.names import is_valid_tag
from pullcache.core.scopes import RegistryScope
from pullcache.ecr.errors import (
    ImageAlreadyExists,
    ImageDigestDoesNotMatch,
    ImageNotFound,
    ImageTagAlreadyExists,
    InvalidParameter,
    LayersNotFound,
    ReferencedImagesNotFound,
)
from pullcache.ecr.image_facts import image_facts, image_size
from pullcache.ecr.pagination import DEFAULT_PAGE, INVALID_TOKEN, next_token, read_token
from pullcache.ecr.ports import EcrMetadataStore, ImageId, ImageRecord, TagStatus
from pullcache.ecr.service import EcrService
from pullcache.registry.errors import ManifestBlobUnknown, ManifestInvalid, ManifestTooLarge, TagImmutable
from pullcache.registry.ports import ManifestRecord
from pullcache.registry.service import RegistryService

# ECR's answer to a manifest it cannot take, whatever is wrong with it (a manifest that does not say its media
# type included, unless imageManifestMediaType does).
INVALID_MANIFEST = "Invalid parameter at 'ImageManifest' failed to satisfy constraint: 'Invalid JSON syntax'"


@dataclass(frozen=True, slots=True)
class ImageDescription:
    image: ImageRecord
    size: int
    artifact_media_type: str | None


@dataclass(frozen=True, slots=True)
class ImageRequest:
    """One entry of imageIds: a digest, a tag, or both."""

    digest: str | None = None
    tag: str | None = None


@dataclass(frozen=True, slots=True)
class ImageFailure:
    request: ImageRequest
    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class FoundImage:
    request: ImageRequest
    manifest: ManifestRecord


class EcrImages:
    def __init__(self, repositories: EcrService, registry: RegistryService, store: EcrMetadataStore) -> None:
        self._repositories = repositories
        self._registry = registry
        self._store = store

    async def list_images(
        self, scope: RegistryScope, name: str, status: TagStatus, token: str | None, limit: int | None
    ) -> tuple[list[ImageId], str | None]:
        await self._repositories.get_repository(scope, name)
        page = limit or DEFAULT_PAGE
        after = None
        if token is not None:
            digest, tag = read_token(token, 2)
            after = ImageId(_token_digest(digest), tag)
        found = list(await self._store.list_image_ids(scope, name, status, after, page + 1))
        if len(found) <= page:
            return found, None
        last = found[page - 1]
        return found[:page], next_token(str(last.digest), last.tag)

    async def describe_images(
        self,
        scope: RegistryScope,
        name: str,
        requests: Sequence[ImageRequest] | None,
        status: TagStatus,
        token: str | None,
        limit: int | None,
    ) -> tuple[list[ImageDescription], str | None]:
        """The images asked for (every one must exist: ImageNotFound), or a page of the repository's images."""
        await self._repositories.get_repository(scope, name)
        if requests:
            if token is not None or limit is not None:
                raise InvalidParameter("Invalid parameter: nextToken and maxResults cannot be used with imageIds")
            images: dict[Digest, ImageRecord] = {}
            for request in requests:
                image = await self._find_image(scope, name, request)
                if image is None:
                    raise ImageNotFound(scope, name, request.digest, request.tag)
                images.setdefault(image.digest, image)
            return [await self._describe(scope, name, image) for image in images.values()], None
        page = limit or DEFAULT_PAGE
        after = _token_digest(read_token(token, 1)[0]) if token is not None else None
        found = list(await self._store.list_images(scope, name, status, after, page + 1))
        described = [await self._describe(scope, name, image) for image in found[:page]]
        return described, (next_token(str(found[page - 1].digest)) if len(found) > page else None)

    async def _describe(self, scope: RegistryScope, name: str, image: ImageRecord) -> ImageDescription:
        facts = image_facts(image.content, image.media_type)
        sizes: dict[Digest, int] = {}
        for child in facts.children:
            found = await self._store.find_image(scope, name, child)
            if found is not None:
                sizes[child] = image_facts(found.content, found.media_type).size
        # An image's config media type; an index has none, but may state an artifactType of its own.
        return ImageDescription(image, image_size(facts, sizes), facts.artifact_media_type or image.artifact_type)

    async def _find_image(self, scope: RegistryScope, name: str, request: ImageRequest) -> ImageRecord | None:
        digest = _request_digest(request)
        if digest is None and request.tag is not None:
            tagged = await self._registry.find_manifest(scope, name, request.tag)
            digest = tagged.digest if tagged is not None else None
        if digest is None:
            return None
        image = await self._store.find_image(scope, name, digest)
        if image is None or (request.tag is not None and request.tag not in image.tags):
            return None
        return image

    async def batch_get_image(
        self,
        scope: RegistryScope,
        name: str,
        requests: Sequence[ImageRequest],
        accepted_media_types: Sequence[str] | None,
        principal_arn: str | None = None,
    ) -> tuple[list[FoundImage], list[ImageFailure]]:
        """The manifests asked for, each pull recorded as one by `principal_arn` (the caller's aws:PrincipalArn:
        its pull time held back when excluded); what cannot be given is a failure, not an error."""
        await self._repositories.get_repository(scope, name)
        found: list[FoundImage] = []
        failures: list[ImageFailure] = []
        for request in dict.fromkeys(requests):
            failure = _malformed(request)
            manifest = None if failure is not None else await self._find_manifest(scope, name, request)
            if failure is None and manifest is None:
                failure = _not_found(request)
            if failure is None and manifest is not None:
                if accepted_media_types and manifest.media_type not in accepted_media_types:
                    failure = ImageFailure(request, "UnsupportedImageType", "Image manifest media type not accepted")
                else:
                    self._registry.record_pull(scope, name, manifest, principal_arn)
                    found.append(FoundImage(request, manifest))
            if failure is not None:
                failures.append(failure)
        return found, failures

    async def _find_manifest(self, scope: RegistryScope, name: str, request: ImageRequest) -> ManifestRecord | None:
        if request.digest is not None:
            manifest = await self._registry.find_manifest(scope, name, Digest.parse(request.digest))
            if manifest is not None and request.tag is not None:
                tagged = await self._registry.find_manifest(scope, name, request.tag)
                if tagged is None or tagged.digest != manifest.digest:
                    return None
            return manifest
        assert request.tag is not None
        return await self._registry.find_manifest(scope, name, request.tag)

    async def batch_delete_image(
        self, scope: RegistryScope, name: str, requests: Sequence[ImageRequest]
    ) -> tuple[list[ImageId], list[ImageFailure]]:
        """Delete by digest (the image and its tags) or by tag (the tag; the image too when it was its last)."""
        await self._repositories.get_repository(scope, name)
        deleted: list[ImageId] = []
        failures: list[ImageFailure] = []
        for request in dict.fromkeys(requests):
            failure = _malformed(request)
            image = None if failure is not None else await self._find_image(scope, name, request)
            if failure is None and image is None:
                failure = _not_found(request)
            if failure is not None:
                failures.append(failure)
                continue
            assert image is not None
            if request.tag is not None and len(image.tags) > 1:
                await self._registry.delete_manifest(scope, name, request.tag)
                deleted.append(ImageId(image.digest, request.tag))
                continue
            await self._registry.delete_manifest(scope, name, str(image.digest))
            removed: list[str | None] = [request.tag] if request.tag is not None else list(image.tags)
            deleted.extend(ImageId(image.digest, tag) for tag in removed or [None])
        return deleted, failures

    async def put_image(
        self,
        scope: RegistryScope,
        name: str,
        manifest: str,
        media_type: str | None,
        tag: str | None,
        digest_text: str | None,
    ) -> ManifestRecord:
        """Store an image manifest under the repository's rules.

        Raises RepositoryNotFound, InvalidParameter, ImageDigestDoesNotMatch, ImageAlreadyExists,
        ImageTagAlreadyExists, LayersNotFound, ReferencedImagesNotFound.
        """
        await self._repositories.get_repository(scope, name)
        content = manifest.encode()
        digest = Digest.of(content)
        if digest_text is not None:
            try:
                given = Digest.parse(digest_text)
            except InvalidDigest:
                raise InvalidParameter(
                    f"Invalid parameter at 'imageDigest' failed to satisfy constraint: 'Invalid digest {digest_text}'"
                ) from None
            digest = Digest.of(content, given.algorithm)
            if digest != given:
                raise ImageDigestDoesNotMatch(digest_text, str(digest))
        if media_type is None and not _declares_media_type(manifest):
            raise InvalidParameter(INVALID_MANIFEST)  # ECR wants the type said, in the manifest or beside it
        if tag is not None and not is_valid_tag(tag):
            raise InvalidParameter(f"Invalid parameter at 'imageTag' failed to satisfy constraint: 'Invalid tag {tag}'")
        existing = await self._registry.find_manifest(scope, name, tag if tag is not None else digest)
        if existing is not None and existing.digest == digest:
            raise ImageAlreadyExists(scope, name, str(digest), tag)
        try:
            stored = await self._registry.store_manifest(scope, name, digest, tag, content, media_type)
        except TagImmutable as error:
            raise ImageTagAlreadyExists(error.message) from None
        except ManifestBlobUnknown as error:
            if error.manifests:
                raise ReferencedImagesNotFound(scope, name, error.missing) from None
            raise LayersNotFound(scope, name, error.missing) from None
        except (ManifestTooLarge, ManifestInvalid):
            raise InvalidParameter(INVALID_MANIFEST) from None
        return ManifestRecord(stored.digest, stored.media_type, content)


def _declares_media_type(manifest: str) -> bool:
    try:
        document = json.loads(manifest)
    except ValueError:
        return False
    return isinstance(document, dict) and isinstance(document.get("mediaType"), str)


def _request_digest(request: ImageRequest) -> Digest | None:
    if request.digest is None:
        return None
    try:
        return Digest.parse(request.digest)
    except InvalidDigest:
        return None


def _malformed(request: ImageRequest) -> ImageFailure | None:
    if request.digest is None and request.tag is None:
        return ImageFailure(
            request, "MissingDigestAndTag", "Invalid request parameters: both tag and digest cannot be null"
        )
    if request.digest is not None and not _valid_digest(request.digest):
        return ImageFailure(
            request,
            "InvalidImageDigest",
            "Invalid request parameters: image digest should satisfy the regex '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'",
        )
    if request.tag is not None and not is_valid_tag(request.tag):
        return ImageFailure(
            request,
            "InvalidImageTag",
            "Invalid request parameters: image tag should satisfy the regex '[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}'",
        )
    return None


def _valid_digest(text: str) -> bool:
    if not looks_like_digest(text):
        return False
    try:
        Digest.parse(text)
    except InvalidDigest:
        return False
    return True


def _not_found(request: ImageRequest) -> ImageFailure:
    return ImageFailure(request, "ImageNotFound", "Requested image not found")


def _token_digest(text: str | None) -> Digest:
    try:
        return Digest.parse(text or "")
    except InvalidDigest:
        raise InvalidParameter(INVALID_TOKEN) from None
