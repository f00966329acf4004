"""The adapters behind the registry's ports, opened the way the tests need them, and the byte streams fed to them.

Each adapter kind has a factory over a scratch directory. A blob store factory returns an *opener*: every call
opens one more store over the same storage, as a restarted process or a second worker process would.

Repositories are created by the ECR store only (the metadata store's writes create none): SqlRepositories creates
them in the same SQLite file, as ECR's CreateRepository and create on push do.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from sqlalchemy.ext.asyncio import AsyncEngine

from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.ecr.ports import RepositorySettings
from pullcache.metadata.engine import DataGroup, create_engine, migrate, read_cache
from pullcache.metadata.reads import open_reads
from pullcache.metadata.sql import SqlMetadataStore
from pullcache.metadata.sql_ecr import SqlEcrStore
from pullcache.registry.manifest_writes import ManifestWrites
from pullcache.registry.ports import BlobStore, MetadataStore
from pullcache.registry.service import RegistryService
from pullcache.storage.content_guard import FileContentGuard
from pullcache.storage.filesystem import FilesystemBlobStore
from tests.memory_blobs import MemoryBlobStore, MemoryStorage

# No step of these tests should take this long; waiting longer means something is stuck.
STEP_TIMEOUT: Final = 10.0

BlobStoreOpener = Callable[[], BlobStore]
BlobStoreFactory = Callable[[Path], BlobStoreOpener]
MetadataStoreFactory = Callable[[Path], AbstractAsyncContextManager[MetadataStore]]


def filesystem_blob_stores(scratch: Path) -> BlobStoreOpener:
    root = scratch / "blob-store"
    return lambda: FilesystemBlobStore(root)


def memory_blob_stores(scratch: Path) -> BlobStoreOpener:
    storage = MemoryStorage()
    return lambda: MemoryBlobStore(storage)


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


@asynccontextmanager
async def sqlite_metadata_store(scratch: Path) -> AsyncIterator[SqlMetadataStore]:
    """A SqlMetadataStore on a migrated SQLite file; the engine is disposed on exit."""
    engine = create_engine(sqlite_url(scratch / "metadata.db"))
    try:
        await migrate(engine)
        yield SqlMetadataStore(engine)
    finally:
        await engine.dispose()


@asynccontextmanager
async def cached_sqlite_metadata_store(scratch: Path) -> AsyncIterator[SqlMetadataStore]:
    """A SqlMetadataStore as the server runs it: its reads kept between writes (metadata/read_cache.py) and run on
    threads of their own (metadata/reads.py)."""
    engine = create_engine(sqlite_url(scratch / "metadata.db"))
    reads = open_reads(engine)
    try:
        await migrate(engine)
        yield SqlMetadataStore(engine, read_cache(engine, DataGroup.CONTENT), reads)
    finally:
        await reads.close()
        await engine.dispose()


class SqlRepositories:
    """Repositories created in a metadata store's SQLite file with ECR's default settings, as CreateRepository
    creates them; and the registry's RepositoryCreator as a ROOT CREATE_ON_PUSH template without settings would be
    (`covers` False: no template covers anything)."""

    def __init__(self, store: SqlEcrStore, *, covers: bool = True) -> None:
        self._store = store
        self.covers = covers
        self.created: list[tuple[RegistryScope, str]] = []  # by create_on_push, in order

    async def create(self, scope: RegistryScope, *names: str) -> None:
        for name in names:
            await self._store.create_repository(scope, name, RepositorySettings(), (), datetime.now(UTC))

    async def covers_push(self, scope: RegistryScope, repository: str) -> bool:
        return self.covers

    async def create_on_push(self, scope: RegistryScope, repository: str) -> bool:
        if not self.covers:
            return False
        if await self._store.create_repository(scope, repository, RepositorySettings(), (), datetime.now(UTC)):
            self.created.append((scope, repository))
        return True


@asynccontextmanager
async def sqlite_repositories(scratch: Path, *, covers: bool = True) -> AsyncIterator[SqlRepositories]:
    """SqlRepositories over the SQLite file of the metadata stores above (migrated already by one of them)."""
    engine = create_engine(sqlite_url(scratch / "metadata.db"))
    try:
        yield SqlRepositories(SqlEcrStore(engine), covers=covers)
    finally:
        await engine.dispose()


class AnyPusher:
    """The registry's Pusher: every creation allowed, unless `refusal` is set (then raised); `asked` records the
    repositories it was asked about."""

    def __init__(self, refusal: Exception | None = None) -> None:
        self.refusal = refusal
        self.asked: list[str] = []

    async def authorize_create(self, repository: str) -> None:
        self.asked.append(repository)
        if self.refusal is not None:
            raise self.refusal


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    """`parts` as a stream, as a request body arrives."""
    for part in parts:
        yield part


class GatedChunks:
    """A stream that hands over `first`, then waits to be released before handing over `rest`.

    `reading` is set once `first` has been taken: the consumer is then inside its read loop, holding whatever
    it took before reading.
    """

    def __init__(self, first: bytes, rest: bytes) -> None:
        self._first = first
        self._rest = rest
        self.reading = asyncio.Event()
        self._released = asyncio.Event()

    @property
    def content(self) -> bytes:
        return self._first + self._rest

    def release(self) -> None:
        self._released.set()

    async def stream(self) -> AsyncIterator[bytes]:
        yield self._first
        self.reading.set()
        await asyncio.wait_for(self._released.wait(), STEP_TIMEOUT)
        yield self._rest


async def read_blob(store: BlobStore, digest: Digest) -> bytes | None:
    """The committed content under `digest`, or None when the store does not show it."""
    blob = await store.open_blob(digest)
    if blob is None:
        return None
    data = b"".join([chunk async for chunk in blob.chunks(0, blob.size)])
    assert len(data) == blob.size, f"{digest}: the store reports {blob.size} bytes, its chunks hold {len(data)}"
    return data


@dataclass(frozen=True, slots=True)
class GuardedRegistry:
    """A RegistryService as the server wires it for garbage collection: every write under the data dir's
    ContentGuard, over a migrated SQLite file (`engine`) and a FilesystemBlobStore in `data`."""

    engine: AsyncEngine
    data: Path
    blobs: FilesystemBlobStore
    guard: FileContentGuard
    metadata: SqlMetadataStore
    writes: ManifestWrites
    service: RegistryService
    repositories: SqlRepositories


@asynccontextmanager
async def guarded_registry(scratch: Path, scope: RegistryScope, *names: str) -> AsyncIterator[GuardedRegistry]:
    """A GuardedRegistry over `scratch` with the repositories `names` of `scope` created."""
    engine = create_engine(sqlite_url(scratch / "metadata.db"))
    await migrate(engine)
    data = scratch / "data"
    blobs, guard, metadata = FilesystemBlobStore(data), FileContentGuard(data), SqlMetadataStore(engine)
    writes = ManifestWrites(metadata, guard=guard)
    try:
        async with sqlite_repositories(scratch) as repositories:
            await repositories.create(scope, *names)
            service = RegistryService(blobs, metadata, writes, repositories, guard=guard)
            yield GuardedRegistry(engine, data, blobs, guard, metadata, writes, service, repositories)
    finally:
        await engine.dispose()
