"""Lifecycle policy previews over in-memory stores: one preview at a time per repository, the repository's own
policy when none is given, filters and pages of the results, and policies with archival refused."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Final

import pytest

from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.ecr.errors import (
    InvalidParameter,
    LifecyclePolicyNotFound,
    LifecyclePolicyPreviewInProgress,
    LifecyclePolicyPreviewNotFound,
    RepositoryNotFound,
)
from pullcache.ecr.lifecycle_preview import LifecyclePolicyPreviews, PreviewImageFilter
from pullcache.ecr.ports import (
    ImageRecord,
    LifecyclePolicy,
    LifecyclePolicyPreview,
    PreviewResult,
    PreviewStart,
    PreviewStatus,
    TagStatus,
)

SCOPE: Final = RegistryScope("123456789012", "us-east-1")
NOW: Final = datetime(2025, 6, 1, tzinfo=UTC)
REPOSITORY: Final = "team/app"
BOUND: Final = 5.0  # seconds: a preview that waits on the gate when it should have been refused fails, not hangs
KEEP_ONE_UNTAGGED: Final = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1},
                "action": {"type": "expire"},
            }
        ]
    }
)


def record(index: int, *tags: str) -> ImageRecord:
    digest = Digest.parse("sha256:" + f"{index:064x}")
    return ImageRecord(
        digest, "application/vnd.oci.image.manifest.v1+json", b"{}", None, tags, NOW - timedelta(days=index), None
    )


class Repositories:
    async def find_repository(self, scope: RegistryScope, name: str) -> object | None:
        return object() if name == REPOSITORY else None


class Policies:
    def __init__(self, text: str | None = None) -> None:
        self.text = text

    async def find_lifecycle_policy(self, scope: RegistryScope, name: str) -> LifecyclePolicy | None:
        return None if self.text is None else LifecyclePolicy(self.text, NOW)

    async def set_lifecycle_policy(self, scope: RegistryScope, name: str, text: str, at: datetime) -> bool:
        raise AssertionError("a preview never sets the policy")

    async def delete_lifecycle_policy(self, scope: RegistryScope, name: str) -> LifecyclePolicy | None:
        raise AssertionError("a preview never deletes the policy")


class Images:
    def __init__(self, images: Sequence[ImageRecord], gate: asyncio.Event | None = None) -> None:
        self.images = sorted(images, key=lambda image: str(image.digest))
        self.gate = gate

    async def list_images(
        self, scope: RegistryScope, name: str, status: TagStatus, after: Digest | None, limit: int | None
    ) -> Sequence[ImageRecord]:
        if self.gate is not None:
            await self.gate.wait()
        later = [image for image in self.images if after is None or str(image.digest) > str(after)]
        return later[:limit]


class Previews:
    def __init__(self) -> None:
        self.preview: LifecyclePolicyPreview | None = None

    async def begin_preview(
        self, scope: RegistryScope, name: str, text: str, at: datetime, stale_before: datetime
    ) -> PreviewStart:
        current = self.preview
        if current is not None and current.status is PreviewStatus.IN_PROGRESS and current.started_at >= stale_before:
            return PreviewStart.IN_PROGRESS
        self.preview = LifecyclePolicyPreview(text, PreviewStatus.IN_PROGRESS, at)
        return PreviewStart.STARTED

    async def finish_preview(
        self,
        scope: RegistryScope,
        name: str,
        started_at: datetime,
        status: PreviewStatus,
        results: Sequence[PreviewResult],
    ) -> None:
        assert self.preview is not None
        self.preview = LifecyclePolicyPreview(self.preview.text, status, started_at, tuple(results))

    async def find_preview(self, scope: RegistryScope, name: str) -> LifecyclePolicyPreview | None:
        return self.preview


def previews(images: Images, policy: str | None = None, store: Previews | None = None) -> LifecyclePolicyPreviews:
    return LifecyclePolicyPreviews(Repositories(), Policies(policy), images, store or Previews(), lambda: NOW)


async def test_a_preview_starts_in_progress_and_is_then_complete_with_its_results() -> None:
    service = previews(Images([record(1), record(2), record(3, "v1")]))
    started = await service.start_preview(SCOPE, REPOSITORY, KEEP_ONE_UNTAGGED)
    assert (started.status, started.text) == (PreviewStatus.IN_PROGRESS, KEEP_ONE_UNTAGGED)
    page = await service.get_preview(SCOPE, REPOSITORY, PreviewImageFilter(), None, None)
    assert page.preview.status is PreviewStatus.COMPLETE
    assert [(r.digest, r.rule_priority, r.action) for r in page.results] == [(record(2).digest, 1, "expire")]
    assert (page.expiring_total, page.next_token) == (1, None)


async def test_without_a_policy_text_the_repository_policy_is_previewed_or_not_found() -> None:
    with pytest.raises(LifecyclePolicyNotFound):
        await previews(Images([])).start_preview(SCOPE, REPOSITORY, None)
    started = await previews(Images([]), KEEP_ONE_UNTAGGED).start_preview(SCOPE, REPOSITORY, None)
    assert started.text == KEEP_ONE_UNTAGGED


async def test_no_preview_yet_and_no_repository_are_told_apart() -> None:
    with pytest.raises(LifecyclePolicyPreviewNotFound, match="Lifecycle policy preview does not exist"):
        await previews(Images([])).get_preview(SCOPE, REPOSITORY, PreviewImageFilter(), None, None)
    with pytest.raises(RepositoryNotFound):
        await previews(Images([])).get_preview(SCOPE, "team/none", PreviewImageFilter(), None, None)
    with pytest.raises(RepositoryNotFound):
        await previews(Images([])).start_preview(SCOPE, "team/none", KEEP_ONE_UNTAGGED)


async def test_a_second_preview_while_one_is_evaluated_is_refused_until_it_completes() -> None:
    gate = asyncio.Event()
    store = Previews()
    service = previews(Images([record(1), record(2)], gate), store=store)
    first = asyncio.create_task(service.start_preview(SCOPE, REPOSITORY, KEEP_ONE_UNTAGGED))
    await asyncio.sleep(0)
    with pytest.raises(LifecyclePolicyPreviewInProgress, match=r"has not completed\. Wait and try again\."):
        await asyncio.wait_for(service.start_preview(SCOPE, REPOSITORY, KEEP_ONE_UNTAGGED), BOUND)
    in_progress = await service.get_preview(SCOPE, REPOSITORY, PreviewImageFilter(), None, None)
    assert (in_progress.preview.status, list(in_progress.results)) == (PreviewStatus.IN_PROGRESS, [])
    gate.set()
    await asyncio.wait_for(first, BOUND)
    await service.start_preview(SCOPE, REPOSITORY, KEEP_ONE_UNTAGGED)


async def test_a_preview_abandoned_in_progress_is_replaced_once_stale() -> None:
    store = Previews()
    store.preview = LifecyclePolicyPreview(KEEP_ONE_UNTAGGED, PreviewStatus.IN_PROGRESS, NOW - timedelta(hours=1))
    await previews(Images([]), store=store).start_preview(SCOPE, REPOSITORY, KEEP_ONE_UNTAGGED)
    assert store.preview.status is PreviewStatus.COMPLETE


async def test_results_are_filtered_by_image_id_and_tag_status_and_paged() -> None:
    any_older_than_one = KEEP_ONE_UNTAGGED.replace('"untagged"', '"any"')
    images = [record(1, "keep"), record(2), record(3, "v3"), record(4), record(5, "v5")]
    service = previews(Images(images))
    await service.start_preview(SCOPE, REPOSITORY, any_older_than_one)
    everything = await service.get_preview(SCOPE, REPOSITORY, PreviewImageFilter(), None, None)
    assert [r.digest for r in everything.results] == [
        images[4].digest,
        images[3].digest,
        images[2].digest,
        images[1].digest,
    ]
    tagged = await service.get_preview(SCOPE, REPOSITORY, PreviewImageFilter(status=TagStatus.TAGGED), None, None)
    assert [r.tags for r in tagged.results] == [("v5",), ("v3",)]
    by_id = PreviewImageFilter(frozenset({str(images[3].digest)}), frozenset({"v5"}))
    named = await service.get_preview(SCOPE, REPOSITORY, by_id, None, None)
    assert [r.digest for r in named.results] == [images[4].digest, images[3].digest]
    first = await service.get_preview(SCOPE, REPOSITORY, PreviewImageFilter(), None, 3)
    second = await service.get_preview(SCOPE, REPOSITORY, PreviewImageFilter(), first.next_token, 3)
    assert [r.digest for r in [*first.results, *second.results]] == [r.digest for r in everything.results]
    assert (second.next_token, second.expiring_total) == (None, 4)
    with pytest.raises(InvalidParameter, match="cannot be used with imageIds"):
        await service.get_preview(SCOPE, REPOSITORY, by_id, None, 3)


@pytest.mark.parametrize(
    ("selection", "action"),
    [
        ({"countType": "imageCountMoreThan"}, {"type": "transition", "targetStorageClass": "archive"}),
        ({"countType": "sinceImageTransitioned", "countUnit": "days"}, {"type": "expire"}),
        ({"countType": "imageCountMoreThan", "storageClass": "archive"}, {"type": "expire"}),
    ],
)
async def test_archival_is_refused_saying_it_is_not_supported(
    selection: dict[str, str], action: dict[str, str]
) -> None:
    rule = {"rulePriority": 1, "selection": {"tagStatus": "any", "countNumber": 1, **selection}, "action": action}
    with pytest.raises(InvalidParameter, match=r"archival .* is not supported by this registry"):
        await previews(Images([])).start_preview(SCOPE, REPOSITORY, json.dumps({"rules": [rule]}))


async def test_too_many_wildcards_in_a_tag_pattern_are_refused() -> None:
    rule = {
        "rulePriority": 1,
        "selection": {
            "tagStatus": "tagged",
            "tagPatternList": ["test*1*2*3*4*5*6"],
            "countType": "imageCountMoreThan",
            "countNumber": 1,
        },
        "action": {"type": "expire"},
    }
    with pytest.raises(InvalidParameter, match="at most 4 wildcards"):
        await previews(Images([])).start_preview(SCOPE, REPOSITORY, json.dumps({"rules": [rule]}))
