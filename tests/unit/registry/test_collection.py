"""GarbageCollector over the real adapters: a SQLite file, a FilesystemBlobStore and the flock ContentGuard.

Content is pushed through RegistryService as clients push it; the collector's clock is moved to age links past the
grace period. Bytes on disk are measured in the blob tree itself.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.metadata.engine import writer
from pullcache.metadata.schema import manifests, repository_blobs
from pullcache.metadata.sql_collection import SqlCollectionStore
from pullcache.registry.collection import CollectionReport, GarbageCollector
from pullcache.registry.collection_ports import Link
from pullcache.registry.errors import BlobUnknown, ManifestBlobUnknown, ManifestUnknown
from pullcache.registry.service import RegistryService
from pullcache.storage.filesystem import FilesystemBlobStore
from tests.oci_documents import OCI_CONFIG, OCI_LAYER, Document, descriptor, encode, image_manifest
from tests.stores import AnyPusher, GuardedRegistry, chunks, guarded_registry

SCOPE: Final = RegistryScope("123456789012", "us-east-1")
REPO: Final = "library/app"
OTHER: Final = "team/other"
GRACE: Final = timedelta(hours=1)
PUSHER: Final = AnyPusher()
SIGNATURE: Final = "application/vnd.example.signature.v1+json"


@dataclass
class World:
    registry: GuardedRegistry
    store: SqlCollectionStore

    @property
    def service(self) -> RegistryService:
        return self.registry.service

    @property
    def blobs(self) -> FilesystemBlobStore:
        return self.registry.blobs

    @property
    def data(self) -> Path:
        return self.registry.data

    @property
    def engine(self) -> AsyncEngine:
        return self.registry.engine

    def collector(self, *, later: timedelta = timedelta(0), staged_expiry: timedelta = GRACE) -> GarbageCollector:
        """A collector whose clock runs `later` than the real one."""
        return GarbageCollector(
            self.store,
            self.blobs,
            self.registry.guard,
            grace=GRACE,
            staged_expiry=staged_expiry,
            clock=lambda: datetime.now(UTC) + later,
        )

    async def collect(self, *, later: timedelta = timedelta(0), dry_run: bool = False) -> CollectionReport:
        return await self.collector(later=later).collect(dry_run=dry_run)

    def bytes_on_disk(self) -> int:
        return sum(path.stat().st_size for path in (self.data / "blobs").rglob("*") if path.is_file())

    def has_file(self, digest: Digest) -> bool:
        return self.blobs.blob_path(digest).exists()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with guarded_registry(tmp_path, SCOPE, REPO, OTHER) as registry:
        yield World(registry, SqlCollectionStore(registry.engine))


async def push_blob(world: World, repository: str, data: bytes) -> Digest:
    return await world.service.upload_blob(SCOPE, repository, str(Digest.of(data)), chunks(data), PUSHER)


async def push_image(world: World, repository: str, tag: str | None, *layers: bytes, **fields: Any) -> Digest:
    """Push a config, `layers` and the manifest naming them; returns the manifest's digest."""
    config = f"config of {tag} {layers!r}".encode()
    await push_blob(world, repository, config)
    for layer in layers:
        await push_blob(world, repository, layer)
    document: Document = image_manifest(
        descriptor(config, OCI_CONFIG), [descriptor(layer, OCI_LAYER) for layer in layers], **fields
    )
    content = encode(document)
    digest = Digest.of(content)
    await world.service.put_manifest(SCOPE, repository, tag or str(digest), content, None, PUSHER)
    return digest


LAYER: Final = b"a layer only this image has" * 1000
SHARED: Final = b"a layer two images share" * 1000


async def test_a_deleted_image_s_blobs_are_freed_and_the_bytes_leave_the_disk(world: World) -> None:
    digest = await push_image(world, REPO, "v1", LAYER)
    before = world.bytes_on_disk()
    kept = await world.collect(later=2 * GRACE)
    assert (kept.links, kept.blobs, kept.bytes_freed, kept.failures) == (0, 0, 0, [])
    assert world.bytes_on_disk() == before  # a tagged image keeps everything

    await world.service.delete_manifest(SCOPE, REPO, str(digest))
    report = await world.collect(later=2 * GRACE)

    assert report.links == 2
    assert report.blobs == 2
    assert world.bytes_on_disk() == 0
    assert report.bytes_freed == before
    assert not world.has_file(Digest.of(LAYER))


async def test_an_untagged_image_is_kept_as_ecr_keeps_it(world: World) -> None:
    await push_image(world, REPO, "v1", LAYER)
    await push_image(world, REPO, "v1", SHARED)  # the tag moves: the first image stays, untagged

    await world.collect(later=2 * GRACE)

    assert world.has_file(Digest.of(LAYER))
    assert world.has_file(Digest.of(SHARED))


