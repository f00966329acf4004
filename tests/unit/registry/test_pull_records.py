"""PullRecords: pulls counted in memory, written by flushes that merge, never move a time backwards, keep what a
failed flush could not write, and stay bounded.

The store here keeps what it is given in memory, as the SQL store keeps it in tables (tests/contract covers that
one); it can be told to refuse writes, as a full disk or a locked database does.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Final

import pytest

from pullcache.core import mediatypes
from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.registry.ports import ManifestRecord
from pullcache.registry.pull_records import PULL_TIME_RESOLUTION, ImagePulls, PullRecords

SCOPE: Final = RegistryScope("123456789012", "us-east-1")
OTHER_ACCOUNT: Final = RegistryScope("210987654321", "us-east-1")
REPO: Final = "library/app"
OTHER: Final = "team/other"
START: Final = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def manifest(name: str, pulled_at: datetime | None = None) -> ManifestRecord:
    content = f'{{"schemaVersion": 2, "name": "{name}"}}'.encode()
    return ManifestRecord(Digest.of(content), mediatypes.OCI_MANIFEST, content, pulled_at=pulled_at)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class MemoryPullRecordStore:
    """Pull times (the later kept) and counts per repository, as the SQL store keeps them."""

    def __init__(self) -> None:
        self.times: dict[tuple[RegistryScope, str, Digest], datetime] = {}
        self.counts: dict[tuple[RegistryScope, str], int] = {}
        self.flushes: list[list[ImagePulls]] = []
        self.refusal: Exception | None = None
        self.written = asyncio.Event()

    async def record_pulls(self, pulls: Sequence[ImagePulls]) -> None:
        if self.refusal is not None:
            raise self.refusal
        self.flushes.append(list(pulls))
        self.written.set()
        for image in pulls:
            key = (image.scope, image.repository, image.digest)
            if image.pulled_at is not None and (key not in self.times or self.times[key] < image.pulled_at):
                self.times[key] = image.pulled_at
            self.counts[image.scope, image.repository] = (
                self.counts.get((image.scope, image.repository), 0) + image.count
            )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store() -> MemoryPullRecordStore:
    return MemoryPullRecordStore()


@pytest.fixture
def pulls(store: MemoryPullRecordStore, clock: Clock) -> PullRecords:
    return PullRecords(store, clock=clock)


async def test_pulls_wait_in_memory_until_a_flush_writes_them_in_one_batch(
    pulls: PullRecords, store: MemoryPullRecordStore
) -> None:
    for _ in range(3):
        pulls.record(SCOPE, REPO, manifest("a"))
    pulls.record(SCOPE, REPO, manifest("b"))
    pulls.record(SCOPE, OTHER, manifest("a"))
    assert store.flushes == []
    assert pulls.waiting == 5

    await pulls.flush()

    [batch] = store.flushes
    assert sorted((image.repository, image.count) for image in batch) == [(REPO, 1), (REPO, 3), (OTHER, 1)]
    assert store.counts == {(SCOPE, REPO): 4, (SCOPE, OTHER): 1}
    assert store.times[SCOPE, REPO, manifest("a").digest] == START
    assert pulls.waiting == 0


async def test_a_flush_with_nothing_pulled_writes_nothing(pulls: PullRecords, store: MemoryPullRecordStore) -> None:
    await pulls.flush()

    assert store.flushes == []


async def test_pulls_within_the_resolution_count_but_do_not_move_the_time(
    pulls: PullRecords, store: MemoryPullRecordStore, clock: Clock
) -> None:
    pulls.record(SCOPE, REPO, manifest("a"))
    await pulls.flush()
    clock.now = START + PULL_TIME_RESOLUTION / 2
    pulls.record(SCOPE, REPO, manifest("a", pulled_at=START))
    await pulls.flush()
    clock.now = START + PULL_TIME_RESOLUTION
    pulls.record(SCOPE, REPO, manifest("a", pulled_at=START))
    await pulls.flush()

    assert [image.pulled_at for [image] in store.flushes] == [START, None, START + PULL_TIME_RESOLUTION]
    assert store.counts[SCOPE, REPO] == 3


async def test_the_buffer_remembers_what_it_recorded_while_reads_still_show_the_older_time(
    pulls: PullRecords, store: MemoryPullRecordStore, clock: Clock
) -> None:
    """Another worker's read cache (or this one's, before the flush) still shows no pull: no second time."""
    pulls.record(SCOPE, REPO, manifest("a"))
    clock.now = START + timedelta(seconds=5)
    pulls.record(SCOPE, REPO, manifest("a"))
    await pulls.flush()

    [[image]] = store.flushes
    assert (image.pulled_at, image.count) == (START, 2)


async def test_a_time_recorded_in_the_store_within_the_resolution_is_kept(
    pulls: PullRecords, store: MemoryPullRecordStore
) -> None:
    pulls.record(SCOPE, REPO, manifest("a", pulled_at=START - timedelta(seconds=10)))
    await pulls.flush()

    [[image]] = store.flushes
    assert (image.pulled_at, image.count) == (None, 1)


async def test_a_clock_that_steps_back_does_not_move_a_waiting_time_backwards(
    pulls: PullRecords, store: MemoryPullRecordStore, clock: Clock
) -> None:
    pulls.record(SCOPE, REPO, manifest("a"))
    clock.now = START - 2 * PULL_TIME_RESOLUTION  # an NTP step
    pulls.record(SCOPE, REPO, manifest("a", pulled_at=START - 4 * PULL_TIME_RESOLUTION))
    await pulls.flush()

    [[image]] = store.flushes
    assert image.pulled_at == START


async def test_scopes_are_counted_apart(pulls: PullRecords, store: MemoryPullRecordStore) -> None:
    pulls.record(SCOPE, REPO, manifest("a"))
    pulls.record(OTHER_ACCOUNT, REPO, manifest("a"))
    await pulls.flush()

    assert store.counts == {(SCOPE, REPO): 1, (OTHER_ACCOUNT, REPO): 1}


async def test_a_failed_flush_keeps_its_pulls_for_the_next_merged_with_later_ones(
    pulls: PullRecords, store: MemoryPullRecordStore, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pullcache.registry.pull_records")
    pulls.record(SCOPE, REPO, manifest("a"))
    pulls.record(SCOPE, REPO, manifest("b"))
    store.refusal = sqlite3.OperationalError("database or disk is full")
    await pulls.flush()
    await pulls.flush()
    clock.now = START + 2 * PULL_TIME_RESOLUTION
    pulls.record(SCOPE, REPO, manifest("a"))
    pulls.record(SCOPE, OTHER, manifest("c"))
    store.refusal = None
    await pulls.flush()

    [batch] = store.flushes
    written = {(image.repository, image.digest): (image.pulled_at, image.count) for image in batch}
    assert written == {
        (REPO, manifest("a").digest): (START + 2 * PULL_TIME_RESOLUTION, 2),
        (REPO, manifest("b").digest): (START, 1),
        (OTHER, manifest("c").digest): (START + 2 * PULL_TIME_RESOLUTION, 1),
    }
    assert [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING] == [
        "could not record 2 pulls; they wait for the next flush: database or disk is full"
    ]
    assert "recorded pulls again after 2 failed flushes" in caplog.text


async def test_past_the_cap_the_oldest_images_are_dropped_and_counted(
    store: MemoryPullRecordStore, clock: Clock
) -> None:
    pulls = PullRecords(store, max_images=2, clock=clock)
    pulls.record(SCOPE, REPO, manifest("a"))
    pulls.record(SCOPE, REPO, manifest("a"))
    pulls.record(SCOPE, REPO, manifest("b"))
    pulls.record(SCOPE, REPO, manifest("c"))
    await pulls.flush()

    [batch] = store.flushes
    assert sorted(str(image.digest) for image in batch) == sorted(str(manifest(n).digest) for n in "bc")
    assert pulls.dropped == 2


async def test_records_kept_after_a_failure_stay_within_the_cap(store: MemoryPullRecordStore, clock: Clock) -> None:
    pulls = PullRecords(store, max_images=2, clock=clock)
    pulls.record(SCOPE, REPO, manifest("a"))
    pulls.record(SCOPE, REPO, manifest("b"))
    store.refusal = sqlite3.OperationalError("database is locked")
    await pulls.flush()
    pulls.record(SCOPE, REPO, manifest("c"))
    store.refusal = None
    await pulls.flush()

    [batch] = store.flushes
    assert sorted(str(image.digest) for image in batch) == sorted(str(manifest(n).digest) for n in "bc")
    assert pulls.dropped == 1


async def test_the_task_flushes_every_interval_and_once_more_when_closed(
    pulls: PullRecords, store: MemoryPullRecordStore
) -> None:
    pulls.start(0.05)
    pulls.record(SCOPE, REPO, manifest("a"))
    await asyncio.wait_for(store.written.wait(), 5)
    pulls.record(SCOPE, REPO, manifest("a"))
    await pulls.close()

    assert store.counts == {(SCOPE, REPO): 2}
    assert len(store.flushes) == 2


# -- pull time update exclusions ---------------------------------------------------------------------------

ROLE: Final = "arn:aws:iam::123456789012:role/scanner"
USER: Final = "arn:aws:iam::123456789012:user/builder"


class MemoryExclusionStore:
    """Excluded principal ARNs per scope, as the SQL store keeps them; it counts its reads, and can be told to
    refuse them."""

    def __init__(self) -> None:
        self.excluded: set[tuple[RegistryScope, str]] = set()
        self.reads = 0
        self.refusal: Exception | None = None

    async def list_all_pull_time_exclusions(self) -> Sequence[tuple[RegistryScope, str]]:
        if self.refusal is not None:
            raise self.refusal
        self.reads += 1
        return sorted(self.excluded, key=lambda excluded: (excluded[0].account_id, excluded[1]))


@pytest.fixture
def exclusions() -> MemoryExclusionStore:
    found = MemoryExclusionStore()
    found.excluded.add((SCOPE, ROLE))
    return found


@pytest.fixture
async def excluding(store: MemoryPullRecordStore, exclusions: MemoryExclusionStore, clock: Clock) -> PullRecords:
    pulls = PullRecords(store, exclusions=exclusions, clock=clock)
    await pulls.load_exclusions()
    return pulls


def written(store: MemoryPullRecordStore) -> dict[Digest, tuple[datetime | None, int]]:
    return {image.digest: (image.pulled_at, image.count) for batch in store.flushes for image in batch}


async def test_a_pull_by_an_excluded_principal_counts_but_moves_no_pull_time(
    excluding: PullRecords, store: MemoryPullRecordStore
) -> None:
    excluding.record(SCOPE, REPO, manifest("a"), ROLE)
    excluding.record(SCOPE, REPO, manifest("a"), ROLE)
    await excluding.flush()

    assert written(store) == {manifest("a").digest: (None, 2)}
    assert store.counts == {(SCOPE, REPO): 2}
    assert store.times == {}


async def test_pulls_by_other_principals_anonymous_ones_or_in_another_scope_move_the_pull_time(
    excluding: PullRecords, store: MemoryPullRecordStore
) -> None:
    excluding.record(SCOPE, REPO, manifest("a"), USER)
    excluding.record(SCOPE, REPO, manifest("b"), None)
    excluding.record(OTHER_ACCOUNT, REPO, manifest("c"), ROLE)  # excluded in SCOPE only
    await excluding.flush()

    assert written(store) == {manifest(n).digest: (START, 1) for n in "abc"}


async def test_an_excluded_pull_does_not_hold_back_the_next_pull_by_someone_else(
    excluding: PullRecords, store: MemoryPullRecordStore, clock: Clock
) -> None:
    excluding.record(SCOPE, REPO, manifest("a"), ROLE)
    clock.now = START + timedelta(seconds=5)  # within the resolution of the excluded pull: it recorded no time
    excluding.record(SCOPE, REPO, manifest("a"), USER)
    await excluding.flush()

    assert written(store) == {manifest("a").digest: (START + timedelta(seconds=5), 2)}


async def test_the_exclusions_are_read_again_at_each_flush_not_at_each_pull(
    excluding: PullRecords, store: MemoryPullRecordStore, exclusions: MemoryExclusionStore, clock: Clock
) -> None:
    exclusions.excluded = {(SCOPE, USER)}  # ROLE deregistered, USER registered: unseen until the next flush
    for name in "ab":
        excluding.record(SCOPE, REPO, manifest(name), ROLE)
        excluding.record(SCOPE, OTHER, manifest(name), USER)
    assert exclusions.reads == 1
    await excluding.flush()
    clock.now = START + 2 * PULL_TIME_RESOLUTION
    excluding.record(SCOPE, REPO, manifest("c"), ROLE)
    excluding.record(SCOPE, OTHER, manifest("c"), USER)
    await excluding.flush()

    times = {(image.repository, image.digest): image.pulled_at for batch in store.flushes for image in batch}
    assert times == {
        (REPO, manifest("a").digest): None,
        (REPO, manifest("b").digest): None,
        (OTHER, manifest("a").digest): START,
        (OTHER, manifest("b").digest): START,
        (REPO, manifest("c").digest): START + 2 * PULL_TIME_RESOLUTION,
        (OTHER, manifest("c").digest): None,
    }
    assert exclusions.reads == 3
    assert store.counts == {(SCOPE, REPO): 3, (SCOPE, OTHER): 3}


async def test_a_flush_with_nothing_pulled_still_reads_the_exclusions_again(
    excluding: PullRecords, store: MemoryPullRecordStore, exclusions: MemoryExclusionStore
) -> None:
    exclusions.excluded = {(SCOPE, USER)}
    await excluding.flush()
    excluding.record(SCOPE, REPO, manifest("a"), USER)
    await excluding.flush()

    assert written(store) == {manifest("a").digest: (None, 1)}


async def test_exclusions_that_cannot_be_read_keep_those_read_before(
    excluding: PullRecords,
    store: MemoryPullRecordStore,
    exclusions: MemoryExclusionStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    exclusions.refusal = sqlite3.OperationalError("database is locked")
    await excluding.flush()
    excluding.record(SCOPE, REPO, manifest("a"), ROLE)
    await excluding.flush()

    assert written(store) == {manifest("a").digest: (None, 1)}
    assert [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING] == [
        "could not read the pull time update exclusions; those read before apply: database is locked"
    ]
