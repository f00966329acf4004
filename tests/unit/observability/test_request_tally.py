"""RequestTally: requests counted in plain integers give, once flushed, the text that counting each request in the
series would give - the bucket sums included, which it adds through prometheus_client's own attributes."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Histogram

from pullcache.observability.metrics import LATENCY_BUCKETS, PrometheusMetrics
from pullcache.observability.request_tally import RequestTally, add_observations

SECONDS = (0.0004, 0.003, 0.003, 0.07, 0.5, 12.0, 61.0, 0.001)  # a bound itself (0.001) falls in its bucket


def test_added_observations_render_as_the_same_observations_made_one_by_one() -> None:
    one_by_one, added = CollectorRegistry(), CollectorRegistry()
    observed = Histogram("h_seconds", "h", ["door"], buckets=LATENCY_BUCKETS, registry=one_by_one)
    summed = Histogram("h_seconds", "h", ["door"], buckets=LATENCY_BUCKETS, registry=added)
    for seconds in SECONDS:
        observed.labels("v2").observe(seconds)
    tally = RequestTally(PrometheusMetrics())
    for seconds in SECONDS:
        tally.finished("v2", "GET", 200, seconds, 0, 0)
    buckets = tally._doors["v2"].buckets

    add_observations(summed.labels("v2"), buckets, sum(SECONDS))

    assert _samples(added) == _samples(one_by_one)


def _samples(registry: CollectorRegistry) -> list[tuple[str, tuple[tuple[str, str], ...], float]]:
    """Every sample but the creation times (which differ)."""
    return sorted(
        (sample.name, tuple(sorted(sample.labels.items())), sample.value)
        for family in registry.collect()
        for sample in family.samples
        if not sample.name.endswith("_created")
    )


def test_a_flush_moves_the_counts_into_the_series_and_starts_again() -> None:
    metrics = PrometheusMetrics()
    tally = RequestTally(metrics)
    tally.in_flight = 2
    for seconds in SECONDS:
        tally.finished("v2", "GET", 200, seconds, 10, 100)
    tally.finished("ecr", "POST", 400, 0.01, 50, 20)

    tally.flush()
    tally.flush()  # nothing more to move

    registry = metrics.registry
    assert registry.get_sample_value(
        "pullcache_http_requests_total", {"door": "v2", "method": "GET", "status": "200"}
    ) == len(SECONDS)
    assert (
        registry.get_sample_value("pullcache_http_requests_total", {"door": "ecr", "method": "POST", "status": "400"})
        == 1
    )
    assert registry.get_sample_value("pullcache_http_request_duration_seconds_count", {"door": "v2"}) == len(SECONDS)
    assert registry.get_sample_value("pullcache_http_request_duration_seconds_sum", {"door": "v2"}) == pytest.approx(
        sum(SECONDS)
    )
    assert (
        registry.get_sample_value("pullcache_http_request_duration_seconds_bucket", {"door": "v2", "le": "0.001"}) == 2
    )
    assert registry.get_sample_value("pullcache_http_request_bytes_total", {"door": "v2"}) == 10 * len(SECONDS)
    assert registry.get_sample_value("pullcache_http_response_bytes_total", {"door": "ecr"}) == 20
    assert registry.get_sample_value("pullcache_http_requests_in_flight", {}) == 2