async def test_a_blob_another_repository_links_stays(world: World) -> None:
    first = await push_image(world, REPO, "v1", SHARED)
    await push_image(world, OTHER, "v1", SHARED)

    await world.service.delete_manifest(SCOPE, REPO, str(first))
    await world.collect(later=2 * GRACE)

    assert world.has_file(Digest.of(SHARED))
    found, _ = await world.service.get_blob(SCOPE, OTHER, str(Digest.of(SHARED)))
    assert found == Digest.of(SHARED)
    with pytest.raises(BlobUnknown):
        await world.service.get_blob(SCOPE, REPO, str(Digest.of(SHARED)))


async def test_a_blob_no_manifest_names_yet_waits_out_the_grace_period(world: World) -> None:
    digest = await push_blob(world, REPO, LAYER)

    await world.collect()  # a push under way: its blobs come before its manifest
    assert world.has_file(digest)

    report = await world.collect(later=2 * GRACE)
    assert (report.links, report.blobs) == (1, 1)
    assert not world.has_file(digest)
    with pytest.raises(ManifestBlobUnknown):  # the manifest that comes too late is refused, never half-stored
        await world.service.put_manifest(
            SCOPE,
            REPO,
            "late",
            encode(image_manifest(descriptor(b"{}", OCI_CONFIG), [descriptor(LAYER, OCI_LAYER)])),
            None,
            PUSHER,
        )


async def test_a_blob_uploaded_again_starts_its_grace_period_again(world: World) -> None:
    digest = await push_blob(world, REPO, LAYER)
    async with world.engine.begin() as connection:
        await connection.execute(sa.text("UPDATE repository_blobs SET linked_at = NULL"))  # as linked long ago

    await push_blob(world, REPO, LAYER)
    await world.collect()

    assert world.has_file(digest)


async def test_a_referrer_lives_as_long_as_its_subject(world: World) -> None:
    subject = await push_image(world, REPO, "v1", LAYER)
    referrer_layer = b"a signature"
    subject_descriptor = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": str(subject), "size": 1}
    referrer = await push_image(world, REPO, None, referrer_layer, subject=subject_descriptor, artifactType=SIGNATURE)
    tagged_referrer = await push_image(
        world, REPO, "keep-me", b"a tagged signature", subject=subject_descriptor, artifactType=SIGNATURE
    )

    await world.collect(later=2 * GRACE)
    assert world.has_file(Digest.of(referrer_layer))  # its subject is there

    await world.service.delete_manifest(SCOPE, REPO, str(subject))
    assert (await world.collect()).referrers == 0  # pushed within the grace period: its subject may be coming
    report = await world.collect(later=2 * GRACE)

    assert report.referrers == 1
    with pytest.raises(ManifestUnknown):
        await world.service.get_manifest(SCOPE, REPO, str(referrer))
    assert not world.has_file(Digest.of(referrer_layer))
    assert (await world.service.get_manifest(SCOPE, REPO, "keep-me")).digest == tagged_referrer
    assert world.has_file(Digest.of(b"a tagged signature"))


async def test_a_file_the_database_does_not_know_is_removed(world: World) -> None:
    stray = b"committed, then the process died before linking it"
    path = world.blobs.blob_path(Digest.of(stray))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(stray)
    kept = await push_image(world, REPO, "v1", LAYER)

    report = await world.collect()

    assert report.orphans == 1
    assert report.bytes_freed == len(stray)
    assert not path.exists()
    assert world.has_file(Digest.of(LAYER))
    assert kept


async def test_abandoned_staged_uploads_go_and_live_ones_stay(world: World) -> None:
    started = await world.service.start_upload(SCOPE, REPO, pusher=PUSHER)
    live = world.data / "uploads" / started.upload_id  # type: ignore[union-attr]
    abandoned = world.data / "uploads" / "00000000-0000-4000-8000-000000000000"
    abandoned.write_bytes(b"x" * 100)
    recent = world.data / "uploads" / "00000000-0000-4000-8000-000000000001"
    recent.write_bytes(b"y" * 10)
    old = (datetime.now(UTC) - 2 * GRACE).timestamp()
    os.utime(abandoned, (old, old))
    os.utime(live, (old, old))

    report = await world.collect()

    assert report.staged == 1
    assert not abandoned.exists()
    assert live.exists()
    assert recent.exists()


async def test_a_dry_run_frees_nothing_and_tells_what_a_run_frees(world: World) -> None:
    digest = await push_image(world, REPO, "v1", LAYER, SHARED)
    await push_image(world, OTHER, "v1", SHARED)
    await world.service.delete_manifest(SCOPE, REPO, str(digest))
    before = world.bytes_on_disk()

    told = await world.collect(later=2 * GRACE, dry_run=True)
    assert world.bytes_on_disk() == before
    done = await world.collect(later=2 * GRACE)

    assert told.dry_run
    assert not done.dry_run
    assert (told.links, told.blobs, told.bytes_freed) == (done.links, done.blobs, done.bytes_freed)
    assert done.blobs == 2  # the config and the layer only this image had; SHARED stays for OTHER
    assert world.has_file(Digest.of(SHARED))


