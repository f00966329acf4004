"""Two worker processes sharing one port and one data dir, under many clients pushing the same content at once.

Sixteen clients push the same blobs and manifests, each to a repository every client shares and to one it
shares with a few others, in all three upload styles (so a chunked upload's requests land on either worker).
Afterwards every blob and manifest reads back intact, tags and catalog are complete, nothing answered 5xx
(as the clients saw it and as the access log recorded it), and the access log shows both workers served.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from pullcache.core.digests import Digest
from pullcache.logs import ACCESS_LOGGER
from testkit.content import PatternedContent
from testkit.registry_client import TRANSFER_TIMEOUT, RegistryClient, UploadStyle
from testkit.registry_client import Content as Document
from testkit.servers import PullcacheServer

pytestmark = pytest.mark.slow

WORKERS = 2
CLIENTS = 16
SHARED_REPOSITORY = "fleet/shared"
TEAMS = 4
KIB = 1024
LOAD_TIMEOUT = 120.0
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar"


def team_repository(client: int) -> str:
    return f"fleet/team-{client % TEAMS}"


def client_tag(tag: str, client: int) -> str:
    return f"{tag}-by-{client}"


@dataclass(frozen=True, slots=True)
class Manifest:
    digest: str
    media_type: str
    content: bytes


@dataclass(frozen=True, slots=True)
class Content:
    """What every client pushes: blobs, then the manifests an index names, then the tagged manifests."""

    blobs: dict[str, bytes]
    children: Sequence[Manifest]
    tagged: dict[str, Manifest]

    @property
    def manifests(self) -> Iterator[Manifest]:
        yield from self.children
        yield from self.tagged.values()


def build_content() -> Content:
    """Two images tagged `small` and `large`, and an index of two more tagged `multi`; no blob is shared."""
    blobs: dict[str, bytes] = {}
    seeds = itertools.count(1)

    def blob(media_type: str, data: bytes) -> dict[str, object]:
        blobs[str(Digest.of(data))] = data
        return {"mediaType": media_type, "digest": str(Digest.of(data)), "size": len(data)}

    def image(layer_sizes: Sequence[int], architecture: str) -> Manifest:
        layers = [blob(LAYER, b"".join(PatternedContent(size, next(seeds)).pieces())) for size in layer_sizes]
        config = {"architecture": architecture, "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
        return manifest(OCI_MANIFEST, {"config": blob(CONFIG, json.dumps(config).encode()), "layers": layers})

    def manifest(media_type: str, fields: dict[str, object]) -> Manifest:
        content = json.dumps({"schemaVersion": 2, "mediaType": media_type, **fields}, indent=2).encode()
        return Manifest(str(Digest.of(content)), media_type, content)

    children = [image([128 * KIB], "amd64"), image([128 * KIB], "arm64")]
    platforms = [{"digest": c.digest, "mediaType": c.media_type, "size": len(c.content)} for c in children]
    tagged = {
        "small": image([64 * KIB, 256 * KIB], "amd64"),
        "large": image([3 * 1024 * KIB], "amd64"),
        "multi": manifest(OCI_INDEX, {"manifests": platforms}),
    }
    return Content(blobs, children, tagged)


def expected_tags(content: Content) -> dict[str, dict[str, str]]:
    """Every repository the clients push to, with the tags it must end up with and their manifests' digests."""
    expected: dict[str, dict[str, str]] = {}
    for client in range(CLIENTS):
        for repository in (SHARED_REPOSITORY, team_repository(client)):
            tags = expected.setdefault(repository, {})
            for tag, manifest in content.tagged.items():
                tags[tag] = tags[client_tag(tag, client)] = manifest.digest
    return expected


async def push_everything(registry: RegistryClient, content: Content, client: int, start: asyncio.Event) -> None:
    """One client's work: the whole content into its two repositories, in an order and a style of its own."""
    style = list(UploadStyle)[client % len(UploadStyle)]
    repositories = [SHARED_REPOSITORY, team_repository(client)]
    if client % 2:
        repositories.reverse()  # half the clients start with the shared repository, half with their team's
    await start.wait()
    for repository in repositories:
        for digest, data in content.blobs.items():
            assert await registry.push_blob(repository, data, style) == digest
        for manifest in content.children:
            await registry.push_manifest(repository, Document(manifest.media_type, manifest.content), manifest.digest)
        for tag, manifest in content.tagged.items():
            for reference in (tag, client_tag(tag, client)):
                pushed = await registry.push_manifest(
                    repository, Document(manifest.media_type, manifest.content), reference
                )
                assert pushed == manifest.digest


