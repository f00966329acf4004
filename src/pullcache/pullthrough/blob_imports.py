"""BlobImporter: a cached repository's blobs, fetched from the upstream once and linked into the repository.

    a blob a puller asks for    streamed from the blob's single fill (fills.py), linked once the fill commits
    an imported image's blobs   fetched in the background (a few at a time, after a moment: the puller's own
                                requests go first) and linked

The role's writes (ecr:BatchCheckLayerAvailability ... ecr:CompleteLayerUpload) are authorized before the fill
starts. This process remembers the links it made lately, so an image's background fills do not write them again.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager

from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.pullthrough.background import BackgroundWork
from pullcache.pullthrough.errors import UpstreamError, UpstreamNotFound
from pullcache.pullthrough.fills import BlobFills, Filling
from pullcache.pullthrough.observations import BLOB, UNOBSERVED, PullThroughObserver
from pullcache.pullthrough.ports import RepositoryContent, UpstreamBlob
from pullcache.pullthrough.rule_upstream import RuleUpstream, registry_error
from pullcache.pullthrough.rules import PullThroughRule
from pullcache.pullthrough.service_role import ServiceRole
from pullcache.registry.ports import Blob, BlobStore, ContentGuard, PullRequester, Unguarded

# The role's writes of a layer, as ECR's pull-through cache makes them (the role's policy allows exactly these).
PUT_LAYER = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
)
BACKGROUND_FILLS = 4  # blobs of one image fetched at once in the background
BACKGROUND_DELAY = 1.0  # seconds the background fill of an image waits for its puller's own requests
LINKS_REMEMBERED = 4096


class BlobImporter:
    def __init__(
        self,
        upstream: RuleUpstream,
        role: ServiceRole,
        blobs: BlobStore,
        content: RepositoryContent,
        fills: BlobFills,
        background: BackgroundWork,
        *,
        background_delay: float = BACKGROUND_DELAY,
        guard: ContentGuard | None = None,
        observer: PullThroughObserver = UNOBSERVED,
    ) -> None:
        """`guard`: held from finding a blob committed to linking it, so garbage collection cannot come between.
        `observer`: told of the bytes each fill this process leads commits."""
        self._guard = guard or Unguarded()
        self._observer = observer
        self._upstream = upstream
        self._role = role
        self._blobs = blobs
        self._content = content
        self._fills = fills
        self._background = background
        self._background_delay = background_delay
        self._running = asyncio.Semaphore(BACKGROUND_FILLS)
        self._linked: OrderedDict[tuple[RegistryScope, str, Digest], None] = OrderedDict()

    async def find_blob(
        self, rule: PullThroughRule, scope: RegistryScope, repository: str, digest: Digest, requester: PullRequester
    ) -> Blob | Filling | None:
        """The blob of a repository `rule` covers: committed, or being filled; None when the repository or the
        upstream's blob does not exist. Raises what `requester` raises to refuse, Denied, Unavailable."""
        if not await self._content.repository_exists(scope, repository):
            return None
        await requester.authorize_import(repository, True)
        try:
            if await self._blobs.open_blob(digest) is not None:
                await self._confirm_upstream_has(rule, repository, digest)
            blob = await self._open(rule, scope, repository, digest)
        except UpstreamNotFound:
            return None
        except UpstreamError as error:
            raise registry_error(rule, error) from None
        if isinstance(blob, Filling):
            self._background.spawn(self._link_after_fill(rule, scope, repository, digest))
        return blob

    def fill_in_background(
        self,
        rule: PullThroughRule,
        scope: RegistryScope,
        repository: str,
        digests: Iterable[Digest],
        then: Callable[[], Awaitable[None]] | None = None,
        *,
        image: Digest | None = None,
    ) -> None:
        """Fetch the blobs of an imported image (or join their fills) and link them into the repository; `then`,
        once every fill has ended (in success or not: what comes next checks for itself). `image`: the manifest
        naming them; a blob whose turn comes once it is gone (deleted, expired, evicted) is not fetched."""
        fills = [self._background.spawn(self._fill_in_background(rule, scope, repository, d, image)) for d in digests]
        if then is not None:
            self._background.spawn(_after(fills, then))

    async def close(self, grace: float) -> None:
        """Let the fills under way finish within `grace` seconds, then cancel the rest."""
        await self._fills.close(grace)

    async def _open(
        self, rule: PullThroughRule, scope: RegistryScope, repository: str, digest: Digest, *, recorded: bool = False
    ) -> Blob | Filling:
        """`recorded`: the import is on record before the role writes (a client's request does not wait for it)."""
        async with self._role.acting(scope, repository, recorded=recorded) as session:
            await self._role.authorize(session, scope, repository, PUT_LAYER)

        async with self._guard.writing():
            committed = await self._blobs.open_blob(digest)
            if committed is not None:
                await self._link(scope, repository, digest, committed.size, again=True)
                return committed
        return await self._fills.open(
            digest,
            lambda: self._upstream_blob(rule, scope, repository, digest),
            lambda size: self._fetched(rule, scope, repository, digest, size, again=True),
        )

    async def _fill_in_background(
        self, rule: PullThroughRule, scope: RegistryScope, repository: str, digest: Digest, image: Digest | None
    ) -> None:
        """It waits a moment first: a client pulling the image asks for its blobs at once, and those go first."""
        await asyncio.sleep(self._background_delay)
        async with self._running:
            if await self._content.find_blob_size(scope, repository, digest) is not None:
                return
            if image is not None and await self._content.find_manifest(scope, repository, image) is None:
                return  # the image went meanwhile: fetching its blobs would only refill what was freed
            blob = await self._open(rule, scope, repository, digest, recorded=True)
            if isinstance(blob, Filling):
                await blob.verdict()
                await self._link_committed(scope, repository, digest)

    async def _link_after_fill(
        self, rule: PullThroughRule, scope: RegistryScope, repository: str, digest: Digest
    ) -> None:
        """Link a blob a request is being served from once its fill ends (whichever process fills it)."""
        await self._fills.wait(
            digest,
            lambda: self._upstream_blob(rule, scope, repository, digest),
            lambda size: self._fetched(rule, scope, repository, digest, size),
        )
        await self._link_committed(scope, repository, digest)

    async def _link_committed(self, scope: RegistryScope, repository: str, digest: Digest) -> None:
        async with self._guard.writing():
            committed = await self._blobs.open_blob(digest)
            if committed is not None:
                await self._link(scope, repository, digest, committed.size)

    async def _fetched(
        self,
        rule: PullThroughRule,
        scope: RegistryScope,
        repository: str,
        digest: Digest,
        size: int,
        *,
        again: bool = False,
    ) -> None:
        """A fill this process led committed `size` bytes from the upstream: counted, and linked."""
        self._observer.fetched(rule.prefix, BLOB, size)
        await self._link(scope, repository, digest, size, again=again)

    async def _link(
        self, scope: RegistryScope, repository: str, digest: Digest, size: int, *, again: bool = False
    ) -> None:
        """Link a blob into the repository, unless this process did lately and the link is still there (garbage
        collection or an eviction may have removed it since: the read is one of the read cache's, dropped by any
        write); `again`: a request that found the link missing makes it anew."""
        key = (scope, repository, digest)
        if (
            key in self._linked
            and not again
            and await self._content.find_blob_size(scope, repository, digest) is not None
        ):
            return
        await self._content.link_blob(scope, repository, digest, size)
        self._linked[key] = None
        if len(self._linked) > LINKS_REMEMBERED:
            self._linked.popitem(last=False)

    async def _confirm_upstream_has(self, rule: PullThroughRule, repository: str, digest: Digest) -> None:
        """Raise UpstreamNotFound unless the upstream's repository has the blob (a HEAD). A blob stored for another
        repository is linked into this one only then: its digest alone must not open it to whoever may pull here
        (ECR's repositories hold their own layers)."""
        await self._upstream.has_blob(rule, repository, digest)

    @asynccontextmanager
    async def _upstream_blob(
        self, rule: PullThroughRule, scope: RegistryScope, repository: str, digest: Digest
    ) -> AsyncIterator[UpstreamBlob]:
        async with self._role.importing(scope, repository), self._upstream.open_blob(rule, repository, digest) as blob:
            yield blob


async def _after(tasks: Sequence[asyncio.Task[None]], then: Callable[[], Awaitable[None]]) -> None:
    if tasks:
        await asyncio.wait(tasks)
    await then()
