"""GET /metrics on a running server, read with prometheus_client's own parser: the text format, the counters real
clients move (pushes and pulls with the test registry client, pulls through a rule in front of a CNCF Distribution,
boto3 with good and bad signatures), one view of two workers, the token and the port of its own, and the series
of the server's garbage collection and eviction.

The servers here leave /v2/ open to callers without credentials (they act as the account's root user) unless a
test is about who may do what.
"""

from __future__ import annotations

import asyncio
import base64
import time
from pathlib import Path
from typing import Final

import pytest
from botocore.exceptions import ClientError

from testkit.aws_clients import client, signed_by
from testkit.metrics import Scrape, scrape, scrape_until
from testkit.registry_client import RegistryClient, UploadStyle
from testkit.servers import DistributionServer, PullcacheServer, free_port
from testkit.small_images import pull_image, push_image, small_image
from tests.integration.cached_images import create_rule, get

RULE: Final = "mirror"
UPSTREAM_REPOSITORY: Final = "lib/app"
CACHED: Final = f"{RULE}/{UPSTREAM_REPOSITORY}"
TOKEN: Final = "scrape-me-9f2c"


def metrics_url(server: PullcacheServer) -> str:
    return f"{server.url}/metrics"


def test_metrics_answer_in_the_text_format_and_count_each_request(pullcache: PullcacheServer) -> None:
    before = scrape(metrics_url(pullcache))
    for _ in range(3):
        assert get(f"{pullcache.url}/v2/")[0] == 200
    assert get(f"{pullcache.url}/v2/no/such/manifests/latest")[0] == 404

    after = scrape(metrics_url(pullcache))

    assert before.status == after.status == 200
    assert after.content_type.startswith("text/plain; version=0.0.4")
    requests = "pullcache_http_requests_total"
    assert after.value(requests, door="v2", method="GET", status="200") - before.value(
        requests, door="v2", method="GET", status="200"
    ) == pytest.approx(3)
    assert after.value(requests, door="v2", method="GET", status="404") == pytest.approx(1)
    assert after.value(requests, door="metrics", method="GET", status="200") >= 1  # the scrape before
    assert after.value("pullcache_http_request_duration_seconds_count", door="v2") >= 4
    assert after.value("pullcache_http_response_bytes_total", door="v2") > 0
    assert after.value("pullcache_http_requests_in_flight") == pytest.approx(1)  # this scrape
    assert "GET /metrics" not in pullcache.log()  # scrapes stay out of the access log at info


async def test_a_pull_through_a_rule_counts_a_miss_then_a_hit_and_the_bytes_fetched_upstream(
    tmp_path: Path, distribution: DistributionServer
) -> None:
    image = small_image(7, [50_000, 30_000])
    async with RegistryClient.connect(distribution.url) as origin:
        await push_image(origin, UPSTREAM_REPOSITORY, image, "v1", UploadStyle.POST_PUT)
    server = PullcacheServer(tmp_path / "data", log_level="info").start()
    try:
        create_rule(server, distribution.url, prefix=RULE)
        layer = image.blobs[1]

        assert get(f"{server.url}/v2/{CACHED}/manifests/v1")[2]["X-Cache"] == "MISS"
        status, body, headers = get(f"{server.url}/v2/{CACHED}/blobs/{layer.digest}")
        assert (status, headers["X-Cache"]) == (200, "MISS")
        assert body == layer.data
        every_blob = sum(len(blob.data) for blob in image.blobs)  # the rest come in the background
        fetched = scrape_until(
            metrics_url(server),
            lambda s: s.value("pullcache_cache_upstream_bytes_total", rule=RULE, kind="blob") >= every_blob,
        )
        status, body, headers = get(f"{server.url}/v2/{CACHED}/blobs/{layer.digest}")
        assert (status, headers["X-Cache"], body) == (200, "HIT", layer.data)
        assert get(f"{server.url}/v2/{CACHED}/manifests/v1")[2]["X-Cache"] == "HIT"

        after = scrape(metrics_url(server))
        assert fetched.value("pullcache_cache_upstream_bytes_total", rule=RULE, kind="blob") == every_blob
        assert after.value("pullcache_cache_upstream_bytes_total", rule=RULE, kind="blob") == every_blob
        assert after.value("pullcache_cache_upstream_bytes_total", rule=RULE, kind="manifest") == len(
            image.manifest.data
        )
        cache = "pullcache_cache_requests_total"
        assert after.value(cache, rule=RULE, kind="blob", result="miss") == 1
        assert after.value(cache, rule=RULE, kind="blob", result="hit") == 1
        assert after.value(cache, rule=RULE, kind="manifest", result="miss") == 1
        assert after.value(cache, rule=RULE, kind="manifest", result="hit") == 1
        assert after.value("pullcache_cache_served_bytes_total", rule=RULE, kind="blob") == len(layer.data)
        upstream_host = distribution.address
        assert after.value("pullcache_upstream_requests_total", host=upstream_host, status="200") >= 3
        assert after.value("pullcache_upstream_first_byte_seconds_count", host=upstream_host) >= 3
        assert after.value("pullcache_fills_in_flight") == 0
        # Labels are bounded: no repository name, no digest, no tag anywhere in the text.
        assert UPSTREAM_REPOSITORY not in after.text
        assert "sha256" not in after.text
        assert 'v1"' not in after.text
    finally:
        server.stop()


