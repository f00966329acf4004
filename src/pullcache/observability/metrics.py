"""The series pullcache exports, over prometheus_client, and the observer ports of the services implemented on them.

One PrometheusMetrics a worker process, made by build_app (no module-level registry: a test may build several
apps in one process). Two modes, chosen by prometheus_client when it is first imported (process_files.py):

- one process (`--workers 1`): the values live in this object, registered on its own CollectorRegistry;
- several workers: every value is written to a file of its process in the shared directory, and a scrape of any
  worker sums them all (exposition.py). Gauges say how: the requests and fills in flight are summed over the live
  workers, the cache's size is the latest any worker measured.

Label values are few by construction: a door, a method, a status, a rule's prefix, an upstream host, a reason
or an action name - never a repository name, a tag or a digest. The HTTP series are moved from plain integers
once a second (request_tally.py); the others move as the services report.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, values

from pullcache.pullthrough.observations import ContentKind

LATENCY_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
FIRST_BYTE_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0)
GC_BUCKETS: Final = (0.01, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


def shared_between_processes() -> bool:
    """Whether values go to the workers' shared directory: prometheus_client decides it once, when first
    imported, from PROMETHEUS_MULTIPROC_DIR (process_files.py sets it before the workers start)."""
    return values.ValueClass is not values.MutexValue


class PrometheusMetrics:
    """Every series, and the methods the services' observer ports name (PullThroughObserver, UpstreamObserver,
    AccessObserver, GatewayObserver): each moves a counter, a gauge or a histogram, nothing more."""

    def __init__(self) -> None:
        self.shared = shared_between_processes()
        # Values shared between processes are read from their files at scrape time, not from a registry.
        self.registry = CollectorRegistry()
        registry = None if self.shared else self.registry

        # -- HTTP ---------------------------------------------------------------------------------------------
        self.http_requests = Counter(
            "pullcache_http_requests",
            "Requests answered, by door (v2, ecr, iam, sts, secretsmanager, aws, health, metrics, other), "
            "method and status",
            ["door", "method", "status"],
            registry=registry,
        )
        self.http_duration = Histogram(
            "pullcache_http_request_duration_seconds",
            "Seconds from a request's headers to its handler's end (a streamed body included), by door",
            ["door"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.http_received = Counter(
            "pullcache_http_request_bytes", "Request body bytes read, by door", ["door"], registry=registry
        )
        self.http_sent = Counter(
            "pullcache_http_response_bytes", "Response body bytes sent, by door", ["door"], registry=registry
        )
        self.http_in_flight = Gauge(
            "pullcache_http_requests_in_flight",
            "Requests being handled",
            registry=registry,
            multiprocess_mode="livesum",
        )

        # -- the pull-through cache -----------------------------------------------------------------------------
        self.cache_requests = Counter(
            "pullcache_cache_requests",
            "Pulls under a pull-through rule, by rule prefix, kind (manifest, blob) and result (hit, miss)",
            ["rule", "kind", "result"],
            registry=registry,
        )
        self.cache_served_bytes = Counter(
            "pullcache_cache_served_bytes",
            "Bytes of hits: served from what the cache held, by rule prefix and kind",
            ["rule", "kind"],
            registry=registry,
        )
        self.cache_upstream_bytes = Counter(
            "pullcache_cache_upstream_bytes",
            "Bytes fetched from upstreams and stored, by rule prefix and kind",
            ["rule", "kind"],
            registry=registry,
        )
        self.cache_stale_serves = Counter(
            "pullcache_cache_stale_serves",
            "Cached tags served because their upstream check failed, by rule prefix",
            ["rule"],
            registry=registry,
        )
        self.cache_tag_checks = Counter(
            "pullcache_cache_tag_checks",
            "Cached tags past their TTL asked of the upstream again, by rule prefix",
            ["rule"],
            registry=registry,
        )
        self.fills_in_flight = Gauge(
            "pullcache_fills_in_flight",
            "Blob fills from upstreams under way",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.fill_waiters = Counter(
            "pullcache_fill_waiters",
            "Requests for a blob that joined its fill under way instead of asking the upstream",
            registry=registry,
        )
        self.upstream_requests = Counter(
            "pullcache_upstream_requests",
            "Exchanges with upstream registries (each redirect hop one), by host and status (error: no answer)",
            ["host", "status"],
            registry=registry,
        )
        self.upstream_first_byte = Histogram(
            "pullcache_upstream_first_byte_seconds",
            "Seconds from sending a request upstream to its answer's headers, by host",
            ["host"],
            buckets=FIRST_BYTE_BUCKETS,
            registry=registry,
        )

        # -- authentication and authorization -------------------------------------------------------------------
        self.sigv4_failures = Counter(
            "pullcache_sigv4_failures",
            "AWS API requests refused for their signature or credentials, by reason",
            ["reason"],
            registry=registry,
        )
        self.registry_token_failures = Counter(
            "pullcache_registry_token_failures",
            "/v2/ requests refused for their registry token, by reason (invalid, expired, revoked)",
            ["reason"],
            registry=registry,
        )
        self.authorization_denials = Counter(
            "pullcache_authorization_denials",
            "Actions the policies refused, by action",
            ["action"],
            registry=registry,
        )

        # -- garbage collection and eviction --------------------------------------------------------------------
        self.gc_runs = Counter("pullcache_gc_runs", "Garbage collections run by the server", registry=registry)
        self.gc_bytes_freed = Counter("pullcache_gc_bytes_freed", "Bytes garbage collection freed", registry=registry)
        self.gc_blobs_deleted = Counter(
            "pullcache_gc_blobs_deleted", "Blobs garbage collection deleted", registry=registry
        )
        self.gc_duration = Histogram(
            "pullcache_gc_duration_seconds",
            "Seconds each garbage collection took",
            buckets=GC_BUCKETS,
            registry=registry,
        )
        self.cache_evictions = Counter(
            "pullcache_cache_evictions", "Cached images evicted to keep the cache under its caps", registry=registry
        )
        self.cache_evicted_bytes = Counter("pullcache_cache_evicted_bytes", "Bytes eviction freed", registry=registry)
        self.cache_bytes = Gauge(
            "pullcache_cache_bytes",
            "Bytes the pull-through cache holds, as the last eviction check measured",
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self.audit_events = Counter(
            "pullcache_audit_events",
            "Audit events written to the audit file or dropped (the queue or the disk full), by outcome",
            ["outcome"],
            registry=registry,
        )

    # -- PullThroughObserver ------------------------------------------------------------------------------------

    def served(self, rule: str, kind: ContentKind, *, hit: bool, size: int) -> None:
        self.cache_requests.labels(rule, kind, "hit" if hit else "miss").inc()
        if hit and size:
            self.cache_served_bytes.labels(rule, kind).inc(size)

    def fetched(self, rule: str, kind: ContentKind, size: int) -> None:
        self.cache_upstream_bytes.labels(rule, kind).inc(size)

    def stale_served(self, rule: str) -> None:
        self.cache_stale_serves.labels(rule).inc()

    def tag_checked(self, rule: str) -> None:
        self.cache_tag_checks.labels(rule).inc()

    def fill_started(self) -> None:
        self.fills_in_flight.inc()

    def fill_ended(self) -> None:
        self.fills_in_flight.dec()

    def fill_joined(self) -> None:
        self.fill_waiters.inc()

    # -- UpstreamObserver ---------------------------------------------------------------------------------------

    def answered(self, host: str, status: int | str, first_byte_seconds: float | None) -> None:
        self.upstream_requests.labels(host, str(status)).inc()
        if first_byte_seconds is not None:
            self.upstream_first_byte.labels(host).observe(first_byte_seconds)

    # -- AccessObserver and GatewayObserver ---------------------------------------------------------------------

    def token_refused(self, reason: str) -> None:
        self.registry_token_failures.labels(reason).inc()

    def denied(self, action: str) -> None:
        self.authorization_denials.labels(action).inc()

    def signature_refused(self, reason: str) -> None:
        self.sigv4_failures.labels(reason).inc()

    # -- housekeeping (app.py reports each run) -----------------------------------------------------------------

    def collected(self, *, blobs: int, bytes_freed: int, seconds: float) -> None:
        """A garbage collection run by the server ended."""
        self.gc_runs.inc()
        self.gc_blobs_deleted.inc(blobs)
        self.gc_bytes_freed.inc(bytes_freed)
        self.gc_duration.observe(seconds)

    def evicted(self, *, images: int, bytes_freed: int, bytes_after: int) -> None:
        """An eviction check ended (having evicted nothing, often)."""
        self.cache_evictions.inc(images)
        self.cache_evicted_bytes.inc(bytes_freed)
        self.cache_bytes.set(bytes_after)

    # -- AuditCounts (audit/writer.py, from its thread: prometheus_client's values are thread-safe) ------------

    def audit_counted(self, outcome: str, count: int) -> None:
        """`count` 0 (the writer's start) makes the outcome's series without moving it."""
        self.audit_events.labels(outcome).inc(count)
