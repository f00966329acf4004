"""Reads kept between writes: two stores over one SQLite file stand for two worker processes, each with its cache."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pullcache.core import mediatypes
from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.metadata.engine import DataGroup, create_engine, migrate, read_cache
from pullcache.metadata.read_cache import EPOCH_SUFFIX, ReadCache, bump_epoch, read_epoch
from pullcache.metadata.reads import EngineReads, open_reads
from pullcache.metadata.sql import SqlMetadataStore
from pullcache.metadata.sql_ecr import SqlEcrStore
from pullcache.metadata.sql_iam import SqlIamStore
from pullcache.metadata.sql_pullthrough import SqlPullThroughStore
from pullcache.registry.ports import ManifestRecord
from pullcache.registry.pull_records import ImagePulls
from tests.gated_loads import GatedLoad
from tests.stores import sqlite_repositories, sqlite_url
from tests.tmpfs import mounted_tmpfs

SCOPE = RegistryScope("123456789012", "us-east-1")
REPO = "team/app"


def manifest(name: str) -> ManifestRecord:
    content = f'{{"schemaVersion": 2, "name": "{name}"}}'.encode()
    return ManifestRecord(Digest.of(content), mediatypes.OCI_MANIFEST, content)


@pytest.fixture(params=["read on threads", "read through the engine"])
async def two_workers(
    tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[SqlMetadataStore, SqlMetadataStore]]:
    url = sqlite_url(tmp_path / "metadata.db")
    first, second = create_engine(url), create_engine(url)
    await migrate(first)
    async with sqlite_repositories(tmp_path) as repositories:
        await repositories.create(SCOPE, REPO)  # the stores create none (ECR's CreateRepository does)
    reads = open_reads(first) if request.param == "read on threads" else EngineReads(first)
    try:
        yield (
            SqlMetadataStore(first, read_cache(first, DataGroup.CONTENT), reads),
            SqlMetadataStore(second, read_cache(second, DataGroup.CONTENT)),
        )
    finally:
        await reads.close()
        await first.dispose()
        await second.dispose()


async def test_a_tag_moved_by_another_worker_is_seen_at_once(
    two_workers: tuple[SqlMetadataStore, SqlMetadataStore],
) -> None:
    reader, writer = two_workers
    old, new = manifest("old"), manifest("new")
    await writer.put_manifest(SCOPE, REPO, old, "latest")
    assert (await reader.find_manifest(SCOPE, REPO, "latest")) == old
    assert (await reader.find_manifest(SCOPE, REPO, "latest")) == old  # served from the cache

    await writer.put_manifest(SCOPE, REPO, new, "latest")

    assert (await reader.find_manifest(SCOPE, REPO, "latest")) == new


async def test_what_was_missing_is_found_once_another_worker_writes_it(
    two_workers: tuple[SqlMetadataStore, SqlMetadataStore], tmp_path: Path
) -> None:
    reader, writer = two_workers
    blob = Digest.of(b"layer")
    assert await reader.find_blob_size(SCOPE, REPO, blob) is None
    assert not await reader.repository_exists(SCOPE, "team/later")

    await writer.link_blob(SCOPE, REPO, blob, 5)
    async with sqlite_repositories(tmp_path) as repositories:  # a third worker, through the ECR store
        await repositories.create(SCOPE, "team/later")

    assert await reader.find_blob_size(SCOPE, REPO, blob) == 5
    assert await reader.repository_exists(SCOPE, "team/later")


async def test_a_manifest_deleted_by_another_worker_is_gone_at_once(
    two_workers: tuple[SqlMetadataStore, SqlMetadataStore],
) -> None:
    reader, writer = two_workers
    record = manifest("doomed")
    await writer.put_manifest(SCOPE, REPO, record, "latest")
    assert await reader.find_manifest(SCOPE, REPO, record.digest) == record

    await writer.delete_manifest(SCOPE, REPO, record.digest)

    assert await reader.find_manifest(SCOPE, REPO, record.digest) is None
    assert await reader.find_manifest(SCOPE, REPO, "latest") is None


async def test_reads_are_served_from_memory_until_the_epoch_moves(tmp_path: Path) -> None:
    epoch = tmp_path / "db-epoch"
    cache = ReadCache(epoch)
    load = GatedLoad()

    assert await cache.get("k", load) == 1
    assert await cache.get("k", load) == 1
    bump_epoch(epoch)
    assert await cache.get("k", load) == 2


async def test_a_value_read_while_a_write_lands_is_not_kept(tmp_path: Path) -> None:
    epoch = tmp_path / "db-epoch"
    cache = ReadCache(epoch)
    values = iter(["stale", "fresh"])

    async def load_during_a_write() -> str:
        value = next(values)
        bump_epoch(epoch)  # a writer commits while this read is under way
        return value

    assert await cache.get("k", load_during_a_write) == "stale"

    async def load() -> str:
        return next(values)

    assert await cache.get("k", load) == "fresh"


async def test_callers_that_miss_together_share_one_read(tmp_path: Path) -> None:
    cache = ReadCache(tmp_path / "db-epoch")
    load = GatedLoad(held=True)
    assert await load.release_after([asyncio.ensure_future(cache.get("k", load)) for _ in range(20)]) == [1] * 20
    assert load.calls == 1


async def test_a_caller_after_a_write_does_not_share_a_read_begun_before_it(tmp_path: Path) -> None:
    epoch = tmp_path / "db-epoch"
    cache = ReadCache(epoch)
    gate = asyncio.Event()
    values = iter(["before the write", "after the write"])

    async def load() -> str:
        value = next(values)
        await gate.wait()
        return value

    early = asyncio.ensure_future(cache.get("k", load))
    await asyncio.sleep(0)
    bump_epoch(epoch)
    late = asyncio.ensure_future(cache.get("k", load))
    await asyncio.sleep(0)
    gate.set()
    assert (await early, await late) == ("before the write", "after the write")


async def test_records_no_cached_read_includes_leave_every_cache_alone(tmp_path: Path) -> None:
    """The record of imports in flight (written twice a burst of a cold pull) and a role's last use."""
    url = sqlite_url(tmp_path / "metadata.db")
    engine = create_engine(url)
    await migrate(engine)
    try:
        caches = [cache for group in DataGroup if (cache := read_cache(engine, group)) is not None]
        assert len(caches) == len(DataGroup)
        load = GatedLoad()

        kept = [await cache.get("k", load) for cache in caches]
        imports = SqlPullThroughStore(engine)
        await imports.end_import(await imports.begin_import(SCOPE, REPO, datetime.now(UTC)))
        await SqlIamStore(engine).record_role_use("arn:aws:iam::123456789012:role/r", datetime.now(UTC), "us-east-1")
        assert [await cache.get("k", load) for cache in caches] == kept  # nothing read again
    finally:
        await engine.dispose()