async def test_tag_checks_and_a_stale_serve_are_counted_when_the_upstream_goes_away(
    tmp_path: Path, upstream: DistributionServer
) -> None:
    image = small_image(8, [10_000])
    async with RegistryClient.connect(upstream.url) as origin:
        await push_image(origin, UPSTREAM_REPOSITORY, image, "v1", UploadStyle.POST_PUT)
    server = PullcacheServer(tmp_path / "data", extra_args=["--tag-ttl", "0"]).start()
    try:
        create_rule(server, upstream.url, prefix=RULE)
        manifest = f"{server.url}/v2/{CACHED}/manifests/v1"
        assert get(manifest)[2]["X-Cache"] == "MISS"
        assert get(manifest)[2]["X-Cache"] == "HIT"  # checked upstream (TTL 0): the same digest
        upstream.stop()
        status, body, headers = get(manifest)
        assert (status, headers["X-Cache"], body) == (200, "HIT", image.manifest.data)  # the cached copy
        after = scrape(metrics_url(server))
    finally:
        server.stop()
    assert after.value("pullcache_cache_tag_checks_total", rule=RULE) == 2
    assert after.value("pullcache_cache_stale_serves_total", rule=RULE) == 1
    assert after.value("pullcache_cache_requests_total", rule=RULE, kind="manifest", result="hit") == 2
    assert after.value("pullcache_upstream_requests_total", host=upstream.address, status="error") >= 1


def test_one_scrape_of_two_workers_counts_the_requests_of_both(tmp_path: Path) -> None:
    server = PullcacheServer(tmp_path / "data", workers=2, log_level="info").start()
    try:
        deadline = time.monotonic() + 30
        while server.log().count('"message": "listening"') < 2 and time.monotonic() < deadline:
            time.sleep(0.2)  # the second worker binds the port a moment after the first answers
        requests = 40
        for _ in range(requests):  # a connection each: the kernel spreads them over the workers
            assert get(f"{server.url}/v2/")[0] == 200
        served = scrape_until(
            metrics_url(server),
            lambda s: s.value("pullcache_http_requests_total", door="v2", status="200") >= requests + 1,
        )
        writers = {path.name.rsplit("_", 1)[1] for path in (server.data_dir / "metrics").glob("counter_*.db")}
    finally:
        server.stop()
    # The requests of both workers, and the one /v2/ the harness asked as the server started.
    assert served.value("pullcache_http_requests_total", door="v2", status="200") == requests + 1
    assert len(writers) == 2


def test_a_metrics_token_refuses_a_scrape_without_it_or_with_another(tmp_path: Path) -> None:
    server = PullcacheServer(tmp_path / "data", environment={"PULLCACHE_METRICS_TOKEN": TOKEN}).start()
    try:
        without = scrape(metrics_url(server))
        wrong = scrape(metrics_url(server), token="not-" + TOKEN)
        right = scrape(metrics_url(server), token=TOKEN)
        health = get(f"{server.url}/healthz")[0]
    finally:
        server.stop()
    assert (without.status, wrong.status, right.status, health) == (401, 401, 200, 200)
    assert TOKEN not in without.text + wrong.text
    assert right.value("pullcache_http_requests_total", door="metrics", status="401") == 2


def test_a_metrics_port_serves_the_metrics_alone(tmp_path: Path) -> None:
    port = free_port()
    server = PullcacheServer(
        tmp_path / "data", workers=2, extra_args=["--metrics-port", str(port), "--metrics-token", TOKEN]
    ).start()
    try:
        on_the_api = scrape(metrics_url(server), token=TOKEN)
        refused = scrape(f"http://127.0.0.1:{port}/metrics")
        answered = scrape(f"http://127.0.0.1:{port}/metrics", token=TOKEN)
        other = get(f"http://127.0.0.1:{port}/v2/")[0]
    finally:
        server.stop()
    assert (on_the_api.status, refused.status, answered.status, other) == (404, 401, 200, 404)
    assert answered.value("pullcache_http_requests_total", door="v2", status="200") >= 1


