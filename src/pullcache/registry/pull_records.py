"""Pulls counted in memory as they are served and written to the database in the background.

ECR keeps an image's lastRecordedPullTime (refreshed "at least once every 24 hours") and pullcache keeps, besides,
how many pulls each repository served. Neither may cost a pull a write: a write takes the database's write lock,
which a push, another worker or an admin command may hold, and it makes every worker's read cache start over. So a
pull is a dict update here (`record`), and a task of this process writes what gathered in one transaction every
flush interval (`run`) and once more as the process stops (`close`).

What a flush writes, per image: the latest time it was pulled, at most once per PULL_TIME_RESOLUTION (a pull within
that long of the time last recorded, by this buffer or in the database, is counted but moves no time), and never
backwards (the store keeps the later of the two: another worker may have flushed a later pull first); per
repository: the number of pulls, added to the stored count (each worker flushes its own, and the counts add up).

Pull time update exclusions (ECR's RegisterPullTimeUpdateExclusion): a pull by an excluded principal counts in its
repository's pull count, which is of pulls served, but moves no pull time. The principal is matched by its
aws:PrincipalArn, so an exclusion of a role covers every session of it, as one of a user covers the user. A pull
reads the exclusions from memory, never the database: they are read for every registry scope at start
(`load_exclusions`) and again at each flush, so a change takes effect within one flush interval on every worker.

A flush that fails (a full disk, a database locked longer than its busy timeout) keeps its records for the next,
merged with what came meanwhile, and is logged once until a flush succeeds again. What waits is bounded: past
MAX_BUFFERED_IMAGES distinct images the oldest is dropped, and `dropped` counts the pulls lost that way. A stop that
cannot flush (SIGKILL, a crash) loses at most one interval of pulls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.registry.ports import ManifestRecord

log = logging.getLogger(__name__)

# An image's pull time moves at most this often: ECR refreshes lastRecordedPullTime "at least once every 24
# hours"; a minute keeps the figure useful (lifecycle rules count days since the last pull) and the writes few.
PULL_TIME_RESOLUTION = timedelta(minutes=1)
# Distinct images whose pulls may wait for a flush (about 300 bytes each): beyond it, a database that refuses
# writes for long would have the buffer grow without bound.
MAX_BUFFERED_IMAGES = 10_000

_Image = tuple[RegistryScope, str, Digest]


@dataclass(frozen=True, slots=True)
class ImagePulls:
    """What a flush writes for one image: the pull time to record (None: the pulls came within
    PULL_TIME_RESOLUTION of the one last recorded, and only count) and the number of pulls."""

    scope: RegistryScope
    repository: str
    digest: Digest
    pulled_at: datetime | None
    count: int


class PullRecordStore(Protocol):
    async def record_pulls(self, pulls: Sequence[ImagePulls]) -> None:
        """In one transaction: set each image's last pull time to its `pulled_at` unless the stored one is later,
        and add each `count` to its repository's pull count. Images and repositories no longer there are skipped.
        Raises what the database raises (StorageFull, an operational error); then nothing was written."""
        ...


class PullTimeExclusionStore(Protocol):
    async def list_all_pull_time_exclusions(self) -> Sequence[tuple[RegistryScope, str]]:
        """Every registry scope's excluded principal ARNs, in one read. Raises what the database raises."""
        ...


@dataclass(slots=True)
class _Pending:
    pulled_at: datetime | None = None
    count: int = 0

    def merge(self, other: _Pending) -> None:
        self.count += other.count
        self.pulled_at = _later(self.pulled_at, other.pulled_at)


