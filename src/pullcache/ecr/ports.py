"""What the ECR service needs beyond the registry: repository settings, policies, resource tags, image listings and
lifecycle policies.

The repositories are the registry's own (metadata/sql.py keeps both views over the same rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.registry.tag_mutability import MUTABLE, TagMutabilityRule

AES256 = "AES256"


@dataclass(frozen=True, slots=True)
class Encryption:
    encryption_type: str = AES256  # AES256, KMS or KMS_DSSE
    kms_key: str | None = None


@dataclass(frozen=True, slots=True)
class RepositorySettings:
    tag_mutability: TagMutabilityRule = MUTABLE
    scan_on_push: bool = False
    encryption: Encryption = field(default_factory=Encryption)


@dataclass(frozen=True, slots=True)
class RepositoryRecord:
    scope: RegistryScope
    name: str
    created_at: datetime
    settings: RepositorySettings


@dataclass(frozen=True, slots=True)
class ImageRecord:
    """One image (manifest) of a repository, with the tags that name it."""

    digest: Digest
    media_type: str
    content: bytes
    artifact_type: str | None
    tags: tuple[str, ...]
    pushed_at: datetime
    pulled_at: datetime | None
    subject: Digest | None = None  # the manifest it refers to (OCI 1.1 `subject`): a referrer's subject


@dataclass(frozen=True, slots=True)
class ImageId:
    """One entry of ListImages: an image by digest with one of its tags, or with none when it has none."""

    digest: Digest
    tag: str | None


class TagStatus(StrEnum):
    TAGGED = "TAGGED"
    UNTAGGED = "UNTAGGED"
    ANY = "ANY"


class EcrMetadataStore(Protocol):
    """Every method is one transaction; `scope` picks the registry."""

    async def create_repository(
        self,
        scope: RegistryScope,
        name: str,
        settings: RepositorySettings,
        tags: Sequence[tuple[str, str]],
        created_at: datetime,
    ) -> RepositoryRecord | None:
        """The new repository, or None when one of that name exists already."""
        ...

    async def find_repository(self, scope: RegistryScope, name: str) -> RepositoryRecord | None: ...

    async def list_repositories(
        self, scope: RegistryScope, after: str | None, limit: int | None
    ) -> Sequence[RepositoryRecord]:
        """Repositories in lexical order of name, after `after`."""
        ...

    async def delete_repository(self, scope: RegistryScope, name: str, *, force: bool) -> RepositoryRecord:
        """Delete the repository with its images, tags and policy.

        Raises RepositoryNotFound, or RepositoryNotEmpty when it holds images and `force` is off.
        """
        ...

    async def set_tag_mutability(self, scope: RegistryScope, name: str, rule: TagMutabilityRule) -> bool:
        """False when there is no such repository."""
        ...

    async def find_repository_policy(self, scope: RegistryScope, name: str) -> str | None: ...

    async def set_repository_policy(self, scope: RegistryScope, name: str, text: str | None) -> bool:
        """Set (None: remove) the repository policy; False when there is no such repository."""
        ...

    async def find_registry_policy(self, scope: RegistryScope) -> str | None: ...

    async def set_registry_policy(self, scope: RegistryScope, text: str | None, at: datetime) -> None:
        """Set (None: remove) the registry policy."""
        ...

    async def list_repository_tags(self, scope: RegistryScope, name: str) -> Sequence[tuple[str, str]] | None:
        """The repository's resource tags in the order first set, or None when there is no such repository."""
        ...

    async def tag_repository(self, scope: RegistryScope, name: str, tags: Sequence[tuple[str, str]]) -> bool:
        """Add or overwrite tags; False when there is no such repository."""
        ...

    async def untag_repository(self, scope: RegistryScope, name: str, keys: Sequence[str]) -> bool:
        """Remove tags (absent keys are ignored); False when there is no such repository."""
        ...

    async def list_image_ids(
        self,
        scope: RegistryScope,
        name: str,
        status: TagStatus,
        after: ImageId | None,
        limit: int | None,
    ) -> Sequence[ImageId]:
        """ListImages' entries in order of digest, then tag (an untagged image's entry first)."""
        ...

    async def list_images(
        self, scope: RegistryScope, name: str, status: TagStatus, after: Digest | None, limit: int | None
    ) -> Sequence[ImageRecord]:
        """The repository's images in order of digest, after `after`."""
        ...

    async def find_image(self, scope: RegistryScope, name: str, digest: Digest) -> ImageRecord | None: ...


# -- lifecycle policies ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LifecyclePolicy:
    text: str
    updated_at: datetime


