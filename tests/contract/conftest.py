"""Every adapter of every port. A suite in this folder runs once per adapter of the port it takes.

Adding an adapter (S3 blobs, PostgreSQL metadata) is one more `pytest.param` here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pullcache.registry.ports import BlobStore, MetadataStore
from tests.stores import (
    BlobStoreFactory,
    BlobStoreOpener,
    MetadataStoreFactory,
    cached_sqlite_metadata_store,
    filesystem_blob_stores,
    memory_blob_stores,
    sqlite_metadata_store,
)

BLOB_STORES = [pytest.param(filesystem_blob_stores, id="filesystem"), pytest.param(memory_blob_stores, id="memory")]
METADATA_STORES = [
    pytest.param(sqlite_metadata_store, id="sqlite"),
    pytest.param(cached_sqlite_metadata_store, id="sqlite-cached"),
]


@pytest.fixture(params=BLOB_STORES)
def open_blob_store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStoreOpener:
    """Opens one more store over the same storage each call: a restart, or another worker process."""
    factory: BlobStoreFactory = request.param
    return factory(tmp_path)


@pytest.fixture
def blob_store(open_blob_store: BlobStoreOpener) -> BlobStore:
    return open_blob_store()


@pytest.fixture(params=METADATA_STORES)
async def metadata_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MetadataStore]:
    factory: MetadataStoreFactory = request.param
    async with factory(tmp_path) as store:
        yield store
