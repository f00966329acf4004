"""The blob GET of the HTTP edge over a store without local files: bytes streamed through the process, or a
redirect when the store hands out URLs. (Blobs in local files, sent with sendfile, are covered end to end by
tests/integration/test_protocol_blobs.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.registry.api import blobs
from pullcache.registry.api.context import DEFAULT_SCOPE, REGISTRY
from pullcache.registry.manifest_writes import ManifestWrites
from pullcache.registry.service import RegistryService
from tests.memory_blobs import MemoryBlobStore
from tests.stores import AnyPusher, chunks, sqlite_metadata_store, sqlite_repositories

SCOPE: Final = RegistryScope("123456789012", "us-east-1")
REPOSITORY: Final = "library/app"
CONTENT: Final = bytes(range(256)) * 1024 + b"tail"  # a little over 256 KiB: several chunks
DIGEST: Final = Digest.of(CONTENT)
PATH: Final = f"/v2/{REPOSITORY}/blobs/{DIGEST}"
URL_BASE: Final = "https://blobs.example/"

# The request keeps its registry scope under a plain string key (registry/api/context.py), which aiohttp warns about.
pytestmark = pytest.mark.filterwarnings("ignore::aiohttp.web_exceptions.NotAppKeyWarning")

Client = TestClient[web.Request, web.Application]


async def serve(tmp_path: Path, store: MemoryBlobStore) -> AsyncIterator[Client]:
    async with sqlite_metadata_store(tmp_path) as metadata, sqlite_repositories(tmp_path) as repositories:
        registry = RegistryService(store, metadata, ManifestWrites(metadata), repositories)
        await registry.upload_blob(SCOPE, REPOSITORY, str(DIGEST), chunks(CONTENT), AnyPusher())
        app = web.Application()
        app[REGISTRY] = registry
        app[DEFAULT_SCOPE] = SCOPE
        app.router.add_get("/v2/{name:.+}/blobs/{digest}", blobs.get_blob)  # and HEAD
        async with TestClient(TestServer(app)) as client:
            yield client


@pytest.fixture
async def streaming(tmp_path: Path) -> AsyncIterator[Client]:
    async for client in serve(tmp_path, MemoryBlobStore()):
        yield client


@pytest.fixture
async def redirecting(tmp_path: Path) -> AsyncIterator[Client]:
    async for client in serve(tmp_path, MemoryBlobStore(url_base=URL_BASE)):
        yield client


async def test_blob_without_a_local_file_is_streamed_whole(streaming: Client) -> None:
    reply = await streaming.get(PATH)

    assert reply.status == 200
    assert await reply.read() == CONTENT
    assert reply.headers["Content-Length"] == str(len(CONTENT))
    assert reply.headers["Docker-Content-Digest"] == str(DIGEST)


async def test_range_of_a_streamed_blob_is_sent_with_its_content_range(streaming: Client) -> None:
    reply = await streaming.get(PATH, headers={"Range": "bytes=65530-65545"})

    assert reply.status == 206
    assert await reply.read() == CONTENT[65530:65546]
    assert reply.headers["Content-Range"] == f"bytes 65530-65545/{len(CONTENT)}"


async def test_head_of_a_streamed_blob_sends_its_headers_only(streaming: Client) -> None:
    reply = await streaming.head(PATH)

    assert reply.status == 200
    assert reply.headers["Content-Length"] == str(len(CONTENT))
    assert await reply.read() == b""


async def test_get_of_a_blob_at_a_url_is_redirected_there(redirecting: Client) -> None:
    reply = await redirecting.get(PATH, allow_redirects=False)

    assert reply.status == 307
    assert reply.headers["Location"] == f"{URL_BASE}{DIGEST}"
    assert reply.headers["Docker-Content-Digest"] == str(DIGEST)
    assert "Cache-Control" not in reply.headers


async def test_head_of_a_blob_at_a_url_is_answered_here(redirecting: Client) -> None:
    reply = await redirecting.head(PATH, allow_redirects=False)

    assert reply.status == 200
    assert reply.headers["Content-Length"] == str(len(CONTENT))
