"""Lifecycle expiry: the lifecycle policies of every repository of every registry, applied.

A run (LifecycleExpiry.expire_all; app.py runs one every `--lifecycle-interval` seconds, in one worker at a time)
reads each repository's images, works out what its policy expires now as the lifecycle policy preview does
(lifecycle_selection.py: ECR's evaluator, lifecycle_evaluation.py, less the images an index that stays lists), and
deletes those images the way BatchDeleteImage deletes by digest: the manifest and every tag on it, through the
registry's own delete path. Blob bytes stay until garbage collection finds them unreferenced.

What ECR's user guide says, and what is done here:

- "Once a lifecycle policy is applied to a repository, you should expect that images become expired within 24
  hours after they meet the expiration criteria." The default interval is an hour; 0 turns expiry off.
- "If an image is referenced by a manifest list, it cannot be expired or archived without the manifest list being
  deleted or archived first" ("Lifecycle policy evaluation rules"). An image an index lists is kept while the index
  stays (lifecycle_selection.py); when the index is expired too, it is deleted first. An index kept at the last
  moment (see below) keeps every image it lists.
- "When reference artifacts are present in a repository, Amazon ECR lifecycle policies will automatically clean up
  those artifacts within 24 hours of the deletion of the subject image" ("Signing an image", Considerations). In
  a repository with a lifecycle policy, a referrer (a manifest whose `subject` is absent from the repository) is
  deleted: at once when this run deleted its subject, and otherwise once it was pushed more than
  ORPHANED_REFERRER_GRACE ago - a subject deleted by BatchDeleteImage or /v2/ takes its referrers within that
  long, and a referrer pushed before its subject (which the OCI spec allows) is not taken before the subject
  arrives. A referrer's referrers follow it. Referrers count as images for the policy's rules, as in ECR.

Each image is read again just before it is deleted, and kept when its tags, push time or pull time changed since
the evaluation read it (re-tagged, deleted and pushed again, pulled): the evaluation no longer holds for it. What
is not re-checked, accepted as ECR accepts eventual consistency: a policy changed after the evaluation (the next
run applies it), and an index pushed after the evaluation that lists an image being expired (the window is the
one between the evaluation and that image's deletion). A repository deleted meanwhile is skipped; a repository
whose expiry fails is logged and the others go on. A run deletes at most MAX_DELETIONS per repository (the rest
waits for the next run), one image per transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Protocol

from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.ecr.lifecycle_selection import (
    LifecycleCandidate,
    list_candidates,
    listed_by_staying_indexes,
    listed_under,
    parents_first,
    select_expiring,
)
from pullcache.ecr.ports import ImageRecord, RepositoryLifecyclePolicy, TagStatus
from pullcache.registry.errors import ManifestUnknown, NameUnknown

log = logging.getLogger(__name__)

POLICY_PAGE = 100  # policies read at a time
MAX_DELETIONS = 10_000  # images (referrers included) one run deletes from one repository
ORPHANED_REFERRER_GRACE = timedelta(hours=24)  # ECR: referrers go "within 24 hours" of their subject


class LifecyclePolicyListing(Protocol):
    async def list_lifecycle_policies(
        self, after: RepositoryLifecyclePolicy | None, limit: int
    ) -> Sequence[RepositoryLifecyclePolicy]:
        """Up to `limit` policies of every registry, in a stable order, after the repository of `after`."""
        ...


class RepositoryImages(Protocol):
    async def list_images(
        self, scope: RegistryScope, name: str, status: TagStatus, after: Digest | None, limit: int | None
    ) -> Sequence[ImageRecord]:
        """The repository's images in order of digest, after `after` (none when it does not exist)."""
        ...

    async def find_image(self, scope: RegistryScope, name: str, digest: Digest) -> ImageRecord | None: ...


class ManifestDeletion(Protocol):
    async def delete_manifest(self, scope: RegistryScope, repository: str, reference: str) -> None:
        """Delete by digest: the manifest and its tags. Raises ManifestUnknown, NameUnknown (no repository)."""
        ...


class Outcome(Enum):
    DELETED = "deleted"
    GONE = "gone"  # deleted by someone else first
    CHANGED = "changed"  # re-tagged, pushed again or pulled since the evaluation: kept


@dataclass(slots=True)
class ExpirySummary:
    """What a run did, or what it did in one repository."""

    repositories: int = 0
    expired: int = 0  # images a rule expired
    referrers: int = 0  # referrers deleted after their subject
    kept: int = 0  # images that changed between evaluation and deletion
    failed: int = 0  # repositories whose expiry failed

    def add(self, other: ExpirySummary) -> None:
        self.repositories += other.repositories
        self.expired += other.expired
        self.referrers += other.referrers
        self.kept += other.kept
        self.failed += other.failed


class RepositoryGone(Exception):
    """The repository was deleted while its policy was being applied."""


