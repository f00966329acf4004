"""Which images of a repository a lifecycle policy expires now: what the lifecycle policy preview shows and what
lifecycle expiry (lifecycle_expiry.py) deletes, worked out the same way for both.

The repository's images are read a page at a time and kept as LifecycleCandidate (what the evaluator and the
checks after it read, without the manifest's bytes), evaluated by lifecycle_evaluation.py, and then made to obey
what ECR's user guide adds to the evaluator ("Lifecycle policy evaluation rules"): "If an image is referenced by a
manifest list, it cannot be expired or archived without the manifest list being deleted or archived first." An
image an index lists is therefore not expired while that index stays; an index the same evaluation expires
protects nothing, and is deleted before the images it lists (parents_first), so an interrupted run never leaves an
index whose children are gone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.ecr.image_facts import image_facts
from pullcache.ecr.lifecycle_evaluation import Expiry, evaluate, parse_rules
from pullcache.ecr.ports import ImageListing, ImageRecord, TagStatus

IMAGE_PAGE = 1000  # images read at a time; only their candidates are kept


@dataclass(frozen=True, slots=True)
class LifecycleCandidate:
    """An image as a lifecycle evaluation reads it."""

    digest: Digest
    tags: tuple[str, ...]
    pushed_at: datetime
    pulled_at: datetime | None
    subject: Digest | None  # a referrer's subject (OCI 1.1)
    children: tuple[Digest, ...]  # the manifests an index lists

    @classmethod
    def of(cls, image: ImageRecord) -> LifecycleCandidate:
        children = image_facts(image.content, image.media_type).children
        return cls(image.digest, image.tags, image.pushed_at, image.pulled_at, image.subject, children)

    def is_unchanged_in(self, image: ImageRecord) -> bool:
        """Whether `image` (this image read again) still has the tags and the push and pull times evaluated."""
        return (
            set(image.tags) == set(self.tags)
            and image.pushed_at == self.pushed_at
            and image.pulled_at == self.pulled_at
        )


async def list_candidates(images: ImageListing, scope: RegistryScope, name: str) -> list[LifecycleCandidate]:
    """Every image of the repository (none when it does not exist)."""
    candidates: list[LifecycleCandidate] = []
    after: Digest | None = None
    while True:
        page = await images.list_images(scope, name, TagStatus.ANY, after, IMAGE_PAGE)
        candidates.extend(LifecycleCandidate.of(image) for image in page)
        if len(page) < IMAGE_PAGE:
            return candidates
        after = page[-1].digest


def select_expiring(
    text: str, candidates: Sequence[LifecycleCandidate], now: datetime
) -> list[Expiry[LifecycleCandidate]]:
    """The images the policy `text` (checked already) expires at `now`, in the evaluator's order, less those an
    index that stays lists."""
    expiring = evaluate(parse_rules(text), candidates, now)
    protected = listed_by_staying_indexes(candidates, {expiry.image.digest for expiry in expiring})
    return [expiry for expiry in expiring if expiry.image.digest not in protected]


def listed_by_staying_indexes(candidates: Iterable[LifecycleCandidate], leaving: set[Digest]) -> set[Digest]:
    """The digests listed by an index that is not `leaving`, or by an index such an index lists (and so on)."""
    by_digest = {candidate.digest: candidate for candidate in candidates}
    return listed_under([c for c in by_digest.values() if c.digest not in leaving], by_digest)


def listed_under(roots: Iterable[LifecycleCandidate], by_digest: Mapping[Digest, LifecycleCandidate]) -> set[Digest]:
    """The digests `roots` list, those the indexes among them list, and so on down."""
    listed: set[Digest] = set()
    pending = list(roots)
    while pending:
        for child in pending.pop().children:
            if child not in listed:
                listed.add(child)
                if child in by_digest:
                    pending.append(by_digest[child])
    return listed


def parents_first(expiring: Sequence[Expiry[LifecycleCandidate]]) -> list[Expiry[LifecycleCandidate]]:
    """`expiring` reordered so that an index comes before every image it lists (otherwise in the order given)."""
    listed_by: dict[Digest, int] = {}
    for expiry in expiring:
        for child in expiry.image.children:
            listed_by[child] = listed_by.get(child, 0) + 1
    ordered: list[Expiry[LifecycleCandidate]] = []
    pending = list(expiring)
    while pending:
        ready = [expiry for expiry in pending if listed_by.get(expiry.image.digest, 0) == 0]
        if not ready:  # digests cannot form a cycle; keep the rest as given rather than loop
            ready = pending
        for expiry in ready:
            ordered.append(expiry)
            for child in expiry.image.children:
                listed_by[child] -= 1
        done = {id(expiry) for expiry in ready}
        pending = [expiry for expiry in pending if id(expiry) not in done]
    return ordered
