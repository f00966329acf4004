"""The PullRecordStore contract (registry/pull_records.py): a flush of the pulls a worker gathered, over every
metadata adapter, read back as the registry reads pull times (find_manifest, through the read cache where the
adapter has one) and as `pullcache repositories` reads pull counts (SqlRepositoryUsage).

REPO and OTHER exist in SCOPE before each test; REPO holds the manifests "a" and "b".
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final, Protocol, cast

import pytest

from pullcache.core import mediatypes
from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.metadata.engine import create_engine
from pullcache.metadata.sql_repository_usage import SqlRepositoryUsage
from pullcache.registry.ports import ManifestRecord, MetadataStore
from pullcache.registry.pull_records import ImagePulls, PullRecordStore
from tests.contract.conftest import METADATA_STORES
from tests.stores import MetadataStoreFactory, sqlite_repositories, sqlite_url

SCOPE: Final = RegistryScope("123456789012", "us-east-1")
OTHER_ACCOUNT: Final = RegistryScope("210987654321", "us-east-1")
REPO: Final = "library/app"
OTHER: Final = "team/other"
PULLED: Final = datetime(2026, 5, 1, 12, 0, 0, 123000, tzinfo=UTC)


class RecordingMetadataStore(MetadataStore, PullRecordStore, Protocol):
    """A metadata adapter: it keeps the registry's content and the pulls flushed into it."""


def manifest(name: str) -> ManifestRecord:
    content = f'{{"schemaVersion": 2, "name": "{name}"}}'.encode()
    return ManifestRecord(Digest.of(content), mediatypes.OCI_MANIFEST, content)


def pulls(name: str, at: datetime | None, count: int = 1, repository: str = REPO) -> ImagePulls:
    return ImagePulls(SCOPE, repository, manifest(name).digest, at, count)


@pytest.fixture(params=METADATA_STORES)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RecordingMetadataStore]:
    factory: MetadataStoreFactory = request.param
    async with factory(tmp_path) as opened, sqlite_repositories(tmp_path) as repositories:
        await repositories.create(SCOPE, REPO, OTHER)
        for name in ("a", "b"):
            await opened.put_manifest(SCOPE, REPO, manifest(name), None)
        yield cast(RecordingMetadataStore, opened)  # every metadata adapter keeps pulls too


@pytest.fixture
async def usage(tmp_path: Path) -> AsyncIterator[SqlRepositoryUsage]:
    engine = create_engine(sqlite_url(tmp_path / "metadata.db"))
    yield SqlRepositoryUsage(engine)
    await engine.dispose()


async def pulled_at(store: RecordingMetadataStore, name: str) -> datetime | None:
    found = await store.find_manifest(SCOPE, REPO, manifest(name).digest)
    assert found is not None
    return found.pulled_at


async def counts(usage: SqlRepositoryUsage) -> dict[str, int]:
    return {repository.name: repository.pulls for repository in await usage.list_usage(SCOPE)}


async def test_a_flush_sets_the_pull_time_of_each_image_it_names(store: RecordingMetadataStore) -> None:
    assert await pulled_at(store, "a") is None  # read (and cached, where reads are) before the flush

    await store.record_pulls([pulls("a", PULLED), pulls("b", None)])

    assert await pulled_at(store, "a") == PULLED
    assert await pulled_at(store, "b") is None


async def test_a_pull_time_never_moves_backwards(store: RecordingMetadataStore) -> None:
    await store.record_pulls([pulls("a", PULLED)])
    await store.record_pulls([pulls("a", PULLED - timedelta(minutes=5))])  # another worker's older pull, flushed late

    assert await pulled_at(store, "a") == PULLED

    await store.record_pulls([pulls("a", PULLED + timedelta(minutes=5))])

    assert await pulled_at(store, "a") == PULLED + timedelta(minutes=5)


async def test_counts_add_to_what_the_repository_has(store: RecordingMetadataStore, usage: SqlRepositoryUsage) -> None:
    assert await counts(usage) == {REPO: 0, OTHER: 0}

    await store.record_pulls([pulls("a", PULLED, 2), pulls("b", None, 3)])
    await store.record_pulls([pulls("a", None, 4)])  # a second worker's flush: added, not set

    assert await counts(usage) == {REPO: 9, OTHER: 0}


async def test_pulls_of_images_or_repositories_no_longer_there_are_skipped(
    store: RecordingMetadataStore, usage: SqlRepositoryUsage
) -> None:
    await store.record_pulls(
        [
            pulls("gone", PULLED, 2),  # deleted since it was pulled: its repository still served the pulls
            pulls("a", PULLED, 1, repository="never/seen"),
            ImagePulls(OTHER_ACCOUNT, REPO, manifest("a").digest, PULLED, 5),
            pulls("b", PULLED, 1),
        ]
    )

    assert await counts(usage) == {REPO: 3, OTHER: 0}
    assert await pulled_at(store, "a") is None
    assert await pulled_at(store, "b") == PULLED


async def test_the_usage_listing_shows_images_and_the_latest_pull(
    store: RecordingMetadataStore, usage: SqlRepositoryUsage
) -> None:
    await store.record_pulls([pulls("a", PULLED), pulls("b", PULLED + timedelta(hours=1))])

    listed = {repository.name: repository for repository in await usage.list_usage(SCOPE)}

    assert (listed[REPO].images, listed[REPO].pulls, listed[REPO].last_pull) == (
        2,
        2,
        PULLED + timedelta(hours=1),
    )
    assert (listed[OTHER].images, listed[OTHER].pulls, listed[OTHER].last_pull) == (0, 0, None)
    assert await usage.list_usage(OTHER_ACCOUNT) == []
