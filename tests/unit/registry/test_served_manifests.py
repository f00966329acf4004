"""ServedManifest.fetched: whether a pull's manifest came from the content source (what X-Cache says of it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

import pytest

from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.registry.manifest_writes import ManifestWrites
from pullcache.registry.ports import Blob, ManifestRecord, PullRequester
from pullcache.registry.service import RegistryService
from pullcache.storage.filesystem import FilesystemBlobStore
from tests.oci_documents import OCI_CONFIG, OCI_LAYER, descriptor, encode, image_manifest
from tests.stores import AnyPusher, chunks, sqlite_metadata_store, sqlite_repositories

SCOPE: Final = RegistryScope("123456789012", "us-east-1")
REPO: Final = "library/app"


class Requester:
    async def authorize_import(self, repository: str, repository_exists: bool) -> None:
        pass


class MovingSource:
    """A content source whose upstream names `upstream` by every tag: what the registry lacks is 'imported' (handed
    back, not stored); a cached tag it answers with `upstream` too (the tag moved, or not)."""

    def __init__(self) -> None:
        self.upstream: ManifestRecord | None = None

    async def covers(self, scope: RegistryScope, repository: str) -> bool:
        return True

    async def find_manifest(
        self,
        scope: RegistryScope,
        repository: str,
        reference: Digest | str,
        cached: ManifestRecord | None,
        requester: PullRequester,
    ) -> ManifestRecord | None:
        if cached is not None and self.upstream is not None and cached.digest == self.upstream.digest:
            return cached
        return self.upstream

    async def find_blob(
        self, scope: RegistryScope, repository: str, digest: Digest, requester: PullRequester
    ) -> Blob | None:
        return None

    async def held_blob(self, scope: RegistryScope, repository: str, size: int) -> None:
        pass


@pytest.fixture
async def wired(tmp_path: Path) -> AsyncIterator[tuple[RegistryService, MovingSource]]:
    source = MovingSource()
    async with sqlite_metadata_store(tmp_path) as metadata, sqlite_repositories(tmp_path) as repositories:
        await repositories.create(SCOPE, REPO)
        yield (
            RegistryService(
                FilesystemBlobStore(tmp_path / "blobs"), metadata, ManifestWrites(metadata), repositories, source
            ),
            source,
        )


async def pushed(service: RegistryService, seed: str) -> ManifestRecord:
    config, layer = f"config{seed}".encode(), f"layer{seed}".encode()
    for data in (config, layer):
        await service.upload_blob(SCOPE, REPO, str(Digest.of(data)), chunks(data), AnyPusher())
    content = encode(image_manifest(descriptor(config, OCI_CONFIG), [descriptor(layer, OCI_LAYER)]))
    stored = await service.put_manifest(SCOPE, REPO, "v1", content, None, AnyPusher())
    found = await service.find_manifest(SCOPE, REPO, stored.digest)
    assert found is not None
    return found


async def test_a_manifest_the_source_supplies_is_fetched_and_one_the_registry_holds_is_not(
    wired: tuple[RegistryService, MovingSource],
) -> None:
    service, source = wired
    held = await pushed(service, "held")

    source.upstream = held
    assert not (await service.serve_manifest(SCOPE, REPO, "v1", requester=Requester())).fetched
    assert not (await service.serve_manifest(SCOPE, REPO, str(held.digest), requester=Requester())).fetched

    source.upstream = ManifestRecord(Digest.of(b"moved"), held.media_type, b"moved")  # the tag moved upstream
    moved = await service.serve_manifest(SCOPE, REPO, "v1", requester=Requester())
    assert moved.fetched
    assert moved.record.digest == Digest.of(b"moved")

    imported = await service.serve_manifest(SCOPE, REPO, "not-held-yet", requester=Requester())
    assert imported.fetched


async def test_without_a_requester_nothing_is_fetched(wired: tuple[RegistryService, MovingSource]) -> None:
    service, _ = wired
    await pushed(service, "held")

    served = await service.serve_manifest(SCOPE, REPO, "v1")

    assert not served.fetched
    assert (await service.get_manifest(SCOPE, REPO, "v1")) == served.record