class PullRecords:
    def __init__(
        self,
        store: PullRecordStore,
        *,
        exclusions: PullTimeExclusionStore | None = None,
        max_images: int = MAX_BUFFERED_IMAGES,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._exclusions = exclusions
        self._excluded: Mapping[RegistryScope, frozenset[str]] = {}  # as last read: see load_exclusions
        self._exclusion_failures = 0  # reads of the exclusions failed in a row
        self._max_images = max_images
        self._clock = clock
        self._pending: dict[_Image, _Pending] = {}  # in the order first pulled since the last flush
        self._recorded: dict[_Image, datetime] = {}  # the pull time last handed to a flush, most recent last
        self._failures = 0  # flushes failed in a row
        self._closing = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0  # pulls dropped unwritten: the buffer was full

    @property
    def waiting(self) -> int:
        """Pulls not written yet."""
        return sum(pending.count for pending in self._pending.values())

    def record(
        self, scope: RegistryScope, repository: str, manifest: ManifestRecord, principal_arn: str | None = None
    ) -> None:
        """Count a pull of `manifest` (as read from the store: its `pulled_at` is the time recorded there) by the
        principal whose aws:PrincipalArn is `principal_arn` (None: anonymous or unknown, never excluded); the pull
        time moves unless that principal is excluded in `scope`. Takes no I/O and raises nothing."""
        image = (scope, repository, manifest.digest)
        now = self._clock()
        pending = self._pending.get(image)
        if pending is None:
            pending = self._pending[image] = _Pending()
            self._drop_oldest()
        pending.count += 1
        if principal_arn is not None and principal_arn in self._excluded.get(scope, frozenset()):
            return
        last = _later(manifest.pulled_at, self._recorded.get(image))
        if last is None or now - last >= PULL_TIME_RESOLUTION:
            pending.pulled_at = _later(pending.pulled_at, now)
            self._recorded.pop(image, None)  # re-inserted last: the dict's order is the order of recent use
            self._recorded[image] = now
            while len(self._recorded) > self._max_images:
                del self._recorded[next(iter(self._recorded))]  # forgotten: at worst one more write of its time

    async def load_exclusions(self) -> None:
        """Read the pull time update exclusions of every scope; on failure keep those last read. Never raises."""
        if self._exclusions is None:
            return
        try:
            listed = await self._exclusions.list_all_pull_time_exclusions()
        except Exception as error:
            self._exclusion_failures += 1
            if self._exclusion_failures == 1:  # once, not at every flush while the database refuses
                log.warning("could not read the pull time update exclusions; those read before apply: %s", error)
            return
        self._exclusion_failures = 0
        excluded: dict[RegistryScope, set[str]] = {}
        for scope, principal_arn in listed:
            excluded.setdefault(scope, set()).add(principal_arn)
        self._excluded = {scope: frozenset(arns) for scope, arns in excluded.items()}

    async def flush(self) -> None:
        """Write what gathered, in one transaction; on failure keep it for the next flush. Then, unless closing,
        read the pull time update exclusions again (load_exclusions). Never raises."""
        await self._write()
        if not self._closing.is_set():
            await self.load_exclusions()

    async def _write(self) -> None:
        if not self._pending:
            return
        taken, self._pending = self._pending, {}
        batch = [
            ImagePulls(scope, repository, digest, pending.pulled_at, pending.count)
            for (scope, repository, digest), pending in taken.items()
        ]
        try:
            await self._store.record_pulls(batch)
        except Exception as error:
            self._put_back(taken)
            self._failures += 1
            if self._failures == 1:
                log.warning(
                    "could not record %d pulls; they wait for the next flush: %s",
                    sum(pulls.count for pulls in batch),
                    error,
                )
            return
        except BaseException:  # cancelled while writing: kept (a write cancelled in its commit may count twice)
            self._put_back(taken)
            raise
        if self._failures:
            log.info("recorded pulls again after %d failed flushes", self._failures)
            self._failures = 0

    def start(self, interval: float) -> None:
        """Flush every `interval` seconds in a task of this event loop until `close`."""
        self._task = asyncio.create_task(self.run(interval))

    async def run(self, interval: float) -> None:
        """Flush every `interval` seconds, and once more when closed."""
        while not self._closing.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), interval)
            await self.flush()

    async def close(self) -> None:
        """Stop the flushing task after a last flush (or flush now, when none was started)."""
        self._closing.set()
        if self._task is None:
            await self.flush()
        else:
            await self._task

    def _put_back(self, taken: dict[_Image, _Pending]) -> None:
        """Merge what came since `taken` was taken into it (it is the older) and keep the result."""
        for image, pending in self._pending.items():
            if image in taken:
                taken[image].merge(pending)
            else:
                taken[image] = pending
        self._pending = taken
        self._drop_oldest()

    def _drop_oldest(self) -> None:
        while len(self._pending) > self._max_images:
            image = next(iter(self._pending))
            self.dropped += self._pending.pop(image).count
            log.warning(
                "dropped the pulls of the oldest of %d images waiting to be recorded (%d dropped so far)",
                self._max_images,
                self.dropped,
            )


def _later(first: datetime | None, second: datetime | None) -> datetime | None:
    if first is None or second is None:
        return first or second
    return max(first, second)
