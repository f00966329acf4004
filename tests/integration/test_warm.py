"""`pullcache warm` run as a user runs it: a subprocess with the credentials and config files the server wrote on
first start, against a real pullcache (registry authentication on) whose rule points at a real CNCF Distribution.

The upstream is reached through a counting proxy (tests/upstreams/faulty.py, no fault set), so a test can say
which blobs the upstream was asked for.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

from testkit.images import LINUX_AMD64, LINUX_ARM64, OCI
from testkit.servers import DistributionServer, PullcacheServer, free_port
from tests.integration.cached_images import CACHED, TAG, UPSTREAM_REPOSITORY, blob_file, create_rule, get, seed
from tests.integration.image_cases import IMAGE_CASES
from tests.upstreams import FaultyUpstream

WARM_TIMEOUT: Final = 120
OCI_IMAGE, OCI_INDEX = IMAGE_CASES[0], IMAGE_CASES[1]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PullcacheServer]:
    """A pullcache whose /v2/ asks for credentials, as a deployed one does."""
    started = PullcacheServer(tmp_path / "data", anonymous_registry=False).start()
    yield started
    started.stop()


@pytest.fixture
def counted(upstream: DistributionServer) -> Iterator[FaultyUpstream]:
    """The upstream behind a proxy that counts what it is asked."""
    with FaultyUpstream(upstream.url) as proxy:
        yield proxy


def warm(
    server: PullcacheServer | None, *arguments: str, environment: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m pullcache warm ARGUMENTS` with the server's own credentials and config files (its config names
    the server: endpoint_url) and no other AWS settings; without a server, with no AWS settings at all."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    if server is not None:
        env["AWS_SHARED_CREDENTIALS_FILE"] = str(server.data_dir / "credentials")
        env["AWS_CONFIG_FILE"] = str(server.data_dir / "config")
    env.update(environment or {})
    return subprocess.run(
        [sys.executable, "-m", "pullcache", "warm", *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=WARM_TIMEOUT,
        check=False,
    )


def summary(done: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """The summary's `key: value` lines (failures are `failed NAME: ...` lines, not in here)."""
    lines = (line.partition(": ") for line in done.stdout.splitlines() if not line.startswith("failed "))
    return {key: value.split(" (")[0] for key, _, value in lines}


def blob_requests(proxy: FaultyUpstream) -> list[str]:
    """The digests of the blob GETs the upstream received, in order."""
    return [r.path.rpartition("/")[2] for r in proxy.recorded() if r.method == "GET" and "/blobs/" in r.path]


def upstream_image(upstream: DistributionServer, reference: str) -> tuple[bytes, list[str]]:
    """A manifest of the upstream image, and the digests of its config and layers."""
    status, body, _ = get(f"{upstream.url}/v2/{UPSTREAM_REPOSITORY}/manifests/{reference}", {"Accept": OCI.manifest})
    assert status == 200, body
    document = json.loads(body)
    return body, [document["config"]["digest"], *(layer["digest"] for layer in document["layers"])]


def test_a_warm_pulls_the_image_into_the_cache_and_a_second_finds_it_there(
    server: PullcacheServer, upstream: DistributionServer, counted: FaultyUpstream, tmp_path: Path
) -> None:
    seed(upstream, tmp_path, OCI_IMAGE)
    create_rule(server, counted.url)
    manifest, blobs = upstream_image(upstream, TAG)
    image = f"{server.address}/{CACHED}:{TAG}"

    first = warm(server, image)

    assert first.returncode == 0, first.stderr
    sizes = {digest: len(upstream_blob(upstream, digest)) for digest in blobs}
    assert summary(first) == {
        "images warmed": "1 of 1",
        "bytes from upstream": str(len(manifest) + sum(sizes.values())),
        "bytes already cached": "0",
    }
    assert f"warmed {image}: 1 manifest, 3 blobs" in first.stderr  # no terminal: one line per image
    for digest, size in sizes.items():  # in the cache's blob store, whole
        assert blob_file(server, digest).stat().st_size == size
    assert sorted(set(blob_requests(counted))) == sorted(blobs)

    counted.reset_counts()
    second = warm(server, image)

    assert second.returncode == 0, second.stderr
    assert summary(second) == {
        "images warmed": "1 of 1",
        "bytes from upstream": "0",
        "bytes already cached": str(len(manifest) + sum(sizes.values())),
    }
    assert blob_requests(counted) == []  # the cache answered every blob itself


