"""Warmer: pulls images through the cache, manifest first, then the platforms asked, then every blob.

A pull is what makes the cache fill: the manifest GET imports the image, each blob GET streams it from the
upstream into the cache (and, read to its end, lets the fill finish under this client's eyes). At most
`concurrency` requests run at once across every image, and at most that many images are under way (so a long
list shows a handful of bars, not a thousand idle ones). A blob two images of one repository share is fetched
once; each image waits for it.

Each image ends warmed (every manifest and blob arrived, checked) or failed, with the first error that stopped it;
the bytes are counted as the registry labels them (X-Cache): sent by the upstream (MISS), already cached (HIT),
or not told.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from pullcache.core import mediatypes
from pullcache.core.digests import Digest
from pullcache.registry.errors import ManifestInvalid
from pullcache.registry.manifests import Descriptor, parse_manifest
from pullcache.warming.client import ContentMismatch, RegistryClient, RegistryRefused, RegistryUnreachable
from pullcache.warming.platforms import Platform, describe
from pullcache.warming.references import ImageReference

T = TypeVar("T")
MISS = "MISS"
HIT = "HIT"


class NoSuchPlatform(Exception):
    def __init__(self, wanted: Platform, offered: Sequence[str]) -> None:
        super().__init__(f"the index has no manifest for {wanted} (it has {', '.join(offered) or 'none'})")


@dataclass(slots=True)
class Tally:
    """Bytes received, by what the registry said of them."""

    upstream: int = 0  # X-Cache: MISS
    cached: int = 0  # X-Cache: HIT
    untold: int = 0  # no X-Cache header

    def add(self, size: int, cache: str | None) -> None:
        if cache == MISS:
            self.upstream += size
        elif cache == HIT:
            self.cached += size
        else:
            self.untold += size


@dataclass(slots=True)
class ImageTally:
    """One image's progress and outcome."""

    name: str
    done: int = 0  # blob bytes read so far (or found fetched by another image)
    total: int | None = None  # blob bytes of the platforms asked; None until the manifests are read
    manifests: int = 0
    blobs: int = 0
    bytes: Tally = field(default_factory=Tally)
    failure: str | None = None
    finished: bool = False


@dataclass(frozen=True, slots=True)
class PlatformChoice:
    """The manifests of an index to pull: every one, or the first match of each platform."""

    platforms: tuple[Platform, ...]
    every: bool = False


class ProgressReport(Protocol):
    """Who watches the images go: told when one starts, moves, and ends."""

    def started(self, image: ImageTally) -> None: ...

    def changed(self, image: ImageTally) -> None: ...

    def finished(self, image: ImageTally) -> None: ...


class Warmer:
    def __init__(
        self,
        client_for: Callable[[ImageReference], RegistryClient],
        choice: PlatformChoice,
        progress: ProgressReport,
        concurrency: int,
    ) -> None:
        self._client_for = client_for
        self._choice = choice
        self._progress = progress
        self._requests = asyncio.Semaphore(concurrency)
        self._images = asyncio.Semaphore(concurrency)
        self._blobs: dict[tuple[str, str, Digest], asyncio.Task[None]] = {}
        self.totals = Tally()

    async def warm(self, images: Sequence[ImageReference]) -> list[ImageTally]:
        """Every image's outcome, in the order given."""
        return list(await asyncio.gather(*(self._warm_one(image) for image in images)))

    async def _warm_one(self, image: ImageReference) -> ImageTally:
        async with self._images:
            tally = ImageTally(str(image))
            self._progress.started(tally)
            try:
                await self._pull(image, tally)
            except RegistryRefused as refused:
                tally.failure = f"{refused} (HTTP {refused.status})"
            except (RegistryUnreachable, ContentMismatch, NoSuchPlatform) as error:
                tally.failure = str(error)
            except ManifestInvalid as invalid:
                tally.failure = f"the registry sent a manifest that is not valid: {invalid.message}"
            tally.finished = True
            self._progress.finished(tally)
            return tally

    async def _pull(self, image: ImageReference, tally: ImageTally) -> None:
        client = self._client_for(image)
        blobs: dict[Digest, int] = {}
        await self._read_manifest(client, image.repository, image.reference, tally, blobs)
        tally.total = sum(blobs.values())
        self._progress.changed(tally)
        await _all(self._blob(client, image.repository, digest, size, tally) for digest, size in blobs.items())

    async def _read_manifest(
        self, client: RegistryClient, repository: str, reference: str, tally: ImageTally, blobs: dict[Digest, int]
    ) -> None:
        """Read a manifest, then (an index) the children asked for; collect the blobs of every image manifest."""
        async with self._requests:
            manifest = await client.get_manifest(repository, reference)
        self._count(tally, len(manifest.content), manifest.cache)
        tally.manifests += 1
        parsed = parse_manifest(manifest.content, manifest.media_type)
        if parsed.media_type in mediatypes.INDEXES:
            stated = [entry.get("platform") for entry in json.loads(manifest.content)["manifests"]]
            children = self._chosen(parsed.children, stated)
            await _all(self._read_manifest(client, repository, str(c.digest), tally, blobs) for c in children)
        else:
            blobs.update((blob.digest, blob.size) for blob in parsed.blobs if not blob.external)

    def _chosen(self, children: Sequence[Descriptor], stated: Sequence[object]) -> list[Descriptor]:
        if self._choice.every:
            return list(children)
        chosen: list[Descriptor] = []
        for wanted in self._choice.platforms:
            match = next(
                (child for child, platform in zip(children, stated, strict=True) if wanted.matches(platform)), None
            )
            if match is None:
                raise NoSuchPlatform(wanted, [describe(platform) for platform in stated])
            if match not in chosen:
                chosen.append(match)
        return chosen

    async def _blob(
        self, client: RegistryClient, repository: str, digest: Digest, size: int, tally: ImageTally
    ) -> None:
        """Fetch the blob, or wait for the fetch another image of the repository started (then count its bytes as
        done here too: they are this image's as well)."""
        key = (client.base_url, repository, digest)
        running = self._blobs.get(key)
        if running is None or (running.done() and (running.cancelled() or running.exception() is not None)):
            self._blobs[key] = asyncio.ensure_future(self._drain(client, repository, digest, size, tally))
            await self._blobs[key]
        else:
            await asyncio.shield(running)
            tally.done += size
            self._progress.changed(tally)
        tally.blobs += 1

    async def _drain(
        self, client: RegistryClient, repository: str, digest: Digest, size: int, tally: ImageTally
    ) -> None:
        def received(count: int) -> None:
            tally.done += count
            self._progress.changed(tally)

        async with self._requests:
            drained = await client.drain_blob(repository, digest, size, received)
        self._count(tally, drained.size, drained.cache)

    def _count(self, tally: ImageTally, size: int, cache: str | None) -> None:
        tally.bytes.add(size, cache)
        self.totals.add(size, cache)


async def _all(work: Iterable[Awaitable[T]]) -> list[T]:
    """Run `work` to its end, every part of it, then raise the first failure (none is left running unwatched)."""
    results = await asyncio.gather(*work, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return [result for result in results if not isinstance(result, BaseException)]