async def test_a_database_without_a_local_file_has_no_cache() -> None:
    engine = create_engine("sqlite+aiosqlite:///:memory:")
    try:
        assert read_cache(engine, DataGroup.CONTENT) is None
    finally:
        await engine.dispose()


async def test_a_policy_set_by_another_worker_is_seen_at_once_and_content_writes_keep_settings_cached(
    tmp_path: Path,
) -> None:
    url = sqlite_url(tmp_path / "metadata.db")
    first, second = create_engine(url), create_engine(url)
    await migrate(first)
    try:
        reader = SqlEcrStore(first, read_cache(first, DataGroup.SETTINGS))
        async with sqlite_repositories(tmp_path) as repositories:
            await repositories.create(SCOPE, REPO)
        await SqlMetadataStore(second).link_blob(SCOPE, REPO, Digest.of(b"layer"), 5)
        assert await reader.find_repository_policy(SCOPE, REPO) is None

        await SqlEcrStore(second).set_repository_policy(SCOPE, REPO, '{"Version": "2012-10-17"}')
        assert await reader.find_repository_policy(SCOPE, REPO) == '{"Version": "2012-10-17"}'

        settings = read_cache(first, DataGroup.SETTINGS)
        assert settings is not None
        load = GatedLoad()

        await settings.get("k", load)
        await SqlMetadataStore(second).link_blob(SCOPE, REPO, Digest.of(b"another layer"), 13)  # content only
        assert await settings.get("k", load) == 1
    finally:
        await first.dispose()
        await second.dispose()


def test_the_epoch_moves_on_a_full_disk_where_no_byte_fits(tmp_path: Path) -> None:
    with mounted_tmpfs(tmp_path / "small", 64 << 10) as disk:
        epoch = disk / "db-epoch"
        epoch.write_bytes(b"." * 4096)  # the next byte needs a page of its own
        filler = disk / "filler"
        with contextlib.suppress(OSError), filler.open("wb") as fill:
            while True:
                fill.write(b"\0" * 4096)
                fill.flush()
        before = read_epoch(epoch)

        bump_epoch(epoch)

        assert read_epoch(epoch) != before


async def test_a_pull_time_flushed_by_another_worker_is_seen_at_once(
    two_workers: tuple[SqlMetadataStore, SqlMetadataStore],
) -> None:
    reader, writer = two_workers
    record = manifest("pulled")
    await writer.put_manifest(SCOPE, REPO, record, "latest")
    assert (await reader.find_manifest(SCOPE, REPO, "latest")) is not None  # kept, with no pull time
    pulled = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)

    await writer.record_pulls([ImagePulls(SCOPE, REPO, record.digest, pulled, 1)])

    found = await reader.find_manifest(SCOPE, REPO, "latest")
    assert found is not None
    assert found.pulled_at == pulled


async def test_a_flush_of_pull_counts_alone_leaves_every_cache_alone(
    two_workers: tuple[SqlMetadataStore, SqlMetadataStore], tmp_path: Path
) -> None:
    """No cached read asks for a pull count: a flush that moves no pull time makes no worker read again."""
    _, writer = two_workers
    record = manifest("pulled")
    await writer.put_manifest(SCOPE, REPO, record, "latest")
    content_epoch = Path(f"{tmp_path / 'metadata.db'}{EPOCH_SUFFIX}-{DataGroup.CONTENT}")
    before = read_epoch(content_epoch)

    await writer.record_pulls([ImagePulls(SCOPE, REPO, record.digest, None, 3)])
    after_counts = read_epoch(content_epoch)
    await writer.record_pulls([ImagePulls(SCOPE, REPO, record.digest, datetime.now(UTC), 1)])

    assert after_counts == before
    assert read_epoch(content_epoch) != before