async def assert_intact(registry: RegistryClient, content: Content, tags: dict[str, dict[str, str]]) -> None:
    for repository, repository_tags in tags.items():
        for digest in content.blobs:
            assert (await registry.pull_blob(repository, digest)).digest == digest, f"{repository}@{digest}"
        for manifest in content.manifests:
            body, stated = await registry.get_manifest(repository, manifest.digest)
            assert (str(Digest.of(body)), stated) == (manifest.digest, manifest.digest), (
                f"{repository}@{manifest.digest}"
            )
        for tag, digest in repository_tags.items():
            _, stated = await registry.get_manifest(repository, tag)
            assert stated == digest, f"{repository}:{tag}"
        assert await registry.list_tags(repository) == sorted(repository_tags)
    assert await registry.catalog() == sorted(tags)


def worker_pids(server: PullcacheServer) -> set[int]:
    """The children of the server that listen on its port."""
    assert server.process is not None
    return {
        child.pid
        for child in psutil.Process(server.process.pid).children()
        if any(c.status == psutil.CONN_LISTEN and c.laddr.port == server.port for c in child.net_connections())
    }


def wait_for_workers(server: PullcacheServer, count: int, timeout: float = 30.0) -> None:
    """Wait until `count` workers listen: the server answers as soon as the first one does, and a pooled client
    would otherwise keep all its connections on that one."""
    deadline = time.monotonic() + timeout
    while len(worker_pids(server)) < count:
        assert time.monotonic() < deadline, f"fewer than {count} workers listen after {timeout} s"
        time.sleep(0.05)


@dataclass(frozen=True, slots=True)
class AccessLog:
    """The JSON access log of a server: a line a request, each naming the worker process that served it."""

    entries: Sequence[dict[str, Any]]

    @classmethod
    def parse(cls, log: str, *, leave_out_paths: Sequence[str] = ("/v2/", "/")) -> AccessLog:
        """The access entries in `log`, those for `leave_out_paths` left out: the readiness probes, and the AWS
        call that made the ROOT create-on-push template right after start (testkit/servers.py)."""
        lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
        return cls([e for e in lines if e["logger"] == ACCESS_LOGGER and e["path"] not in leave_out_paths])

    def statuses(self) -> Counter[int]:
        return Counter(e["status"] for e in self.entries)

    def requests_by_worker(self) -> Counter[int]:
        return Counter(e["pid"] for e in self.entries)


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[PullcacheServer]:
    server = PullcacheServer(tmp_path / "data", workers=WORKERS, log_level="info", anonymous_registry=True).start()
    try:
        wait_for_workers(server, WORKERS)
        yield server
    finally:
        server.stop()


async def test_two_workers_under_concurrent_pushes_of_the_same_content_keep_everything_intact(
    two_workers: PullcacheServer,
) -> None:
    content = build_content()
    tags = expected_tags(content)
    workers = worker_pids(two_workers)
    async with RegistryClient.connect(
        two_workers.url, connections=CLIENTS, request_timeout=TRANSFER_TIMEOUT
    ) as registry:
        start = asyncio.Event()
        load = asyncio.gather(*(push_everything(registry, content, n, start) for n in range(CLIENTS)))
        start.set()
        await asyncio.wait_for(load, LOAD_TIMEOUT)
        await assert_intact(registry, content, tags)

    assert [status for status in registry.statuses if status >= 500] == []
    assert two_workers.stop() == 0
    log = two_workers.log()
    access = AccessLog.parse(log)
    assert access.statuses() == Counter(registry.statuses)  # every request logged, with the status it got
    served = access.requests_by_worker()
    print(f"\n{len(registry.statuses)} requests; served per worker pid: {dict(served)}")
    assert set(served) == workers
    assert '"level": "error"' not in log