async def test_garbage_collection_runs_and_what_they_free_are_counted(tmp_path: Path) -> None:
    server = PullcacheServer(tmp_path / "data", extra_args=["--gc-interval", "0.3", "--gc-grace", "0"]).start()
    try:
        image = small_image(21, [40_000, 20_000])
        async with RegistryClient.connect(server.url) as registry:
            await push_image(registry, "team/app", image, "v1")
        assert get(f"{server.url}/v2/team/app/manifests/{image.digest}", method="DELETE")[0] == 202
        freed = sum(len(blob.data) for blob in image.blobs)
        after = scrape_until(
            metrics_url(server), lambda s: s.value("pullcache_gc_blobs_deleted_total") >= len(image.blobs)
        )
    finally:
        server.stop()
    assert after.value("pullcache_gc_blobs_deleted_total") == len(image.blobs)
    assert after.value("pullcache_gc_bytes_freed_total") >= freed
    assert after.value("pullcache_gc_runs_total") >= 1
    assert after.value("pullcache_gc_duration_seconds_count") == after.value("pullcache_gc_runs_total")


async def test_an_eviction_under_the_cap_is_counted_with_the_bytes_it_freed(
    tmp_path: Path, distribution: DistributionServer
) -> None:
    images = [small_image(300 + n, [60_000]) for n in range(3)]
    async with RegistryClient.connect(distribution.url) as origin:
        for n, image in enumerate(images):
            await push_image(origin, f"lib/img-{n}", image, "v1", UploadStyle.POST_PUT)
    cap = 100_000  # room for one image
    server = PullcacheServer(
        tmp_path / "data",
        extra_args=["--cache-max-bytes", str(cap), "--eviction-interval", "0.2", "--gc-interval", "0"],
    ).start()
    try:
        create_rule(server, distribution.url, prefix=RULE)
        async with RegistryClient.connect(server.url) as registry:
            for n in range(len(images)):
                await pull_image(registry, f"{RULE}/lib/img-{n}", "v1")
                await asyncio.sleep(0.5)  # the image's blobs linked, and the check after it ran
        after = scrape_until(
            metrics_url(server),
            lambda s: s.value("pullcache_cache_evictions_total") >= 2 and s.value("pullcache_cache_bytes") <= cap,
        )
    finally:
        server.stop()
    assert after.value("pullcache_cache_evictions_total") >= 2
    assert after.value("pullcache_cache_evicted_bytes_total") >= 2 * 60_000
    assert 0 < after.value("pullcache_cache_bytes") <= cap


def test_refused_signatures_tokens_and_actions_are_counted_by_reason_and_action(tmp_path: Path) -> None:
    server = PullcacheServer(tmp_path / "data", anonymous_registry=False).start()
    try:
        assert client(server, "sts").get_caller_identity()["Account"]
        with pytest.raises(ClientError):
            client(server, "ecr", aws_secret_access_key="wrong" * 8).describe_repositories()
        with pytest.raises(ClientError):
            client(server, "ecr", aws_access_key_id="AKIA0000000000000000").describe_repositories()
        iam = client(server, "iam")
        iam.create_user(UserName="nobody")
        key = iam.create_access_key(UserName="nobody")["AccessKey"]
        with pytest.raises(ClientError):
            signed_by(server, "ecr", key).describe_repositories()
        garbage = "Basic " + base64.b64encode(b"AWS:not-a-token").decode()
        assert get(f"{server.url}/v2/", {"Authorization": garbage})[0] == 401
        after = scrape(metrics_url(server))
    finally:
        server.stop()
    assert after.value("pullcache_sigv4_failures_total", reason="SignatureMismatch") == 1
    assert after.value("pullcache_sigv4_failures_total", reason="UnknownAccessKey") == 1
    assert after.value("pullcache_authorization_denials_total", action="ecr:DescribeRepositories") == 1
    assert after.value("pullcache_registry_token_failures_total", reason="invalid") == 1
    assert after.value("pullcache_http_requests_total", door="ecr") >= 3
    assert after.value("pullcache_http_requests_total", door="iam") >= 2
    assert after.value("pullcache_http_requests_total", door="sts") == 1


def test_the_scraped_text_parses_whole(pullcache: PullcacheServer) -> None:
    """Every line is one the parser reads (it raises on any other)."""
    result: Scrape = scrape(metrics_url(pullcache))
    assert result.status == 200
    assert {"pullcache_http_requests_total", "pullcache_blob_bytes", "pullcache_gc_runs_total"} <= result.names()
