"""ManifestWrites: the one way a manifest enters a repository, whoever writes it.

    a /v2/ push           RegistryService.put_manifest    check, then store
    ECR's PutImage        RegistryService.store_manifest  check, then store
    a pull-through import the pull-through cache          check, then store_imported

`check` holds the limits and the manifest's own validity; `store` and `store_imported` hold the tag mutability
rule and record what the referrers API reads (subject, artifactType, annotations) in one transaction with the tag.
They differ in two ways only: an import does not require the referenced content to be in the repository (the
cache fetches it afterwards), and an import that meets an immutable tag naming another image keeps that image
instead of refusing (the pull is answered with what the repository keeps).

Observers (`observe`) hear of every manifest `store` stored (a push, by /v2/ or PutImage) and of every imported
image the pull-through cache announces whole, once its blobs are in (`announce_imported`); not of what
`store_imported` stores otherwise (a replica is not replicated again). They are told after the transaction and
cannot fail the write: what one raises is logged and dropped. ECR's replication is the one observer.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.registry.errors import ManifestBlobUnknown, ManifestTooLarge, TagImmutable
from pullcache.registry.manifests import Descriptor, ParsedManifest, parse_manifest
from pullcache.registry.ports import ContentGuard, ManifestRecord, MetadataStore, Unguarded

log = logging.getLogger(__name__)

DEFAULT_MAX_MANIFEST_BYTES = 4 * 1024 * 1024


class StoredManifestObserver(Protocol):
    async def manifest_stored(self, scope: RegistryScope, repository: str, digest: Digest, tag: str | None) -> None:
        """A pushed manifest was stored (and `tag`, when given, points at it). Quick: the push waits for it."""
        ...


@dataclass(frozen=True, slots=True)
class CheckedManifest:
    """A manifest that passed `check`: the record to store, and what it references."""

    record: ManifestRecord
    parsed: ParsedManifest


class ManifestWrites:
    def __init__(
        self,
        metadata: MetadataStore,
        max_bytes: int = DEFAULT_MAX_MANIFEST_BYTES,
        *,
        guard: ContentGuard | None = None,
    ) -> None:
        """`max_bytes`: the largest manifest the registry takes. `guard`: held from checking what a manifest
        references to storing it, so garbage collection cannot unlink a blob in between."""
        self._metadata = metadata
        self._guard = guard or Unguarded()
        self.max_bytes = max_bytes
        self._observers: list[StoredManifestObserver] = []

    def observe(self, observer: StoredManifestObserver) -> None:
        """Tell `observer` of every manifest `store` stores from now on."""
        self._observers.append(observer)

    def check(self, digest: Digest, content: bytes, content_type: str | None) -> CheckedManifest:
        """`content` (whose digest is `digest`) as a manifest to store. Raises ManifestTooLarge, ManifestInvalid."""
        if len(content) > self.max_bytes:
            raise ManifestTooLarge(self.max_bytes)
        parsed = parse_manifest(content, content_type)
        record = ManifestRecord(
            digest,
            parsed.media_type,
            content,
            parsed.subject.digest if parsed.subject else None,
            parsed.artifact_type,
            parsed.annotations or None,
        )
        return CheckedManifest(record, parsed)

    async def store(self, scope: RegistryScope, repository: str, manifest: CheckedManifest, tag: str | None) -> None:
        """Store a pushed manifest and point `tag` at it. Raises ManifestBlobUnknown (a referenced blob or child
        manifest is not in the repository), TagImmutable (the repository keeps the tag on another image)."""
        async with self._guard.writing():
            await self._require_content(scope, repository, manifest.parsed.blobs, manifest.parsed.children)
            kept = await self._put(scope, repository, manifest.record, tag)
        if kept is not None:
            assert tag is not None
            raise TagImmutable(repository, tag)
        await self._tell_observers(scope, repository, manifest.record.digest, tag)

    async def announce_imported(self, scope: RegistryScope, repository: str, digest: Digest, tag: str | None) -> None:
        """An imported image is whole (its blobs fetched): its observers hear of it as of a push."""
        await self._tell_observers(scope, repository, digest, tag)

    async def _tell_observers(self, scope: RegistryScope, repository: str, digest: Digest, tag: str | None) -> None:
        for observer in self._observers:
            try:
                await observer.manifest_stored(scope, repository, digest, tag)
            except Exception:
                log.exception("an observer of stored manifests failed on %s@%s", repository, digest)

    async def store_imported(
        self,
        scope: RegistryScope,
        repository: str,
        manifest: CheckedManifest,
        tag: str | None,
        *,
        cached: bool = False,
    ) -> Digest | None:
        """Store an imported manifest and point `tag` at it; its content may follow later. Returns the digest an
        immutable `tag` keeps naming instead (nothing is stored then), None when the manifest was stored.
        `cached`: a pull-through import (evictable under a size cap), not a replica."""
        async with self._guard.writing():
            return await self._put(scope, repository, manifest.record, tag, cached=cached)

    async def _put(
        self, scope: RegistryScope, repository: str, record: ManifestRecord, tag: str | None, *, cached: bool = False
    ) -> Digest | None:
        """The tag mutability rule: an immutable tag that names another image stays (returned), else None."""
        immutable = False
        if tag is not None:
            rule = await self._metadata.find_tag_mutability(scope, repository)
            immutable = rule is not None and rule.is_immutable(tag)
        previous = await self._metadata.put_manifest(scope, repository, record, tag, keep_tag=immutable, cached=cached)
        if immutable and previous is not None and previous != record.digest:
            return previous
        return None

    async def _require_content(
        self,
        scope: RegistryScope,
        repository: str,
        blobs: Sequence[Descriptor],
        children: Sequence[Descriptor],
    ) -> None:
        missing = await self._metadata.missing_blobs(scope, repository, [b.digest for b in blobs if not b.external])
        if missing:
            raise ManifestBlobUnknown(str(missing[0]), [str(m) for m in missing])
        missing = await self._metadata.missing_manifests(scope, repository, [c.digest for c in children])
        if missing:
            raise ManifestBlobUnknown(str(missing[0]), [str(m) for m in missing], manifests=True)