async def test_a_repository_whose_manifest_does_not_parse_keeps_its_links(world: World) -> None:
    await push_image(world, REPO, "v1", LAYER)
    orphan = await push_blob(world, REPO, b"named by no manifest")
    async with world.engine.begin() as connection:
        await connection.execute(sa.update(manifests).values(content=b"not json"))

    report = await world.collect(later=2 * GRACE)

    assert report.failures
    assert "does not parse" in report.failures[0]
    assert world.has_file(orphan)
    assert world.has_file(Digest.of(LAYER))


# -- what happens between the collector's first read and its exclusive hold --------------------------------------


async def _age_everything(world: World) -> None:
    """Manifests and links as if stored and linked before the grace period."""
    old = datetime.now(UTC) - 2 * GRACE
    async with world.engine.begin() as connection:
        await connection.execute(sa.update(manifests).values(created_at=old))
        await connection.execute(sa.update(repository_blobs).values(linked_at=old))


def _between_read_and_hold(world: World, act: Callable[[], Awaitable[object]]) -> None:
    """Run `act` (a client's request) right after the collector has read the repository's links."""
    read_links = world.store.read_links

    async def read_then_act(repository: int) -> Sequence[Link]:
        links = await read_links(repository)
        await act()
        return links

    world.store.read_links = read_then_act  # type: ignore[method-assign]


@pytest.mark.parametrize("rescue", ["the subject is pushed again", "the referrer is tagged"])
async def test_a_referrer_kept_at_the_last_moment_keeps_its_blobs(world: World, rescue: str) -> None:
    subject = await push_image(world, REPO, None, LAYER)
    subject_content = (await world.service.get_manifest(SCOPE, REPO, str(subject))).content
    named = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": str(subject), "size": 1}
    referrer = await push_image(world, REPO, None, b"a signature", subject=named, artifactType=SIGNATURE)
    referrer_content = (await world.service.get_manifest(SCOPE, REPO, str(referrer))).content
    await world.service.delete_manifest(SCOPE, REPO, str(subject))
    await _age_everything(world)
    if rescue == "the subject is pushed again":
        _between_read_and_hold(
            world, lambda: world.service.put_manifest(SCOPE, REPO, "back", subject_content, None, PUSHER)
        )
    else:
        _between_read_and_hold(
            world, lambda: world.service.put_manifest(SCOPE, REPO, "sig", referrer_content, None, PUSHER)
        )

    report = await world.collect()

    assert report.referrers == 0
    assert await world.service.find_manifest(SCOPE, REPO, referrer) is not None
    assert world.has_file(Digest.of(b"a signature"))


async def test_a_manifest_whose_write_waited_for_the_lock_keeps_what_it_names(world: World) -> None:
    image = await push_image(world, REPO, None, LAYER)
    content = (await world.service.get_manifest(SCOPE, REPO, str(image))).content
    await world.service.delete_manifest(SCOPE, REPO, str(image))
    await _age_everything(world)

    async def long_transaction() -> None:  # another write of this process holds the write lock for a while
        async with writer(world.engine).begin() as connection:
            await connection.execute(sa.text("SELECT 1"))
            await asyncio.sleep(3.0)

    holder = asyncio.create_task(long_transaction())
    await asyncio.sleep(0.1)
    # The image pushed again: its blobs are linked (HEAD says so), so only the manifest is sent; it is stamped now
    # and committed once the lock is free, seconds later.
    push = asyncio.create_task(world.service.put_manifest(SCOPE, REPO, "again", content, None, PUSHER))
    await asyncio.sleep(2.5)
    await world.collect()
    await asyncio.gather(push, holder)

    assert await world.service.find_manifest(SCOPE, REPO, "again") is not None
    assert world.has_file(Digest.of(LAYER))


async def test_an_upload_cancelled_while_its_link_is_written_leaves_no_row_without_a_file(world: World) -> None:
    data = b"a new blob" * 1000
    digest = Digest.of(data)
    links = world.registry.metadata._links
    write = links._write

    async def slow_write(batch: Sequence[Any]) -> None:  # the link's transaction waits for the write lock
        await asyncio.sleep(1.0)
        await write(batch)

    links._write = slow_write
    upload = asyncio.create_task(world.service.upload_blob(SCOPE, REPO, str(digest), chunks(data), PUSHER))
    await asyncio.sleep(0.3)
    assert world.has_file(digest)  # committed; its link is being written
    upload.cancel()  # the client hung up
    await asyncio.gather(upload, return_exceptions=True)
    await world.collect()  # its orphan sweep looks at the file while the link may still be on its way
    await asyncio.sleep(1.0)  # by now the link's transaction has ended, whatever it did

    linked = await world.registry.metadata.find_blob_size(SCOPE, REPO, digest)
    assert linked is None or world.has_file(digest)
