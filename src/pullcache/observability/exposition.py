"""GET /metrics: every series in Prometheus's text format, one view of every worker, behind an optional token.

    GET /metrics                                  200, text format 0.0.4
    Authorization: Bearer <token>                 required with `--metrics-token`: 401 without it or with another

Served on the API's port by default (unauthenticated, as /healthz), or only on `--metrics-port`, where every
worker listens too (SO_REUSEPORT): any worker's answer is the whole server's, the workers' values summed from
the shared directory (process_files.py). The storage totals come from one database read kept CENSUS_SECONDS, so
scrapes from several Prometheus servers cost one read between them; the text is rendered on a thread (it reads
the workers' files), and scrapes are quiet in the access log, as health checks are.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Iterator
from typing import Final

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from pullcache.caching.memo import TtlMemo
from pullcache.observability import METRICS_PATH
from pullcache.observability.metrics import PrometheusMetrics
from pullcache.observability.ports import StorageCensus, StorageTotals
from pullcache.observability.request_tally import RequestTally

log = logging.getLogger(__name__)

# The classic text format, which every Prometheus (and every other scraper) reads.
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
CENSUS_SECONDS: Final = 15.0  # how long one read of the storage totals serves scrapes


class MetricsExposition:
    def __init__(self, metrics: PrometheusMetrics, requests: RequestTally, token: str | None = None) -> None:
        """`requests`: flushed before each render, so this worker's own counts are current. `token`: the Bearer
        token a scrape must present (None: none needed)."""
        self._metrics = metrics
        self._requests = requests
        self._expected = None if token is None else f"Bearer {token}".encode()
        self._census: StorageCensus | None = None
        self._totals = _StorageTotalsCollector()
        self._memo: TtlMemo[str, StorageTotals] = TtlMemo(CENSUS_SECONDS)
        if not metrics.shared:
            metrics.registry.register(self._totals)

    def count_storage_with(self, census: StorageCensus) -> None:
        """Where the storage totals are read (set once the database is open; until then there are none)."""
        self._census = census

    async def handle(self, request: web.Request) -> web.Response:
        if self._expected is not None and not hmac.compare_digest(
            request.headers.get("Authorization", "").encode(), self._expected
        ):
            return web.Response(
                status=401,
                text="a Bearer token is required to read the metrics\n",
                headers={"WWW-Authenticate": 'Bearer realm="pullcache metrics"'},
            )
        await self._read_storage()
        self._requests.flush()
        body = await asyncio.to_thread(self._render)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    async def _read_storage(self) -> None:
        census = self._census
        if census is None:
            return
        try:
            self._totals.latest = await self._memo.get("storage", census.storage_totals)
        except Exception as error:  # the metrics answer without the totals rather than not at all
            log.warning("cannot read the storage totals for the metrics: %s", error)

    def _render(self) -> bytes:
        if not self._metrics.shared:
            return generate_latest(self._metrics.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # (prometheus_client leaves it untyped)
        registry.register(self._totals)
        return generate_latest(registry)


EXPOSITION: Final = web.AppKey("metrics_exposition", MetricsExposition)


def add_metrics_route(app: web.Application, exposition: MetricsExposition) -> None:
    app.router.add_get(METRICS_PATH, exposition.handle)


def metrics_app(exposition: MetricsExposition) -> web.Application:
    """The application of the metrics port: /metrics and nothing else."""
    app = web.Application()
    add_metrics_route(app, exposition)
    return app


class _StorageTotalsCollector(Collector):
    """The storage totals last read, as gauges computed at scrape time (no worker's file holds them)."""

    def __init__(self) -> None:
        self.latest: StorageTotals | None = None

    def collect(self) -> Iterator[Metric]:
        totals = self.latest
        if totals is None:
            return
        yield GaugeMetricFamily(
            "pullcache_blobs", "Blobs stored (each once, however many repositories link it)", value=totals.blobs
        )
        yield GaugeMetricFamily("pullcache_blob_bytes", "Bytes of the blobs stored", value=totals.blob_bytes)
        yield GaugeMetricFamily(
            "pullcache_uploads_in_progress", "Uploads started and neither finished nor expired", value=totals.uploads
        )
