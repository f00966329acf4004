"""Garbage collection against a running server: `pullcache gc` beside it, and the server's own background runs.

Bytes are measured in the data dir's blob tree itself: they fall after an image is deleted and after a lifecycle
policy expires images, and what stays pulls whole. The servers here leave /v2/ open to callers without
credentials (they act as the account's root user).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Final

from testkit.aws_clients import client
from testkit.registry_client import RegistryClient
from testkit.servers import PullcacheServer
from testkit.small_images import pull_image, push_image, small_image
from tests.integration.test_lifecycle_expiry import KEEP_ONE_RELEASE

REPOSITORY: Final = "team/app"
WAIT: Final = 30.0  # seconds a background run may take to show; longer means it never ran


def blob_bytes(data_dir: Path) -> int:
    return sum(path.stat().st_size for path in (data_dir / "blobs").rglob("*") if path.is_file())


def gc(data_dir: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pullcache", "gc", "--data-dir", str(data_dir), *arguments],
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_gc_frees_a_deleted_image_beside_the_running_server(pullcache: PullcacheServer) -> None:
    kept, deleted = small_image(1, [50_000, 20_000]), small_image(2, [80_000, 30_000])
    async with RegistryClient.connect(pullcache.url) as registry:
        await push_image(registry, REPOSITORY, kept, "kept")
        await push_image(registry, REPOSITORY, deleted, "deleted")
        before = blob_bytes(pullcache.data_dir)
        reply = await registry.request("DELETE", f"/v2/{REPOSITORY}/manifests/{deleted.digest}")
        assert reply.status == 202

        told = gc(pullcache.data_dir, "--grace", "0", "--dry-run")
        assert told.returncode == 0, told.stderr
        assert blob_bytes(pullcache.data_dir) == before
        done = gc(pullcache.data_dir, "--grace", "0")
        assert done.returncode == 0, done.stderr

        freed = before - blob_bytes(pullcache.data_dir)
        assert freed == sum(len(blob.data) for blob in deleted.blobs)
        assert told.stdout.startswith(f"would free {freed} bytes: 3 blobs")
        assert done.stdout.startswith(f"freed {freed} bytes: 3 blobs")
        assert await registry.blob_status(REPOSITORY, deleted.blob_digests[1]) == 404
        assert (await pull_image(registry, REPOSITORY, "kept"))[0] == kept.digest


async def test_gc_keeps_what_a_push_under_way_uploaded_for_the_grace_period(pullcache: PullcacheServer) -> None:
    image = small_image(3, [40_000])
    async with RegistryClient.connect(pullcache.url) as registry:
        for blob in image.blobs:  # the blobs are in; the manifest is still to come
            await registry.push_blob(REPOSITORY, blob.data)
        done = gc(pullcache.data_dir)  # the default grace period: an hour
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("freed 0 bytes")
        assert await registry.push_manifest(REPOSITORY, image.manifest, "late") == image.digest
        assert (await pull_image(registry, REPOSITORY, "late"))[0] == image.digest


def test_gc_refuses_a_directory_that_is_not_a_data_dir_in_one_line(tmp_path: Path) -> None:
    done = gc(tmp_path / "nowhere")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "is not a pullcache data dir" in done.stderr
    assert "Traceback" not in done.stderr


async def test_the_server_collects_what_a_lifecycle_policy_expired(tmp_path: Path) -> None:
    server = PullcacheServer(
        tmp_path / "data",
        extra_args=["--gc-interval", "0.5", "--gc-grace", "0", "--lifecycle-interval", "1"],
    ).start()
    try:
        images = [small_image(10 + n, [60_000 + n]) for n in range(3)]
        async with RegistryClient.connect(server.url) as registry:
            for n, image in enumerate(images):
                await push_image(registry, REPOSITORY, image, f"release-{n}")
            newest = sum(len(blob.data) for blob in images[-1].blobs)
            assert blob_bytes(server.data_dir) > newest
            client(server, "ecr").put_lifecycle_policy(repositoryName=REPOSITORY, lifecyclePolicyText=KEEP_ONE_RELEASE)

            deadline = time.monotonic() + WAIT
            for _ in range(int(WAIT / 0.2)):  # bounded: a run that never comes fails the assertion below
                if blob_bytes(server.data_dir) <= newest or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)

            assert blob_bytes(server.data_dir) == newest
            assert (await pull_image(registry, REPOSITORY, "release-2"))[0] == images[-1].digest
    finally:
        server.stop()