def upstream_blob(upstream: DistributionServer, digest: str) -> bytes:
    status, body, _ = get(f"{upstream.url}/v2/{UPSTREAM_REPOSITORY}/blobs/{digest}")
    assert status == 200
    return body


def test_a_platform_asked_of_an_index_fetches_that_platforms_blobs_only(
    server: PullcacheServer, upstream: DistributionServer, counted: FaultyUpstream, tmp_path: Path
) -> None:
    written = seed(upstream, tmp_path, OCI_INDEX)
    create_rule(server, counted.url)
    _, arm_blobs = upstream_image(upstream, written.platforms[str(LINUX_ARM64)])
    _, amd_blobs = upstream_image(upstream, written.platforms[str(LINUX_AMD64)])

    done = warm(server, f"{CACHED}:{TAG}", "--platform", str(LINUX_ARM64))  # the host from the config's endpoint

    assert done.returncode == 0, done.stderr
    assert summary(done)["images warmed"] == "1 of 1"
    assert sorted(set(blob_requests(counted))) == sorted(arm_blobs)
    for digest in arm_blobs:
        assert blob_file(server, digest).exists()
    for digest in amd_blobs:
        assert not blob_file(server, digest).exists()

    counted.reset_counts()
    every = warm(server, f"{CACHED}:{TAG}", "--all-platforms")

    assert every.returncode == 0, every.stderr
    assert sorted(set(blob_requests(counted))) == sorted(amd_blobs)  # the arm64 ones were cached already
    assert int(summary(every)["bytes already cached"]) >= sum(len(upstream_blob(upstream, d)) for d in arm_blobs)


def test_a_missing_image_fails_with_the_registrys_error_and_the_rest_are_warmed(
    server: PullcacheServer, upstream: DistributionServer, counted: FaultyUpstream, tmp_path: Path
) -> None:
    seed(upstream, tmp_path, OCI_IMAGE)
    create_rule(server, counted.url)
    images = tmp_path / "images.txt"
    images.write_text(f"# what the nightly build needs\n{CACHED}:{TAG}\n\n{CACHED}:no-such-tag  # gone\n")

    done = warm(server, "--file", str(images))

    assert done.returncode == 1
    assert summary(done)["images warmed"] == "1 of 2"
    failures = [line for line in done.stdout.splitlines() if line.startswith("failed ")]
    assert failures == [
        f"failed {CACHED}:no-such-tag: MANIFEST_UNKNOWN: manifest 'no-such-tag' is unknown to the repository (HTTP 404)"
    ]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (("up/Library/App:v1",), "'up/Library/App:v1' is not an image reference"),
        (("up/app:v1@sha256:abc",), "is not an image reference"),
        (("--file", "no-such-list.txt"), "cannot read the image list no-such-list.txt: No such file or directory"),
        (("up/app:v1", "--platform", "linux"), "'linux' is not a platform"),
        ((), "name at least one image"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(arguments: tuple[str, ...], says: str, tmp_path: Path) -> None:
    """Refused before anything is asked of any server (so none is started)."""
    done = warm(None, *arguments, environment={"HOME": str(tmp_path)})

    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith("pullcache warm: ")
    assert says in done.stderr


def test_a_server_that_cannot_be_reached_or_refuses_the_credentials_is_one_line_and_exit_2(
    server: PullcacheServer,
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    unreachable = warm(server, "up/app:v1", "--endpoint", nobody)
    refused = warm(
        server,
        "up/app:v1",
        environment={"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "not-the-secret"},
    )
    anonymous = warm(server, "up/app:v1", environment={"AWS_SHARED_CREDENTIALS_FILE": str(server.data_dir / "none")})

    for done in (unreachable, refused, anonymous):
        assert done.returncode == 2
        assert len(done.stderr.splitlines()) == 1, done.stderr
        assert "Traceback" not in done.stderr
    assert f"cannot get a registry token from {nobody}" in unreachable.stderr
    assert "GetAuthorizationToken" in refused.stderr
    assert "UnrecognizedClientException" in refused.stderr
    assert "refused the credentials: UNAUTHORIZED" in anonymous.stderr
    assert "(HTTP 401)" in anonymous.stderr
