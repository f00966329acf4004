"""Garbage collection, online: the bytes no image needs are freed while clients push and pull.

What is kept. A blob stays while a repository links it; a link stays while a manifest of its repository names
the blob (config, layers) or while it is younger than the grace period (a push uploads its blobs before the
manifest that names them). Manifests are kept as ECR keeps images: untagged ones too, until a lifecycle policy,
an eviction or a delete removes them - with one exception: a referrer (a manifest with an OCI 1.1 `subject`)
whose subject is gone, that no tag names and no index lists, older than the grace period. The `subject` is a
weak association: it never keeps the subject alive, and the referrer lives only as long as its subject (the
grace period lets a client push a referrer before its subject, as the spec allows).

One run:

    1. per repository: delete its dangling referrers, then the links no manifest names that are older than the
       grace period
    2. delete the blobs no repository links (row, then file)
    3. delete files in the blob store that have no row (what a crash between a commit and its link left)
    4. delete staged uploads that have no session and have not grown for the upload expiry (a crash's leftovers;
       a fill in flight keeps writing to its staged file)

The invariant. Writers that make content reachable hold the ContentGuard shared from the moment they decide it
exists - a blob committed or found, a manifest's references checked - until the link or the manifest is
committed (RegistryService, ManifestWrites, the pull-through cache's fills and imports, replication). Every
delete above that could race one of them (1-3) runs with the guard held exclusive and re-checks its condition
in the deleting statement itself: the links to delete are re-read against the manifests stored since the
collector's first read, a link is deleted only if still older than the cutoff, a blob row only if still linked
nowhere, and a file only once its row is gone. So a blob that a writer found or committed is linked before any
collector can look at it again, and a blob whose row exists always has its file. A delete that only lowers
reachability (a tag, a manifest, a repository) needs no guard: what it frees is collected by a later run.

Deletes happen in batches, each under its own exclusive hold, so writers wait milliseconds, never a whole run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pullcache.core.digests import Digest, InvalidDigest
from pullcache.registry.collection_ports import (
    CollectableBlobs,
    CollectedManifest,
    CollectionGuard,
    CollectionStore,
    Link,
)
from pullcache.registry.errors import ManifestInvalid
from pullcache.registry.manifests import parse_manifest

log = logging.getLogger(__name__)

GC_JOB = "garbage-collection"  # the lock one collector at a time holds (exclusive_jobs.py)
DEFAULT_GRACE = timedelta(hours=1)
BATCH = 500  # blobs deleted under one exclusive hold of the guard


Progress = Callable[[str, int, int], None]  # phase, done, total (0: unknown)


@dataclass(slots=True)
class CollectionReport:
    dry_run: bool = False
    links: int = 0  # links removed
    referrers: int = 0  # dangling referrers removed
    blobs: int = 0  # blobs removed (rows with their files)
    orphans: int = 0  # files that had no row
    staged: int = 0  # staged uploads left behind
    bytes_freed: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        verb = "would free" if self.dry_run else "freed"
        return (
            f"{verb} {self.bytes_freed} bytes: {self.blobs} blobs, {self.orphans} unrecorded files, "
            f"{self.staged} abandoned uploads; {self.links} links and {self.referrers} dangling referrers "
            f"{'to remove' if self.dry_run else 'removed'} in {self.seconds:.1f} s"
        )


class GarbageCollector:
    def __init__(
        self,
        store: CollectionStore,
        blobs: CollectableBlobs,
        guard: CollectionGuard,
        *,
        grace: timedelta = DEFAULT_GRACE,
        staged_expiry: timedelta = timedelta(days=1),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._blobs = blobs
        self._guard = guard
        self._grace = grace
        self._staged_expiry = staged_expiry
        self._clock = clock

    async def collect(self, *, dry_run: bool = False, progress: Progress | None = None) -> CollectionReport:
        """One run (see above); with `dry_run`, what it would free, deleting nothing."""
        started = self._clock()
        report = CollectionReport(dry_run=dry_run)
        tell = progress or (lambda phase, done, total: None)
        doomed_links: dict[str, tuple[int, int]] = {}  # dry run: digest -> (links that would go, size)
        repositories = await self._store.list_repositories()
        await self._sweep_repositories(repositories, started - self._grace, report, doomed_links, tell)
        await self._sweep_blobs(report, doomed_links, tell)
        await self._sweep_orphans(report, tell)
        await self._sweep_staged(report)
        report.seconds = (self._clock() - started).total_seconds()
        return report

    async def collect_repositories(self, repositories: Sequence[int], *, grace: timedelta) -> CollectionReport:
        """Steps 1 and 2 over `repositories` only, with a grace period of their own: what eviction frees at once
        in the cache's repositories (grace 0: with the images it removed go the links of the blobs its imports
        fetched for images already evicted; a push into a cached repository while the cache is over its cap may
        then be refused, MANIFEST_BLOB_UNKNOWN, and pushed again - never half-stored)."""
        started = self._clock()
        report = CollectionReport()
        nothing: Progress = lambda phase, done, total: None  # noqa: E731
        await self._sweep_repositories(repositories, started - grace, report, {}, nothing)
        await self._sweep_blobs(report, {}, nothing)
        report.seconds = (self._clock() - started).total_seconds()
        return report

    async def _sweep_repositories(
        self,
        repositories: Sequence[int],
        cutoff: datetime,
        report: CollectionReport,
        doomed_links: dict[str, tuple[int, int]],
        tell: Progress,
    ) -> None:
        for done, repository in enumerate(repositories, 1):
            try:
                await self._sweep_repository(repository, cutoff, report, doomed_links)
            except Exception as error:  # one repository's trouble does not stop the others
                log.warning("garbage collection skipped repository %s: %s", repository, error)
                report.failures.append(f"repository {repository}: {error}")
            tell("repositories", done, len(repositories))

    async def _sweep_repository(
        self,
        repository: int,
        cutoff: datetime,
        report: CollectionReport,
        doomed_links: dict[str, tuple[int, int]],
    ) -> None:
        stored = await self._store.read_manifests(repository)
        dangling = _dangling_referrers(stored, cutoff)
        referenced = _referenced(m for m in stored if m.digest not in dangling)
        links = await self._store.read_links(repository)
        unreferenced = [link for link in links if link.digest not in referenced and _older(link, cutoff)]
        if not dangling and not unreferenced:
            return
        if report.dry_run:
            report.referrers += len(dangling)
            report.links += len(unreferenced)
            for link in unreferenced:
                doomed_links[link.digest] = (doomed_links.get(link.digest, (0, 0))[0] + 1, link.size)
            return
        async with self._guard.collecting():
            # Read again with no writer inside: what was stored meanwhile names content too, may be a referrer's
            # subject, and may list one. (Its created_at says nothing: it is stamped before its commit.)
            stored = await self._store.read_manifests(repository)
            present = {m.digest for m in stored}
            listed = _listed_children(stored)
            still = [
                digest
                for digest, subject in dangling.items()
                if digest in present and subject not in present and digest not in listed
            ]
            deleted = set(await self._store.delete_untagged_manifests(repository, sorted(still))) if still else set()
            report.referrers += len(deleted)
            referenced = _referenced(m for m in stored if m.digest not in deleted)  # a referrer kept keeps its blobs
            doomed = [link.digest for link in unreferenced if link.digest not in referenced]
            if doomed:
                report.links += await self._store.delete_links(repository, doomed, cutoff)

    async def _sweep_blobs(
        self, report: CollectionReport, doomed_links: dict[str, tuple[int, int]], tell: Progress
    ) -> None:
        after: str | None = None
        done = 0
        while True:
            batch = await self._store.list_unlinked_blobs(after, BATCH)
            if not batch:
                break
            after = batch[-1][0]
            if report.dry_run:
                report.blobs += len(batch)
                report.bytes_freed += sum(size for _, size in batch)
            else:
                sizes = dict(batch)
                async with self._guard.collecting():
                    deleted = await self._store.delete_unlinked_blobs([digest for digest, _ in batch])
                    await self._blobs.delete_blobs([Digest.parse(digest) for digest in deleted])
                report.blobs += len(deleted)
                report.bytes_freed += sum(sizes[digest] for digest in deleted)
            done += len(batch)
            tell("blobs", done, 0)
        if report.dry_run and doomed_links:
            # Blobs whose every link would go would be freed too.
            counts = await self._store.count_links(sorted(doomed_links))
            for digest, (doomed, size) in doomed_links.items():
                if counts.get(digest, 0) <= doomed:
                    report.blobs += 1
                    report.bytes_freed += size

    async def _sweep_orphans(self, report: CollectionReport, tell: Progress) -> None:
        seen = 0
        async for batch in self._blobs.walk():
            seen += len(batch)
            sizes = {str(digest): size for digest, size in batch}
            digests = {str(digest): digest for digest, _ in batch}
            recorded = await self._store.find_blobs(list(sizes))
            orphans = [digest for digest in sizes if digest not in recorded]
            if orphans and report.dry_run:
                report.orphans += len(orphans)
                report.bytes_freed += sum(sizes[digest] for digest in orphans)
            elif orphans:
                async with self._guard.collecting():
                    recorded = await self._store.find_blobs(orphans)  # a writer may have linked one since
                    files, freed = await self._blobs.delete_blobs(
                        [digests[digest] for digest in orphans if digest not in recorded]
                    )
                report.orphans += files
                report.bytes_freed += freed
            tell("files", seen, 0)

    async def _sweep_staged(self, report: CollectionReport) -> None:
        sessions = await self._store.list_upload_ids()
        stale_before = self._clock() - self._staged_expiry
        for staged in await self._blobs.list_staged():
            if staged.upload_id in sessions or staged.modified_at >= stale_before:
                continue
            report.staged += 1
            report.bytes_freed += staged.size
            if not report.dry_run:
                await self._blobs.abort(staged.upload_id)


def _older(link: Link, cutoff: datetime) -> bool:
    return link.linked_at is None or link.linked_at < cutoff


def _referenced(manifests: Iterable[CollectedManifest]) -> set[str]:
    """The blobs and child manifests the manifests name. One that no longer parses names everything it might:
    its repository's links are then all kept (an unparseable manifest raises CannotTell)."""
    names: set[str] = set()
    for manifest in manifests:
        try:
            parsed = parse_manifest(manifest.content, manifest.media_type)
        except ManifestInvalid as error:
            raise CannotTell(f"manifest {manifest.digest} does not parse: {error}") from None
        names.update(str(descriptor.digest) for descriptor in (*parsed.blobs, *parsed.children))
    return names


def _dangling_referrers(manifests: Sequence[CollectedManifest], cutoff: datetime) -> dict[str, str]:
    """Referrers (digest -> subject) whose subject is not in the repository, untagged, older than `cutoff`, and
    listed by no index of the repository."""
    present = {m.digest for m in manifests}
    listed = _listed_children(manifests)
    return {
        m.digest: m.subject
        for m in manifests
        if m.subject is not None
        and m.subject not in present
        and not m.tagged
        and m.created_at < cutoff
        and m.digest not in listed
    }


def _listed_children(manifests: Sequence[CollectedManifest]) -> set[str]:
    children: set[str] = set()
    for manifest in manifests:
        if b'"manifests"' not in manifest.content:
            continue
        try:
            document = json.loads(manifest.content)
        except ValueError:
            continue
        for entry in document.get("manifests") or ():
            if isinstance(entry, dict) and isinstance(entry.get("digest"), str):
                try:
                    children.add(str(Digest.parse(entry["digest"])))
                except InvalidDigest:
                    continue
    return children


class CannotTell(Exception):
    """What a repository's manifests reference cannot be told: its links are all kept this run."""
