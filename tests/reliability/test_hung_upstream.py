"""A pull-through cache whose upstream hangs: a real server with short upstream bounds, a CNCF Distribution
behind a HangingUpstream that takes requests in and never answers (or stalls blob bodies).

Before the bounds, a cached tag's check held its pullers for 241 s (a read timeout of 60 s, four attempts)
before the cached copy was served, and a miss as long before its 504; every request here is cut by CUT_OFF so
that such a wait fails the test instead of stalling it.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

from testkit.servers import DistributionServer, PullcacheServer
from tests.integration import skopeo
from tests.integration.cached_images import (
    CACHED,
    TAG,
    UPSTREAM_REPOSITORY,
    blob_file,
    create_rule,
    image_blobs,
    seed,
    wait_for_whole_image,
)
from tests.reliability.conftest import Record
from tests.upstreams import HangingUpstream

CUT_OFF: Final = 30.0  # seconds any one request may take here
TAG_CHECK_BUDGET: Final = 2
REQUEST_BUDGET: Final = 5
BREAKER_FAILURES: Final = 3
COOL_DOWN: Final = 3
BOUNDS: Final = (
    "--tag-ttl",
    "0",  # every pull of a cached tag checks it upstream
    "--upstream-connect-timeout",
    "2",
    "--upstream-first-byte-timeout",
    "3",
    "--upstream-idle-timeout",
    "3",
    "--upstream-request-timeout",
    str(REQUEST_BUDGET),
    "--upstream-tag-check-timeout",
    str(TAG_CHECK_BUDGET),
    "--upstream-breaker-failures",
    str(BREAKER_FAILURES),
    "--upstream-breaker-cooldown",
    str(COOL_DOWN),
)
MANIFEST_ACCEPT: Final = {"Accept": "application/vnd.oci.image.manifest.v1+json"}


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[DistributionServer]:
    server = DistributionServer(tmp_path / "upstream").start()
    yield server
    server.stop()


@pytest.fixture
def hanging(upstream: DistributionServer, tmp_path: Path) -> Iterator[HangingUpstream]:
    seed(upstream, tmp_path)
    with HangingUpstream(upstream.url) as server:
        yield server


@pytest.fixture
def bare_server(tmp_path: Path, hanging: HangingUpstream) -> Iterator[PullcacheServer]:
    """pullcache with short upstream bounds and a rule over the HangingUpstream, nothing cached."""
    started = PullcacheServer(tmp_path / "data", extra_args=BOUNDS).start()
    try:
        create_rule(started, hanging.url)
        yield started
    finally:
        started.stop()


@pytest.fixture
def server(bare_server: PullcacheServer) -> PullcacheServer:
    """`bare_server` with the whole image cached under TAG (no fill left to meet the hang)."""
    image_blobs(bare_server, CACHED)
    wait_for_whole_image(bare_server, CACHED)
    return bare_server


def timed_get(url: str) -> tuple[int, bytes, float]:
    """(status, body, seconds) of GET `url`; raises when no answer comes within CUT_OFF."""
    started = time.monotonic()
    request = urllib.request.Request(url, headers=MANIFEST_ACCEPT)
    try:
        with urllib.request.urlopen(request, timeout=CUT_OFF) as response:
            return response.status, response.read(), time.monotonic() - started
    except urllib.error.HTTPError as error:
        return error.code, error.read(), time.monotonic() - started


def manifest_url(server: PullcacheServer, reference: str = TAG, repository: str = CACHED) -> str:
    return f"{server.url}/v2/{repository}/manifests/{reference}"


def cached_manifest(server: PullcacheServer) -> bytes:
    status, body, _ = timed_get(manifest_url(server))
    assert status == 200, body
    return body


def error_code(body: bytes) -> str:
    code = json.loads(body)["errors"][0]["code"]
    assert isinstance(code, str)
    return code


def test_a_stale_tag_is_served_from_the_cache_within_its_check_budget_to_every_concurrent_puller(
    server: PullcacheServer, hanging: HangingUpstream, record: Record
) -> None:
    cached = cached_manifest(server)
    hanging.hang("silent")
    before = hanging.requests()
    pullers = 8

    with concurrent.futures.ThreadPoolExecutor(pullers) as pool:
        answers = list(pool.map(lambda _: timed_get(manifest_url(server)), range(pullers)))

    assert [(status, body) for status, body, _ in answers] == [(200, cached)] * pullers
    slowest = max(seconds for _, _, seconds in answers)
    assert slowest < 15, f"the cached copy took {slowest:.1f} s (the tag check's budget: {TAG_CHECK_BUDGET} s)"
    assert hanging.requests() - before < pullers  # they shared the check
    record(
        "a cached tag past its TTL, its upstream accepting connections and never answering",
        f"{pullers} concurrent pullers of the tag; tag check budget {TAG_CHECK_BUDGET} s",
        f"every puller served the cached copy within {slowest:.1f} s (before the bounds: 241 s)",
    )


def test_a_miss_is_answered_unavailable_within_the_request_budget(
    server: PullcacheServer, hanging: HangingUpstream, record: Record
) -> None:
    hanging.hang("silent")

    status, body, seconds = timed_get(manifest_url(server, "never-cached"))

    assert status == 504
    assert error_code(body) == "UNSUPPORTED"
    assert "did not answer" in json.loads(body)["errors"][0]["message"]
    assert seconds < REQUEST_BUDGET + 10
    record(
        "a manifest not cached, its upstream accepting connections and never answering",
        f"one pull; request budget {REQUEST_BUDGET} s",
        f"504 (OCI error JSON naming the timeout) after {seconds:.1f} s (before the bounds: 241 s)",
    )


def test_while_the_breaker_is_open_the_upstream_sees_no_connection_and_pulls_import_again_once_it_recovers(
    server: PullcacheServer, upstream: DistributionServer, hanging: HangingUpstream, record: Record
) -> None:
    cached = cached_manifest(server)
    skopeo.copy_all(  # a second tag upstream, never pulled yet
        skopeo.docker_reference(upstream.address, UPSTREAM_REPOSITORY, TAG),
        skopeo.docker_reference(upstream.address, UPSTREAM_REPOSITORY, "v2"),
    )
    hanging.hang("silent")
    for _ in range(BREAKER_FAILURES):  # each check overruns its budget: a failure
        assert timed_get(manifest_url(server))[:2] == (200, cached)
    connections = hanging.connections()

    stale = [timed_get(manifest_url(server)) for _ in range(5)]
    status, body, miss_seconds = timed_get(manifest_url(server, "v2"))

    assert [(code, content) for code, content, _ in stale] == [(200, cached)] * 5
    assert status == 503
    assert error_code(body) == "UNSUPPORTED"
    assert "is failing" in json.loads(body)["errors"][0]["message"]
    assert hanging.connections() == connections, "the open breaker let requests through"
    slowest = max(seconds for _, _, seconds in [*stale, (0, b"", miss_seconds)])

    hanging.recover()
    deadline = time.monotonic() + COOL_DOWN + 20
    while True:  # the cool-down passes, then a probe goes out and closes the breaker
        status, body, _ = timed_get(manifest_url(server, "v2"))
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert status == 200, body
    assert hanging.connections() > connections
    record(
        "an upstream that hangs, then recovers",
        f"pulls of a cached tag and of a new one; breaker opens after {BREAKER_FAILURES} failures, "
        f"cool-down {COOL_DOWN} s",
        f"while open: cached copies and 503s within {slowest * 1000:.0f} ms, no connection to the upstream; "
        "after it recovers: the new tag imported",
    )


def test_a_blob_whose_upstream_body_stalls_is_cut_off_at_the_idle_bound(
    bare_server: PullcacheServer, hanging: HangingUpstream, record: Record
) -> None:
    server = bare_server
    hanging.hang("stall_blobs", stall_after=1000)
    layer = max(image_blobs(server, CACHED), key=lambda blob: blob["size"])  # the fills start, and stall
    started = time.monotonic()

    with (
        pytest.raises((http.client.IncompleteRead, ConnectionError)),
        urllib.request.urlopen(f"{server.url}/v2/{CACHED}/blobs/{layer['digest']}", timeout=CUT_OFF) as answer,
    ):
        answer.read()

    seconds = time.monotonic() - started
    assert seconds < 15
    assert not blob_file(server, layer["digest"]).exists()
    record(
        "a blob whose upstream body stalls after 1,000 bytes",
        "one pull of the blob; idle bound 3 s",
        f"the pull cut off after {seconds:.1f} s, nothing partial stored (before the bounds: 60 s)",
    )
