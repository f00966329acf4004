"""ManifestImporter: a cached repository's manifests, imported from the upstream and kept current.

    a manifest the repository lacks    imported now (the caller must be allowed ecr:BatchImportUpstreamImage, and
                                       ecr:CreateRepository for a new repository); then the image's blobs are
                                       fetched in the background
    a cached tag                       served; asked of the upstream again (a HEAD) once its check is older than
                                       the rule's TTL; an upstream that fails then, or does not answer within
                                       the check's budget, is answered by the cached copy
    a cached digest                    served, never asked again: content under a digest does not change

An import checks the manifest as any push is checked, then, as the service-linked role, creates the repository
from its creation template (ecr:GetAuthorizationToken first, as ECR's cache asks) and stores the manifest
through the registry's write path (ecr:PutImage). Pullers of one image at once share one import, and pullers of
one stale tag one check.

A tag's check has a budget of its own, `tag_check_timeout` seconds (5 by default), far shorter than an import's
request budget: there is a copy to serve, so a slow upstream is not waited for. The HEAD (and the GET a HEAD
that states no digest turns into) is bounded by the upstream client within it, so the pullers sharing the check
all get the cached copy the moment it fails or its budget ends, and the upstream's circuit breaker counts the
overrun; a new manifest the check finds is fetched within what is left of the puller's budget, then stored
unbounded (a write is not cut halfway). A miss has nothing to serve instead: it waits for the request budget.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Final

from pullcache.caching.single_flight import SingleFlight
from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.pullthrough.background import BackgroundWork
from pullcache.pullthrough.blob_imports import BlobImporter
from pullcache.pullthrough.errors import UpstreamError, UpstreamNotFound, UpstreamUnavailable
from pullcache.pullthrough.observations import MANIFEST, UNOBSERVED, PullThroughObserver
from pullcache.pullthrough.ports import (
    CachedRepositories,
    ManifestWriter,
    RepositoryContent,
    UpstreamManifest,
    UpstreamManifestHead,
)
from pullcache.pullthrough.rule_upstream import RuleUpstream, registry_error
from pullcache.pullthrough.rules import PullThroughRule
from pullcache.pullthrough.service_role import ServiceRole
from pullcache.registry.errors import Denied, ManifestInvalid, ManifestTooLarge, SourceAnswerInvalid, Unavailable
from pullcache.registry.ports import ManifestRecord, PullRequester

log = logging.getLogger(__name__)

# The role's writes of an image, as ECR's pull-through cache makes them (the role's policy allows exactly these).
AUTHORIZE = ("ecr:GetAuthorizationToken",)
PUT_IMAGE = ("ecr:PutImage",)
# The ECR calls an import's writes are recorded as (RoleActivity).
CREATE_REPOSITORY: Final = "CreateRepository"
PUT_IMAGE_CALL: Final = "PutImage"
DEFAULT_TAG_CHECK_TIMEOUT: Final = 5.0  # seconds


def tag_is_fresh(rule: PullThroughRule, cached: ManifestRecord) -> bool:
    """Whether a manifest found by tag was confirmed by the upstream within the rule's TTL."""
    checked_at = cached.tag_checked_at
    return checked_at is not None and _now() - checked_at < rule.tag_ttl


