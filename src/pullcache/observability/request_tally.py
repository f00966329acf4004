"""The request path's share of the HTTP series: plain integers, moved into prometheus_client every second.

A request adds to a few ints and a dict entry (about a microsecond); `flush` moves the sums into the series:
every FLUSH_SECONDS (http_metrics.flushing), before this worker renders a scrape, and as the app stops. Moving
them one request at a time would cost each request several value updates, each with a lock, and with `--workers
N` a write to a memory-mapped file: tens of microseconds on a path that serves a manifest in a few hundred. The
price: another worker's scrape sees this worker's last second a second late, and the requests in flight are this
worker's count at its last flush.

A histogram takes its sums through two attributes prometheus_client keeps (a child's per-bucket values and its
sum, `_buckets` and `_sum`: there is no public way to add many observations at once);
tests/unit/observability/test_request_tally.py checks that the text is what as many `observe` calls would give,
so a change of prometheus_client shows there first.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Final

from prometheus_client import Histogram

from pullcache.observability.metrics import LATENCY_BUCKETS, PrometheusMetrics

FLUSH_SECONDS: Final = 1.0
_BOUNDS: Final = (*LATENCY_BUCKETS, float("inf"))  # a histogram's buckets, +Inf last, as prometheus_client keeps them


@dataclass(slots=True)
class _DoorSums:
    buckets: list[int] = field(default_factory=lambda: [0] * len(_BOUNDS))  # each bucket's own count, not cumulative
    seconds: float = 0.0
    received: int = 0
    sent: int = 0


class RequestTally:
    def __init__(self, metrics: PrometheusMetrics) -> None:
        self._metrics = metrics
        self.in_flight = 0
        self._requests: dict[tuple[str, str, int], int] = {}
        self._doors: dict[str, _DoorSums] = {}

    def finished(self, door: str, method: str, status: int, seconds: float, received: int, sent: int) -> None:
        key = (door, method, status)
        self._requests[key] = self._requests.get(key, 0) + 1
        sums = self._doors.get(door)
        if sums is None:
            sums = self._doors[door] = _DoorSums()
        sums.buckets[bisect_left(_BOUNDS, seconds)] += 1
        sums.seconds += seconds
        sums.received += received
        sums.sent += sent

    def flush(self) -> None:
        """Move what was counted since the last flush into the series."""
        metrics = self._metrics
        requests, self._requests = self._requests, {}
        doors, self._doors = self._doors, {}
        for (door, method, status), count in requests.items():
            metrics.http_requests.labels(door, method, str(status)).inc(count)
        for door, sums in doors.items():
            add_observations(metrics.http_duration.labels(door), sums.buckets, sums.seconds)
            if sums.received:
                metrics.http_received.labels(door).inc(sums.received)
            if sums.sent:
                metrics.http_sent.labels(door).inc(sums.sent)
        metrics.http_in_flight.set(self.in_flight)


def add_observations(child: Histogram, buckets: list[int], total: float) -> None:
    """Add to a histogram's child what observing values with these per-bucket counts and this sum would add."""
    if not any(buckets):
        return
    child._sum.inc(total)
    for index, count in enumerate(buckets):
        if count:
            child._buckets[index].inc(count)