class LifecyclePolicyStore(Protocol):
    """Every method is one transaction."""

    async def find_lifecycle_policy(self, scope: RegistryScope, name: str) -> LifecyclePolicy | None: ...

    async def set_lifecycle_policy(self, scope: RegistryScope, name: str, text: str, at: datetime) -> bool:
        """Set or replace the policy; False when there is no such repository."""
        ...

    async def delete_lifecycle_policy(self, scope: RegistryScope, name: str) -> LifecyclePolicy | None:
        """Delete and return the policy; None when the repository has none (or does not exist)."""
        ...


@dataclass(frozen=True, slots=True)
class RepositoryLifecyclePolicy:
    """A repository's lifecycle policy, with the repository it belongs to."""

    scope: RegistryScope
    name: str
    text: str


class RepositoryLookup(Protocol):
    async def find_repository(self, scope: RegistryScope, name: str) -> object | None: ...


# -- lifecycle policy previews --------------------------------------------------------------------------------


class PreviewStatus(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"


class PreviewStart(StrEnum):
    STARTED = "STARTED"
    IN_PROGRESS = "IN_PROGRESS"  # another preview of the repository is running
    NO_REPOSITORY = "NO_REPOSITORY"


@dataclass(frozen=True, slots=True)
class PreviewResult:
    """An image the previewed policy would act on, as it was when the preview ran."""

    digest: Digest
    tags: tuple[str, ...]
    pushed_at: datetime
    rule_priority: int
    action: str  # the policy's action: expire


@dataclass(frozen=True, slots=True)
class LifecyclePolicyPreview:
    text: str
    status: PreviewStatus
    started_at: datetime
    results: tuple[PreviewResult, ...] = ()


class LifecyclePreviewStore(Protocol):
    """A repository's latest preview; it goes with the repository. Every method is one transaction."""

    async def begin_preview(
        self, scope: RegistryScope, name: str, text: str, at: datetime, stale_before: datetime
    ) -> PreviewStart:
        """Record a preview of `text` IN_PROGRESS in place of the last one, unless one is still in progress
        (one in progress since before `stale_before` counts as abandoned, its process gone)."""
        ...

    async def finish_preview(
        self,
        scope: RegistryScope,
        name: str,
        started_at: datetime,
        status: PreviewStatus,
        results: Sequence[PreviewResult],
    ) -> None:
        """Record the outcome of the preview begun at `started_at` (nothing when another has replaced it)."""
        ...

    async def find_preview(self, scope: RegistryScope, name: str) -> LifecyclePolicyPreview | None: ...


class ImageListing(Protocol):
    async def list_images(
        self, scope: RegistryScope, name: str, status: TagStatus, after: Digest | None, limit: int | None
    ) -> Sequence[ImageRecord]:
        """The repository's images in order of digest, after `after`."""
        ...


# -- registry settings: scanning, account settings, pull time update exclusions -------------------------------


@dataclass(frozen=True, slots=True)
class ScanningRule:
    frequency: str  # SCAN_ON_PUSH, CONTINUOUS_SCAN or MANUAL
    filters: tuple[str, ...]  # WILDCARD filters on repository names


@dataclass(frozen=True, slots=True)
class ScanningConfiguration:
    """A registry's scanning configuration; a registry that never set one has the default (BASIC, no rules)."""

    scan_type: str = "BASIC"
    rules: tuple[ScanningRule, ...] = ()


@dataclass(frozen=True, slots=True)
class PullTimeExclusion:
    principal_arn: str
    created_at: datetime


class RegistrySettingsStore(Protocol):
    """Settings of a registry scope and its repositories' scanning flag. Every method is one transaction."""

    async def find_scanning_configuration(self, scope: RegistryScope) -> ScanningConfiguration | None: ...

    async def set_scanning_configuration(
        self, scope: RegistryScope, configuration: ScanningConfiguration, at: datetime
    ) -> None: ...

    async def set_scan_on_push(self, scope: RegistryScope, name: str, scan_on_push: bool) -> bool:
        """False when there is no such repository."""
        ...

    async def find_account_setting(self, scope: RegistryScope, name: str) -> str | None: ...

    async def set_account_setting(self, scope: RegistryScope, name: str, value: str, at: datetime) -> None: ...

    async def add_pull_time_exclusion(
        self, scope: RegistryScope, principal_arn: str, at: datetime, limit: int
    ) -> PullTimeExclusion | None:
        """The new exclusion; None when the principal is excluded already. Raises LimitExceeded when the registry
        has `limit` exclusions."""
        ...

    async def remove_pull_time_exclusion(self, scope: RegistryScope, principal_arn: str) -> bool:
        """False when the principal was not excluded."""
        ...

    async def list_pull_time_exclusions(self, scope: RegistryScope) -> Sequence[PullTimeExclusion]:
        """In order of principal ARN."""
        ...


class RepositoryRecords(Protocol):
    async def find_repository(self, scope: RegistryScope, name: str) -> RepositoryRecord | None: ...