class ManifestImporter:
    def __init__(
        self,
        upstream: RuleUpstream,
        role: ServiceRole,
        repositories: CachedRepositories,
        manifests: ManifestWriter,
        content: RepositoryContent,
        blobs: BlobImporter,
        background: BackgroundWork,
        *,
        prefetch_platforms: bool = False,
        tag_check_timeout: float = DEFAULT_TAG_CHECK_TIMEOUT,
        observer: PullThroughObserver = UNOBSERVED,
    ) -> None:
        """`prefetch_platforms`: an imported index's child manifests are imported too, in the background.
        `tag_check_timeout`: seconds a cached tag's check may take before the cached copy is served.
        `observer`: told of the manifests fetched, the tags checked and the stale copies served."""
        self._observer = observer
        self._upstream = upstream
        self._role = role
        self._repositories = repositories
        self._manifests = manifests
        self._content = content
        self._blobs = blobs
        self._background = background
        self._prefetch_platforms = prefetch_platforms
        self._tag_check_timeout = tag_check_timeout
        self._imports: SingleFlight[tuple[RegistryScope, str, str], ManifestRecord | None] = SingleFlight()
        self._checks: SingleFlight[tuple[RegistryScope, str, str], UpstreamManifestHead] = SingleFlight()

    async def import_manifest(
        self,
        rule: PullThroughRule,
        scope: RegistryScope,
        repository: str,
        reference: Digest | str,
        requester: PullRequester,
    ) -> ManifestRecord | None:
        """The manifest `reference` names upstream, imported into a repository `rule` covers; None when the
        upstream has none. Raises what `requester` raises to refuse, Denied, Unavailable."""
        exists = await self._content.repository_exists(scope, repository)
        await requester.authorize_import(repository, exists)
        return await self._imports.run(
            (scope, repository, str(reference)), lambda: self._import(rule, scope, repository, reference, exists)
        )

    async def refresh_tag(
        self,
        rule: PullThroughRule,
        scope: RegistryScope,
        repository: str,
        tag: str,
        cached: ManifestRecord,
        requester: PullRequester,
    ) -> ManifestRecord:
        """What `tag` names upstream now: `cached` when it still names that (or the upstream cannot say within
        the check's budget), else the manifest it names, imported."""
        self._observer.tag_checked(rule.prefix)
        budget = self._tag_check_timeout
        deadline = asyncio.get_running_loop().time() + budget
        try:
            head = await self._checks.run(
                (scope, repository, tag), lambda: self._upstream.head_manifest(rule, repository, tag, budget=budget)
            )
            if head.digest == cached.digest:
                await self._content.mark_tag_checked(scope, repository, tag, _now())
                return cached
            await requester.authorize_import(repository, True)
            try:
                async with asyncio.timeout_at(deadline):
                    fetched = await self._upstream.get_manifest(rule, repository, str(head.digest))
            except TimeoutError:
                raise UpstreamUnavailable(f"the upstream did not send {head.digest} within {budget:g} s") from None
            self._observer.fetched(rule.prefix, MANIFEST, len(fetched.content))
            return await self._store(rule, scope, repository, tag, fetched, True)
        except (UpstreamError, Denied, Unavailable) as error:
            # Stale-if-error: the cached image is the best answer there is.
            log.warning(
                "serving the cached %s:%s: checking the upstream failed: %s",
                repository,
                tag,
                error,
                extra={"fields": {"rule": rule.prefix, "upstream": rule.upstream_url}},
            )
            self._observer.stale_served(rule.prefix)
            return cached

    async def _import(
        self, rule: PullThroughRule, scope: RegistryScope, repository: str, reference: Digest | str, exists: bool
    ) -> ManifestRecord | None:
        try:
            fetched = await self._upstream.get_manifest(rule, repository, str(reference))
        except UpstreamNotFound:
            return None
        except UpstreamError as error:
            raise registry_error(rule, error) from None
        self._observer.fetched(rule.prefix, MANIFEST, len(fetched.content))
        tag = reference if isinstance(reference, str) else None
        return await self._store(rule, scope, repository, tag, fetched, exists)

    async def _store(
        self,
        rule: PullThroughRule,
        scope: RegistryScope,
        repository: str,
        tag: str | None,
        fetched: UpstreamManifest,
        exists: bool,
    ) -> ManifestRecord:
        """Store an upstream manifest as the role; returns the manifest to serve (the one an immutable tag keeps
        naming, when it names another)."""
        try:
            manifest = self._manifests.check(fetched.digest, fetched.content, fetched.media_type)
        except (ManifestInvalid, ManifestTooLarge) as error:
            raise SourceAnswerInvalid(
                f"the upstream {rule.upstream_url} sent a manifest that is not valid: {error}"
            ) from None
        async with self._role.acting(scope, repository, recorded=True) as session:
            await self._role.authorize(session, scope, None, AUTHORIZE)
            if not exists:
                created: dict[str, object] = {"repositoryName": repository}
                try:
                    await self._repositories.create_cached_repository(scope, repository)
                except Exception as failed:  # refused (Denied) or not made: recorded so, then raised on
                    self._role.acted(session, scope, CREATE_REPOSITORY, created, failed)
                    raise
                self._role.acted(session, scope, CREATE_REPOSITORY, created)
            image: dict[str, object] = {"repositoryName": repository, "imageDigest": str(fetched.digest)}
            if tag is not None:
                image["imageTag"] = tag
            try:
                await self._role.authorize(session, scope, repository, PUT_IMAGE)
                kept = await self._manifests.store_imported(scope, repository, manifest, tag, cached=True)
            except Exception as failed:  # refused, or the write itself failed: recorded so, then raised on
                self._role.acted(session, scope, PUT_IMAGE_CALL, image, failed)
                raise
            self._role.acted(session, scope, PUT_IMAGE_CALL, image)
            if tag is not None:
                await self._content.mark_tag_checked(scope, repository, tag, _now())
        if tag is not None and kept is not None:
            served = await self._content.find_manifest(scope, repository, tag)
            if served is not None:
                return served
        record = manifest.record
        log.info(
            "imported %s@%s from %s",
            repository,
            record.digest,
            rule.upstream_url,
            extra={"fields": {"rule": rule.prefix, "tag": tag}},
        )
        parsed = manifest.parsed

        async def complete() -> None:  # the image is whole here: the registry's observers hear of it (replication)
            await self._manifests.announce_imported(scope, repository, record.digest, tag)

        blobs = (b.digest for b in parsed.blobs if not b.external)
        self._blobs.fill_in_background(rule, scope, repository, blobs, then=complete, image=record.digest)
        if self._prefetch_platforms:
            for child in parsed.children:
                self._background.spawn(self._prefetch_child(rule, scope, repository, child.digest))
        return record

    async def _prefetch_child(
        self, rule: PullThroughRule, scope: RegistryScope, repository: str, digest: Digest
    ) -> None:
        if await self._content.find_manifest(scope, repository, digest) is not None:
            return
        fetched = await self._upstream.get_manifest(rule, repository, str(digest))
        self._observer.fetched(rule.prefix, MANIFEST, len(fetched.content))
        await self._store(rule, scope, repository, None, fetched, True)


def _now() -> datetime:
    return datetime.now(UTC)
