"""Lifecycle policy previews (StartLifecyclePolicyPreview, GetLifecyclePolicyPreview): which images a policy would
expire, worked out by lifecycle_selection.py (the evaluator of lifecycle_evaluation.py, less the images an index
that stays lists) over the repository's images as they are when the preview starts: what lifecycle expiry would
delete at that moment.

A preview is recorded IN_PROGRESS, evaluated, then recorded COMPLETE (FAILED if the evaluation raised) with its
results, each a snapshot of the image (tags, push time) and the rule that selects it. Start answers IN_PROGRESS as
ECR does - its preview runs in the background - although here the evaluation has finished by the time the answer
leaves; a second Start while one is still being evaluated (another request, another worker) is refused with
LifecyclePolicyPreviewInProgressException. A preview left IN_PROGRESS by a process that died is taken as abandoned
after STALE_AFTER. A repository keeps its latest preview only; the preview goes with the repository.

Images never pulled count as pulled when they were pushed (sinceImagePulled), as ECR documents; until pulls of
every kind are recorded, that is also what an image pulled only through paths that record no pull time gets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pullcache.core.scopes import RegistryScope
from pullcache.ecr.errors import (
    InvalidParameter,
    LifecyclePolicyNotFound,
    LifecyclePolicyPreviewInProgress,
    LifecyclePolicyPreviewNotFound,
    RepositoryNotFound,
)
from pullcache.ecr.lifecycle import check_lifecycle_policy
from pullcache.ecr.lifecycle_selection import list_candidates, select_expiring
from pullcache.ecr.pagination import page_after
from pullcache.ecr.ports import (
    ImageListing,
    LifecyclePolicyPreview,
    LifecyclePolicyStore,
    LifecyclePreviewStore,
    PreviewResult,
    PreviewStart,
    PreviewStatus,
    RepositoryLookup,
    TagStatus,
)

STALE_AFTER = timedelta(minutes=10)
# ECR documents that maxResults and nextToken cannot be used with imageIds; worded as DescribeImages' refusal.
IMAGE_IDS_WITH_PAGING = "Invalid parameter: nextToken and maxResults cannot be used with imageIds"


@dataclass(frozen=True, slots=True)
class PreviewImageFilter:
    """GetLifecyclePolicyPreview's imageIds (by digest or tag) and filter.tagStatus."""

    digests: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    status: TagStatus = TagStatus.ANY

    def selects(self, result: PreviewResult) -> bool:
        named = str(result.digest) in self.digests or bool(self.tags.intersection(result.tags))
        if self.names_images and not named:
            return False
        if self.status is TagStatus.TAGGED:
            return bool(result.tags)
        if self.status is TagStatus.UNTAGGED:
            return not result.tags
        return True

    @property
    def names_images(self) -> bool:
        return bool(self.digests or self.tags)


@dataclass(frozen=True, slots=True)
class PreviewPage:
    preview: LifecyclePolicyPreview
    results: Sequence[PreviewResult]
    next_token: str | None
    expiring_total: int


class LifecyclePolicyPreviews:
    def __init__(
        self,
        repositories: RepositoryLookup,
        policies: LifecyclePolicyStore,
        images: ImageListing,
        store: LifecyclePreviewStore,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._repositories = repositories
        self._policies = policies
        self._images = images
        self._store = store
        self._clock = clock

    async def start_preview(self, scope: RegistryScope, name: str, text: str | None) -> LifecyclePolicyPreview:
        """Preview `text`, or the repository's own policy when None.

        Raises RepositoryNotFound, LifecyclePolicyNotFound (no text and no policy), InvalidParameter (not a
        lifecycle policy), LifecyclePolicyPreviewInProgress."""
        await self._repository(scope, name)
        if text is None:
            policy = await self._policies.find_lifecycle_policy(scope, name)
            if policy is None:
                raise LifecyclePolicyNotFound(scope, name)
            text = policy.text
        check_lifecycle_policy(text)
        started_at = self._clock()
        begun = await self._store.begin_preview(scope, name, text, started_at, started_at - STALE_AFTER)
        if begun is PreviewStart.NO_REPOSITORY:
            raise RepositoryNotFound(scope, name)
        if begun is PreviewStart.IN_PROGRESS:
            raise LifecyclePolicyPreviewInProgress(scope, name)
        try:
            results = await self._evaluate(scope, name, text, started_at)
        except BaseException:
            await self._store.finish_preview(scope, name, started_at, PreviewStatus.FAILED, ())
            raise
        await self._store.finish_preview(scope, name, started_at, PreviewStatus.COMPLETE, results)
        return LifecyclePolicyPreview(text, PreviewStatus.IN_PROGRESS, started_at)

    async def get_preview(
        self,
        scope: RegistryScope,
        name: str,
        chosen: PreviewImageFilter,
        token: str | None,
        limit: int | None,
    ) -> PreviewPage:
        """Raises RepositoryNotFound, LifecyclePolicyPreviewNotFound, InvalidParameter (a bad nextToken, or
        imageIds with paging)."""
        if chosen.names_images and (token is not None or limit is not None):
            raise InvalidParameter(IMAGE_IDS_WITH_PAGING)
        await self._repository(scope, name)
        preview = await self._store.find_preview(scope, name)
        if preview is None:
            raise LifecyclePolicyPreviewNotFound(scope, name)
        selected = [result for result in preview.results if chosen.selects(result)]
        page, next_token = page_after(selected, lambda result: str(result.digest), token, limit)
        return PreviewPage(preview, page, next_token, len(preview.results))

    async def _evaluate(self, scope: RegistryScope, name: str, text: str, now: datetime) -> tuple[PreviewResult, ...]:
        candidates = await list_candidates(self._images, scope, name)
        return tuple(
            PreviewResult(
                expiry.image.digest,
                expiry.image.tags,
                expiry.image.pushed_at,
                expiry.rule_priority,
                expiry.action,
            )
            for expiry in select_expiring(text, candidates, now)
        )

    async def _repository(self, scope: RegistryScope, name: str) -> None:
        if await self._repositories.find_repository(scope, name) is None:
            raise RepositoryNotFound(scope, name)
