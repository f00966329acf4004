"""Pull times and pull counts, kept off the request path: skopeo pulls from a live server, DescribeImages (boto3)
shows lastRecordedPullTime once the pulls are flushed, and `pullcache repositories` shows the pull count.

The servers here flush every FLUSH_INTERVAL seconds, where the default is longer; /v2/ is anonymous (the OCI
protocol is not what is tested), the ECR API signed with the root key.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, TypeVar

import pytest

from testkit.aws_clients import client
from testkit.images import OciLayout, write_image
from testkit.servers import PullcacheServer
from testkit.sync_client import ACCEPT_MANIFESTS
from tests.integration import skopeo

FLUSH_INTERVAL: Final = 0.2
BOTH_WORKERS_WAIT: Final = 60.0  # seconds of pulls after which two workers that never both answered fail the test
WAIT: Final = 15.0  # seconds a flush may take to show, on a loaded machine
PULL_TIMEOUT: Final = 5.0  # a pull waiting on the database's write lock would wait 30 s (its busy timeout)

T = TypeVar("T")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    running = PullcacheServer(
        tmp_path_factory.mktemp("pulls") / "data", extra_args=("--pull-flush-interval", str(FLUSH_INTERVAL))
    ).start()
    yield running
    running.stop()


@pytest.fixture
def repository() -> str:
    return f"team/{uuid.uuid4().hex[:12]}"


def push_image(server: PullcacheServer, repository: str, directory: Path, seed: int) -> str:
    """An image pushed with skopeo as `repository:v1`; its digest."""
    layout = OciLayout(directory)
    tree = write_image(layout, "v1", (512, 1024), seed=seed)
    skopeo.run(
        "copy",
        "--quiet",
        "--preserve-digests",
        *skopeo.NO_TLS,
        layout.reference("v1"),
        skopeo.docker_reference(server.address, repository, "v1"),
    )
    return tree.digest


def pull_manifest(server: PullcacheServer, repository: str) -> bytes:
    """One pull of `repository:v1`'s manifest, as a client's GET makes it; fails after PULL_TIMEOUT."""
    outgoing = urllib.request.Request(
        f"{server.url}/v2/{repository}/manifests/v1", headers={"Accept": ACCEPT_MANIFESTS}
    )
    with urllib.request.urlopen(outgoing, timeout=PULL_TIMEOUT) as response:
        assert response.status == 200
        return bytes(response.read())


def repositories_listing(server: PullcacheServer) -> dict[str, str]:
    """`pullcache repositories` over the server's data dir: each repository's line, by name."""
    done = subprocess.run(
        [sys.executable, "-m", "pullcache", "repositories", "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return {line.split("\t")[0]: line for line in done.stdout.splitlines()}


def eventually(read: Callable[[], T], done: Callable[[T], bool]) -> T:
    """`read()` once `done` says so, within WAIT seconds; else the last value read."""
    deadline = time.monotonic() + WAIT
    value = read()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.1)
        value = read()
    return value


def described(ecr: Any, repository: str) -> dict[str, Any]:
    [image] = ecr.describe_images(repositoryName=repository)["imageDetails"]
    return dict(image)


def test_three_skopeo_pulls_show_as_the_pull_time_and_a_pull_count_of_three(
    server: PullcacheServer, repository: str, tmp_path: Path
) -> None:
    digest = push_image(server, repository, tmp_path / "image", seed=71)
    ecr = client(server, "ecr")
    time.sleep(3 * FLUSH_INTERVAL)  # a push is no pull: nothing to flush
    before = described(ecr, repository)
    started = datetime.now(UTC)

    for attempt in range(3):
        skopeo.run(
            "copy",
            "--quiet",
            *skopeo.NO_TLS,
            skopeo.docker_reference(server.address, repository, "v1"),
            OciLayout(tmp_path / f"pulled-{attempt}").reference("v1"),
        )
    image = eventually(lambda: described(ecr, repository), lambda image: "lastRecordedPullTime" in image)
    listed = eventually(lambda: repositories_listing(server)[repository], lambda line: "\t3 pulls\t" in line)

    assert "lastRecordedPullTime" not in before
    assert image["imageDigest"] == digest
    assert started - timedelta(seconds=1) <= image["lastRecordedPullTime"] <= datetime.now(UTC)
    assert listed.split("\t")[1:3] == ["1 images", "3 pulls"]
    assert not listed.endswith("last pull never")


def test_a_pull_makes_no_write_while_another_process_holds_the_write_lock(
    server: PullcacheServer, repository: str, tmp_path: Path
) -> None:
    """With the database's write lock held elsewhere (BEGIN IMMEDIATE), a write on the request path would wait
    out the busy timeout; pulls are answered at once, and recorded by a flush once the lock is released."""
    push_image(server, repository, tmp_path / "image", seed=72)
    holder = sqlite3.connect(server.data_dir / "metadata.db", isolation_level=None, timeout=30)
    try:
        holder.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        contents = [pull_manifest(server, repository) for _ in range(2)]
        took = time.monotonic() - started
        time.sleep(3 * FLUSH_INTERVAL)  # flushes come and wait for the lock meanwhile
        pulls_while_held = [pull_manifest(server, repository) for _ in range(2)]
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    listed = eventually(lambda: repositories_listing(server)[repository], lambda line: "\t4 pulls\t" in line)

    assert took < PULL_TIMEOUT
    assert len({*contents, *pulls_while_held}) == 1
    assert listed.split("\t")[2] == "4 pulls"


def test_pulls_are_flushed_as_the_server_stops(tmp_path: Path, repository: str) -> None:
    """A flush interval longer than the test: only the flush at the stop can have written the pulls."""
    server = PullcacheServer(tmp_path / "data", extra_args=("--pull-flush-interval", "3600")).start()
    try:
        push_image(server, repository, tmp_path / "image", seed=73)
        for _ in range(2):
            pull_manifest(server, repository)
        before_stop = repositories_listing(server)[repository]
    finally:
        assert server.stop() == 0
    after_stop = repositories_listing(server)[repository]

    assert before_stop.split("\t")[2:] == ["0 pulls", "last pull never"]
    assert after_stop.split("\t")[2] == "2 pulls"
    assert not after_stop.endswith("last pull never")


def test_the_pulls_of_every_worker_add_up(tmp_path: Path, repository: str) -> None:
    server = PullcacheServer(
        tmp_path / "data", workers=2, log_level="info", extra_args=("--pull-flush-interval", str(FLUSH_INTERVAL))
    ).start()
    try:
        push_image(server, repository, tmp_path / "image", seed=74)
        # Each pull on a new connection: the kernel spreads them over the workers listening, and the second may
        # start listening seconds after the first on a loaded machine; pull until both have answered (for at most
        # BOTH_WORKERS_WAIT seconds), at least 20 times.
        pulls = 0
        deadline = time.monotonic() + BOTH_WORKERS_WAIT
        while time.monotonic() < deadline and (pulls < 20 or len(_answered_by(server, repository)) < 2):
            pull_manifest(server, repository)
            pulls += 1
        listed = eventually(lambda: repositories_listing(server)[repository], lambda line: f"\t{pulls} pulls\t" in line)
    finally:
        server.stop()

    assert len(_answered_by(server, repository)) == 2, server.log()[-4000:]
    assert listed.split("\t")[2] == f"{pulls} pulls"


def _answered_by(server: PullcacheServer, repository: str) -> set[int]:
    """The workers (pids) whose access log shows a GET of the repository's manifest."""
    return {
        entry["pid"]
        for entry in map(json.loads, filter(None, server.log().splitlines()))
        if entry.get("method") == "GET" and entry.get("path") == f"/v2/{repository}/manifests/v1"
    }
