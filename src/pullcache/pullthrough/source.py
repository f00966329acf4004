"""PullThroughSource: the registry's ContentSource for repositories under a pull-through cache rule.

A pull the registry cannot answer from what it holds (or a tag it holds that may be stale) comes here:

    which rule covers the repository        rule_resolver.py     none: the registry answers alone
    a manifest the repository lacks         manifest_imports.py  imported now, its blobs fetched in the background
    a cached tag past the rule's TTL        manifest_imports.py  checked upstream; the cached copy if that fails
    a cached digest, a tag within the TTL   served as cached
    a blob the repository lacks             blob_imports.py      streamed from the blob's single fill

Everything the cache writes, it writes as the service-linked role (service_role.py), through the registry's own
write path for manifests. Each pull under a rule is reported to the observer (observations.py) as a hit or a miss.
"""

from __future__ import annotations

from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.pullthrough.background import CLOSE_GRACE, BackgroundWork
from pullcache.pullthrough.blob_imports import BlobImporter
from pullcache.pullthrough.fills import Filling
from pullcache.pullthrough.manifest_imports import ManifestImporter, tag_is_fresh
from pullcache.pullthrough.observations import BLOB, MANIFEST, UNOBSERVED, PullThroughObserver
from pullcache.pullthrough.rule_resolver import RuleResolver
from pullcache.pullthrough.service_role import ServiceRole
from pullcache.registry.ports import Blob, ManifestRecord, PullRequester


class PullThroughSource:
    def __init__(
        self,
        rules: RuleResolver,
        manifests: ManifestImporter,
        blobs: BlobImporter,
        role: ServiceRole,
        background: BackgroundWork,
        observer: PullThroughObserver = UNOBSERVED,
    ) -> None:
        self._observer = observer
        self._rules = rules
        self._manifests = manifests
        self._blobs = blobs
        self._role = role
        self._background = background

    async def covers(self, scope: RegistryScope, repository: str) -> bool:
        return await self._rules.find_rule(scope, repository, fresh=True) is not None

    async def find_manifest(
        self,
        scope: RegistryScope,
        repository: str,
        reference: Digest | str,
        cached: ManifestRecord | None,
        requester: PullRequester,
    ) -> ManifestRecord | None:
        rule = await self._rules.find_rule(scope, repository, fresh=cached is None)
        if rule is None:
            return cached
        if cached is None:
            imported = await self._manifests.import_manifest(rule, scope, repository, reference, requester)
            if imported is not None:
                self._observer.served(rule.prefix, MANIFEST, hit=False, size=len(imported.content))
            return imported
        if isinstance(reference, Digest) or tag_is_fresh(rule, cached):
            self._observer.served(rule.prefix, MANIFEST, hit=True, size=len(cached.content))
            return cached  # content under a digest does not change
        current = await self._manifests.refresh_tag(rule, scope, repository, reference, cached, requester)
        self._observer.served(rule.prefix, MANIFEST, hit=current.digest == cached.digest, size=len(current.content))
        return current

    async def find_blob(
        self, scope: RegistryScope, repository: str, digest: Digest, requester: PullRequester
    ) -> Blob | Filling | None:
        rule = await self._rules.find_rule(scope, repository, fresh=True)
        if rule is None:
            return None
        blob = await self._blobs.find_blob(rule, scope, repository, digest, requester)
        if blob is not None:
            self._observer.served(rule.prefix, BLOB, hit=not isinstance(blob, Filling), size=blob.size)
        return blob

    async def held_blob(self, scope: RegistryScope, repository: str, size: int) -> None:
        """A pull of a blob the repository holds: a hit when a rule covers the repository (the rules as kept)."""
        rule = await self._rules.find_rule(scope, repository)
        if rule is not None:
            self._observer.served(rule.prefix, BLOB, hit=True, size=size)

    async def close(self, grace: float = CLOSE_GRACE) -> None:
        """Give the background work and the fills under way `grace` seconds each to finish, then cancel what is
        left (its fills start over at the next pull), and end the records of imports in flight."""
        await self._background.close(grace)
        await self._blobs.close(grace)
        await self._role.close()
