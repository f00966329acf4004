"""ECR's wire shapes: the model's members in, domain values out, and the other way round."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pullcache.aws.wire import Params
from pullcache.core.scopes import RegistryScope
from pullcache.ecr.images import ImageDescription, ImageFailure, ImageRequest
from pullcache.ecr.ports import Encryption, ImageId, RepositoryRecord, TagStatus
from pullcache.registry.ports import ManifestRecord
from pullcache.registry.tag_mutability import TagMutability, TagMutabilityRule


def repository_shape(record: RepositoryRecord, uri: str) -> dict[str, Any]:
    """`uri`: where the repository is pushed and pulled (core/public_hosts.py)."""
    settings = record.settings
    return {
        "repositoryArn": record.scope.repository_arn(record.name),
        "registryId": record.scope.account_id,
        "repositoryName": record.name,
        "repositoryUri": uri,
        "createdAt": record.created_at,
        **mutability_shape(settings.tag_mutability),
        "imageScanningConfiguration": {"scanOnPush": settings.scan_on_push},
        "encryptionConfiguration": {
            "encryptionType": settings.encryption.encryption_type,
            "kmsKey": settings.encryption.kms_key,
        },
    }


def mutability_shape(rule: TagMutabilityRule) -> dict[str, Any]:
    filters = [{"filterType": "WILDCARD", "filter": f} for f in rule.exclusion_filters]
    return {"imageTagMutability": rule.mutability.value, "imageTagMutabilityExclusionFilters": filters or None}


def mutability_rule(params: Params) -> TagMutabilityRule:
    filters = tuple(f["filter"] for f in params.get("imageTagMutabilityExclusionFilters", []))
    return TagMutabilityRule(TagMutability(params.get("imageTagMutability", TagMutability.MUTABLE.value)), filters)


def encryption(given: Mapping[str, Any] | None) -> Encryption:
    if given is None:
        return Encryption()
    return Encryption(given["encryptionType"], given.get("kmsKey"))


def tag_status(params: Params) -> TagStatus:
    return TagStatus(params.get("filter", {}).get("tagStatus", TagStatus.ANY.value))


def image_request(image_id: Mapping[str, Any]) -> ImageRequest:
    return ImageRequest(image_id.get("imageDigest"), image_id.get("imageTag"))


def image_id_shape(image: ImageId) -> dict[str, Any]:
    return {"imageDigest": str(image.digest), "imageTag": image.tag}


def image_shape(scope: RegistryScope, name: str, manifest: ManifestRecord, tag: str | None) -> dict[str, Any]:
    return {
        "registryId": scope.account_id,
        "repositoryName": name,
        "imageId": {"imageDigest": str(manifest.digest), "imageTag": tag},
        "imageManifest": manifest.content.decode(),
        "imageManifestMediaType": manifest.media_type,
    }


def image_detail_shape(scope: RegistryScope, name: str, described: ImageDescription) -> dict[str, Any]:
    image = described.image
    return {
        "registryId": scope.account_id,
        "repositoryName": name,
        "imageDigest": str(image.digest),
        "imageTags": list(image.tags) or None,
        "imageSizeInBytes": described.size,
        "imagePushedAt": image.pushed_at,
        "imageManifestMediaType": image.media_type,
        "artifactMediaType": described.artifact_media_type,
        "lastRecordedPullTime": image.pulled_at,
        "subjectManifestDigest": None if image.subject is None else str(image.subject),
    }


def failure_shape(failure: ImageFailure) -> dict[str, Any]:
    request = failure.request
    return {
        "imageId": {"imageDigest": request.digest, "imageTag": request.tag},
        "failureCode": failure.code,
        "failureReason": failure.reason,
    }
