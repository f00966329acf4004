"""The fuzzer over every door: thousands of grammar-made requests against a real server, none answered with a
5xx, none left hanging, every error in its protocol's shape, and the server still well at the end.

FUZZ_REQUESTS (default 10,000) sets the count, FUZZ_SEED (default 1234) the seed, FUZZ_ONLY=<index> sends one
case alone (a failure prints its seed and index). The cases are testkit/fuzz's; this file gives them a server
and the world they refer to, and holds the run to account.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator

import pytest

from testkit.aws_clients import client, registry_authorization
from testkit.fuzz import FuzzReport, make_case, run_cases
from testkit.fuzz.world import build_world
from testkit.registry_client import Content, RegistryClient
from testkit.servers import PullcacheServer
from tests.reliability.conftest import Record

DEFAULT_REQUESTS = 10_000
DEFAULT_SEED = 1234
TRACEBACK = "Traceback (most recent call last)"


def _setting(name: str, default: int) -> int:
    text = os.environ.get(name)
    return default if not text else int(text)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    """A server that authenticates /v2/ (so bogus credentials meet the real checks), its log at warning level:
    every unhandled error is in it."""
    running = PullcacheServer(tmp_path_factory.mktemp("fuzz") / "data", anonymous_registry=False).start()
    yield running
    running.stop()


def test_every_door_survives_the_fuzzer(server: PullcacheServer, record: Record) -> None:
    seed = _setting("FUZZ_SEED", DEFAULT_SEED)
    only = os.environ.get("FUZZ_ONLY")
    indices = [int(only)] if only else range(_setting("FUZZ_REQUESTS", DEFAULT_REQUESTS))
    world = asyncio.run(build_world(server))
    print(f"fuzzing with seed {seed} (FUZZ_SEED={seed})")

    report = asyncio.run(run_cases(world.url, indices, lambda index: make_case(world, seed, index), FuzzReport(seed)))

    print(report.summary())
    assert report.failed == 0, report.details()
    _assert_still_healthy(server)
    assert TRACEBACK not in server.log(), f"seed {seed}: the server logged a traceback:\n{server.log()[-5000:]}"
    if not only:
        record(
            "fuzzer, every door (/v2/, JSON 1.1, Query, signatures)",
            f"{report.total:,} requests, seed {seed}",
            "0 5xx, 0 hangs, every error in its protocol's shape",
        )


def _assert_still_healthy(server: PullcacheServer) -> None:
    """A push and pull of a new image with a fresh token, and an ECR call, succeed after the run."""
    ecr = client(server, "ecr")
    assert ecr.describe_repositories()["repositories"]

    async def round_trip() -> None:
        authorization = await asyncio.to_thread(registry_authorization, server)
        layer = Content("application/octet-stream", b"after the fuzz")
        config = Content("application/vnd.oci.image.config.v1+json", b"{}")
        manifest = Content(
            "application/vnd.oci.image.manifest.v1+json",
            (
                '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
                f'"config":{_descriptor(config)},"layers":[{_descriptor(layer)}]}}'
            ).encode(),
        )
        async with RegistryClient.connect(server.url, headers={"Authorization": authorization}) as registry:
            await registry.push_all("after/fuzz", (config, layer))
            await registry.push_manifest("after/fuzz", manifest, "ok")
            body, digest = await registry.get_manifest("after/fuzz", "ok")
            assert (body, digest) == (manifest.data, manifest.digest)
            pulled = await registry.pull_blob("after/fuzz", layer.digest)
            assert pulled.digest == layer.digest

    asyncio.run(round_trip())


def _descriptor(content: Content) -> str:
    return json.dumps(content.descriptor())