class LifecycleExpiry:
    def __init__(
        self,
        policies: LifecyclePolicyListing,
        images: RepositoryImages,
        deletion: ManifestDeletion,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._policies = policies
        self._images = images
        self._deletion = deletion
        self._clock = clock

    async def run(self) -> None:
        """The periodic job: expire_all."""
        await self.expire_all()

    async def expire_all(self) -> ExpirySummary:
        """Apply every repository's lifecycle policy once; a repository that fails is logged and skipped."""
        summary = ExpirySummary()
        after: RepositoryLifecyclePolicy | None = None
        while True:
            page = await self._policies.list_lifecycle_policies(after, POLICY_PAGE)
            for policy in page:
                try:
                    summary.add(await self.expire_repository(policy.scope, policy.name, policy.text))
                except Exception:
                    summary.add(ExpirySummary(repositories=1, failed=1))
                    log.exception(
                        "applying the lifecycle policy of %s failed; the next run tries again",
                        policy.name,
                        extra={"fields": _repository_fields(policy.scope, policy.name)},
                    )
            if len(page) < POLICY_PAGE:
                break
            after = page[-1]
        log.info(
            "lifecycle policies applied",
            extra={
                "fields": {
                    "repositories": summary.repositories,
                    "expired": summary.expired,
                    "referrers": summary.referrers,
                    "kept": summary.kept,
                    "failed": summary.failed,
                }
            },
        )
        return summary

    async def expire_repository(self, scope: RegistryScope, name: str, text: str) -> ExpirySummary:
        """Apply the policy `text` to the repository now. Raises what reading or deleting raises (a policy that does
        not parse included); a repository that is gone, or goes meanwhile, is skipped."""
        summary = ExpirySummary(repositories=1)
        now = self._clock()
        candidates = await list_candidates(self._images, scope, name)
        by_digest = {candidate.digest: candidate for candidate in candidates}
        deleted: set[Digest] = set()
        kept: set[Digest] = set()  # listed by an index kept at the last moment
        try:
            for expiry in parents_first(select_expiring(text, candidates, now)):
                if len(deleted) >= MAX_DELETIONS:
                    return summary
                image = expiry.image
                if image.digest in kept:
                    continue
                outcome = await self._expire(scope, name, image)
                if outcome is Outcome.CHANGED:
                    summary.kept += 1
                    kept |= listed_under([image], by_digest)
                    continue
                deleted.add(image.digest)
                if outcome is Outcome.DELETED:
                    summary.expired += 1
                    _log_expired(scope, name, image, {"rule_priority": expiry.rule_priority})
            remaining = {digest: c for digest, c in by_digest.items() if digest not in deleted}
            await self._delete_orphaned_referrers(scope, name, remaining, deleted, now, summary)
        except RepositoryGone:
            log.info(
                "repository deleted while its lifecycle policy was being applied",
                extra={"fields": _repository_fields(scope, name)},
            )
        return summary

    async def _delete_orphaned_referrers(
        self,
        scope: RegistryScope,
        name: str,
        remaining: dict[Digest, LifecycleCandidate],
        deleted: set[Digest],
        now: datetime,
        summary: ExpirySummary,
    ) -> None:
        """Delete the referrers whose subject is gone (deleted by this run, or long enough ago), theirs after them."""
        considered: set[Digest] = set()
        while len(deleted) < MAX_DELETIONS:
            protected = listed_by_staying_indexes(remaining.values(), set())
            orphans = [
                candidate
                for candidate in remaining.values()
                if candidate.digest not in considered
                and candidate.digest not in protected
                and candidate.subject is not None
                and candidate.subject not in remaining
                and (candidate.subject in deleted or candidate.pushed_at < now - ORPHANED_REFERRER_GRACE)
            ]
            if not orphans:
                return
            for referrer in orphans[: MAX_DELETIONS - len(deleted)]:
                considered.add(referrer.digest)
                outcome = await self._expire(scope, name, referrer)
                if outcome is Outcome.CHANGED:
                    summary.kept += 1
                    continue
                del remaining[referrer.digest]
                deleted.add(referrer.digest)
                if outcome is Outcome.DELETED:
                    summary.referrers += 1
                    _log_expired(scope, name, referrer, {"subject": str(referrer.subject)})

    async def _expire(self, scope: RegistryScope, name: str, image: LifecycleCandidate) -> Outcome:
        """Delete `image` unless it changed since it was evaluated. Raises RepositoryGone."""
        current = await self._images.find_image(scope, name, image.digest)
        if current is None:
            return Outcome.GONE
        if not image.is_unchanged_in(current):
            log.info(
                "kept an image that changed since its lifecycle evaluation",
                extra={"fields": {**_repository_fields(scope, name), "digest": str(image.digest)}},
            )
            return Outcome.CHANGED
        try:
            await self._deletion.delete_manifest(scope, name, str(image.digest))
        except ManifestUnknown:
            return Outcome.GONE
        except NameUnknown:
            raise RepositoryGone(name) from None
        return Outcome.DELETED


def _log_expired(scope: RegistryScope, name: str, image: LifecycleCandidate, why: dict[str, object]) -> None:
    log.info(
        "expired %s@%s",
        name,
        image.digest,
        extra={
            "fields": {**_repository_fields(scope, name), "digest": str(image.digest), "tags": list(image.tags), **why}
        },
    )


def _repository_fields(scope: RegistryScope, name: str) -> dict[str, object]:
    return {"account_id": scope.account_id, "region": scope.region, "repository": name}
